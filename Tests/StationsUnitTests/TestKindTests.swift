import Control
import Foundation
import Logging
import Stations
import Testing

/// A kind added outside rigd's sources (the test bioreactor in TestKind/: four layer files) runs through the same
/// loader, wiring, simulator and station runtime as the built-in kinds once one registry line names it.
@Suite struct TestKindTests {
    /// The one registry line.
    static let kinds = KindRegistry.builtIn.adding(BioreactorKind.self)

    static let toml = """
        [[station]]
        name = "vessel-1"
        kind = "test-bioreactor"
        address = "sim://"
        [station.control]
        ph_setpoint = 7.2
        """

    @Test func theLoaderAndTheWiringRunANewKind() throws {
        let config = try ConfigLoader.parse(Self.toml, source: "test.toml", kinds: Self.kinds)
        #expect(config.stations.first?.kind.rawValue == "test-bioreactor")
        let clock = VirtualClock()
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let station = try #require(try Wiring.virtualStations(config, clock: clock, seed: 1, logger: logger).first)
        station.start(now: 0)
        let runner = LoopRunner(clock: clock, loops: station.makeLoops())
        runner.run(until: 600_000_000_000)
        let report = station.report(includeLateness: false)
        #expect(report["kind"] == .string("test-bioreactor"))
        guard case .object(let results)? = report["results"], let ph = results["final_ph"]?.number else {
            Issue.record("no final_ph in \(report)")
            return
        }
        // From 7.0 the base pump brings the broth up to the 7.2 setpoint and holds it there.
        #expect(abs(ph - 7.2) < 0.05, "pH \(ph) after 10 min")
        #expect(station.status().settings.map(\.name) == ["ph_setpoint"])
    }

    @Test func itsKeysAreReadStrictly() throws {
        let text = Self.toml.replacingOccurrences(of: "ph_setpoint = 7.2", with: "ph_setpoint = 12\nph_setpont = 7")
        do {
            _ = try ConfigLoader.parse(text, source: "test.toml", kinds: Self.kinds)
            Issue.record("bad control keys were accepted")
        } catch {
            #expect(error.description.contains("control.ph_setpoint must be within 5…9, got 12"), "\(error)")
            #expect(error.description.contains("control.ph_setpont is not a known key here"), "\(error)")
        }
    }

    @Test func withoutItsRegistryLineTheKindIsAnError() {
        #expect(throws: ConfigError.self) { try ConfigLoader.parse(Self.toml, source: "test.toml") }
    }

    @Test func itIsDescribedLikeTheBuiltInKinds() {
        let described = Self.kinds.descriptions.last
        #expect(described?.name == "test-bioreactor" && described?.deviceType == 0x7E01)
        #expect(described?.channels.map(\.name) == ["ph", "do_pct"] && described?.runs == false)
    }

    @Test func theAPIListsTheKindsItIsGiven() async throws {
        // GET /api/kinds serves the registry's descriptions: the dashboard's run card and hints come from it.
        let described = Self.kinds.descriptions
        #expect(described.map(\.name) == KindRegistry.builtIn.names + ["test-bioreactor"])
        let data = try JSONEncoder().encode(KindList(kinds: described))
        let decoded = try JSONDecoder().decode(KindList.self, from: data)
        #expect(decoded.kinds.last?.runs == false && decoded.kinds.first?.recipeExample?.isEmpty == false)
    }
}
