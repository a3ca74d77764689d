import Control
import Foundation
import Logging
import ServiceLifecycle

/// A station on the real clock: its loops run on a dedicated thread (blocking libmodbus calls never touch Swift's
/// cooperative pool). On graceful shutdown the loops stop, the station drives its safe state, and `run` returns.
struct StationService: Service {
    let station: any AnyStation
    let clock: MonotonicClock
    let options: RealTimeOptions
    let logger: Logger

    func run() async throws {
        let runner = LoopRunner(clock: clock)
        for loop in station.makeLoops() { runner.add(loop) }
        let (station, clock, options, logger) = (self.station, self.clock, self.options, self.logger)
        await withGracefulShutdownHandler {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                startThread(name: "st-\(station.name)") {
                    for line in options.apply() { logger.info("station \(station.name): \(line)") }
                    station.start(now: clock.seconds())
                    runner.run()
                    station.driveSafeState(now: clock.seconds())
                    done.resume()
                }
            }
        } onGracefulShutdown: {
            runner.requestStop()
        }
    }
}

/// Stops the group after a fixed time (`rigd run --for`).
struct DurationService: Service {
    let seconds: Double

    func run() async throws {
        try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(seconds)) }
    }
}

/// Starts a named thread. A nonisolated function, so the closure never inherits top-level isolation.
nonisolated func startThread(name: String, _ body: @escaping @Sendable () -> Void) {
    let thread = Thread(block: body)
    thread.name = name
    thread.start()
}
