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
public struct AlarmBook: Sendable {
    /// Occurrences in the order raised; the oldest are dropped beyond `historyLimit` (counted in `dropped`).
    public private(set) var history: [Alarm] = []
    public private(set) var dropped = 0
    public let historyLimit: Int
    private var pending: [AlarmChange] = []

    public init(historyLimit: Int = 10_000) {
        self.historyLimit = historyLimit
    }

    public var active: [Alarm] { history.filter(\.isActive) }

    public func isActive(_ code: String) -> Bool { history.contains { $0.code == code && $0.isActive } }

    /// True if a trip-severity alarm is active.
    public var isTripped: Bool { history.contains { $0.isActive && $0.severity == .trip } }

    /// Raises `code` unless it is already active.
    public mutating func raise(_ code: String, _ severity: AlarmSeverity, _ message: String, now: Double) {
        guard !isActive(code) else { return }
        let alarm = Alarm(code: code, severity: severity, message: message, raisedAt: now)
        history.append(alarm)
        pending.append(.raised(alarm))
        if history.count > historyLimit {
            // Drop the oldest cleared occurrence; active ones stay.
            if let i = history.firstIndex(where: { !$0.isActive }) {
                history.remove(at: i)
                dropped += 1
            }
        }
    }

    /// Clears `code` if active.
    public mutating func clear(_ code: String, now: Double) {
        guard let i = history.lastIndex(where: { $0.code == code && $0.isActive }) else { return }
        history[i].clearedAt = now
        pending.append(.cleared(history[i]))
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
        guard let i = history.lastIndex(where: { $0.code == code && $0.isActive }) else { throw .notActive(code) }
        guard history[i].acknowledgedAt == nil else { throw .alreadyAcknowledged(code) }
        history[i].acknowledgedAt = now
        history[i].acknowledgedBy = user
        pending.append(.acknowledged(history[i]))
    }

    /// Changes since the last call, oldest first.
    public mutating func drainChanges() -> [AlarmChange] {
        defer { pending.removeAll(keepingCapacity: true) }
        return pending
    }
}
