import ArgumentParser
import CSV
import Foundation
import GRDB

/// `rigd export`: the data log of one station as CSV (RFC 4180: CRLF line ends, fields quoted when they hold a
/// comma, quote or line break, quotes doubled), with a header row.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a station's recorded samples (or alarms, runs, events) from the data log as CSV.",
        discussion: """
        Reads the SQLite data log in the data directory (--data-dir, else [daemon] data_dir of --config, else \
        $STATE_DIRECTORY or ~/.local/state/rigd). Safe while rigd runs: the log is in WAL mode.

        samples, wide layout (default): time_utc, unix_s, then one column per channel; an empty cell is a fault \
        reading. Long layout: time_utc, unix_s, channel, unit, value, quality (one row per channel reading).
        alarms: station, code, severity, message, raised/acknowledged/cleared times, acknowledged_by, cleared_by.
        runs: station, number, recipe, outcome, reason, started/ended times, results (JSON).
        events: time_utc, unix_s, station, kind, message.

        Times: \(TimeArgument.help). Default window: everything.
        """
    )

    enum Table: String, ExpressibleByArgument, CaseIterable { case samples, alarms, runs, events }
    enum Layout: String, ExpressibleByArgument, CaseIterable { case wide, long }
    enum Format: String, ExpressibleByArgument, CaseIterable { case csv }

    @Option(name: .long, help: "The station to export.")
    var station: String

    @Option(name: .long, help: "Start of the window.")
    var from: String?

    @Option(name: .long, help: "End of the window.")
    var to: String?

    @Option(name: .long, help: "Output format (csv).")
    var format: Format = .csv

    @Option(name: .long, help: "What to export: samples, alarms, runs or events.")
    var what: Table = .samples

    @Option(name: .long, help: "Samples layout: wide (a column per channel) or long (a row per reading).")
    var layout: Layout = .wide

    @Option(name: [.short, .long], help: "Write to this file (written to a temporary file, then renamed); default standard output.")
    var output: String?

    @Option(name: .long, help: "Data directory of the log.")
    var dataDir: String?

    @Option(name: .long, help: "Configuration file whose [daemon] data_dir to use.")
    var config: String?

    func run() throws {
        let window = try resolveWindow()
        let directory: String
        if let dataDir {
            directory = dataDir
        } else if let config {
            do {
                directory = try ConfigLoader.load(path: config).daemon.resolvedDataDirectory
            } catch {
                throw failConfiguration(error)
            }
        } else {
            directory = DaemonConfig.defaultDataDirectory()
        }
        let pool: DatabasePool
        do {
            pool = try DataLog.openForReading(path: DataLog.path(in: directory))
        } catch {
            FileHandle.standardError.write(Data("rigd export: \(error)\n".utf8))
            throw ExitCode(ExitStatus.unavailable)
        }
        let known = try pool.read { try LogQueries.knownStations($0) }
        guard known.contains(station) else {
            let list = known.isEmpty ? "none recorded yet" : known.joined(separator: ", ")
            FileHandle.standardError.write(Data("rigd export: no station \"\(station)\" in \(DataLog.path(in: directory)) (stations: \(list))\n".utf8))
            throw ExitCode(ExitStatus.usage)
        }
        let target = output.map { $0 + ".partial-\(getpid())" }
        guard let stream = target.map({ OutputStream(toFileAtPath: $0, append: false) })
                ?? OutputStream(toFileAtPath: "/dev/stdout", append: true) else {
            throw ValidationError("cannot write to \(output ?? "standard output")")
        }
        let rows: Int
        do {
            let csv = try CSVWriter(stream: stream, newline: .crlf)
            rows = try pool.read { db in try write(csv, db: db, from: window.0, to: window.1) }
            csv.stream.close()
            if let target, let output {
                if rename(target, output) != 0 {
                    throw ValidationError("cannot rename \(target) to \(output): \(String(cString: strerror(errno)))")
                }
            }
        } catch {
            if let target { unlink(target) }
            throw error
        }
        let destination = output ?? "standard output"
        FileHandle.standardError.write(Data("rigd export: \(rows) \(what.rawValue) row(s) of \(station) to \(destination)\n".utf8))
    }

    private func resolveWindow() throws -> (Double, Double) {
        let from = try self.from.map { text in
            guard let t = TimeArgument.parse(text) else { throw ValidationError("--from: \(TimeArgument.help), got \"\(text)\"") }
            return t
        } ?? -Double.greatestFiniteMagnitude
        let to = try self.to.map { text in
            guard let t = TimeArgument.parse(text) else { throw ValidationError("--to: \(TimeArgument.help), got \"\(text)\"") }
            return t
        } ?? Double.greatestFiniteMagnitude
        guard from <= to else { throw ValidationError("--from is after --to") }
        return (from, to)
    }

    /// Writes the header and rows; returns the number of data rows.
    private func write(_ csv: CSVWriter, db: Database, from: Double, to: Double) throws -> Int {
        func number(_ value: Double?) -> String { value.map { String($0) } ?? "" }
        var count = 0
        switch what {
        case .samples where layout == .wide:
            let channels = try LogQueries.channels(db, station: station).map(\.name)
            try csv.write(row: ["time_utc", "unix_s"] + channels)
            let column = Dictionary(uniqueKeysWithValues: channels.enumerated().map { ($1, $0) })
            let cursor = try Row.fetchCursor(db, sql: """
                SELECT s.t, c.name, s.value FROM sample s JOIN channel c ON c.id = s.channel_id
                WHERE c.station = ? AND s.t >= ? AND s.t <= ? ORDER BY s.t, c.id
                """, arguments: [station, from, to])
            var time: Double?
            var cells = [String](repeating: "", count: channels.count)
            func flush() throws {
                guard let t = time else { return }
                try csv.write(row: [TimeArgument.format(t), String(t)] + cells)
                count += 1
                cells = [String](repeating: "", count: channels.count)
            }
            while let row = try cursor.next() {
                let t: Double = row[0]
                if t != time {
                    try flush()
                    time = t
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
                let t: Double = row[0]
                try csv.write(row: [TimeArgument.format(t), String(t), row[1], row[2], number(row[3]),
                                    String(row[4] as Int)])
                count += 1
            }
        case .alarms:
            try csv.write(row: ["station", "code", "severity", "message", "raised_utc", "acknowledged_utc",
                                "acknowledged_by", "cleared_utc", "cleared_by"])
            for a in try LogQueries.alarms(db, station: station, from: from, to: to, activeOnly: false,
                                           limit: .max).reversed() {
                try csv.write(row: [a.station, a.code, a.severity, a.message, TimeArgument.format(a.raisedAt),
                                    a.acknowledgedAt.map(TimeArgument.format) ?? "", a.acknowledgedBy ?? "",
                                    a.clearedAt.map(TimeArgument.format) ?? "", a.clearedBy ?? ""])
                count += 1
            }
        case .runs:
            try csv.write(row: ["station", "number", "recipe", "outcome", "reason", "started_utc", "ended_utc",
                                "results"])
            let encoder = StationStatus.encoder()
            for r in try LogQueries.runs(db, station: station, from: from, to: to, limit: .max).reversed() {
                let results = String(decoding: try encoder.encode(r.results), as: UTF8.self)
                try csv.write(row: [r.station, String(r.number), r.recipe, r.outcome, r.reason ?? "",
                                    TimeArgument.format(r.startedAt), r.endedAt.map(TimeArgument.format) ?? "",
                                    results])
                count += 1
            }
        case .events:
            try csv.write(row: ["time_utc", "unix_s", "station", "kind", "message"])
            for e in try LogQueries.events(db, station: station, from: from, to: to, limit: .max) {
                try csv.write(row: [TimeArgument.format(e.t), String(e.t), e.station ?? "", e.kind, e.message])
                count += 1
            }
        }
        return count
    }
}
