import Control
import Foundation
import Locking
import Logging
import Stations
import Testing

/// Collects what a logger writes, for assertions on log lines.
struct CapturingLogHandler: LogHandler {
    let lines: Locked<[(Logger.Level, String)]>
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        lines.withLock { $0.append((event.level, "\(event.message)")) }
    }
}

/// Issue 18 item 14: a station simulated because its real device did not answer keeps saying so: a warning in the
/// log every minute, and the missing address in its status (the API and the dashboard's banner show it).
@Suite struct MissingDeviceTests {
    @Test func aStandInForAMissingDeviceSaysSoEveryMinute() throws {
        let config = try ConfigLoader.parse("""
            [[station]]
            name = "rig-1"
            kind = "heat-rig"
            address = "tcp://192.0.2.7:502"
            """, source: "test.toml")
        let lines = Locked<[(Logger.Level, String)]>([])
        let logger = Logger(label: "test") { _ in CapturingLogHandler(lines: lines) }
        let clock = VirtualClock()
        let station = try Wiring.simulatedStation(config.stations[0], seed: 1, clock: clock,
                                                  standsInFor: "tcp://192.0.2.7:502", logger: logger)
        #expect(station.status().missingAddress == "tcp://192.0.2.7:502")
        station.start(now: 0)
        let runner = LoopRunner(clock: clock, loops: station.makeLoops())
        runner.run(until: 130_000_000_000)
        let reminders = lines.withLock { $0 }.filter { $0.0 == .warning && $0.1.contains("still SIMULATED") }
        #expect(reminders.count == 2, "\(reminders.map(\.1))")
        #expect(reminders.first?.1.contains("no device answered at tcp://192.0.2.7:502") == true)

        // A station configured as sim:// is simulated on purpose: no reminder, no missing address.
        let plain = try Wiring.simulatedStation(config.stations[0], seed: 1, clock: VirtualClock(), logger: logger)
        #expect(plain.status().missingAddress == nil)
    }
}
