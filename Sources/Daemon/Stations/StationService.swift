import Control
import Foundation
import Logging
import ServiceLifecycle

/// Stations on the real clock: their loops run on one dedicated thread (blocking libmodbus calls never touch Swift's
/// cooperative pool). A station has a thread of its own, except that every station of one serial line shares the
/// line's thread: the bus is serial, so its units are polled in turn and a silent unit costs only its own timeout.
/// On graceful shutdown the loops stop, each station drives its safe state, and `run` returns.
struct StationService: Service {
    let stations: [any AnyStation]
    let clock: MonotonicClock
    let options: RealTimeOptions
    let logger: Logger
    /// The group's loop runner; its lag tells the systemd watchdog whether the group's loops are alive.
    let runner: LoopRunner

    init(stations: [any AnyStation], clock: MonotonicClock, options: RealTimeOptions, logger: Logger) {
        self.stations = stations
        self.clock = clock
        self.options = options
        self.logger = logger
        self.runner = LoopRunner(clock: clock)
    }

    /// The stations grouped by thread: one group per serial line, one per other station, in configuration order.
    static func groups(_ stations: [any AnyStation]) -> [[any AnyStation]] {
        var groups: [[any AnyStation]] = []
        var byBus: [String: Int] = [:]
        for station in stations {
            if let bus = station.bus {
                if let i = byBus[bus] { groups[i].append(station) } else {
                    byBus[bus] = groups.count
                    groups.append([station])
                }
            } else {
                groups.append([station])
            }
        }
        return groups
    }

    var threadName: String {
        if let bus = stations.first?.bus { return "bus-" + (bus.split(separator: "/").last.map(String.init) ?? bus) }
        return "st-\(stations.first?.name ?? "?")"
    }

    func run() async throws {
        let runner = self.runner
        for station in stations {
            for loop in station.makeLoops() { runner.add(loop) }
        }
        let (stations, clock, options, logger) = (self.stations, self.clock, self.options, self.logger)
        let names = stations.map(\.name).joined(separator: ", ")
        if stations.count > 1 { logger.info("stations \(names) share the thread of serial line \(stations[0].bus ?? "?")") }
        // Stops on graceful shutdown and on cancellation alike (the group cancels its services when one fails): the
        // loops end and every station drives its safe state before `run` returns.
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                    startThread(name: String(threadName.prefix(15))) {
                        for line in options.apply() { logger.info("stations \(names): \(line)") }
                        for station in stations { station.start(now: clock.seconds()) }
                        runner.run()
                        for station in stations { station.driveSafeState(now: clock.seconds()) }
                        done.resume()
                    }
                }
            } onGracefulShutdown: {
                runner.requestStop()
            }
        } onCancel: {
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
