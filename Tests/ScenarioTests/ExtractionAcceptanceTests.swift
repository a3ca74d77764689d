import Foundation
import Glibc
import RigdTestKit
import Testing

/// The paper's figures, reproduced on the virtual clock: 6 h of circulation with the default recipe, seeds 1–5,
/// with the dynamic nozzle and with the fixed one. Runs the release build (a 6 h run takes ≈ 15 s there).
@Suite struct ExtractionAcceptanceTests {
    static let config = """
    [[station]]
    name = "extractor"
    kind = "extraction"
    address = "sim://"
    [station.control]
    start_run = true
    """

    /// One 6 h run (plus homing, positioning and parking); returns the run's results and the station.
    private func run(seed: Int, fixed: Bool) throws -> (run: [String: Any], station: [String: Any]) {
        let config = try temporaryFile(Self.config)
        let report = NSTemporaryDirectory() + "rigd-extraction-\(UUID().uuidString).json"
        var args = ["run", "--virtual", "--for", "6h5m", "--seed", "\(seed)", "--config", config, "--report", report,
                    "--log-level", "error"]
        var recipe: String?
        if fixed {
            recipe = try temporaryFile("[recipe]\nname = \"fixed\"\nfixed_nozzle = true\n")
            args += ["--recipe", recipe!]
        }
        defer {
            unlink(config)
            unlink(report)
            if let recipe { unlink(recipe) }
        }
        let r = try runToCompletion(try rigdReleaseBinary(), args, timeout: 300)
        #expect(r.status == 0, "\(r.stderr)")
        let station = try #require((try readReport(report)["stations"] as? [[String: Any]])?.first)
        let run = try #require((station["runs"] as? [[String: Any]])?.first)
        return (run, station)
    }

    @Test(arguments: [1, 2, 3, 4, 5])
    func dynamicNozzleReproducesThePaper(seed: Int) throws {
        let (run, station) = try run(seed: seed, fixed: false)
        #expect(run["outcome"] as? String == "completed", "\(run)")
        let results = try #require(run["results"] as? [String: Any])
        let box = try #require(results["box_temp_after_warm_up_c"] as? [String: Any])
        let flow = try #require(results["flow_outside_backflush_lpm"] as? [String: Any])
        let yield = results["yield"] as? Double ?? 0
        let inPosition = results["in_position_fraction"] as? Double ?? 0
        print("seed \(seed): yield \(yield), in position \(inPosition), height error p95 "
              + "\(results["height_error_p95_mm"] ?? "?") mm, box \(box["min"] ?? "?")…\(box["max"] ?? "?") °C, "
              + "flow \(flow["min"] ?? "?")…\(flow["max"] ?? "?") L/min, backflushes \(results["backflushes"] ?? "?")")
        #expect((31.0...34.0).contains(box["min"] as? Double ?? 0))
        #expect((31.0...34.0).contains(box["max"] as? Double ?? 99))
        let alarms = (station["alarms"] as? [[String: Any]] ?? []).compactMap { $0["code"] as? String }
        #expect(!alarms.contains("box_temp_high"), "box reached 35 °C: \(alarms)")
        #expect(inPosition >= 0.95)
        #expect((9.5...10.5).contains(flow["min"] as? Double ?? 0))
        #expect((9.5...10.5).contains(flow["max"] as? Double ?? 99))
        #expect((results["backflushes"] as? Double ?? 0) >= 1)
        #expect(yield >= 0.85)
        #expect((results["circulation_s"] as? Double ?? 0) >= 21_600)
    }

    @Test(arguments: [1, 2, 3, 4, 5])
    func fixedNozzleReproducesThePapersBaseline(seed: Int) throws {
        let (run, _) = try run(seed: seed, fixed: true)
        #expect(run["outcome"] as? String == "completed", "\(run)")
        let results = try #require(run["results"] as? [String: Any])
        let yield = results["yield"] as? Double ?? 0
        print("seed \(seed) fixed nozzle: yield \(yield), average placement error "
              + "\(results["average_placement_error_mm"] ?? "?") mm")
        #expect(results["fixed_nozzle"] as? Bool == true)
        #expect(abs(yield - 0.635) <= 0.02)
    }
}
