import Control
import Devices
import Foundation
import Logging
import RigdTestKit
@testable import Sim
import Stations
import Testing

/// A virtual pond station, driven step by step so sensor faults can be injected mid-run.
final class VirtualPond {
    let clock = VirtualClock()
    let runner: LoopRunner
    let station: any AnyStation
    let device: SimulatedDevice<AquaSondeFirmware>
    let relays: SimulatedGPIOChip

    init(control: String = "", seed: UInt64 = 1, preset: String = "pond") throws {
        let toml = """
        [[station]]
        name = "pond"
        kind = "aqua-sonde"
        address = "sim://"
        [station.sim]
        preset = "\(preset)"
        [station.control]
        \(control)
        """
        let config = try ConfigLoader.parse(toml, source: "test.toml")
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        station = try Wiring.virtualStations(config, clock: clock, seed: seed, logger: logger)[0]
        device = try #require(station.simulation?.device as? SimulatedDevice<AquaSondeFirmware>)
        relays = try #require(station.simulation?.gpio["sim-relays"])
        station.start(now: 0)
        runner = LoopRunner(clock: clock, loops: station.makeLoops())
    }

    func run(until seconds: Double) { runner.run(until: Int64(seconds * 1e9)) }

    var report: [String: ReportValue] { station.report(includeLateness: false) }

    func alarm(_ code: String) -> (raised: Double, cleared: Double?)? {
        guard case .array(let alarms)? = report["alarms"] else { return nil }
        for case .object(let a) in alarms where a["code"] == .string(code) {
            return (a["raised_s"]?.number ?? .nan, a["cleared_s"]?.number)
        }
        return nil
    }

    /// The aerator relay lines as the wire shows them (the plant feels these).
    var aeratorsOn: Bool { relays.physicalLevel(0) && relays.physicalLevel(1) }
    var trueDO: Double { device.withModel { $0.plant.doMgL } }
}

@Suite struct AquacultureVirtualTests {
    /// A daytime start with DO well above the aeration band, so the aerators are off when the fault comes.
    static let quietPond = "sample_every_s = 10\nfeed_times = []"

    @Test func stuckDOSensorIsDetectedWithinItsWindowAndForcesAeration() throws {
        let pond = try VirtualPond(control: Self.quietPond + "\nstuck_samples = 18")
        pond.run(until: 12 * 3600)  // noon
        let healthyAerators = pond.aeratorsOn
        let frozen = pond.device.withModel { Float($0.plant.doMgL) }
        pond.device.setChannelFault(.stuck(frozen), channel: AquaSondeProfile.Channel.doMgL.rawValue)
        let injected = pond.clock.seconds()
        pond.run(until: injected + 18 * 10 + 10)
        let alarm = try #require(pond.alarm("do_mgl_stuck"), "stuck DO not detected; healthy aerators \(healthyAerators)")
        #expect(alarm.raised - injected <= 18 * 10 + 1e-6, "detected after \(alarm.raised - injected) s, window 180 s")
        #expect(alarm.raised - injected >= 17 * 10 - 1e-6, "detected before 18 identical samples")
        #expect(pond.aeratorsOn, "a stuck DO sensor forces aeration on")
    }

    @Test func lostDOSensorIsDetectedAtOnceAndForcesAeration() throws {
        let pond = try VirtualPond(control: Self.quietPond)
        pond.run(until: 12 * 3600)
        pond.device.setChannelFault(.lost, channel: AquaSondeProfile.Channel.doMgL.rawValue)
        let injected = pond.clock.seconds()
        pond.run(until: injected + 30)
        let alarm = try #require(pond.alarm("do_mgl_fault"))
        #expect(alarm.raised - injected <= 10 + 1e-6, "NaN with quality 0x80 must be caught on the next sample")
        #expect(pond.aeratorsOn)
        if case .object(let results)? = pond.report["results"] {
            #expect(results["bad_channels"] == .array([.string("do_mgl")]))
        }
    }

    @Test func driftingDOSensorIsDetectedWithinItsWindowAndForcesAeration() throws {
        let pond = try VirtualPond(control: Self.quietPond + "\ndrift_window_min = 20\ndrift_tolerance_mgl = 0.5")
        pond.run(until: 11 * 3600)
        // −2 mg/L per hour on the mg/L output (downwards, so it never looks implausibly high): 0.5 mg/L after 15 min, so the alarm is due 15 + 20 min after injection.
        pond.device.setChannelFault(.drift(perHour: -2), channel: AquaSondeProfile.Channel.doMgL.rawValue)
        let injected = pond.clock.seconds()
        pond.run(until: injected + 3600)
        let alarm = try #require(pond.alarm("do_mgl_drift"), "drift not detected in an hour")
        let due = injected + 15 * 60 + 20 * 60
        #expect(abs(alarm.raised - due) <= 5 * 60, "raised at \(alarm.raised - injected) s, due at 2100 s")
        #expect(pond.aeratorsOn)
    }

    @Test func healthyPondRaisesNoSensorAlarmsInADay() throws {
        let pond = try VirtualPond(control: "sample_every_s = 10")
        pond.run(until: 24 * 3600)
        guard case .array(let alarms)? = pond.report["alarms"] else { Issue.record("no alarms array"); return }
        let codes = alarms.compactMap { a -> String? in
            if case .object(let o) = a, case .string(let c)? = o["code"] { return c }
            return nil
        }
        #expect(codes.allSatisfy { !$0.hasSuffix("_stuck") && !$0.hasSuffix("_drift") && !$0.hasSuffix("_fault")
            && !$0.hasSuffix("_implausible") }, "false sensor alarms: \(codes)")
        #expect(!codes.contains("do_critical"))
    }
}

