import CSV
import Foundation
import GRDB
import Stations
import DeviceTransports
import SimServe
import Locking

/// The data log of one station as CSV rows: `rigd export` and the API's `export.csv` write the same thing.
/// RFC 4180 through CSV.swift (the caller makes the writer, with CRLF line ends); a header row first.
///
/// - samples, wide: `time_utc`, `unix_s`, then a column per channel (an empty cell for a fault reading);
///   long: `time_utc`, `unix_s`, `channel`, `unit`, `value`, `quality`. `series`: the regular samples or the
///   controller's logged series (same columns).
/// - alarms: station, code, severity, message, raised/acknowledged/cleared times, acknowledged_by, cleared_by.
/// - runs: station, number, recipe, outcome, reason, started/ended times, results (JSON).
/// - events: time_utc, unix_s, station, kind, message, actor (who asked: a token's name; empty for rigd itself).
/// - calibrations: time_utc, unix_s, station, channel, method, actor, why, result (accepted/rejected), applied,
///   slope_pct, offset, offset_unit, correction_slope, correction_offset, due_utc, points (JSON: standard, raw,
///   temp_c, lot), failures, device (a calibration the device's own registers took: the registers and the slope and
///   offset before → after; empty when applied on the host).
package enum CSVExport {
    package enum Table: String, CaseIterable, Sendable { case samples, alarms, runs, events, calibrations }
    package enum Layout: String, CaseIterable, Sendable { case wide, long }
    /// Which samples: the regular ones (every `record_interval_s`) or the controller's logged series.
    package enum Series: String, CaseIterable, Sendable {
        case regular, logged

        var table: String { self == .regular ? "sample" : "logged_sample" }
    }
    package struct TooLarge: Error {}

    /// Writes the header row and the data rows of `what` for `station` in [from, to] to `csv`; returns the number of
    /// data rows. Throws `TooLarge` past `maximumRows` data rows (what was written so far is then incomplete).
    package static func write(_ csv: CSVWriter, db: Database, station: String, from: Double, to: Double, what: Table,
                      layout: Layout, series: Series = .regular, maximumRows: Int = .max - 1) throws -> Int {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        func time(_ t: Double) -> String { formatter.string(from: Date(timeIntervalSince1970: t)) }
        func number(_ value: Double?) -> String { value.map { String($0) } ?? "" }
        var count = 0
        func counted() throws {
            count += 1
            if count > maximumRows { throw TooLarge() }
        }
        switch what {
        case .samples where layout == .wide:
            let channels = try LogQueries.channels(db, station: station).map(\.name)
            try csv.write(row: ["time_utc", "unix_s"] + channels)
            let column = Dictionary(channels.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
            let cursor = try Row.fetchCursor(db, sql: """
                SELECT s.t, c.name, s.value FROM \(series.table) s JOIN channel c ON c.id = s.channel_id
                WHERE c.station = ? AND s.t >= ? AND s.t <= ? ORDER BY s.t, c.id
                """, arguments: [station, from, to])
            var current: Double?
            var cells = [String](repeating: "", count: channels.count)
            func flush() throws {
                guard let t = current else { return }
                try counted()
                try csv.write(row: [time(t), String(t)] + cells)
                cells = [String](repeating: "", count: channels.count)
            }
            while let row = try cursor.next() {
                let t: Double = row[0]
                if t != current {
                    try flush()
                    current = t
                }
                if let i = column[row[1] as String] { cells[i] = number(row[2]) }
            }
            try flush()
        case .samples:
            try csv.write(row: ["time_utc", "unix_s", "channel", "unit", "value", "quality"])
            let cursor = try Row.fetchCursor(db, sql: """
                SELECT s.t, c.name, c.unit, s.value, s.quality FROM \(series.table) s JOIN channel c ON c.id = s.channel_id
                WHERE c.station = ? AND s.t >= ? AND s.t <= ? ORDER BY s.t, c.id
                """, arguments: [station, from, to])
            while let row = try cursor.next() {
                try counted()
                let t: Double = row[0]
                try csv.write(row: [time(t), String(t), row[1], row[2], number(row[3]), String(row[4] as Int)])
            }
        case .alarms:
            try csv.write(row: ["station", "code", "severity", "message", "raised_utc", "acknowledged_utc",
                                "acknowledged_by", "cleared_utc", "cleared_by"])
            for a in try LogQueries.alarms(db, station: station, from: from, to: to, activeOnly: false,
                                           limit: maximumRows + 1).reversed() {
                try counted()
                try csv.write(row: [a.station, a.code, a.severity, a.message, time(a.raisedAt),
                                    a.acknowledgedAt.map(time) ?? "", a.acknowledgedBy ?? "",
                                    a.clearedAt.map(time) ?? "", a.clearedBy ?? ""])
            }
        case .runs:
            try csv.write(row: ["station", "number", "recipe", "outcome", "reason", "started_utc", "ended_utc",
                                "results"])
            let encoder = StationStatus.encoder()
            for r in try LogQueries.runs(db, station: station, from: from, to: to,
                                         limit: maximumRows + 1).reversed() {
                try counted()
                let results = String(decoding: try encoder.encode(r.results), as: UTF8.self)
                try csv.write(row: [r.station, String(r.number), r.recipe, r.outcome, r.reason ?? "",
                                    time(r.startedAt), r.endedAt.map(time) ?? "", results])
            }
        case .events:
            try csv.write(row: ["time_utc", "unix_s", "station", "kind", "message", "actor"])
            for e in try LogQueries.events(db, station: station, from: from, to: to, limit: maximumRows + 1) {
                try counted()
                try csv.write(row: [time(e.t), String(e.t), e.station ?? "", e.kind, e.message, e.actor ?? ""])
            }
        case .calibrations:
            try csv.write(row: ["time_utc", "unix_s", "station", "channel", "method", "actor", "why", "result",
                                "applied", "slope_pct", "offset", "offset_unit", "correction_slope",
                                "correction_offset", "due_utc", "points", "failures", "device"])
            let encoder = StationStatus.encoder()
            for r in try CalibrationLog.records(db, station: station, from: from, to: to) {
                try counted()
                let points = String(decoding: try encoder.encode(r.points), as: UTF8.self)
                try csv.write(row: [time(r.at), String(r.at), r.station, r.channel, r.method, r.by ?? "", r.why ?? "",
                                    r.accepted ? "accepted" : "rejected", r.applied ? "true" : "false",
                                    number(r.slopePct), number(r.offset), r.offsetUnit ?? "",
                                    String(r.correctionSlope), String(r.correctionOffset), r.dueAt.map(time) ?? "",
                                    points, r.failures.joined(separator: "; "), Self.device(r.device)])
            }
        }
        return count
    }

    /// `holding 400 (slope, float32), holding 402 (offset, float32): slope 1 → 1.031, offset 0 → -0.112`.
    static func device(_ d: CalibrationRecord.DeviceCalibration?) -> String {
        guard let d else { return "" }
        return "\(d.registers): slope \(d.slopeBefore) → \(d.slope), offset \(d.offsetBefore) → \(d.offset)"
    }
}
