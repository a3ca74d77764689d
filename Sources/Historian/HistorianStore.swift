import Foundation
import Logging
import PostgresNIO

/// The historian's PostgreSQL schema, one migration per version, applied in order inside a transaction under an
/// advisory lock (two historians starting on one database do not both migrate). A database whose schema is newer
/// than this rigd knows is refused, not written.
package enum HistorianSchema {
    package static let migrations: [(version: Int, what: String, sql: [String])] = [
        (1, "nodes, devices, metrics, lifecycle, samples, alarms, runs", [
            """
            CREATE TABLE nodes (
                id bigserial PRIMARY KEY,
                group_id text NOT NULL,
                node_id text NOT NULL,
                online boolean NOT NULL DEFAULT false,
                bd_seq bigint,
                software text,
                birth_at timestamptz,
                death_at timestamptz,
                last_message_at timestamptz,
                births integer NOT NULL DEFAULT 0,
                UNIQUE (group_id, node_id)
            )
            """,
            """
            CREATE TABLE devices (
                id bigserial PRIMARY KEY,
                node bigint NOT NULL REFERENCES nodes (id),
                device_id text NOT NULL,
                online boolean NOT NULL DEFAULT false,
                kind text,
                mode text,
                link_up boolean,
                device_status text,
                phase text,
                last_rejection text,
                active_alarms text NOT NULL DEFAULT '',
                alarm_count integer,
                unacknowledged_alarms integer,
                birth_at timestamptz,
                death_at timestamptz,
                births integer NOT NULL DEFAULT 0,
                UNIQUE (node, device_id)
            )
            """,
            """
            CREATE TABLE metrics (
                id bigserial PRIMARY KEY,
                device bigint NOT NULL REFERENCES devices (id),
                name text NOT NULL,
                datatype text NOT NULL,
                unit text,
                eng_low double precision,
                eng_high double precision,
                first_birth_at timestamptz NOT NULL,
                last_birth_at timestamptz NOT NULL,
                UNIQUE (device, name)
            )
            """,
            // Every NBIRTH, NDEATH, DBIRTH and DDEATH, as it came.
            """
            CREATE TABLE lifecycle (
                id bigserial PRIMARY KEY,
                node bigint NOT NULL REFERENCES nodes (id),
                device bigint REFERENCES devices (id),
                event text NOT NULL,
                at timestamptz NOT NULL,
                bd_seq bigint,
                metrics integer
            )
            """,
            // The key is (device, metric, t): a value forwarded twice (store-and-forward's duplicate window) is one row.
            // stored_at is when the historian inserted the row: stored_at - t is the fleet's latency, sample to row.
            """
            CREATE TABLE samples (
                device bigint NOT NULL,
                metric bigint NOT NULL,
                t timestamptz NOT NULL,
                value double precision,
                text_value text,
                quality integer,
                historical boolean NOT NULL DEFAULT false,
                stored_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                PRIMARY KEY (device, metric, t)
            )
            """,
            """
            CREATE TABLE alarms (
                id bigserial PRIMARY KEY,
                device bigint NOT NULL REFERENCES devices (id),
                t timestamptz NOT NULL,
                active text NOT NULL,
                count integer,
                unacknowledged integer
            )
            """,
            """
            CREATE TABLE runs (
                device bigint NOT NULL REFERENCES devices (id),
                number integer NOT NULL,
                recipe text,
                state text,
                first_seen timestamptz NOT NULL,
                last_seen timestamptz NOT NULL,
                PRIMARY KEY (device, number)
            )
            """,
        ]),
    ]

    package static var latest: Int { migrations.map(\.version).max() ?? 0 }

    /// Creates or brings the schema up to date; returns the versions applied now.
    package static func migrate(_ client: PostgresClient, logger: Logger) async throws -> [Int] {
        try await client.withTransaction(logger: logger) { connection in
            // One historian migrates at a time (the lock ends with the transaction).
            try await connection.query("SELECT pg_advisory_xact_lock(7361726)", logger: logger)
            try await connection.query("""
                CREATE TABLE IF NOT EXISTS historian_schema (
                    version integer PRIMARY KEY,
                    what text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """, logger: logger)
            var current = 0
            for try await version in try await connection.query(
                "SELECT coalesce(max(version), 0) FROM historian_schema", logger: logger
            ).decode(Int.self) {
                current = version
            }
            if current > latest {
                throw HistorianError("the database's historian schema is version \(current), newer than this rigd's "
                                     + "(\(latest)): use the rigd that created it, or a newer one")
            }
            var applied: [Int] = []
            for migration in migrations where migration.version > current {
                for statement in migration.sql {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query(
                    "INSERT INTO historian_schema (version, what) VALUES (\(migration.version), \(migration.what))",
                    logger: logger)
                applied.append(migration.version)
            }
            return applied
        }
    }
}

package struct HistorianError: Error, CustomStringConvertible, Sendable {
    package let description: String
    package init(_ description: String) { self.description = description }

    /// The error inside a failed transaction (postgres-nio wraps it: what failed, the closure, the commit or BEGIN).
    static func unwrapped(_ error: any Error) -> any Error {
        guard let failed = error as? PostgresTransactionError else { return error }
        return failed.closureError ?? failed.commitError ?? failed.beginError ?? failed.rollbackError ?? error
    }

    /// Whether PostgreSQL refused the data itself (SQLSTATE classes 22 data exception, 23 constraint, 54 limit), which
    /// no retry mends, rather than failing to take it (connection, shutdown, lock).
    package static func isDataError(_ error: any Error) -> Bool {
        guard let state = (unwrapped(error) as? PSQLError)?.serverInfo?[.sqlState] else { return false }
        return state.hasPrefix("22") || state.hasPrefix("23") || state.hasPrefix("54")
    }

    /// PostgreSQL's own words for an error (postgres-nio's description hides the server's message).
    package static func describe(_ error: any Error) -> String {
        guard let error = unwrapped(error) as? PSQLError else { return "\(unwrapped(error))" }
        if let info = error.serverInfo {
            let message = info[.message] ?? "error"
            let state = info[.sqlState].map { " (SQLSTATE \($0))" } ?? ""
            let detail = info[.detail].map { ": \($0)" } ?? ""
            return "PostgreSQL: \(message)\(detail)\(state)"
        }
        if let underlying = error.underlying { return "PostgreSQL: \(error.code): \(underlying)" }
        return "PostgreSQL: \(error.code)"
    }
}

/// Writes the host rules' events into PostgreSQL. Used from one task only (the historian's writer): it caches the
/// ids of the nodes, devices and metrics it has written. One `write` is one transaction: samples go in multi-row
/// inserts, births and state changes in order between them, the nodes' last-message times once at the end, and one
/// commit (one WAL flush) for all of it. A write that fails rolls back whole and may be retried whole.
package actor HistorianStore {
    private let client: PostgresClient
    private let logger: Logger
    private var nodeIDs: [NodeKey: Int64] = [:]
    private var deviceIDs: [DeviceKey: Int64] = [:]
    private var metricIDs: [DeviceKey: [String: Int64]] = [:]
    /// Rows inserted, and rows the key already held (a value forwarded twice), by committed writes.
    package private(set) var inserted = 0
    package private(set) var duplicates = 0
    /// Samples of a metric no birth defined in the database (cannot happen through `HostState`; counted if it does).
    package private(set) var orphans = 0

    /// Samples per INSERT (7 parameters each; PostgreSQL takes up to 65 535 per statement).
    static let rowsPerInsert = 1000

    package init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// What one transaction has done so far (counted only once it commits).
    private struct Batch {
        var pending: [SampleRow] = []
        var heard: [NodeKey: UInt64] = [:]
        var inserted = 0
        var duplicates = 0
        var orphans = 0
    }

    /// Writes the events of a batch of messages in one transaction, in their order.
    package func write(_ events: [StoreEvent]) async throws {
        guard !events.isEmpty else { return }
        do {
            let batch = try await client.withTransaction(logger: logger) { connection -> Batch in
                var batch = Batch()
                for event in events {
                    switch event {
                    case .samples(let rows):
                        batch.pending.append(contentsOf: rows)
                        if batch.pending.count >= Self.rowsPerInsert { try await insert(&batch, on: connection) }
                    case let .heard(key, at):
                        batch.heard[key] = max(batch.heard[key] ?? 0, at)
                    default:
                        // Births define the metrics the samples after them use: the samples before go in first.
                        try await insert(&batch, on: connection)
                        try await write(event, on: connection)
                    }
                }
                try await insert(&batch, on: connection)
                for (key, at) in batch.heard {
                    let id = try await nodeID(key, on: connection)
                    try await connection.query("""
                        UPDATE nodes SET last_message_at = greatest(last_message_at, \(date(at))) WHERE id = \(id)
                        """, logger: logger)
                }
                return batch
            }
            inserted += batch.inserted
            duplicates += batch.duplicates
            orphans += batch.orphans
        } catch {
            // Ids learnt in the rolled-back transaction may name rows that do not exist.
            nodeIDs.removeAll()
            deviceIDs.removeAll()
            metricIDs.removeAll()
            throw error
        }
    }

    private func write(_ event: StoreEvent, on connection: PostgresConnection) async throws {
        switch event {
        case let .nodeBirth(key, at, bdSeq, software):
            let id = try await nodeID(key, on: connection)
            try await connection.query("""
                UPDATE nodes SET online = true, bd_seq = \(bdSeq), software = \(software), birth_at = \(date(at)),
                    last_message_at = \(date(at)), births = births + 1 WHERE id = \(id)
                """, logger: logger)
            // The node's devices are offline until their own births follow.
            try await connection.query("UPDATE devices SET online = false WHERE node = \(id) AND online", logger: logger)
            try await connection.query("""
                INSERT INTO lifecycle (node, event, at, bd_seq) VALUES (\(id), 'NBIRTH', \(date(at)), \(bdSeq))
                """, logger: logger)
        case let .nodeDeath(key, at, bdSeq):
            let id = try await nodeID(key, on: connection)
            try await connection.query("""
                UPDATE nodes SET online = false, death_at = \(date(at)) WHERE id = \(id)
                """, logger: logger)
            try await connection.query("""
                UPDATE devices SET online = false, death_at = \(date(at)) WHERE node = \(id) AND online
                """, logger: logger)
            try await connection.query("""
                INSERT INTO lifecycle (node, event, at, bd_seq) VALUES (\(id), 'NDEATH', \(date(at)), \(bdSeq))
                """, logger: logger)
        case let .deviceBirth(key, at, metrics):
            let node = try await nodeID(key.node, on: connection)
            let id = try await deviceID(key, on: connection)
            try await connection.query("""
                UPDATE devices SET online = true, birth_at = \(date(at)), births = births + 1 WHERE id = \(id)
                """, logger: logger)
            try await defineMetrics(metrics, of: key, device: id, at: at, on: connection)
            try await connection.query("""
                INSERT INTO lifecycle (node, device, event, at, metrics)
                VALUES (\(node), \(id), 'DBIRTH', \(date(at)), \(metrics.count))
                """, logger: logger)
        case let .deviceDeath(key, at):
            let node = try await nodeID(key.node, on: connection)
            let id = try await deviceID(key, on: connection)
            try await connection.query("""
                UPDATE devices SET online = false, death_at = \(date(at)) WHERE id = \(id)
                """, logger: logger)
            try await connection.query("""
                INSERT INTO lifecycle (node, device, event, at) VALUES (\(node), \(id), 'DDEATH', \(date(at)))
                """, logger: logger)
        case let .deviceState(key, _, state):
            let id = try await deviceID(key, on: connection)
            try await connection.query("""
                UPDATE devices SET kind = \(state.kind), mode = \(state.mode), link_up = \(state.linkUp),
                    device_status = \(state.deviceStatus), phase = \(state.phase),
                    last_rejection = \(state.lastRejection) WHERE id = \(id)
                """, logger: logger)
        case let .alarms(key, at, active, count, unacknowledged):
            let id = try await deviceID(key, on: connection)
            try await connection.query("""
                UPDATE devices SET active_alarms = \(active), alarm_count = \(count),
                    unacknowledged_alarms = \(unacknowledged) WHERE id = \(id)
                """, logger: logger)
            try await connection.query("""
                INSERT INTO alarms (device, t, active, count, unacknowledged)
                VALUES (\(id), \(date(at)), \(active), \(count), \(unacknowledged))
                """, logger: logger)
        case let .run(key, at, number, recipe, state):
            let id = try await deviceID(key, on: connection)
            try await connection.query("""
                INSERT INTO runs (device, number, recipe, state, first_seen, last_seen)
                VALUES (\(id), \(number), \(recipe), \(state), \(date(at)), \(date(at)))
                ON CONFLICT (device, number) DO UPDATE
                    SET recipe = excluded.recipe, state = excluded.state, last_seen = excluded.last_seen
                """, logger: logger)
        case .samples, .heard:
            break
        }
    }

    /// Inserts the batch's waiting samples (up to `rowsPerInsert` rows a statement), skipping rows whose key is
    /// already held.
    private func insert(_ batch: inout Batch, on connection: PostgresConnection) async throws {
        while !batch.pending.isEmpty {
            let chunk = batch.pending.prefix(Self.rowsPerInsert)
            var sql = "INSERT INTO samples (device, metric, t, value, text_value, quality, historical) VALUES "
            var binds = PostgresBindings(capacity: chunk.count * 7)
            var rows = 0
            for row in chunk {
                guard let device = deviceIDs[row.device], let metric = metricIDs[row.device]?[row.metric] else {
                    batch.orphans += 1
                    continue
                }
                let n = rows * 7
                sql += rows == 0 ? "" : ","
                sql += "($\(n + 1),$\(n + 2),$\(n + 3),$\(n + 4),$\(n + 5),$\(n + 6),$\(n + 7))"
                binds.append(device)
                binds.append(metric)
                binds.append(date(row.t))
                binds.append(row.value)
                binds.append(row.text)
                binds.append(row.quality)
                binds.append(row.historical)
                rows += 1
            }
            if rows > 0 {
                // RETURNING lists the rows written; a key already held (a value forwarded twice) is skipped.
                sql += " ON CONFLICT (device, metric, t) DO NOTHING RETURNING 1"
                let written = try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger)
                    .collect().count
                batch.inserted += written
                batch.duplicates += rows - written
            }
            batch.pending.removeFirst(chunk.count)
        }
    }

    // MARK: Ids

    private func nodeID(_ key: NodeKey, on connection: PostgresConnection) async throws -> Int64 {
        if let id = nodeIDs[key] { return id }
        let id = try await upsertedID(on: connection, of: "node \(key)", """
            INSERT INTO nodes (group_id, node_id) VALUES (\(key.group), \(key.node))
            ON CONFLICT (group_id, node_id) DO UPDATE SET group_id = excluded.group_id RETURNING id
            """)
        nodeIDs[key] = id
        return id
    }

    private func deviceID(_ key: DeviceKey, on connection: PostgresConnection) async throws -> Int64 {
        if let id = deviceIDs[key] { return id }
        let node = try await nodeID(key.node, on: connection)
        let id = try await upsertedID(on: connection, of: "device \(key)", """
            INSERT INTO devices (node, device_id) VALUES (\(node), \(key.device))
            ON CONFLICT (node, device_id) DO UPDATE SET device_id = excluded.device_id RETURNING id
            """)
        deviceIDs[key] = id
        return id
    }

    /// The id an `INSERT … ON CONFLICT … RETURNING id` gives back (the row's, new or existing).
    private func upsertedID(on connection: PostgresConnection, of what: String, _ query: PostgresQuery) async throws -> Int64 {
        var id: Int64?
        for try await value in try await connection.query(query, logger: logger).decode(Int64.self) { id = value }
        guard let id else { throw HistorianError("PostgreSQL returned no id for \(what)") }
        return id
    }

    /// Upserts the birth's metric definitions in one statement and learns their ids.
    private func defineMetrics(_ metrics: [MetricDefinition], of key: DeviceKey, device: Int64, at: UInt64,
                               on connection: PostgresConnection) async throws {
        var ids = metricIDs[key] ?? [:]
        for chunk in stride(from: 0, to: metrics.count, by: 500).map({ metrics[$0..<min($0 + 500, metrics.count)] }) {
            var sql = """
                INSERT INTO metrics (device, name, datatype, unit, eng_low, eng_high, first_birth_at, last_birth_at) VALUES
                """
            var binds = PostgresBindings(capacity: chunk.count * 5 + 2)
            binds.append(device)
            binds.append(date(at))
            for (i, metric) in chunk.enumerated() {
                let n = 2 + i * 5
                sql += (i == 0 ? " " : ",") + "($1,$\(n + 1),$\(n + 2),$\(n + 3),$\(n + 4),$\(n + 5),$2,$2)"
                binds.append(metric.name)
                binds.append(metric.datatype)
                binds.append(metric.unit)
                binds.append(metric.engLow)
                binds.append(metric.engHigh)
            }
            sql += """
                 ON CONFLICT (device, name) DO UPDATE SET datatype = excluded.datatype, unit = excluded.unit,
                    eng_low = excluded.eng_low, eng_high = excluded.eng_high, last_birth_at = excluded.last_birth_at
                RETURNING id, name
                """
            let rows = try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger)
            for try await (id, name) in rows.decode((Int64, String).self) { ids[name] = id }
        }
        metricIDs[key] = ids
    }

    private func date(_ ms: UInt64) -> Date { Date(timeIntervalSince1970: Double(ms) / 1000) }
}
