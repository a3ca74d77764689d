import CSV
import Foundation
import GRDB
import Hummingbird

/// `GET /api/stations/{name}/export.csv?from&to&what&layout`: the data log of one station as CSV, in the layouts of
/// `rigd export` (RFC 4180 through CSV.swift: CRLF line ends, quoting where needed, a header row).
///
/// - `from`, `to`: as the samples endpoint (Unix seconds, ISO 8601, or relative such as `-15m`); default the last
///   hour. The dashboard's run history asks for a run's window.
/// - `what`: `samples` (default), `alarms`, `runs` or `events`.
/// - `layout` (samples): `wide` (default; `time_utc`, `unix_s`, a column per channel, an empty cell for a fault
///   reading) or `long` (`time_utc`, `unix_s`, `channel`, `unit`, `value`, `quality`).
///
/// Reads need the token where the API's reads do. 404 unknown station, 422 a bad parameter or more than
/// `API.maximumExportRows` rows (narrow the window), 503 without a data log.
extension API {
    static let maximumExportRows = 1_000_000

    enum ExportTable: String, CaseIterable { case samples, alarms, runs, events }
    enum ExportLayout: String, CaseIterable { case wide, long }

    struct ExportTooLarge: Error {}

    func exportCSV(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        if readsNeedToken, !token.accepts(authorization: request.headers[.authorization]) { return Self.unauthorized() }
        let name = try context.parameters.require("name")
        guard station(named: name) != nil else { return Self.unknownStation(name) }
        let q = Query(request)
        let window: (Double, Double)
        switch Self.timeWindow(q) {
        case .failure(let e): return e.response
        case .success(let w): window = w
        }
        let whatText = q.get("what") ?? ExportTable.samples.rawValue
        guard let what = ExportTable(rawValue: whatText) else {
            return Self.error(.unprocessableContent, "invalid_value",
                              "what must be one of " + ExportTable.allCases.map(\.rawValue).joined(separator: ", ")
                                + ", got \"\(whatText)\"")
        }
        let layoutText = q.get("layout") ?? ExportLayout.wide.rawValue
        guard let layout = ExportLayout(rawValue: layoutText) else {
            return Self.error(.unprocessableContent, "invalid_value",
                              "layout must be wide or long, got \"\(layoutText)\"")
        }
        guard let recorder else {
            return Self.error(.serviceUnavailable, "no_data_log", "this rigd keeps no data log")
        }
        let data: Data
        do {
            data = try await recorder.reader.read { db in
                try Self.exportData(db, station: name, from: window.0, to: window.1, what: what, layout: layout)
            }
        } catch is ExportTooLarge {
            return Self.error(.unprocessableContent, "invalid_value",
                              "more than \(Self.maximumExportRows) rows: narrow the window (from, to) or use "
                                + "`rigd export` on the rigd host")
        } catch {
            return Self.error(.internalServerError, "data_log_error", "reading the data log failed: \(error)")
        }
        let stamp = Self.fileStamp(window.0)
        let filename = "\(Self.fileSafe(name))-\(what.rawValue)-\(stamp).csv"
        return Response(status: .ok,
                        headers: [.contentType: "text/csv; charset=utf-8; header=present",
                                  .contentDisposition: "attachment; filename=\"\(filename)\"",
                                  .cacheControl: "no-store"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// The CSV document; throws `ExportTooLarge` past `maximumExportRows` data rows.
    static func exportData(_ db: Database, station: String, from: Double, to: Double, what: ExportTable,
                           layout: ExportLayout) throws -> Data {
        let stream = OutputStream(toMemory: ())
        let csv = try CSVWriter(stream: stream, newline: .crlf)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        func time(_ t: Double) -> String { formatter.string(from: Date(timeIntervalSince1970: t)) }
        func number(_ value: Double?) -> String { value.map { String($0) } ?? "" }
        var count = 0
        func counted() throws {
            count += 1
            if count > maximumExportRows { throw ExportTooLarge() }
        }
        switch what {
        case .samples where layout == .wide:
            let channels = try LogQueries.channels(db, station: station).map(\.name)
            try csv.write(row: ["time_utc", "unix_s"] + channels)
            let column = Dictionary(channels.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
            let cursor = try Row.fetchCursor(db, sql: """
                SELECT s.t, c.name, s.value FROM sample s JOIN channel c ON c.id = s.channel_id
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
                SELECT s.t, c.name, c.unit, s.value, s.quality FROM sample s JOIN channel c ON c.id = s.channel_id
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
                                           limit: maximumExportRows + 1).reversed() {
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
                                         limit: maximumExportRows + 1).reversed() {
                try counted()
                let results = String(decoding: try encoder.encode(r.results), as: UTF8.self)
                try csv.write(row: [r.station, String(r.number), r.recipe, r.outcome, r.reason ?? "",
                                    time(r.startedAt), r.endedAt.map(time) ?? "", results])
            }
        case .events:
            try csv.write(row: ["time_utc", "unix_s", "station", "kind", "message"])
            for e in try LogQueries.events(db, station: station, from: from, to: to, limit: maximumExportRows + 1) {
                try counted()
                try csv.write(row: [time(e.t), String(e.t), e.station ?? "", e.kind, e.message])
            }
        }
        let data = (stream.property(forKey: .dataWrittenToMemoryStreamKey) as? Data) ?? Data()
        stream.close()
        return data
    }

    /// `20261129T100000Z`: a file name's time stamp.
    static func fileStamp(_ t: Double) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withYear, .withMonth, .withDay, .withTime, .withTimeZone]
        return f.string(from: Date(timeIntervalSince1970: t))
    }

    /// Letters, digits, `-`, `_` and `.`; anything else becomes `_` (a station name in a Content-Disposition).
    static func fileSafe(_ text: String) -> String {
        String(text.map { c in c.isASCII && (c.isLetter || c.isNumber || "-_.".contains(c)) ? c : "_" })
    }
}
