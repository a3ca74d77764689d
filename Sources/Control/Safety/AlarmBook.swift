/// How bad an alarm is. A trip drives the station's safe state.
public enum AlarmSeverity: String, Sendable, Codable, Comparable {
    case warning, alarm, trip

    private var rank: Int { self == .warning ? 0 : self == .alarm ? 1 : 2 }
    public static func < (a: AlarmSeverity, b: AlarmSeverity) -> Bool { a.rank < b.rank }
}

/// One occurrence of an alarm, from raise to clear.
public struct Alarm: Sendable, Codable, Equatable {
    public let code: String
    public let severity: AlarmSeverity
    public let message: String
    /// Seconds on the station clock.
    public let raisedAt: Double
    public internal(set) var clearedAt: Double?
    public internal(set) var acknowledgedAt: Double?
    public internal(set) var acknowledgedBy: String?

    public var isActive: Bool { clearedAt == nil }
}

/// A change to report (log, store, stream).
public enum AlarmChange: Sendable, Equatable {
    case raised(Alarm)
    case cleared(Alarm)
    case acknowledged(Alarm)
}

/// A station's alarms: raise (idempotent while active), acknowledge (by whom), clear; with history.
///
/// The active occurrences are kept apart from the cleared ones, so the questions a controller asks on every tick
/// (`isTripped`, `isActive`) cost the few active alarms, not the history: a station that has flapped for weeks
/// answers as fast as a new one. The history in memory (for the run report) keeps at most the `historyLimit` most
/// recent occurrences (at least nine tenths of that once so many have occurred); the data log keeps every one.
public struct AlarmBook: Sendable {
    /// The occurrences still active, in the order raised.
    public private(set) var active: [Alarm] = []
    /// Cleared occurrences with their raise order, in the order cleared.
    private var cleared: [(order: Int, alarm: Alarm)] = []
    private var activeOrder: [Int] = []
    private var raisedCount = 0
    /// Cleared occurrences dropped from the history beyond `historyLimit`, the earliest cleared first.
    public private(set) var dropped = 0
    public let historyLimit: Int
    private var pending: [AlarmChange] = []

    public init(historyLimit: Int = 1_000) {
        self.historyLimit = max(1, historyLimit)
    }

    /// The occurrences kept, in the order raised: the active ones and the most recent cleared ones, at most
    /// `historyLimit` of them unless more than that are active at once.
    public var history: [Alarm] {
        let all = cleared + zip(activeOrder, active).map { (order: $0, alarm: $1) }
        return all.sorted { $0.order < $1.order }.map(\.alarm)
    }

    public func isActive(_ code: String) -> Bool { active.contains { $0.code == code } }

    /// True if a trip-severity alarm is active.
    public var isTripped: Bool { active.contains { $0.severity == .trip } }

    /// Raises `code` unless it is already active.
    public mutating func raise(_ code: String, _ severity: AlarmSeverity, _ message: String, now: Double) {
        guard !isActive(code) else { return }
        let alarm = Alarm(code: code, severity: severity, message: message, raisedAt: now)
        active.append(alarm)
        activeOrder.append(raisedCount)
        raisedCount += 1
        pending.append(.raised(alarm))
        trimHistory()
    }

    /// Clears `code` if active.
    public mutating func clear(_ code: String, now: Double) {
        guard let i = active.firstIndex(where: { $0.code == code }) else { return }
        var alarm = active.remove(at: i)
        let order = activeOrder.remove(at: i)
        alarm.clearedAt = now
        cleared.append((order, alarm))
        pending.append(.cleared(alarm))
        trimHistory()
    }

    /// Drops the earliest cleared occurrences beyond the limit (active ones always stay). In batches of a tenth of
    /// the limit, so that a station at its limit does not move the whole history on every clear.
    private mutating func trimHistory() {
        let excess = cleared.count + active.count - historyLimit
        guard excess > 0, !cleared.isEmpty else { return }
        let count = min(cleared.count, max(excess, historyLimit / 10))
        cleared.removeFirst(count)
        dropped += count
    }

    /// Raises or clears `code` to match `condition`.
    public mutating func set(_ code: String, _ condition: Bool, _ severity: AlarmSeverity, _ message: @autoclosure () -> String,
                             now: Double) {
        if condition { raise(code, severity, message(), now: now) } else { clear(code, now: now) }
    }

    /// A high limit with hysteresis: raises `code` when `value` reaches `raiseAt` and clears it only once `value` is
    /// below `clearBelow`, so a value hovering at the limit does not make the alarm flap.
    public mutating func highLimit(_ code: String, _ severity: AlarmSeverity, value: Double, raiseAt: Double,
                                   clearBelow: Double, _ message: @autoclosure () -> String, now: Double) {
        if value >= raiseAt {
            raise(code, severity, message(), now: now)
        } else if value < clearBelow {
            clear(code, now: now)
        }
    }

    public enum AcknowledgeError: Error, Sendable, Equatable { case notActive(String), alreadyAcknowledged(String) }

    /// Acknowledges the active occurrence of `code`.
    public mutating func acknowledge(_ code: String, by user: String, now: Double) throws(AcknowledgeError) {
        guard let i = active.firstIndex(where: { $0.code == code }) else { throw .notActive(code) }
        guard active[i].acknowledgedAt == nil else { throw .alreadyAcknowledged(code) }
        active[i].acknowledgedAt = now
        active[i].acknowledgedBy = user
        pending.append(.acknowledged(active[i]))
    }

    /// Changes since the last call, oldest first.
    public mutating func drainChanges() -> [AlarmChange] {
        defer { pending.removeAll(keepingCapacity: true) }
        return pending
    }
}
