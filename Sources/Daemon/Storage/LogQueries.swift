import Control
import Foundation
import GRDB
import Stations
import DeviceTransports
import SimServe
import Locking

/// Reading the data log back: the API's history endpoints and `rigd export` share these.
package enum LogQueries {
    package struct Sample: Sendable, Codable, Equatable {
        package var t: Double
        package var channel: String
        package var unit: String
        package var value: Double?
        package var quality: Int

        package init(t: Double, channel: String, unit: String, value: Double? = nil, quality: Int) {
            self.t = t
            self.channel = channel
            self.unit = unit
            self.value = value
            self.quality = quality
        }
    }

    package struct AlarmEntry: Sendable, Codable, Equatable {
        package var station: String
        package var code: String
        package var severity: String
        package var message: String
        package var raisedAt: Double
        package var acknowledgedAt: Double?
        package var acknowledgedBy: String?
        package var clearedAt: Double?
        package var clearedBy: String?

        package init(station: String, code: String, severity: String, message: String, raisedAt: Double,
                     acknowledgedAt: Double? = nil, acknowledgedBy: String? = nil, clearedAt: Double? = nil,
                     clearedBy: String? = nil) {
            self.station = station
            self.code = code
            self.severity = severity
            self.message = message
            self.raisedAt = raisedAt
            self.acknowledgedAt = acknowledgedAt
            self.acknowledgedBy = acknowledgedBy
            self.clearedAt = clearedAt
            self.clearedBy = clearedBy
        }
    }

    package struct RunEntry: Sendable, Codable, Equatable {
        package var station: String
        package var number: Int
        package var recipe: String
        package var outcome: String
        package var reason: String?
        package var startedAt: Double
        package var endedAt: Double?
        package var results: [String: ReportValue]

        package init(station: String, number: Int, recipe: String, outcome: String, reason: String? = nil,
                     startedAt: Double, endedAt: Double? = nil, results: [String: ReportValue]) {
            self.station = station
            self.number = number
            self.recipe = recipe
            self.outcome = outcome
            self.reason = reason
            self.startedAt = startedAt
            self.endedAt = endedAt
            self.results = results
        }
    }

    package struct EventEntry: Sendable, Codable, Equatable {
        package var t: Double
        package var station: String?
        package var kind: String
        package var message: String
        /// Who asked for it (a token's name); nil for what rigd did by itself.
        package var actor: String?

        package init(t: Double, station: String? = nil, kind: String, message: String, actor: String? = nil) {
            self.t = t
            self.station = station
            self.kind = kind
            self.message = message
            self.actor = actor
        }
    }

    /// Samples of one station in [from, to], oldest first, at most `limit` rows.
    package static func samples(_ db: Database, station: String, from: Double, to: Double, channel: String? = nil,
                        limit: Int) throws -> [Sample] {
        var sql = """
            SELECT s.t, c.name, c.unit, s.value, s.quality FROM sample s JOIN channel c ON c.id = s.channel_id
            WHERE c.station = ? AND s.t >= ? AND s.t <= ?
            """
        var arguments: StatementArguments = [station, from, to]
        if let channel {
            sql += " AND c.name = ?"
            _ = arguments.append(contentsOf: [channel])
        }
        sql += " ORDER BY s.t, c.id LIMIT ?"
        _ = arguments.append(contentsOf: [limit])
        return try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
            Sample(t: row[0], channel: row[1], unit: row[2], value: row[3], quality: row[4])
        }
    }

    /// One bucket of a long plot: the samples of one channel in [t, tEnd), their extremes and mean (faults left out),
    /// how many there were and how many were faults.
    package struct Bucket: Sendable, Codable, Equatable {
        package var t: Double
        package var tEnd: Double
        package var channel: String
        package var unit: String
        package var min: Double?
        package var max: Double?
        package var mean: Double?
        package var count: Int
        package var faults: Int
    }

    /// Samples summarized into `points` equal buckets per channel over [from, to]: a 30-day plot of a 1 Hz channel
    /// without sending 2.6 million points, with its peaks (min and max per bucket). Each bucket is its own query on
    /// the sample table's primary key (channel, t): an index range that SQLite aggregates without sorting, so the
    /// time taken follows the rows in the window (bench/run's plots section measures it). Empty buckets are left out.
    package static func summary(_ db: Database, station: String, from: Double, to: Double, channel: String? = nil,
                                points: Int) throws -> (bucket: Double, buckets: [Bucket]) {
        let width = max((to - from) / Double(max(1, points)), 1e-3)
        var channels = "SELECT id, name, unit FROM channel WHERE station = ?"
        var arguments: StatementArguments = [station]
        if let channel {
            channels += " AND name = ?"
            _ = arguments.append(contentsOf: [channel])
        }
        let statement = try db.cachedStatement(sql: """
            SELECT min(value), max(value), avg(value), count(value), count(*) FROM sample
            WHERE channel_id = ? AND t >= ? AND t < ?
            """)
        var out: [Bucket] = []
        for row in try Row.fetchAll(db, sql: channels + " ORDER BY id", arguments: arguments) {
            let id: Int64 = row[0]
            for i in 0..<points {
                let start = from + Double(i) * width
                // The last bucket takes `to` itself.
                let end = i == points - 1 ? to.nextUp : from + Double(i + 1) * width
                guard let r = try Row.fetchOne(statement, arguments: [id, start, end]) else { continue }
                let total: Int = r[4]
                guard total > 0 else { continue }
                let count: Int = r[3]
                out.append(Bucket(t: start, tEnd: Swift.min(end, to), channel: row[1], unit: row[2], min: r[0],
                                  max: r[1], mean: r[2], count: count, faults: total - count))
            }
        }
        return (width, out)
    }

    /// The channels a station has recorded, in the order first recorded.
    package static func channels(_ db: Database, station: String) throws -> [(name: String, unit: String)] {
        try Row.fetchAll(db, sql: "SELECT name, unit FROM channel WHERE station = ? ORDER BY id", arguments: [station])
            .map { ($0[0], $0[1]) }
    }

    package static func knownStations(_ db: Database) throws -> [String] {
        try String.fetchAll(db, sql: """
            SELECT station FROM channel UNION SELECT station FROM run UNION SELECT station FROM alarm ORDER BY 1
            """)
    }

    /// Alarms newest first; `activeOnly` keeps those not cleared.
    package static func alarms(_ db: Database, station: String?, from: Double, to: Double, activeOnly: Bool,
                       limit: Int) throws -> [AlarmEntry] {
        var sql = "SELECT * FROM alarm WHERE raised_at >= ? AND raised_at <= ?"
        var arguments: StatementArguments = [from, to]
        if let station {
            sql += " AND station = ?"
            _ = arguments.append(contentsOf: [station])
        }
        if activeOnly { sql += " AND cleared_at IS NULL" }
        sql += " ORDER BY raised_at DESC, id DESC LIMIT ?"
        _ = arguments.append(contentsOf: [limit])
        return try Row.fetchAll(db, sql: sql, arguments: arguments).map { r in
            AlarmEntry(station: r["station"], code: r["code"], severity: r["severity"], message: r["message"],
                       raisedAt: r["raised_at"], acknowledgedAt: r["acknowledged_at"],
                       acknowledgedBy: r["acknowledged_by"], clearedAt: r["cleared_at"], clearedBy: r["cleared_by"])
        }
    }

    /// Runs newest first.
    package static func runs(_ db: Database, station: String?, from: Double, to: Double, limit: Int) throws -> [RunEntry] {
        var sql = "SELECT * FROM run WHERE started_at >= ? AND started_at <= ?"
        var arguments: StatementArguments = [from, to]
        if let station {
            sql += " AND station = ?"
            _ = arguments.append(contentsOf: [station])
        }
        sql += " ORDER BY started_at DESC, id DESC LIMIT ?"
        _ = arguments.append(contentsOf: [limit])
        let decoder = JSONDecoder()
        return try Row.fetchAll(db, sql: sql, arguments: arguments).map { r in
            let text: String = r["results"]
            let results = (try? decoder.decode([String: ReportValue].self, from: Data(text.utf8))) ?? [:]
            return RunEntry(station: r["station"], number: r["number"], recipe: r["recipe"], outcome: r["outcome"],
                            reason: r["reason"], startedAt: r["started_at"], endedAt: r["ended_at"],
                            results: results)
        }
    }

    /// Events oldest first.
    package static func events(_ db: Database, station: String?, from: Double, to: Double, limit: Int) throws -> [EventEntry] {
        var sql = "SELECT t, station, kind, message, actor FROM event WHERE t >= ? AND t <= ?"
        var arguments: StatementArguments = [from, to]
        if let station {
            sql += " AND station = ?"
            _ = arguments.append(contentsOf: [station])
        }
        sql += " ORDER BY t, id LIMIT ?"
        _ = arguments.append(contentsOf: [limit])
        return try Row.fetchAll(db, sql: sql, arguments: arguments).map { r in
            EventEntry(t: r[0], station: r[1], kind: r[2], message: r[3], actor: r[4])
        }
    }
}
