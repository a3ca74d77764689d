import Foundation

/// One `[[notify]]` table: where alarm notifications go (a webhook or e-mail through the system's sendmail), for which
/// stations, severities and events, and the caps that keep a flapping alarm from flooding it.
package struct NotifyTarget: Sendable, Equatable {
    package enum Delivery: Sendable, Equatable {
        /// An HTTP(S) POST: a JSON body (`generic`), Slack's `{"text": …}` (`slack`), or ntfy's text with a title.
        case webhook(url: String, format: WebhookFormat)
        /// A message handed to `sendmail -t -oi` (Debian's msmtp-mta, or any MTA's sendmail interface).
        case email(to: [String], sendmail: String)
    }

    package enum WebhookFormat: String, Sendable, CaseIterable { case generic, slack, ntfy }

    /// What a target may be told about.
    package enum Event: String, Sendable, CaseIterable {
        case raised, cleared, unacknowledged
        case linkLost = "link_lost"
        case stationRefused = "station_refused"
    }

    package var name: String
    package var delivery: Delivery
    /// nil: every station.
    package var stations: [String]?
    /// Alarm severities (warning, alarm, trip) whose raise, clear and unacknowledged reminder are sent; link and
    /// refusal events have no severity and are sent when their event is chosen.
    package var severities: Set<String> = ["warning", "alarm", "trip"]
    package var events: Set<Event> = [.raised, .unacknowledged, .linkLost, .stationRefused]
    /// An alarm still unacknowledged this long after it was raised is sent again as `unacknowledged`, s.
    package var unacknowledgedAfter: Double = 1800
    /// At most this many messages an hour to this target (digests included).
    package var maxPerHour = 20
    /// The same alarm (station, code, event) at most once in this many seconds; what is held back goes into a digest.
    package var minInterval: Double = 300
    /// A delivery that takes longer fails (and is retried), s.
    package var timeout: Double = 10

    package static let defaultSendmail = "/usr/sbin/sendmail"
    package static let maxPerHourLimits = 1...3600
    package static let minIntervalLimits = 0.0...86_400
    package static let unacknowledgedLimits = 1.0...10_080  // minutes
    package static let timeoutLimits = 1.0...120

    package init(name: String, delivery: Delivery) {
        self.name = name
        self.delivery = delivery
    }

    package var kind: String {
        switch delivery {
        case .webhook(_, let format): "webhook (\(format.rawValue))"
        case .email: "email"
        }
    }
}

extension ConfigLoader {
    /// `[[notify]]`: name, webhook + format or email + sendmail, stations, severities, events, unacknowledged_after_min,
    /// max_per_hour, min_interval_s, timeout_s. Nil when the table has problems (they are reported).
    static func readNotify(_ t: TableReader, index: Int, stations: [String]?) -> NotifyTarget? {
        let before = t.reader.issues.count
        let name = t.string("name", required: true)
        if let name {
            t.context = "notify \"\(name)\""
            if name.isEmpty || name.contains(where: { !$0.isLetter && !$0.isNumber && !"-_.".contains($0) }) {
                t.fail("name", "must be letters, digits, '-', '_' or '.' (it names the target in metrics and the API)")
            }
        }
        let webhook = t.string("webhook")
        let email = t.stringArray("email")
        let formatText = t.string("format")
        let sendmail = t.string("sendmail")
        var delivery: NotifyTarget.Delivery?
        switch (webhook, email) {
        case (let url?, nil):
            let parsed = URLComponents(string: url)
            if parsed?.scheme.map({ ["http", "https"].contains($0.lowercased()) }) != true || (parsed?.host ?? "").isEmpty {
                t.fail("webhook", "must be an http:// or https:// URL with a host")
            }
            var format = NotifyTarget.WebhookFormat.generic
            if let formatText {
                if let f = NotifyTarget.WebhookFormat(rawValue: formatText) { format = f } else {
                    t.fail("format", "must be generic, slack or ntfy, got \"\(formatText)\"")
                }
            }
            if sendmail != nil { t.fail("sendmail", "is for email targets; this one has webhook") }
            delivery = .webhook(url: url, format: format)
        case (nil, let to?):
            if to.isEmpty { t.fail("email", "must name at least one address") }
            for address in to where !address.contains("@") || address.contains(where: { $0.isWhitespace || $0 == "," || $0.isNewline }) {
                t.fail("email", "\"\(address)\" is not one e-mail address")
            }
            if formatText != nil { t.fail("format", "is for webhook targets; this one has email") }
            let program = sendmail ?? NotifyTarget.defaultSendmail
            if !program.hasPrefix("/") { t.fail("sendmail", "must be an absolute path, got \"\(program)\"") }
            delivery = .email(to: to, sendmail: program)
        case (nil, nil):
            t.reader.issue(path: t.path, context: t.context, key: nil, "needs webhook = \"https://…\" or email = [\"…\"]")
        case (.some, .some):
            t.fail("email", "a target is a webhook or e-mail, not both: make two [[notify]] tables")
        }
        var target = NotifyTarget(name: name ?? "", delivery: delivery ?? .email(to: [], sendmail: ""))
        if let list = t.stringArray("stations") {
            if let stations, let unknown = list.first(where: { !stations.contains($0) }) {
                t.fail("stations", "names \"\(unknown)\", which is not a station of this file (\(stations.joined(separator: ", ")))")
            }
            target.stations = list
        }
        if let list = t.stringArray("severities") {
            let known = ["warning", "alarm", "trip"]
            if let unknown = list.first(where: { !known.contains($0) }) {
                t.fail("severities", "\"\(unknown)\" is not a severity (warning, alarm, trip)")
            }
            target.severities = Set(list)
        }
        if let list = t.stringArray("events") {
            var events: Set<NotifyTarget.Event> = []
            for text in list {
                if let event = NotifyTarget.Event(rawValue: text) { events.insert(event) } else {
                    t.fail("events", "\"\(text)\" is not an event (\(NotifyTarget.Event.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
            }
            if list.isEmpty { t.fail("events", "must name at least one event") }
            target.events = events
        }
        target.unacknowledgedAfter = 60 * t.double("unacknowledged_after_min", default: target.unacknowledgedAfter / 60,
                                                   range: NotifyTarget.unacknowledgedLimits)
        target.maxPerHour = t.int("max_per_hour", default: target.maxPerHour, range: NotifyTarget.maxPerHourLimits)
        target.minInterval = t.double("min_interval_s", default: target.minInterval, range: NotifyTarget.minIntervalLimits)
        target.timeout = t.double("timeout_s", default: target.timeout, range: NotifyTarget.timeoutLimits)
        t.finish()
        return t.reader.issues.count == before ? target : nil
    }
}
