import Foundation

/// A point in time as a user types it (`--from`, `?from=`), in exactly these forms (the OpenAPI document's `from`
/// and `to` schemas say the same, so a schema-driven client and rigd agree on every string):
/// - `now`;
/// - relative to now: `-90s`, `-15m`, `-2h`, `-7d` (`-` digits, optional fraction, one of s m h d);
/// - Unix seconds: `1764400000`, `1764400000.5` (optional `-`; no exponent, no spaces);
/// - an RFC 3339 date (`2026-11-29`, midnight UTC) or date-time (`2026-11-29T10:00:00Z`,
///   `2026-11-29T10:00:00.250+01:00`; `T`/`t`, `Z`/`z`).
package enum TimeArgument {
    package static func parse(_ text: String, now: Double = Date().timeIntervalSince1970) -> Double? {
        if text == "now" { return now }
        if text.wholeMatch(of: unixSeconds) != nil { return Double(text).flatMap { $0.isFinite ? $0 : nil } }
        if let m = text.wholeMatch(of: relative) {
            let factor: Double = ["s": 1, "m": 60, "h": 3600, "d": 86_400][String(m.output.2)]!
            guard let amount = Double(m.output.1), amount.isFinite else { return nil }
            return now - amount * factor
        }
        if let m = text.wholeMatch(of: date) {
            return civil(year: Int(m.output.1)!, month: Int(m.output.2)!, day: Int(m.output.3)!)
        }
        if let m = text.wholeMatch(of: dateTime) {
            let o = m.output
            guard let day = civil(year: Int(o.1)!, month: Int(o.2)!, day: Int(o.3)!) else { return nil }
            let (hour, minute, second) = (Int(o.4)!, Int(o.5)!, Int(o.6)!)
            guard hour <= 23, minute <= 59, second <= 60 else { return nil }
            var offset = 0
            if let h = o.9, let mm = o.10 {
                guard let oh = Int(h), let om = Int(mm), oh <= 23, om <= 59 else { return nil }
                offset = (o.8 == "-" ? -1 : 1) * (oh * 3600 + om * 60)
            }
            let fraction = o.7.flatMap { Double("0" + $0) } ?? 0
            return day + Double(hour * 3600 + minute * 60 + second - offset) + fraction
        }
        return nil
    }

    package static let help = "Unix seconds, RFC 3339 (2026-11-29T10:00:00Z, 2026-11-29) or relative (-15m, -2h, -7d, now)"

    /// The same forms as regular expressions (ECMA 262, as in the OpenAPI document's schemas).
    package static let unixSecondsPattern = "^-?[0-9]+(\\.[0-9]+)?$"
    package static let relativePattern = "^(now|-[0-9]+(\\.[0-9]+)?[smhd])$"
    package static let datePattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
    package static let dateTimePattern =
        "^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"

    nonisolated(unsafe) private static let unixSeconds = /-?[0-9]+(?:\.[0-9]+)?/
    nonisolated(unsafe) private static let relative = /-([0-9]+(?:\.[0-9]+)?)([smhd])/
    nonisolated(unsafe) private static let date = /([0-9]{4})-([0-9]{2})-([0-9]{2})/
    nonisolated(unsafe) private static let dateTime =
        /([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))/

    /// Unix seconds of midnight UTC on a Gregorian calendar date (Foundation's calendar); nil for a day that does
    /// not exist (2026-02-30, month 13).
    private static func civil(year: Int, month: Int, day: Int) -> Double? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let components = DateComponents(calendar: calendar, timeZone: calendar.timeZone, year: year, month: month,
                                        day: day)
        guard components.isValidDate, let date = calendar.date(from: components) else { return nil }
        return date.timeIntervalSince1970
    }

    /// ISO 8601 in UTC with milliseconds, for CSV and messages.
    package static func format(_ unix: Double) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date(timeIntervalSince1970: unix))
    }
}