/// docs/register-contract.md §B acceptance on the virtual clock: 7 days of the 1 ha pond preset, with control and
/// without aeration,
/// on the release binary.
@Suite(.serialized) struct PondWeekAcceptanceTests {
    /// Issue 18 item 11, end to end: the nursery tank's heater relay warms the simulated tank and holds it in its
    /// band; the lamp's relay follows the photoperiod. Without a heater the tank sits near its 26 °C hall.
    @Test func theNurseryHeaterHoldsTheTankAndTheLampKeepsItsHours() throws {
        let heated = try VirtualPond(control: "heater_setpoint_c = 27.5\nlight_on = \"07:00\"\nlight_off = \"19:00\"",
                                     preset: "nursery")
        let plain = try VirtualPond(preset: "nursery")
        var heatedRange = (Double.infinity, -Double.infinity)
        var plainMax = -Double.infinity
        var lampHours = 0.0
        for minute in stride(from: 10.0, through: 24 * 60, by: 10) {
            heated.run(until: minute * 60)
            plain.run(until: minute * 60)
            // Lines in relay order: aerator-1, aerator-2, exchange, feeder, heater, light.
            if heated.relays.physicalLevel(5) { lampHours += 10.0 / 60 }
            if minute != 7 * 60 && minute != 19 * 60 {  // on the hour the tick and the check race
                let lampExpected = minute > 7 * 60 && minute < 19 * 60
                #expect(heated.relays.physicalLevel(5) == lampExpected, "lamp at minute \(minute)")
            }
            guard minute >= 3 * 60 else { continue }  // warming up from the hall's 26 °C
            let t = heated.device.withModel { $0.plant.waterTempC }
            heatedRange = (min(heatedRange.0, t), max(heatedRange.1, t))
            plainMax = max(plainMax, plain.device.withModel { $0.plant.waterTempC })
        }
        #expect(heatedRange.0 >= 27.5 - 0.6 && heatedRange.1 <= 27.5 + 0.6,
                "heated tank \(heatedRange.0)…\(heatedRange.1) °C, setpoint 27.5 ± 0.3")
        #expect(plainMax < 26.6, "the unheated tank reached \(plainMax) °C")
        #expect(abs(lampHours - 12) < 0.3, "lamp on \(lampHours) h")
        let results = heated.report["results"]
        guard case .object(let r)? = results else { Issue.record("no results"); return }
        #expect((r["heater_cycles"]?.number ?? 0) >= 3, "\(r)")
        #expect(r["heater_timeouts"] == .number(0))
        #expect(heated.alarm("heater_max_on") == nil)
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func aWeekOfThePond(seed: UInt64) throws {
        let toml = """
        [[station]]
        name = "controlled"
        kind = "aqua-sonde"
        address = "sim://"
        [station.sim]
        preset = "pond"
        seed = \(seed)

        [[station]]
        name = "unaerated"
        kind = "aqua-sonde"
        address = "sim://"
        [station.sim]
        preset = "pond"
        seed = \(seed)
        [station.control]
        aeration = false
        """
        let config = try temporaryFile(toml)
        let reportPath = NSTemporaryDirectory() + "rigd-pond-\(UUID().uuidString).json"
        let run = try runToCompletion(try rigdReleaseBinary(), ["run", "--virtual", "--for", "7d", "--seed", "\(seed)",
                                                                "--config", config, "--report", reportPath],
                                      timeout: 300)
        #expect(run.status == 0, "\(run.stderr)")
        let report = try readReport(reportPath)
        let stations = try #require(report["stations"] as? [[String: Any]])
        func station(_ name: String) -> [String: Any] { stations.first { $0["name"] as? String == name } ?? [:] }
        func nights(_ s: [String: Any]) -> [Double] {
            ((s["results"] as? [String: Any])?["do_min_per_night"] as? [[String: Any]] ?? [])
                .compactMap { $0["do_min_mgl"] as? Double }
        }
        let controlled = station("controlled")
        let unaerated = station("unaerated")
        let results = controlled["results"] as? [String: Any] ?? [:]
        let doMin = ((controlled["channels"] as? [String: Any])?["do_mgl"] as? [String: Any])?["min"] as? Double
        print("pond seed \(seed): controlled nights \(nights(controlled).map { ($0 * 100).rounded() / 100 }), "
              + "unaerated nights \(nights(unaerated).map { ($0 * 100).rounded() / 100 }), "
              + "aerator hours \(results["aerator_hours"] ?? "?"), starts \(results["aerator_starts"] ?? "?")")
        #expect(doMin.map { $0 >= 3.0 } == true, "with control DO fell to \(String(describing: doMin)) mg/L")
        #expect(nights(controlled).count >= 7)
        #expect(nights(unaerated).contains { $0 < 3.0 }, "without aeration DO never fell below 3 mg/L at night")
        let shortest = results["aerator_shortest_run_min"] as? Double
        #expect(shortest.map { $0 >= 15 - 1e-6 } ?? true, "an aerator run shorter than 15 min: \(String(describing: shortest))")
        #expect((results["aerator_starts"] as? Double ?? 0) >= 1, "the aerators never ran")
        #expect((results["aerator_hours"] as? Double ?? 0) > 0)
        #expect(results["logged_samples"] as? Double == 672, "7 d at one logged sample per 15 min")
        let unaeratedResults = unaerated["results"] as? [String: Any] ?? [:]
        #expect(unaeratedResults["aerator_hours"] as? Double == 0)
    }
}
