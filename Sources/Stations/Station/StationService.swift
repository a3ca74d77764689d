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
///
/// A configuration reload (`replace`) stops some stations and starts others while the rest keep their threads and
/// their loops' deadlines: on a worker of the pool, a station's loops are taken out or put in between two ticks.
package final class StationService: Service, Sendable {
    /// The stations of one thread and the loop runner of that thread; the runner's lag tells the systemd watchdog
    /// whether the thread's loops are alive.
    package final class LoopThread: Sendable {
        private let members: Locked<[any AnyStation]>
        /// The thread's stations now (a reload may take some out of a worker, or put some in).
        package var stations: [any AnyStation] { members.withLock { $0 } }
        package let runner: LoopRunner
        /// The worker's number when the thread is one of the simulated stations' pool (1-based), else nil.
        package let worker: Int?
        /// The station of each of the runner's loops, in the runner's order (filled when the loops are made).
        private let owners = Locked<[String]>([])
        /// Stations put on the thread so far: the next one's phase (a station's place among the worker's).
        private let placed = Locked(0)

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

        package let threadName: String

        package init(stations: [any AnyStation], runner: LoopRunner, worker: Int? = nil) {
            self.members = Locked(stations)
            self.runner = runner
            self.worker = worker
            if let worker {
                threadName = "sim-\(worker)"
            } else if let bus = stations.first?.bus {
                threadName = "bus-" + (bus.split(separator: "/").last.map(String.init) ?? bus)
            } else {
                threadName = "st-\(stations.first?.name ?? "?")"
            }
        }

        /// Makes the stations' loops and gives them to the runner. On a worker of the pool each station's loops are
        /// moved on by a phase of their own, so that a worker's stations do not all fall due at the same instants:
        /// each loop by the phase modulo its period, the same grid of instants, so its first tick comes no later
        /// than it would have.
        func addLoops() {
            guard !loopsMade.withLock({ made in defer { made = true }; return made }) else { return }
            for station in stations { addLoops(of: station) }
        }

        /// Whether `addLoops` ran (a thread made by a reload before `run` began is not given its loops twice).
        private let loopsMade = Locked(false)

        private func addLoops(of station: any AnyStation) {
            let loops = station.makeLoops()
            let k = placed.withLock { k in
                defer { k += 1 }
                return k
            }
            let phase = worker == nil ? 0 : Self.phase(k, period: loops.map(\.spec.periodNanoseconds).max() ?? 0)
            owners.withLock { $0 += Array(repeating: station.name, count: loops.count) }
            for loop in loops { runner.add(loop, offset: phase % loop.spec.periodNanoseconds) }
        }

        /// Puts stations on the running thread: on its thread, between two ticks, each is started and its loops join
        /// the runner's.
        func join(_ added: [any AnyStation], clock: MonotonicClock) {
            members.withLock { $0 += added }
            runner.perform { [self] _ in
                for station in added {
                    station.start(now: clock.seconds())
                    addLoops(of: station)
                }
            }
        }

        /// Takes stations off the running thread: on its thread, between two ticks, their loops leave the runner and
        /// each drives its safe state; `done` is called then (or at once for stations not on this thread).
        func leave(_ names: Set<String>, clock: MonotonicClock, done: @escaping @Sendable () -> Void) {
            let leaving = members.withLock { members -> [any AnyStation] in
                defer { members.removeAll { names.contains($0.name) } }
                return members.filter { names.contains($0.name) }
            }
            guard !leaving.isEmpty else { return done() }
            runner.perform { [self] runner in
                let indices = owners.withLock { owners -> Set<Int> in
                    let taken = Set(owners.indices.filter { names.contains(owners[$0]) })
                    for i in taken { owners[i] = "" }
                    return taken
                }
                runner.remove(loopsAt: indices)
                for station in leaving { station.driveSafeState(now: clock.seconds()) }
                done()
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

    /// Every station, refused ones included, in configuration order: what the API, the dashboard, the edge node
    /// and the systemd status see.
    package let registry: StationRegistry
    private let state: Locked<State>
    package let clock: MonotonicClock
    package let options: RealTimeOptions
    package let logger: Logger
    private let workers: Int

    private struct State {
        var threads: [LoopThread]
        /// Where threads made after `run` began go to be started; nil before `run` and after it ended.
        var starter: AsyncStream<LoopThread>.Continuation?
        var stopping = false
    }

    /// The threads now, in the order they were made.
    package var threads: [LoopThread] { state.withLock { $0.threads } }
    /// The stations now.
    package var stations: [any AnyStation] { registry.stations }

    /// - Parameter simulatedWorkers: the threads the simulated stations share; one per core when nil.
    package init(stations: [any AnyStation], clock: MonotonicClock, options: RealTimeOptions, logger: Logger,
                 simulatedWorkers: Int? = nil) {
        // A refused station has no loops and takes no requests (the API answers 409 for it): no thread. An idle
        // runner's deadline would never advance, and the systemd watchdog would count it as a hung loop.
        let running = stations.filter { $0.mode != .refused }
        let workers = max(1, simulatedWorkers ?? ProcessInfo.processInfo.activeProcessorCount)
        let threads = Self.groups(running.filter { $0.mode != .simulated })
            .map { LoopThread(stations: $0, runner: LoopRunner(clock: clock)) }
            + Self.pool(running.filter { $0.mode == .simulated }, workers: workers).enumerated()
            .map { LoopThread(stations: $1, runner: LoopRunner(clock: clock), worker: $0 + 1) }
        self.registry = StationRegistry(stations)
        self.state = Locked(State(threads: threads))
        self.workers = workers
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
        let (clock, options, logger) = (self.clock, self.options, self.logger)
        let (additions, starter) = AsyncStream.makeStream(of: LoopThread.self)
        let threads = state.withLock { state in
            state.starter = starter
            return state.threads
        }
        for thread in threads {
            thread.addLoops()
            prepare(thread)
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
        let stopAll: @Sendable () -> Void = { [state] in
            let (threads, starter) = state.withLock { state in
                state.stopping = true
                defer { state.starter = nil }
                return (state.threads, state.starter)
            }
            starter?.finish()
            for thread in threads { thread.runner.requestStop() }
        }
        let launch: @Sendable (LoopThread) async -> Void = { thread in
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
        // Stops on graceful shutdown and on cancellation alike (the group cancels its services when one fails): the
        // loops end and every station drives its safe state before `run` returns. With no thread at all (every
        // station refused) the service waits for the stop all the same, so that the API and the dashboard say why,
        // and a reload may still start stations.
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await withTaskGroup(of: Void.self) { group in
                    for thread in threads { group.addTask { await launch(thread) } }
                    for await thread in additions { group.addTask { await launch(thread) } }
                }
            } onGracefulShutdown: {
                stopAll()
            }
        } onCancel: {
            stopAll()
        }
        state.withLock { $0.threads.removeAll() }
    }

    /// Serves the thread's stations' requests between sleeps.
    private func prepare(_ thread: LoopThread) {
        thread.runner.betweenSleeps = { now in
            for station in thread.stations { station.serveRequests(now: Double(now) / 1e9) }
        }
    }

    /// A configuration reload: stops the stations named in `removing` (each drives its safe state on its own thread;
    /// a thread left without stations ends), then starts `adding` (a real station on a thread of its own, or on its
    /// serial line's; a simulated one on the pool's least busy worker, or a new worker if none runs), and sets the
    /// registry to `stations` (every station from now on, in configuration order). Returns once the removed stations
    /// have driven their safe state (or after `timeout` seconds, with the names of those that had not).
    package func replace(removing: Set<String>, adding: [any AnyStation], stations: [any AnyStation],
                         timeout: Double = 10) -> [String] {
        let group = DispatchGroup()
        let stopped = Locked<Set<String>>([])
        var onThreads: Set<String> = []
        let leavingThreads = state.withLock { state -> [LoopThread] in
            var ending: [LoopThread] = []
            for thread in state.threads {
                let names = Set(thread.stations.map(\.name)).intersection(removing)
                guard !names.isEmpty else { continue }
                onThreads.formUnion(names)
                group.enter()
                thread.leave(names, clock: clock) {
                    stopped.withLock { $0.formUnion(names) }
                    group.leave()
                }
                if thread.stations.isEmpty { ending.append(thread) }
            }
            state.threads.removeAll { thread in ending.contains { $0 === thread } }
            return ending
        }
        // A thread left empty ends once its stations have driven their safe state (the change runs before the stop
        // is seen: both go through the runner, the change first).
        for thread in leavingThreads { thread.runner.perform { $0.requestStop() } }
        _ = group.wait(timeout: .now() + timeout)
        let late = onThreads.subtracting(stopped.withLock { $0 }).sorted()
        registry.replace(stations)
        let running = adding.filter { $0.mode != .refused }
        state.withLock { state in
            guard !state.stopping else { return }
            // Real stations: on their serial line's thread if it still runs, else on a new thread.
            for group in Self.groups(running.filter { $0.mode != .simulated }) {
                if let bus = group[0].bus,
                   let thread = state.threads.first(where: { $0.worker == nil && $0.stations.first?.bus == bus }) {
                    thread.join(group, clock: clock)
                    continue
                }
                let thread = LoopThread(stations: group, runner: LoopRunner(clock: clock))
                thread.addLoops()
                prepare(thread)
                state.threads.append(thread)
                state.starter?.yield(thread)
            }
            // Simulated stations: each to the worker with the fewest ticks a second; a new worker while the pool has
            // fewer than its size.
            for station in running.filter({ $0.mode == .simulated }) {
                let pool = state.threads.filter { $0.worker != nil }
                let load = { (thread: LoopThread) in
                    thread.stations.reduce(0.0) { $0 + $1.loopSpecs.reduce(0) { $0 + $1.rate } }
                }
                if pool.count >= workers, let thread = pool.min(by: { load($0) < load($1) }) {
                    thread.join([station], clock: clock)
                } else {
                    let number = (1...).first { n in !pool.contains { $0.worker == n } }!
                    let thread = LoopThread(stations: [station], runner: LoopRunner(clock: clock), worker: number)
                    thread.addLoops()
                    prepare(thread)
                    state.threads.append(thread)
                    state.starter?.yield(thread)
                }
            }
        }
        return late
    }
}

/// Every station of a running rigd, refused ones included, in configuration order. A reload replaces the list; the
/// API, the dashboard, the edge node and the systemd status read it each time they look.
package final class StationRegistry: Sendable {
    private let list: Locked<[any AnyStation]>

    package init(_ stations: [any AnyStation]) {
        list = Locked(stations)
    }

    package var stations: [any AnyStation] { list.withLock { $0 } }

    package func station(named name: String) -> (any AnyStation)? {
        list.withLock { $0.first { $0.name == name } }
    }

    package func replace(_ stations: [any AnyStation]) {
        list.withLock { $0 = stations }
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

