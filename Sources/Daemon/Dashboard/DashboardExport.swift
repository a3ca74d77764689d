import CSV
import Foundation
import GRDB
import Hummingbird
import Stations
import DeviceTransports
import SimServe
import Locking

/// `GET /api/stations/{name}/export.csv?from&to&what&layout`: the data log of one station as CSV, in the layouts of
/// `rigd export` (RFC 4180 through CSV.swift: CRLF line ends, quoting where needed, a header row).
///
/// - `from`, `to`: as the samples endpoint (Unix seconds, ISO 8601, or relative such as `-15m`); default the last
///   hour. The dashboard's run history asks for a run's window.
/// - `what`: `samples` (default), `alarms`, `runs` or `events`.
/// - `layout` (samples): `wide` (default; `time_utc`, `unix_s`, a column per channel, an empty cell for a fault
///   reading) or `long` (`time_utc`, `unix_s`, `channel`, `unit`, `value`, `quality`).
///
/// One of the API's reads (`readRoutes`): the token where reads need it, 404 for an unknown station, 422 a bad
/// parameter or more than `API.maximumExportRows` rows (narrow the window), 503 without a data log.
extension API {
    package static let maximumExportRows = 1_000_000

    package typealias ExportTable = CSVExport.Table
    package typealias ExportLayout = CSVExport.Layout
    package typealias ExportTooLarge = CSVExport.TooLarge

    package func exportCSV(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let name = try context.requireStation().name
        let q = Query(request)
        let window = try Self.timeWindow(q)
        let whatText = q.get("what") ?? ExportTable.samples.rawValue
        guard let what = ExportTable(rawValue: whatText) else {
            let tables = ExportTable.allCases.map(\.rawValue).joined(separator: ", ")
            throw APIError.invalid("what must be one of \(tables), got \"\(whatText)\"")
        }
        let layoutText = q.get("layout") ?? ExportLayout.wide.rawValue
        guard let layout = ExportLayout(rawValue: layoutText) else {
            throw APIError.invalid("layout must be wide or long, got \"\(layoutText)\"")
        }
        let seriesText = q.get("series") ?? CSVExport.Series.regular.rawValue
        guard let series = CSVExport.Series(rawValue: seriesText) else {
            throw APIError.invalid("series must be regular or logged, got \"\(seriesText)\"")
        }
        guard let recorder else {
            return Self.error(.serviceUnavailable, "no_data_log", "this rigd keeps no data log")
        }
        let data: Data
        do {
            data = try await recorder.reader.read { db in
                try Self.exportData(db, station: name, from: window.from, to: window.to, what: what, layout: layout,
                                    series: series)
            }
        } catch is ExportTooLarge {
            return Self.error(.unprocessableContent, "invalid_value",
                              "more than \(Self.maximumExportRows) rows: narrow the window (from, to) or use "
                                + "`rigd export` on the rigd host")
        } catch {
            return Self.error(.internalServerError, "data_log_error", "reading the data log failed: \(error)")
        }
        let stamp = Self.fileStamp(window.from)
        let table = what == .samples && series == .logged ? "logged-samples" : what.rawValue
        let filename = "\(Self.fileSafe(name))-\(table)-\(stamp).csv"
        return Response(status: .ok,
                        headers: [.contentType: "text/csv; charset=utf-8; header=present",
                                  .contentDisposition: "attachment; filename=\"\(filename)\"",
                                  .cacheControl: "no-store"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// The CSV document; throws `ExportTooLarge` past `maximumExportRows` data rows.
    package static func exportData(_ db: Database, station: String, from: Double, to: Double, what: ExportTable,
                           layout: ExportLayout, series: CSVExport.Series = .regular) throws -> Data {
        let stream = OutputStream(toMemory: ())
        let csv = try CSVWriter(stream: stream, newline: .crlf)
        _ = try CSVExport.write(csv, db: db, station: station, from: from, to: to, what: what, layout: layout,
                                series: series, maximumRows: maximumExportRows)
        let data = (stream.property(forKey: .dataWrittenToMemoryStreamKey) as? Data) ?? Data()
        stream.close()
        return data
    }

    /// `20261129T100000Z`: a file name's time stamp.
    package static func fileStamp(_ t: Double) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withYear, .withMonth, .withDay, .withTime, .withTimeZone]
        return f.string(from: Date(timeIntervalSince1970: t))
    }

    /// Letters, digits, `-`, `_` and `.`; anything else becomes `_` (a station name in a Content-Disposition).
    package static func fileSafe(_ text: String) -> String {
        String(text.map { c in c.isASCII && (c.isLetter || c.isNumber || "-_.".contains(c)) ? c : "_" })
    }
}
