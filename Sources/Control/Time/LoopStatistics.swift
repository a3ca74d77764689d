import Devices
import Histogram
import Locking

/// What a loop has done: ticks, overruns, and its wake-up lateness in an HDR histogram (ns).
public struct LoopStatisticsSnapshot: Sendable {
    public var name: String
    public var period: Double
    public var ticks: UInt64
    public var overruns: UInt64
    /// Deadlines skipped because a tick ran past the next one.
    public var missedDeadlines: UInt64
    public var lateness: Histogram<UInt64>

    /// Lateness at `percentile` (0–100), seconds.
    public func lateness(atPercentile percentile: Double) -> Double {
        lateness.totalCount == 0 ? 0 : Double(lateness.valueAtPercentile(percentile)) / 1e9
    }

    public var maxLateness: Double { lateness.totalCount == 0 ? 0 : Double(lateness.max) / 1e9 }
}

/// Thread-safe statistics of one loop: the loop thread records, anyone may read a snapshot.
public final class LoopStatistics: Sendable {
    /// Lateness beyond this (ns) is clamped into the top bucket.
    static let highestTrackable: UInt64 = 60_000_000_000
    /// Two significant digits (1 % of the value) is plenty for lateness. The histogram grows only as far as the
    /// largest lateness seen (autosizing): about 13 KB for lateness up to a millisecond, where a fixed size up to
    /// `highestTrackable` takes 30 KB (and three digits 220 KB), which a thousand stations feel (bench/run, scale).
    private let state: Locked<LoopStatisticsSnapshot>

    public init(name: String, period: Double) {
        state = Locked(LoopStatisticsSnapshot(
            name: name, period: period, ticks: 0, overruns: 0, missedDeadlines: 0,
            lateness: Histogram(numberOfSignificantValueDigits: .two)))
    }

    func record(latenessNanoseconds: Int64, overran: Bool, missed: UInt64) {
        state.withLock { s in
            s.ticks += 1
            if overran { s.overruns += 1 }
            s.missedDeadlines += missed
            s.lateness.recordGrowing(min(UInt64(max(0, latenessNanoseconds)), Self.highestTrackable))
        }
    }

    public func snapshot() -> LoopStatisticsSnapshot { state.withLock { $0 } }
}
