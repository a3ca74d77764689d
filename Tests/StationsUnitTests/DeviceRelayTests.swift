import Control
import Devices
import Foundation
import Locking
import Logging
import RigdTestKit
import Sim
import Stations
import Testing

/// Relays an instrument switches (docs/maps.md, "Relays"): a map that names the kind's host relays (`aerator_1`) as
/// commands makes the station write them through the device instead of a GPIO line, and the simulated instrument
/// hands them to the plant.
@Suite struct DeviceRelayTests {
    static func pond(logger: Logger? = nil) throws -> (station: any AnyStation, firmware: SimulatedDevice<AquaSondeFirmware>,
                                                       instrument: MappedDevice, clock: VirtualClock, runner: LoopRunner) {
        let dir = NSTemporaryDirectory() + "rigd-relays-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try sondeMapWithAerators().write(toFile: dir + "/sonde.toml", atomically: true, encoding: .utf8)
        try """
            [[station]]
            name = "pond"
            kind = "aqua-sonde"
            address = "sim://"
            map = "sonde.toml"
            [station.control]
            sample_every_s = 10
            feed_times = []
            """.write(toFile: dir + "/rigd.toml", atomically: true, encoding: .utf8)
        let config = try ConfigLoader.load(path: dir + "/rigd.toml")
        var quiet = Logger(label: "test")
        quiet.logLevel = .critical
        let logger = logger ?? quiet
        let clock = VirtualClock()
        let station = try Wiring.virtualStations(config, clock: clock, seed: 1, logger: logger)[0]
        let firmware = try #require(station.simulation?.device as? SimulatedDevice<AquaSondeFirmware>)
        let instrument = try #require(station.simulation?.instrument)
        station.start(now: 0)
        return (station, firmware, instrument, clock, LoopRunner(clock: clock, loops: station.makeLoops()))
    }

    @Test func aeratorsOnTheInstrumentFollowTheControllerAndTheSafeStateAtShutdown() throws {
        let (station, firmware, instrument, clock, runner) = try Self.pond()
        var seen: [Bool: Int] = [:]
        // Two days in 10-minute steps: at each, what the controller decided is what the instrument's coils hold and
        // what the plant feels.
        var offAt: Int64?
        for step in 1...288 {
            runner.run(until: Int64(step) * 600_000_000_000)
            let relay: Bool? = station.status().relays["aerator-1"] ?? nil
            let decided = try #require(relay as Bool?)
            #expect(instrument.relay("aerator-1") == decided && instrument.relay("aerator_2") == decided,
                    "at \(step * 10) min: decided \(decided), the instrument's coils \(String(describing: instrument.relay("aerator-1")))")
            let felt = firmware.withModel { $0.relays().aeratorsOn }
            #expect(felt == (decided ? 2 : 0), "at \(step * 10) min: decided \(decided), the plant feels \(felt) on")
            seen[decided, default: 0] += 1
            if !decided, offAt == nil, step > 144 { offAt = clock.now() }
            if offAt != nil { break }
        }
        #expect(seen[true, default: 0] > 0 && seen[false, default: 0] > 0, "aeration both on and off: \(seen)")
        #expect(station.status().link.transactionErrors == 0)

        // Shutdown with the aerators off: their safe state (on) goes to the instrument, and the plant feels it.
        try #require(offAt != nil, "no moment with the aerators off on the second day")
        station.driveSafeState(now: clock.seconds())
        #expect(instrument.relay("aerator-1") == true)
        #expect(firmware.withModel { $0.relays().aeratorsOn } == 2, "the aerators' safe state is on")
    }

    /// At shutdown the log says what happened to the relays the device switches: written in their safe state, or,
    /// with the link down, not; the host's own relay lines are logged apart, and never with the device's.
    @Test func atShutdownTheLogSaysWhetherTheDevicesRelaysWereWritten() throws {
        for linkDown in [false, true] {
            let lines = Locked<[(Logger.Level, String)]>([])
            let (station, firmware, _, clock, runner) = try Self.pond(
                logger: Logger(label: "test") { _ in CapturingLogHandler(lines: lines) })
            runner.run(until: 60_000_000_000)
            if linkDown {
                firmware.setOffline(true)
                runner.run(until: 180_000_000_000)
                #expect(!station.status().link.up, "the link is down after two minutes without answers")
            }
            station.driveSafeState(now: clock.seconds())
            let log = lines.withLock { $0 }.map(\.1)
            let written = log.contains { $0.contains("relays switched through the device in their safe state (aerator-1 ON, aerator-2 ON)") }
            let notWritten = log.contains { $0.contains("aerator-1, aerator-2 (switched through the device) could not be put in their safe state") }
            #expect(written == !linkDown && notWritten == linkDown, "link down \(linkDown): \(log.suffix(6))")
            let host = log.first { $0.contains("relays in their safe state (") && !$0.contains("through the device") }
            #expect(host?.contains("aerator") == false, "the host's relays only: \(host ?? "none")")
        }
    }
}
