import Control
import Foundation
import Logging
import ServiceLifecycle
import DeviceTransports
import Locking

/// Stations on the real clock: their loops run on dedicated threads (blocking libmodbus calls never touch Swift's
/// cooperative pool). A station has a thread of its own, except that every station of one serial line shares the
/// line's thread: the bus is serial, so its units are polled in turn and a silent unit costs only its own timeout.
/// On graceful shutdown every thread is asked to stop at once (a service group would stop one service after another,
/// so a thousand stations would take a thousand stop delays); each station drives its safe state, and `run` returns
/// when every thread has finished.
package struct StationService: Service {
    /// The stations of one thread and the loop runner of that thread; the runner's lag tells the systemd watchdog
    /// whether the thread's loops are alive.
    package struct LoopThread: Sendable {
        package let stations: [any AnyStation]
        package let runner: LoopRunner

        package var names: String { stations.map(\.name).joined(separator: ", ") }

        package var threadName: String {
            if let bus = stations.first?.bus { return "bus-" + (bus.split(separator: "/").last.map(String.init) ?? bus) }
            return "st-\(stations.first?.name ?? "?")"
        }

        package init(stations: [any AnyStation], runner: LoopRunner) {
            self.stations = stations
            self.runner = runner
        }
    }

    package let threads: [LoopThread]
    package let clock: MonotonicClock
    package let options: RealTimeOptions
    package let logger: Logger

    package init(stations: [any AnyStation], clock: MonotonicClock, options: RealTimeOptions, logger: Logger) {
        // A refused station has no loops and takes no requests (the API answers 409 for it): no thread. An idle
        // runner's deadline would never advance, and the systemd watchdog would count it as a hung loop.
        self.threads = Self.groups(stations.filter { $0.mode != .refused })
            .map { LoopThread(stations: $0, runner: LoopRunner(clock: clock)) }
        self.clock = clock
        self.options = options
        self.logger = logger
    }

    /// The stations grouped by thread: one group per serial line, one per other station, in configuration order.
    package static func groups(_ stations: [any AnyStation]) -> [[any AnyStation]] {
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

    package func run() async throws {
        let (threads, clock, options, logger) = (self.threads, self.clock, self.options, self.logger)
        guard !threads.isEmpty else {
            // Every station was refused: nothing runs, but the daemon stays up so that the API and the dashboard say
            // why, until it is told to stop. (Returning would end the service group with an error.)
            try? await gracefulShutdown()
            return
        }
        for thread in threads {
            for station in thread.stations {
                for loop in station.makeLoops() { thread.runner.add(loop) }
            }
            let stations = thread.stations
            thread.runner.betweenSleeps = { now in
                for station in stations { station.serveRequests(now: Double(now) / 1e9) }
            }
            if thread.stations.count > 1 {
                logger.info("stations \(thread.names) share the thread of serial line \(thread.stations[0].bus ?? "?")")
            }
        }
        let stopAll: @Sendable () -> Void = { for thread in threads { thread.runner.requestStop() } }
        // Stops on graceful shutdown and on cancellation alike (the group cancels its services when one fails): the
        // loops end and every station drives its safe state before `run` returns.
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await withTaskGroup(of: Void.self) { group in
                    for thread in threads {
                        group.addTask {
                            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                                startThread(name: String(thread.threadName.prefix(15))) {
                                    for line in options.apply() { logger.info("stations \(thread.names): \(line)") }
                                    for station in thread.stations { station.start(now: clock.seconds()) }
                                    thread.runner.run()
                                    for station in thread.stations { station.driveSafeState(now: clock.seconds()) }
                                    done.resume()
                                }
                            }
                        }
                    }
                }
            } onGracefulShutdown: {
                stopAll()
            }
        } onCancel: {
            stopAll()
        }
    }
}

/// Stops the group after a fixed time (`rigd run --for`).
package struct DurationService: Service {
    package let seconds: Double

    package init(seconds: Double) {
        self.seconds = seconds
    }

    package func run() async throws {
        try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(seconds)) }
    }
}

/// Starts a named thread. A nonisolated function, so the closure never inherits top-level isolation.
package nonisolated func startThread(name: String, _ body: @escaping @Sendable () -> Void) {
    let thread = Thread(block: body)
    thread.name = name
    thread.start()
}
