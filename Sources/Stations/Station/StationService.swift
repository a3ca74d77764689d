import Control
import Foundation
import Logging
import ServiceLifecycle
import DeviceTransports
import Locking

/// Stations on the real clock: their loops run on dedicated threads, so blocking libmodbus calls never touch Swift's
/// cooperative pool.
/// - A real station has a thread of its own, except that every station of one serial line shares the line's thread:
///   the bus is serial, so its units are polled in turn and a silent unit costs only its own timeout.
/// - Simulated stations never block (their device is in the process), so they need no thread each: they share a pool
///   of workers, one per core by default, each a runner over its share of their loops (earliest deadline first).
///   A thousand stations then cost a few threads and few context switches instead of a thousand of each. Each
///   station goes to the worker with the fewest ticks a second so far, the busiest stations first.
///
/// On graceful shutdown every thread is asked to stop at once (a service group would stop one service after another,
/// so a thousand stations would take a thousand stop delays); each station drives its safe state, and `run` returns
/// when every thread has finished.
package struct StationService: Service {
    /// The stations of one thread and the loop runner of that thread; the runner's lag tells the systemd watchdog
    /// whether the thread's loops are alive.
    package struct LoopThread: Sendable {
        package let stations: [any AnyStation]
        package let runner: LoopRunner
        /// The worker's number when the thread is one of the simulated stations' pool (1-based), else nil.
        package let worker: Int?
        /// The station of each of the runner's loops, in the runner's order (filled when the loops are made).
        private let owners = Locked<[String]>([])

        /// The stations, listed in full up to four and summed up beyond.
        package var names: String {
            let all = stations.map(\.name)
            guard all.count > 4 else { return all.joined(separator: ", ") }
            return all.prefix(3).joined(separator: ", ") + " and \(all.count - 3) more"
        }

        /// The station whose tick the runner is in, or every station of the thread if it is in none: what the
        /// watchdog names when the thread stalls.
        package var busyNames: String {
            if let loop = runner.firingLoop, let owner = owners.withLock({ $0.indices.contains(loop) ? $0[loop] : nil }) {
                return worker == nil ? owner : "\(owner) on \(threadName)"
            }
            return names
        }

        package var threadName: String {
            if let worker { return "sim-\(worker)" }
            if let bus = stations.first?.bus { return "bus-" + (bus.split(separator: "/").last.map(String.init) ?? bus) }
            return "st-\(stations.first?.name ?? "?")"
        }

        package init(stations: [any AnyStation], runner: LoopRunner, worker: Int? = nil) {
            self.stations = stations
            self.runner = runner
            self.worker = worker
        }

        /// Makes the stations' loops and gives them to the runner. On a worker of the pool each station's loops are
        /// moved on by a phase of their own, so that a worker's stations do not all fall due at the same instants:
        /// each loop by the phase modulo its period, the same grid of instants, so its first tick comes no later
        /// than it would have.
        func addLoops() {
            for (k, station) in stations.enumerated() {
                let loops = station.makeLoops()
                let phase = worker == nil ? 0 : Self.phase(k, period: loops.map(\.spec.periodNanoseconds).max() ?? 0)
                owners.withLock { $0 += Array(repeating: station.name, count: loops.count) }
                for loop in loops { runner.add(loop, offset: phase % loop.spec.periodNanoseconds) }
            }
        }

        /// The k-th station's phase on a worker: the fractional part of k times the golden ratio, a fraction of the
        /// station's longest period, in whole `phaseQuantum`s. Every loop of the station moves by the same amount
        /// (they keep their phase to one another), and any number of stations spreads evenly over the period: a
        /// thousand stations whose loops all fell due at the same instants would make a burst of every tick at once,
        /// and the fast loops waiting behind it would miss their deadlines. The quantum gathers the ticks into at most
        /// 4000 wake-ups a second: a phase of its own for every station would cost the worker a sleep and a wake-up
        /// (a context switch) for every tick.
        package static func phase(_ k: Int, period: Int64) -> Int64 {
            let fraction = (Double(k) * 0.618_033_988_749_894_8).truncatingRemainder(dividingBy: 1)
            return Int64(fraction * Double(period / phaseQuantum)) * phaseQuantum
        }

        /// The grid of the pool's phases, ns.
        package static var phaseQuantum: Int64 { 250_000 }
    }

    package let threads: [LoopThread]
    package let clock: MonotonicClock
    package let options: RealTimeOptions
    package let logger: Logger

    /// - Parameter simulatedWorkers: the threads the simulated stations share; one per core when nil.
    package init(stations: [any AnyStation], clock: MonotonicClock, options: RealTimeOptions, logger: Logger,
                 simulatedWorkers: Int? = nil) {
        // A refused station has no loops and takes no requests (the API answers 409 for it): no thread. An idle
        // runner's deadline would never advance, and the systemd watchdog would count it as a hung loop.
        let running = stations.filter { $0.mode != .refused }
        let workers = max(1, simulatedWorkers ?? ProcessInfo.processInfo.activeProcessorCount)
        self.threads = Self.groups(running.filter { $0.mode != .simulated })
            .map { LoopThread(stations: $0, runner: LoopRunner(clock: clock)) }
            + Self.pool(running.filter { $0.mode == .simulated }, workers: workers).enumerated()
            .map { LoopThread(stations: $1, runner: LoopRunner(clock: clock), worker: $0 + 1) }
        self.clock = clock
        self.options = options
        self.logger = logger
    }

    /// Real stations grouped by thread: one group per serial line, one per other station, in configuration order.
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

    /// Simulated stations shared among at most `workers` threads by their ticks a second: the busiest station first,
    /// each to the worker with the fewest ticks so far (the first such worker on a tie). Each worker keeps its
    /// stations in configuration order; no worker is left empty.
    package static func pool(_ stations: [any AnyStation], workers: Int) -> [[any AnyStation]] {
        let count = min(workers, stations.count)
        guard count > 0 else { return [] }
        let rates = stations.map { $0.loopSpecs.reduce(0) { $0 + $1.rate } }
        var load = Array(repeating: 0.0, count: count)
        var members: [[Int]] = Array(repeating: [], count: count)
        for i in stations.indices.sorted(by: { (rates[$0], $1) > (rates[$1], $0) }) {
            let worker = load.indices.min { (load[$0], $0) < (load[$1], $1) }!
            load[worker] += rates[i]
            members[worker].append(i)
        }
        return members.map { $0.sorted().map { stations[$0] } }
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
            thread.addLoops()
            let stations = thread.stations
            thread.runner.betweenSleeps = { now in
                for station in stations { station.serveRequests(now: Double(now) / 1e9) }
            }
            if thread.worker == nil, thread.stations.count > 1 {
                logger.info("stations \(thread.names) share the thread of serial line \(thread.stations[0].bus ?? "?")")
            }
        }
        let pool = threads.filter { $0.worker != nil }
        if !pool.isEmpty {
            let simulated = pool.reduce(0) { $0 + $1.stations.count }
            let workers = pool.map { "\($0.threadName): \($0.stations.count)" }.joined(separator: ", ")
            logger.info("\(simulated) simulated station\(simulated == 1 ? "" : "s") on \(pool.count) worker thread\(pool.count == 1 ? "" : "s") (\(workers))")
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
                                    for line in options.apply() { logger.info("\(thread.threadName) (\(thread.names)): \(line)") }
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

