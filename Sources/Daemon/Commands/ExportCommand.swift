import ArgumentParser
import CSV
import Foundation
import GRDB
import Stations
import DeviceTransports
import SimServe
import Locking

/// `rigd export`: the data log of one station as CSV (RFC 4180: CRLF line ends, fields quoted when they hold a
/// comma, quote or line break, quotes doubled), with a header row.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a station's recorded samples (or alarms, runs, events, calibrations) from the data log as CSV.",
        discussion: """
        Reads the SQLite data log in the data directory (--data-dir, else [daemon] data_dir of --config, else \
        $STATE_DIRECTORY or ~/.local/state/rigd), or the file --log names: a virtual run's recording (rigd run \
        --virtual --record FILE), a data log hil/run kept, or a copy. Safe while rigd runs: the log is in WAL mode.

        samples, wide layout (default): time_utc, unix_s, then one column per channel; an empty cell is a fault \
        reading. Long layout: time_utc, unix_s, channel, unit, value, quality (one row per channel reading). \
        --series logged exports the controller's logged series instead of the regular samples (a pond's 15-min \
        logbook sample, a stream's 15 → 5 min event sampling), with the same columns; it is kept whatever the \
        retention.
        alarms: station, code, severity, message, raised/acknowledged/cleared times, acknowledged_by, cleared_by.
        runs: station, number, recipe, outcome, reason, started/ended times, results (JSON).
        events: time_utc, unix_s, station, kind, message, actor (who asked: a token's name; empty for rigd itself).
        calibrations: time_utc, unix_s, station, channel, method, actor, why, result (accepted or rejected), applied, \
        slope_pct, offset, offset_unit, correction_slope, correction_offset (corrected = slope · raw + offset), \
        due_utc, points (JSON: standard, raw, temp_c, lot), failures, device (what a device's own \
        calibration registers took, or empty).

        Times: \(TimeArgument.help). Default window: everything.
        """
    )

    typealias Table = CSVExport.Table
    typealias Layout = CSVExport.Layout
    enum Format: String, ExpressibleByArgument, CaseIterable { case csv }

    @Option(name: .long, help: "The station to export.")
    var station: String

    @Option(name: .long, help: "Start of the window.")
    var from: String?

    @Option(name: .long, help: "End of the window.")
    var to: String?

    @Option(name: .long, help: "Output format (csv).")
    var format: Format = .csv

    @Option(name: .long, help: "What to export: samples, alarms, runs, events or calibrations.")
    var what: Table = .samples

    @Option(name: .long, help: "Samples layout: wide (a column per channel) or long (a row per reading).")
    var layout: Layout = .wide

    @Option(name: .long, help: "Which samples: regular (every record_interval_s) or logged (the controller's logged series).")
    var series: CSVExport.Series = .regular

    @Option(name: [.short, .long], help: "Write to this file (written to a temporary file, then renamed); default standard output.")
    var output: String?

    @Option(name: .long, help: "Data directory of the log.")
    var dataDir: String?

    @Option(name: .long, help: "Configuration file whose [daemon] data_dir to use.")
    var config: String?

    @Option(name: .long, help: ArgumentHelp("A recording or data log file to read instead of a data directory's.", valueName: "file"))
    var log: String?

    func validate() throws {
        if log != nil && (dataDir != nil || config != nil) {
            throw ValidationError("--log names the file itself: give it without --data-dir or --config")
        }
    }

    func run() throws {
        let window = try resolveWindow()
        let directory: String
        if log != nil {
            directory = ""  // unused: logPath takes --log
        } else if let dataDir {
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
            pool = try DataLog.openForReading(path: logPath(directory), olderSchema: log != nil)
        } catch {
            FileHandle.standardError.write(Data("rigd export: \(error)\n".utf8))
            throw ExitCode(ExitStatus.unavailable)
        }
        let known = try pool.read { try LogQueries.knownStations($0) }
        guard known.contains(station) else {
            let list = known.isEmpty ? "none recorded yet" : known.joined(separator: ", ")
            FileHandle.standardError.write(Data("rigd export: no station \"\(station)\" in \(logPath(directory)) (stations: \(list))\n".utf8))
            throw ExitCode(ExitStatus.usage)
        }
        // A new or regular file is written beside it and renamed over it at the end (nothing half-written is left);
        // a device or a pipe (/dev/null) is written in place, never replaced.
        let target = output.map { OutputFile.isReplaceable($0) ? $0 + ".partial-\(getpid())" : $0 }
        guard let stream = target.map({ OutputStream(toFileAtPath: $0, append: false) })
                ?? OutputStream(toFileAtPath: "/dev/stdout", append: true) else {
            throw ValidationError("cannot write to \(output ?? "standard output")")
        }
        let rows: Int
        do {
            let csv = try CSVWriter(stream: stream, newline: .crlf)
            rows = try pool.read { db in try write(csv, db: db, from: window.0, to: window.1) }
            csv.stream.close()
            if let target, let output, target != output {
                if rename(target, output) != 0 {
                    throw ValidationError("cannot rename \(target) to \(output): \(String(cString: strerror(errno)))")
                }
            }
        } catch {
            if let target, target != output { unlink(target) }
            throw error
        }
        let destination = output ?? "standard output"
        let kind = what == .samples && series == .logged ? "logged sample" : what.rawValue
        FileHandle.standardError.write(Data("rigd export: \(rows) \(kind) row(s) of \(station) to \(destination)\n".utf8))
    }

    /// The file read: --log's, else the data directory's log.
    private func logPath(_ directory: String) -> String { log ?? DataLog.path(in: directory) }

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
        try CSVExport.write(csv, db: db, station: station, from: from, to: to, what: what, layout: layout,
                            series: series)
    }
}

extension CSVExport.Table: ExpressibleByArgument {}
extension CSVExport.Layout: ExpressibleByArgument {}
extension CSVExport.Series: ExpressibleByArgument {}
