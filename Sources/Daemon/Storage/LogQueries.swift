import Control
import Foundation
import GRDB

/// Reading the data log back: the API's history endpoints and `rigd export` share these.
enum LogQueries {
    struct Sample: Sendable, Codable, Equatable {
        var t: Double
        var channel: String
        var unit: String
        var value: Double?
        var quality: Int
    }

    struct AlarmEntry: Sendable, Codable, Equatable {
        var station: String
        var code: String
        var severity: String
        var message: String
        var raisedAt: Double
        var acknowledgedAt: Double?
        var acknowledgedBy: String?
        var clearedAt: Double?
        var clearedBy: String?
    }

    struct RunEntry: Sendable, Codable, Equatable {
        var station: String
        var number: Int
        var recipe: String
        var outcome: String
        var reason: String?
        var startedAt: Double
        var endedAt: Double?
        var results: [String: ReportValue]
    }

    struct EventEntry: Sendable, Codable, Equatable {
        var t: Double
        var station: String?
        var kind: String
        var message: String
    }

    /// Samples of one station in [from, to], oldest first, at most `limit` rows.
    static func samples(_ db: Database, station: String, from: Double, to: Double, channel: String? = nil,
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

    /// The channels a station has recorded, in the order first recorded.
    static func channels(_ db: Database, station: String) throws -> [(name: String, unit: String)] {
        try Row.fetchAll(db, sql: "SELECT name, unit FROM channel WHERE station = ? ORDER BY id", arguments: [station])
            .map { ($0[0], $0[1]) }
    }

    static func knownStations(_ db: Database) throws -> [String] {
        try String.fetchAll(db, sql: """
            SELECT station FROM channel UNION SELECT station FROM run UNION SELECT station FROM alarm ORDER BY 1
            """)
    }

    /// Alarms newest first; `activeOnly` keeps those not cleared.
    static func alarms(_ db: Database, station: String?, from: Double, to: Double, activeOnly: Bool,
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
    static func runs(_ db: Database, station: String?, from: Double, to: Double, limit: Int) throws -> [RunEntry] {
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
    static func events(_ db: Database, station: String?, from: Double, to: Double, limit: Int) throws -> [EventEntry] {
        var sql = "SELECT t, station, kind, message FROM event WHERE t >= ? AND t <= ?"
        var arguments: StatementArguments = [from, to]
        if let station {
            sql += " AND station = ?"
            _ = arguments.append(contentsOf: [station])
        }
        sql += " ORDER BY t, id LIMIT ?"
        _ = arguments.append(contentsOf: [limit])
        return try Row.fetchAll(db, sql: sql, arguments: arguments).map { r in
            EventEntry(t: r[0], station: r[1], kind: r[2], message: r[3])
        }
    }
}
