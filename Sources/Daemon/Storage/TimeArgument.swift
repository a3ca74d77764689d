import Foundation
import Stations
import DeviceTransports
import SimServe
import Locking

/// A point in time as a user types it (`--from`, `?from=`): Unix seconds (`1764400000`), ISO 8601
/// (`2026-11-29T10:00:00Z`, `2026-11-29T10:00:00+01:00`, `2026-11-29`), or relative to now (`-90s`, `-15m`, `-2h`,
/// `-7d`; `now`).
package enum TimeArgument {
    package static func parse(_ text: String, now: Double = Date().timeIntervalSince1970) -> Double? {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t == "now" { return now }
        if let seconds = Double(t), seconds.isFinite { return seconds }
        if t.hasPrefix("-"), let unit = t.last, let factor = ["s": 1.0, "m": 60, "h": 3600, "d": 86_400][unit],
           let amount = Double(t.dropFirst().dropLast()), amount.isFinite, amount >= 0 {
            return now - amount * factor
        }
        let full = ISO8601DateFormatter()
        full.formatOptions = [.withInternetDateTime]
        if let date = full.date(from: t) { return date.timeIntervalSince1970 }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = fractional.date(from: t) { return date.timeIntervalSince1970 }
        let day = ISO8601DateFormatter()
        day.formatOptions = [.withFullDate]
        if let date = day.date(from: t) { return date.timeIntervalSince1970 }
        return nil
    }

    package static let help = "Unix seconds, ISO 8601 (2026-11-29T10:00:00Z, 2026-11-29) or relative (-15m, -2h, -7d, now)"

    /// ISO 8601 in UTC with milliseconds, for CSV and messages.
    package static func format(_ unix: Double) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date(timeIntervalSince1970: unix))
    }
}
