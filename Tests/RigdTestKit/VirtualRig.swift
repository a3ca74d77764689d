import Control
import Devices
import Foundation
import Logging
import Sim
import Stations

/// One simulated station on the virtual clock, driven step by step so faults can be injected mid-run.
public final class VirtualRig<Model: FirmwareModel> {
    public let clock = VirtualClock()
    public let runner: LoopRunner
    package let station: any AnyStation
    public let device: SimulatedDevice<Model>

    /// `toml`: the station's table without `[[station]]`, `address` or `name` (given here).
    public init(kind: DeviceKind, toml: String = "", seed: UInt64 = 1) throws {
        let text = """
        [[station]]
        name = "rig"
        kind = "\(kind.rawValue)"
        address = "sim://"
        \(toml)
        """
        let config = try ConfigLoader.parse(text, source: "test.toml")
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        station = try Wiring.virtualStations(config, clock: clock, seed: seed, logger: logger)[0]
        guard let device = station.simulation?.device as? SimulatedDevice<Model> else {
            throw TestFailure("the \(kind) station's simulated device is not a SimulatedDevice<\(Model.self)>")
        }
        self.device = device
        station.start(now: 0)
        runner = LoopRunner(clock: clock, loops: station.makeLoops())
    }

    public func run(until seconds: Double) { runner.run(until: Int64((seconds * 1e9).rounded())) }

    public var now: Double { clock.seconds() }
    public var report: [String: ReportValue] { station.report(includeLateness: false) }
    public var results: [String: ReportValue] {
        if case .object(let r)? = report["results"] { return r }
        return [:]
    }

    public func alarm(_ code: String) -> (raised: Double, cleared: Double?)? {
        guard case .array(let alarms)? = report["alarms"] else { return nil }
        for case .object(let a) in alarms where a["code"] == .string(code) {
            return (a["raised_s"]?.number ?? .nan, a["cleared_s"]?.number)
        }
        return nil
    }

    public var run0: [String: ReportValue] {
        guard case .array(let runs)? = report["runs"], case .object(let run)? = runs.first else { return [:] }
        return run
    }

    public func coils(_ count: Int) -> [Bool] {
        if case .bits(let b)? = device.handle(.readCoils(address: 0, count: count), now: now) { return b }
        return []
    }

    /// Runs in steps of `step` s until `condition` holds or `limit` s have passed; returns the plant time of the
    /// last tick run when it held. (The virtual clock moves only when a loop fires, so the target moves on its own.)
    public func runUntil(limit: Double, step: Double = 0.001, _ condition: () -> Bool) -> Double? {
        var target = now
        let end = now + limit
        while target < end - 1e-12 {
            target += step
            run(until: target)
            if condition() { return now }
        }
        return nil
    }
}
