/// A loop's identity and rate.
public struct LoopSpec: Sendable, Hashable {
    public let name: String
    /// Period in nanoseconds. Exact binary fractions of a second keep virtual runs exactly repeatable.
    public let periodNanoseconds: Int64

    public init(name: String, period: Duration) {
        let (seconds, attoseconds) = period.components
        self.name = name
        self.periodNanoseconds = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
        precondition(periodNanoseconds > 0, "loop \(name): period must be positive")
    }

    /// Period, seconds.
    public var period: Double { Double(periodNanoseconds) / 1e9 }
    /// Rate, Hz.
    public var rate: Double { 1 / period }
    /// `10 ms`, `1 s`, `1.5 s`.
    public var periodDescription: String {
        if periodNanoseconds < 1_000_000_000, periodNanoseconds % 1_000_000 == 0 { return "\(periodNanoseconds / 1_000_000) ms" }
        let seconds = period
        return seconds == seconds.rounded() ? "\(Int64(seconds)) s" : "\(seconds) s"
    }
}

/// What a tick is handed: the time, the time since the previous tick, and how late the wake-up was.
public struct LoopTick: Sendable {
    /// Seconds on the loop clock at wake-up.
    public let now: Double
    /// Seconds since the previous tick of this loop (the period on the first tick).
    public let dt: Double
    /// The deadline this tick served, seconds.
    public let deadline: Double
    public let index: UInt64

    public init(now: Double, dt: Double, deadline: Double, index: UInt64) {
        self.now = now
        self.dt = dt
        self.deadline = deadline
        self.index = index
    }
}

/// A fixed-rate loop on absolute deadlines: next = previous deadline + period, never now + period, so it does not
/// drift. A tick that ends past the next deadline is an overrun; the deadlines it covered are skipped (counted) so
/// the loop keeps its phase instead of bursting to catch up.
public final class FixedRateLoop {
    public let spec: LoopSpec
    public let statistics: LoopStatistics
    let body: (LoopTick) -> Void
    /// Called on the loop's thread after each tick with its wake-up lateness (ns), e.g. to feed a metrics histogram.
    /// Set it before the loop runs.
    public var latenessObserver: ((Int64) -> Void)?
    var nextDeadline: Int64
    var lastTick: Int64?
    var index: UInt64 = 0

    /// - Parameter phase: first deadline, ns on the loop clock.
    public init(spec: LoopSpec, phase: Int64 = 0, body: @escaping (LoopTick) -> Void) {
        self.spec = spec
        self.statistics = LoopStatistics(name: spec.name, period: spec.period)
        self.body = body
        self.nextDeadline = phase
    }

    /// Runs one tick woken at `wake` for the current deadline, then schedules the next one.
    func fire(wake: Int64, clock: any LoopClock) {
        let deadline = nextDeadline
        let period = spec.periodNanoseconds
        let dt = lastTick.map { Double(wake - $0) / 1e9 } ?? spec.period
        body(LoopTick(now: Double(wake) / 1e9, dt: dt, deadline: Double(deadline) / 1e9, index: index))
        lastTick = wake
        index += 1
        let finished = clock.now()
        var next = deadline + period
        var missed: UInt64 = 0
        if finished > next {
            let behind = (finished - deadline) / period
            missed = UInt64(behind)
            next = deadline + (behind + 1) * period
        }
        nextDeadline = next
        statistics.record(latenessNanoseconds: wake - deadline, overran: missed > 0, missed: missed)
        latenessObserver?(max(0, wake - deadline))
    }
}
