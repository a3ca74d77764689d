#if canImport(Glibc)
import Glibc
#endif
import CShims
import HeapModule
import Locking
import Synchronization

/// Optional real-time measures for a loop thread. Each is off unless asked for, and each reports whether it took.
public struct RealTimeOptions: Sendable, Equatable {
    /// prctl(PR_SET_TIMERSLACK): 1 ns roughly halves the median wake-up lateness on a shared machine.
    public var timerSlackNanoseconds: UInt?
    /// SCHED_FIFO priority (1–99); needs root or CAP_SYS_NICE.
    public var fifoPriority: Int32?

    public init(timerSlackNanoseconds: UInt? = nil, fifoPriority: Int32? = nil) {
        self.timerSlackNanoseconds = timerSlackNanoseconds
        self.fifoPriority = fifoPriority
    }

    /// Applies the options to the calling thread; returns one line per option saying what happened.
    public func apply() -> [String] {
        var report: [String] = []
        if let slack = timerSlackNanoseconds {
            report.append(rigd_set_timerslack_ns(slack) == 0
                          ? "timer slack \(slack) ns" : "timer slack not set: \(String(cString: strerror(errno)))")
        }
        if let priority = fifoPriority {
            let rc = rigd_set_fifo(priority)
            report.append(rc == 0 ? "SCHED_FIFO priority \(priority)"
                          : "SCHED_FIFO not set: \(String(cString: strerror(rc)))")
        }
        return report
    }
}

/// Runs fixed-rate loops on one thread against one clock: the earliest deadline first, ties in the order given.
///
/// On the real clock a runner carries the loops of one real station, of the stations of one serial line, or of a
/// share of the simulated stations (a worker of the pool, `StationService`). On the virtual clock one runner carries
/// every loop of every station, which makes the run a discrete-event simulation: the clock jumps to the next
/// deadline. The next loop comes from a binary heap on (deadline, order given), so a worker with thousands of loops
/// pays a logarithm per tick, not a scan.
/// - Important: `run` belongs to one thread; only `requestStop` may be called from others.
public final class LoopRunner: @unchecked Sendable {
    public let clock: any LoopClock
    public private(set) var loops: [FixedRateLoop]
    /// Every loop's next deadline with its index in `loops` (the tie-break): made when the runner starts.
    private var queue = Heap<Due>()
    private let stopRequested = Atomic<Bool>(false)
    private var started = false
    /// The deadline the runner waits for or is serving now (ns on its clock); set when the runner is made, so the
    /// time its thread takes to start counts too.
    private let pendingDeadline: Atomic<Int64>
    /// The index in `loops` of the loop whose tick runs now, -1 between ticks.
    private let firing = Atomic<Int>(-1)
    /// Loops taken out by `remove` (their index stays, so indices given out before stay valid).
    private var removed: Set<Int> = []
    /// Work handed to the runner's thread by `perform`, and whether any waits (read without the lock each turn).
    private let changes = Locked<[@Sendable (LoopRunner) -> Void]>([])
    private let changesWaiting = Atomic<Bool>(false)

    public init(clock: any LoopClock, loops: [FixedRateLoop] = []) {
        self.clock = clock
        self.loops = loops
        self.pendingDeadline = Atomic(clock.now())
    }

    /// How long (ns) the runner is behind its pending deadline: negative while it sleeps towards a deadline still to
    /// come, small while a tick runs, and growing without bound when a tick hangs. Safe from any thread; the
    /// systemd watchdog pets only while every runner's lag is below its limit.
    public func lag(now: Int64) -> Int64 { now - pendingDeadline.load(ordering: .relaxed) }

    /// The index in `loops` of the loop whose tick runs now, nil between ticks; safe from any thread (the watchdog
    /// names the station of a tick that hangs).
    public var firingLoop: Int? {
        let index = firing.load(ordering: .relaxed)
        return index < 0 ? nil : index
    }

    /// - Parameter offset: moves the loop's grid later by this many ns (a station's phase among others on one
    ///   runner). Once the runner has started, call on its thread only (inside `perform`).
    public func add(_ loop: FixedRateLoop, offset: Int64 = 0) {
        loop.nextDeadline += offset
        loops.append(loop)
        if started {
            align(loop, now: clock.now())
            queue.insert(Due(deadline: loop.nextDeadline, index: loops.count - 1))
        }
    }

    /// Takes loops out for good (a station stopped by a configuration reload): they tick no more. Before the runner
    /// starts, or on its thread (inside `perform`).
    public func remove(loopsAt indices: Set<Int>) {
        removed.formUnion(indices.filter { loops.indices.contains($0) })
        if started { rebuildQueue() }
    }

