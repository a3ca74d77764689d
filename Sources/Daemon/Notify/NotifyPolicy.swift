import Foundation
import Stations

/// One thing a target may be told: an alarm raised, cleared or still unacknowledged, a link lost, a station refused.
package struct Notice: Sendable, Equatable {
    package var event: NotifyTarget.Event
    package var station: String
    /// The alarm's code; nil for link and refusal events.
    package var code: String?
    /// warning, alarm or trip; nil for link and refusal events.
    package var severity: String?
    package var message: String
    /// Unix time it happened.
    package var t: Double

    package init(event: NotifyTarget.Event, station: String, code: String? = nil, severity: String? = nil,
                 message: String, t: Double) {
        self.event = event
        self.station = station
        self.code = code
        self.severity = severity
        self.message = message
        self.t = t
    }

    /// What the minimum interval is counted per: the same alarm's same event on the same station.
    var key: String { "\(station)/\(code ?? event.rawValue)/\(event.rawValue)" }

    /// One line for a person: `[rigd] pond-1: ALARM do_critical raised (alarm): DO 2.1 mg/L below 3.0 mg/L`.
    package var line: String {
        switch event {
        case .raised: "\(station): ALARM \(code ?? "?") raised (\(severity ?? "?")): \(message)"
        case .cleared: "\(station): alarm \(code ?? "?") cleared"
        case .unacknowledged: "\(station): ALARM \(code ?? "?") still unacknowledged (\(severity ?? "?")): \(message)"
        case .linkLost: "\(station): LINK LOST: \(message)"
        case .stationRefused: "\(station): STATION REFUSED: \(message)"
        }
    }

    /// Whether a target with these settings wants it.
    package func wanted(by target: NotifyTarget) -> Bool {
        guard target.events.contains(event) else { return false }
        if let stations = target.stations, !stations.contains(station) { return false }
        if let severity, !target.severities.contains(severity) { return false }
        return true
    }
}

/// What goes out to a target: one notice, or a digest of those held back by the caps.
package enum Outgoing: Sendable, Equatable {
    case notice(Notice)
    case digest([Notice], at: Double)

    package var subject: String {
        switch self {
        case .notice(let n): "[rigd] " + n.line.prefix(120)
        case .digest(let held, _): "[rigd] \(held.count) notification(s) held back by the caps"
        }
    }

    package var text: String {
        switch self {
        case .notice(let n): n.line
        case .digest(let held, _):
            "\(held.count) notification(s) were held back (the same alarm within the minimum interval, or the "
                + "hourly cap reached):\n" + held.prefix(20).map { "- " + $0.line }.joined(separator: "\n")
                + (held.count > 20 ? "\n… and \(held.count - 20) more (the data log has them all)" : "")
        }
    }
}

/// The caps of one target, on any clock (tests run an hour of virtual time): at most `maxPerHour` messages in any
/// hour, digests included; the same alarm's same event at most once per `minInterval`; what is held back goes out as
/// one digest once the cap allows, at most once per `max(minInterval, 60 s)`. A flapping alarm therefore sends its
/// first raise, then digests: never more than the cap.
package struct NotifyPolicy: Sendable {
    package let maxPerHour: Int
    package let minInterval: Double
    /// When each message of the last hour went out.
    private var sent: [Double] = []
    private var lastByKey: [String: Double] = [:]
    package private(set) var held: [Notice] = []
    private var lastDigest = -Double.infinity
    /// Every notice held back, ever (each is in exactly one digest, or still held).
    package private(set) var heldTotal = 0

    package init(maxPerHour: Int, minInterval: Double) {
        self.maxPerHour = maxPerHour
        self.minInterval = minInterval
    }

    private mutating func capacity(now: Double) -> Bool {
        sent.removeAll { now - $0 >= 3600 }
        return sent.count < maxPerHour
    }

    /// A notice the target wants: sent now, or held for the next digest.
    package mutating func offer(_ notice: Notice, now: Double) -> [Outgoing] {
        if let last = lastByKey[notice.key], now - last < minInterval {
            hold(notice)
            return tick(now: now)
        }
        guard capacity(now: now) else {
            hold(notice)
            return []
        }
        sent.append(now)
        lastByKey[notice.key] = now
        return [.notice(notice)] + tick(now: now)
    }

    /// A digest of what was held, if there is any, the cap allows it and the last digest is old enough.
    package mutating func tick(now: Double) -> [Outgoing] {
        guard !held.isEmpty, now - lastDigest >= max(minInterval, 60), capacity(now: now) else { return [] }
        sent.append(now)
        lastDigest = now
        defer { held.removeAll() }
        return [.digest(held, at: now)]
    }

    private mutating func hold(_ notice: Notice) {
        held.append(notice)
        heldTotal += 1
        // A digest lists at most this many; the count covers the rest. Memory stays bounded whatever the flood.
        if held.count > 10_000 { held.removeFirst(held.count - 10_000) }
    }
}
