import Control
import Devices
import Foundation
import Logging
import RigdTestKit
@testable import Sim
import Stations
import Testing

/// A virtual plant of one simulated extraction station, driven step by step so faults can be injected mid-run.
final class VirtualExtractor {
    let clock = VirtualClock()
    let runner: LoopRunner
    let station: any AnyStation
    let device: SimulatedDevice<ExtractionFirmware>
    let gpio: SimulatedGPIOChip?

    init(extraTOML: String = "", seed: UInt64 = 1) throws {
        let toml = """
        [[station]]
        name = "ex"
        kind = "extraction"
        address = "sim://"
        \(extraTOML)
        [station.control]
        start_run = true
        """
        let config = try ConfigLoader.parse(toml, source: "test.toml")
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        station = try Wiring.virtualStations(config, clock: clock, seed: seed, logger: logger)[0]
        device = try #require(station.simulation?.device as? SimulatedDevice<ExtractionFirmware>)
        gpio = station.simulation?.gpio.values.first
        station.start(now: 0)
        runner = LoopRunner(clock: clock, loops: station.makeLoops())
    }

    func run(until seconds: Double) { runner.run(until: Int64(seconds * 1e9)) }

    var report: [String: ReportValue] { station.report(includeLateness: false) }

    var run0: [String: ReportValue] {
        guard case .array(let runs)? = report["runs"], case .object(let run)? = runs.first else { return [:] }
        return run
    }

    func alarm(_ code: String) -> (raised: Double, cleared: Double?)? {
        guard case .array(let alarms)? = report["alarms"] else { return nil }
        for case .object(let a) in alarms where a["code"] == .string(code) {
            return (a["raised_s"]?.number ?? .nan, a["cleared_s"]?.number)
        }
        return nil
    }

    var coils: [Bool] {
        if case .bits(let b)? = device.handle(.readCoils(address: 0, count: 5), now: clock.seconds()) { return b }
        return []
    }

    var phase: String? { if case .string(let p)? = (report["results"].flatMap { v -> ReportValue? in
        if case .object(let o) = v { return o["phase"] }; return nil }) { return p }; return nil }
}

@Suite(.serialized) struct ExtractionFaultTests {
    @Test func fanStuckRaisesHighAlarmThenTripsAndAbortsTheRun() throws {
        let ex = try VirtualExtractor()
        ex.run(until: 900)
        #expect(ex.phase == "circulating")
        ex.device.mutateModel { $0.plant.faults.fanStuck = true }
        ex.run(until: 1500)
        let high = try #require(ex.alarm("box_temp_high"))
        let trip = try #require(ex.alarm("box_temp_trip"))
        #expect(high.raised > 900 && trip.raised > high.raised)
        #expect(ex.run0["outcome"] == .string("aborted"))
        guard case .string(let reason)? = ex.run0["reason"] else { Issue.record("no reason"); return }
        #expect(reason.hasPrefix("box_temp_trip"))
        #expect(ex.coils[0] == false)  // pump off
        #expect(ex.device.withModel { $0.plant.flowLPM } < 1)
    }

    @Test func fouledFilterAsksForANewElementThenTrips() throws {
        let ex = try VirtualExtractor()
        ex.run(until: 120)
        #expect(ex.phase == "circulating")
        ex.device.mutateModel { $0.plant.faults.foulingMultiplier = 100 }
        ex.run(until: 3600)
        let replace = try #require(ex.alarm("replace_element"))
        let trip = try #require(ex.alarm("filter_dp_trip"))
        #expect(trip.raised > replace.raised)
        #expect(ex.run0["outcome"] == .string("aborted"))
        guard case .string(let reason)? = ex.run0["reason"] else { Issue.record("no reason"); return }
        #expect(reason.hasPrefix("filter_dp_trip"))
        guard case .object(let results)? = ex.run0["results"] else { return }
        #expect((results["backflushes"]?.number ?? 0) >= 1)
    }

    @Test func deviceEstopDrivesSafeStateWithinOneTick() throws {
        let ex = try VirtualExtractor()
        ex.run(until: 300)
        #expect(ex.phase == "circulating")
        let pressedAt = ex.clock.seconds()
        ex.device.setEstop(pressed: true)
        ex.run(until: pressedAt + 0.01)
        let estop = try #require(ex.alarm("estop"))
        #expect(estop.raised <= pressedAt + 0.01 + 1e-9)
        #expect(ex.run0["outcome"] == .string("aborted"))
        #expect(ex.coils == [false, true, false, false, false])
        // Released and acknowledged: the device leaves its safe state, but the run does not resume.
        ex.device.setEstop(pressed: false)
        ex.station.mailbox.post(.acknowledge(code: "estop", by: "test")) { _ in }
        ex.run(until: pressedAt + 5)
        #expect(!ex.device.status.contains(.safeState))
        #expect(ex.phase == "aborted")
    }

    @Test func hostGPIOEstopDrivesSafeStateWithinOneTick() throws {
        let ex = try VirtualExtractor(extraTOML: "estop = { chip = \"gpiochip0\", line = 17, active_low = true }\n"
                                      + "beacon = { chip = \"gpiochip0\", line = 27 }")
        let chip = try #require(ex.gpio)
        chip.setPhysicalLevel(17, high: true)  // pull-up: not pressed
        ex.run(until: 300)
        #expect(ex.phase == "circulating")
        #expect(chip.physicalLevel(27))  // beacon on while the pump runs
        let pressedAt = ex.clock.seconds()
        chip.setPhysicalLevel(17, high: false)  // pressed
        ex.run(until: pressedAt + 0.01)
        // The device knows nothing of the host's E-stop: the safe state on its coils is the host's doing.
        #expect(!ex.device.status.contains(.safeState))
        #expect(ex.coils == [false, true, false, false, false])
        #expect(ex.alarm("estop") != nil)
        #expect(ex.run0["outcome"] == .string("aborted"))
        #expect(!chip.physicalLevel(27))
    }

    @Test func outOfRangeRecipeIsRejectedNotClamped() throws {
        let ex = try VirtualExtractor()
        ex.run(until: 1)
        let replies = ReplyLog()
        ex.station.mailbox.post(.set(name: "height_mm", value: 700)) { replies.add($0) }
        ex.station.mailbox.post(.startRun(RunRecipe(name: "x", parameters: ["stroke_mm": 400]))) { replies.add($0) }
        ex.station.mailbox.post(.stopRun) { replies.add($0) }
        ex.run(until: 2)
        let all = replies.all
        #expect(all.count == 3)
        if case .failure(let r) = all[0] { #expect(r.reason == "height_mm must be within 100.0…500.0 mm, got 700.0") }
        else { Issue.record("height 700 accepted") }
        if case .failure(let r) = all[1] { #expect(r.reason.contains("already in progress")) }
        else { Issue.record("second run accepted") }
        if case .failure = all[2] { Issue.record("stop refused") }
    }
}
