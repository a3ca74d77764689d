#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The time source of fixed-rate loops. Instants are nanoseconds since the clock's origin.
///
/// - Important: Algorithms never read a clock; the loop runner reads it and hands `now` down.
public protocol LoopClock: AnyObject, Sendable {
    /// Nanoseconds since the clock's origin.
    func now() -> Int64
    /// Blocks the calling thread until `deadline`. The virtual clock jumps there at once.
    func sleep(until deadline: Int64)
    /// The longest single sleep the runner should take, so a stop request is noticed promptly.
    var maxSleepChunk: Int64 { get }
}

extension LoopClock {
    /// `now()` in seconds.
    public func seconds() -> Double { Double(now()) / 1e9 }
}

/// The real clock: CLOCK_MONOTONIC, slept on with clock_nanosleep(TIMER_ABSTIME) so periods do not drift.
public final class MonotonicClock: LoopClock {
    /// CLOCK_MONOTONIC at the clock's creation, ns.
    public let origin: Int64
    public let maxSleepChunk: Int64 = 100_000_000

    public init() {
        origin = Self.monotonicNanoseconds()
    }

    public static func monotonicNanoseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    public func now() -> Int64 { Self.monotonicNanoseconds() - origin }

    public func sleep(until deadline: Int64) {
        let absolute = origin + deadline
        var ts = timespec(tv_sec: Int(absolute / 1_000_000_000), tv_nsec: Int(absolute % 1_000_000_000))
        while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil) == EINTR {}
    }
}

/// The virtual clock of a discrete-event run: time stands still while loops run and jumps to the next deadline.
/// A run on it is as fast as the code and bit-for-bit repeatable.
public final class VirtualClock: LoopClock {
    private let current: Atomic<Int64>
    public let maxSleepChunk: Int64 = .max

    public init(start: Int64 = 0) {
        current = Atomic(start)
    }

    public func now() -> Int64 { current.load(ordering: .acquiring) }

    public func sleep(until deadline: Int64) {
        if deadline > current.load(ordering: .relaxed) { current.store(deadline, ordering: .releasing) }
    }
}
