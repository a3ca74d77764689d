import Foundation
import GRDB
import Stations

/// A virtual run's recording (`rigd run --virtual --for 7d --record run.rigdlog`): a data log like the daemon's
/// (samples, logged series, events, alarms, runs, calibrations) stamped with plant time, plus one `recording` row that
/// says which run it is and, once the run ended, its report. `rigd view`, `rigd report` and `rigd export --log` read
/// it; they read a daemon's data log (or one `hil/run` kept) the same way, without that row.
package enum Recording {
    /// The `recording` row.
    package struct Info: Sendable, Equatable {
        package struct Station: Codable, Sendable, Equatable {
            package var name: String
            package var kind: String
            package init(name: String, kind: String) {
                self.name = name
                self.kind = kind
            }
        }

        package var clock = "virtual"
        package var seed: UInt64
        /// Unix time of plant time 0.
        package var startAt: Double
        /// The plant time asked for (`--for`).
        package var durationS: Double
        package var recordIntervalS: Double
        package var configuration: String
        package var stations: [Station]
        package var rigdVersion: String
        /// Unix time of the plant's end; nil while the run goes on, and for good when it was cut short (kill -9).
        package var endedAt: Double?
        package var interrupted: Bool?
        /// The run report (JSON) as `rigd run` wrote it.
        package var report: String?

        package init(seed: UInt64, startAt: Double, durationS: Double, recordIntervalS: Double, configuration: String,
                     stations: [Station], rigdVersion: String) {
            self.seed = seed
            self.startAt = startAt
            self.durationS = durationS
            self.recordIntervalS = recordIntervalS
            self.configuration = configuration
            self.stations = stations
            self.rigdVersion = rigdVersion
        }

        /// The kind of a station as recorded, if it was.
        package func kind(of station: String) -> String? { stations.first { $0.name == station }?.kind }
    }

    /// Writes the row as the run starts (what a cut-short recording still says).
    package static func begin(_ info: Info, writer: any DatabaseWriter) throws {
        let stations = String(decoding: try JSONEncoder().encode(info.stations), as: UTF8.self)
        try writer.write { db in
            try db.execute(sql: """
                INSERT OR REPLACE INTO recording (id, clock, seed, start_at, duration_s, record_interval_s,
                    configuration, stations, rigd_version)
                VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [info.clock, Int64(bitPattern: info.seed), info.startAt, info.durationS,
                                 info.recordIntervalS, info.configuration, stations, info.rigdVersion])
        }
    }

    /// Records the end of the run and its report.
    package static func finish(endedAt: Double, interrupted: Bool, report: String,
                               writer: any DatabaseWriter) throws {
        try writer.write { db in
            try db.execute(sql: "UPDATE recording SET ended_at = ?, interrupted = ?, report = ? WHERE id = 1",
                           arguments: [endedAt, interrupted, report])
        }
    }

    /// The row, or nil for a daemon's data log.
    package static func info(_ db: Database) throws -> Info? {
        guard try db.tableExists("recording") else { return nil }
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM recording WHERE id = 1") else { return nil }
        let stationsText: String = row["stations"]
        let stations = (try? JSONDecoder().decode([Info.Station].self, from: Data(stationsText.utf8))) ?? []
        let seed: Int64 = row["seed"]
        var info = Info(seed: UInt64(bitPattern: seed), startAt: row["start_at"], durationS: row["duration_s"],
                        recordIntervalS: row["record_interval_s"], configuration: row["configuration"],
                        stations: stations, rigdVersion: row["rigd_version"])
        info.clock = row["clock"]
        info.endedAt = row["ended_at"]
        info.interrupted = (row["interrupted"] as Int64?).map { $0 != 0 }
        info.report = row["report"]
        return info
    }

    /// Unix time of local midnight on `date` (YYYY-MM-DD), or today's when nil: a virtual plant's day starts at 00:00
    /// (a pond's night comes first), so its recording starts at a midnight too. nil for a malformed or impossible date.
    package static func localMidnight(_ date: String?, now: Date = Date()) -> Double? {
        let calendar = Calendar.current
        guard let date else { return calendar.startOfDay(for: now).timeIntervalSince1970 }
        guard let m = date.wholeMatch(of: /([0-9]{4})-([0-9]{2})-([0-9]{2})/) else { return nil }
        let components = DateComponents(calendar: calendar, timeZone: calendar.timeZone, year: Int(m.output.1),
                                        month: Int(m.output.2), day: Int(m.output.3))
        guard components.isValidDate, let day = calendar.date(from: components) else { return nil }
        return day.timeIntervalSince1970
    }

    /// The span a log covers: the recording's, else from the first to the last sample, event or run.
    package static func span(_ db: Database, info: Info?) throws -> (from: Double, to: Double)? {
        let row = try Row.fetchOne(db, sql: """
            SELECT min(a), max(b) FROM (
                SELECT min(t) AS a, max(t) AS b FROM sample
                UNION ALL SELECT min(t), max(t) FROM event
                UNION ALL SELECT min(started_at), max(coalesce(ended_at, started_at)) FROM run
                UNION ALL SELECT min(raised_at), max(coalesce(cleared_at, raised_at)) FROM alarm)
            """)
        let first: Double? = row?[0]
        let last: Double? = row?[1]
        if let info {
            let end = info.endedAt ?? max(last ?? info.startAt, info.startAt)
            return (info.startAt, max(end, info.startAt + 1))
        }
        guard let first, let last else { return nil }
        return (first, max(last, first + 1))
    }
}