    /// The loops still running (not removed).
    public var activeLoopCount: Int { loops.count - removed.count }

    /// Runs `change` on the runner's thread between two ticks (within `maxSleepChunk` on the real clock), e.g. to add
    /// or remove a station's loops while the others keep their deadlines. A runner that is not running (not started
    /// yet, or stopped) runs it at its next start, or never: the caller must not wait on it after a stop.
    public func perform(_ change: @escaping @Sendable (LoopRunner) -> Void) {
        changes.withLock { $0.append(change) }
        changesWaiting.store(true, ordering: .releasing)
    }

    /// Runs the changes handed over by `perform`; on the runner's thread.
    private func applyChanges() {
        guard changesWaiting.exchange(false, ordering: .acquiring) else { return }
        let waiting = changes.withLock { taken in
            defer { taken.removeAll() }
            return taken
        }
        for change in waiting { change(self) }
    }

    private func rebuildQueue() {
        queue = Heap(loops.indices.filter { !removed.contains($0) }
            .map { Due(deadline: loops[$0].nextDeadline, index: $0) })
    }

    /// Called on the runner's thread between the chunks of a long sleep (every `maxSleepChunk`, 100 ms on the real
    /// clock; never on the virtual clock), and after a tick when the last call is that long ago, with the clock's time
    /// in ns: work that must not wait for the next tick of
    /// a slow loop, such as an operator's request to a station that ticks once a minute. Set before `run`.
    public var betweenSleeps: ((_ now: Int64) -> Void)?
    /// When `betweenSleeps` was last called.
    private var lastBetween: Int64 = .min / 2

    /// Asks `run` to return; safe from any thread. A real-clock runner notices within 100 ms.
    public func requestStop() { stopRequested.store(true, ordering: .relaxed) }
    public var isStopRequested: Bool { stopRequested.load(ordering: .relaxed) }

    /// Runs until a stop is requested or the next deadline would be after `end` (ns). Returns the ticks run.
    @discardableResult
    public func run(until end: Int64 = .max) -> UInt64 {
        var ticks: UInt64 = 0
        if !started {
            // The first deadline is the first point of each loop's grid at or after now: time spent before the
            // runner starts (probing devices, starting threads) is not wake-up lateness.
            started = true
            let now = clock.now()
            for loop in loops { align(loop, now: now) }
            rebuildQueue()
        }
        applyChanges()
        turn: while !isStopRequested, let due = queue.min {
            let chosen = loops[due.index]
            let deadline = due.deadline
            if deadline > end { break }
            pendingDeadline.store(deadline, ordering: .relaxed)
            // Sleep in chunks so a stop is noticed; the last sleep is to the exact absolute deadline.
            while !isStopRequested {
                let now = clock.now()
                if now >= deadline { break }
                if deadline - now > clock.maxSleepChunk {
                    clock.sleep(until: now + clock.maxSleepChunk)
                    if let betweenSleeps {
                        lastBetween = clock.now()
                        betweenSleeps(lastBetween)
                    }
                    if changesWaiting.load(ordering: .relaxed) {
                        // The loops may have changed: choose the next deadline again.
                        applyChanges()
                        continue turn
                    }
                } else {
                    clock.sleep(until: deadline)
                }
            }
            if isStopRequested { break }
            firing.store(due.index, ordering: .relaxed)
            let wake = clock.now()
            chosen.fire(wake: wake, clock: clock)
            firing.store(-1, ordering: .relaxed)
            // A runner that never sleeps a whole chunk (a worker thread shared with a 1 kHz loop) still serves its slow
            // stations' requests every chunk, not only at their own ticks (a pond's request waited up to its 10 s).
            if let betweenSleeps, wake - lastBetween >= clock.maxSleepChunk {
                lastBetween = wake
                betweenSleeps(wake)
            }
            queue.replaceMin(with: Due(deadline: chosen.nextDeadline, index: due.index))
            ticks += 1
            applyChanges()
        }
        // Changes handed over just before a stop still run: a station taken off drives its safe state.
        applyChanges()
        return ticks
    }

    /// Moves a loop's first deadline to the first point of its grid at or after `now`.
    private func align(_ loop: FixedRateLoop, now: Int64) {
        guard loop.nextDeadline < now else { return }
        let period = loop.spec.periodNanoseconds
        loop.nextDeadline += (now - loop.nextDeadline + period - 1) / period * period
    }

    /// A loop's place in the queue: the earliest deadline first, then the loop given first.
    private struct Due: Comparable {
        let deadline: Int64
        let index: Int

        static func < (a: Due, b: Due) -> Bool { (a.deadline, a.index) < (b.deadline, b.index) }
    }
}
