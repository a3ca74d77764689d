import Control
import Devices
import Foundation
import GRDB
import Logging
import Synchronization
import Stations
import DeviceTransports
import SimServe
import Locking

/// Writes what the stations measured and decided to the data log. Stations hand over records without blocking
/// (a queue under a lock); a writer thread commits the queue every `commitInterval` (0.25 s: a kill -9 loses at most
/// that much) in one transaction, and applies the retention once an hour.
///
/// On open it closes what an earlier process left unfinished: its session is marked unclean, its running runs are
/// recorded as aborted ("unclean stop") and its open alarms as cleared by the stop, at the last moment that process
/// was known alive.
package final class Recorder: StationJournal {
    package typealias Record = JournalRecord

    /// What the last open found and repaired, for the log.
    package struct Recovery: Sendable, Equatable {
        package var uncleanSessions = 0
        package var abortedRuns = 0
        package var closedAlarms = 0

        package init(uncleanSessions: Int = 0, abortedRuns: Int = 0, closedAlarms: Int = 0) {
            self.uncleanSessions = uncleanSessions
            self.abortedRuns = abortedRuns
            self.closedAlarms = closedAlarms
        }
    }

    package static let commitInterval = 0.25
    /// Records waiting beyond this many (the disk is stuck or full) drop the oldest samples first; counted and logged.
    package static let queueLimit = 2_000_000

    package let path: String
    package let retentionSeconds: Double
    package let recovery: Recovery
    private let pool: DatabasePool
    private let sessionId: Int64
    private let logger: Logger
    private let queue = Locked<[Record]>([])
    private let dropped = Atomic<UInt64>(0)
    private let stopping = Atomic<Bool>(false)
    private let started = Atomic<Bool>(false)
    private let stopped = DispatchSemaphore(value: 0)
    private let lastRetention = Locked<Double>(0)
    private let failing = Atomic<Bool>(false)
    /// The time sessions, commits and stops are stamped with: Unix time now, or a virtual run's plant time.
    private let now: @Sendable () -> Double

    /// Opens the log in `dataDirectory` (created if missing), repairs an unclean stop, and starts a session.
    package convenience init(dataDirectory: String, retentionDays: Double, logger: Logger) throws {
        try DataDirectoryLock.createDirectory(dataDirectory)
        try self.init(path: DataLog.path(in: dataDirectory), retentionDays: retentionDays, logger: logger)
    }

    /// Opens (creating) the log at `path`: a daemon's, or a virtual run's recording (`rigd run --record`), whose
    /// session and stops are stamped with plant time (`now`).
    package init(path: String, retentionDays: Double, recording: Bool = false,
                 now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }, logger: Logger) throws {
        self.path = path
        retentionSeconds = retentionDays * 86_400
        self.logger = logger
        self.now = now
        pool = try DataLog.openForWriting(path: path, recording: recording)
        let now = now()
        (recovery, sessionId) = try pool.write { db in
            let recovery = try Self.repairUncleanStops(db)
            try db.execute(sql: "INSERT INTO session (pid, started_at, alive_at) VALUES (?, ?, ?)",
                           arguments: [Int(getpid()), now, now])
            return (recovery, db.lastInsertedRowID)
        }
    }

    /// The latest applied calibration of every station's channels (what the stations apply at start).
    package func appliedCalibrations() throws -> [CalibrationRecord] {
        try pool.read { db in try CalibrationLog.applied(db) }
    }

    /// Marks sessions that never stopped as unclean and closes their runs and alarms.
    package static func repairUncleanStops(_ db: Database) throws -> Recovery {
        var recovery = Recovery()
        let open = try Row.fetchAll(db, sql: "SELECT id, alive_at FROM session WHERE stopped_at IS NULL")
        for row in open {
            let id: Int64 = row["id"]
            let alive: Double = row["alive_at"]
            try db.execute(sql: "UPDATE session SET stopped_at = ?, ending = 'unclean' WHERE id = ?",
                           arguments: [alive, id])
            let stamp = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: alive))
            try db.execute(sql: """
                UPDATE run SET outcome = 'aborted', ended_at = ?,
                    reason = 'unclean stop: rigd ended without shutting down (killed, crashed or power lost); last alive at ' || ?
                WHERE session_id = ? AND outcome = 'running'
                """, arguments: [alive, stamp, id])
            recovery.abortedRuns += db.changesCount
            try db.execute(sql: """
                UPDATE alarm SET cleared_at = ?, cleared_by = 'unclean stop'
                WHERE session_id = ? AND cleared_at IS NULL
                """, arguments: [alive, id])
            recovery.closedAlarms += db.changesCount
            recovery.uncleanSessions += 1
        }
        return recovery
    }

    // MARK: Records (any thread, never blocks on the disk)

    package func record(_ record: Record) {
        let overflow = queue.withLock { q -> Bool in
            q.append(record)
            return q.count > Self.queueLimit
        }
        if overflow { shed() }
    }

    /// Drops the oldest sample records (never logged samples, events, alarms or runs) to get back under the limit.
    private func shed() {
        let n = queue.withLock { q -> Int in
            var excess = q.count - Self.queueLimit * 9 / 10
            var kept: [Record] = []
            kept.reserveCapacity(q.count)
            var dropped = 0
            for r in q {
                if excess > 0, case .samples = r {
                    excess -= 1
                    dropped += 1
                } else {
                    kept.append(r)
                }
            }
            q = kept
            return dropped
        }
        dropped.add(UInt64(n), ordering: .relaxed)
        logger.error("data log: \(n) sample records dropped: the disk does not keep up (\(path))")
    }

    /// Waits while more than `limit` records are queued: a virtual run produces records faster than any disk takes
    /// them, so it waits for the writer (backpressure) instead of growing the queue until samples are dropped.
    package func waitForWriter(below limit: Int) {
        while queue.withLock({ $0.count }) > limit { usleep(2_000) }
    }

    /// Sample records dropped because the writer could not keep up.
    package var droppedRecords: UInt64 { dropped.load(ordering: .relaxed) }

    // MARK: Writer

    /// Starts the writer thread.
    package func start() {
        guard !started.exchange(true, ordering: .relaxed) else { return }
        startThread(name: "data-log") { [self] in
            while !stopping.load(ordering: .relaxed) {
                Thread.sleep(forTimeInterval: Self.commitInterval)
                commit()
            }
            commit()
            stopped.signal()
        }
    }

    /// Commits what is queued; on failure keeps it queued for the next attempt (logged once per failure spell).
    package func commit() {
        let batch = queue.withLock { q in
            defer { q.removeAll(keepingCapacity: true) }
            return q
        }
        let now = now()
        do {
            try pool.write { db in
                try write(batch, db: db)
                try db.execute(sql: "UPDATE session SET alive_at = ? WHERE id = ?", arguments: [now, sessionId])
            }
            if failing.exchange(false, ordering: .relaxed) { logger.notice("data log: writing again to \(path)") }
        } catch {
            queue.withLock { q in q.insert(contentsOf: batch, at: 0) }
            if !failing.exchange(true, ordering: .relaxed) {
                logger.error("data log: cannot write to \(path): \(error); keeping records in memory and retrying")
            }
            return
        }
        let due = lastRetention.withLock { last -> Bool in
            guard now - last >= 3600 else { return false }
            last = now
            return true
        }
        if due { applyRetention(now: now) }
    }

    /// Deletes samples and events older than the retention (alarms, runs, sessions and the logged series are kept).
    package func applyRetention(now: Double) {
        guard retentionSeconds > 0 else { return }
        let cutoff = now - retentionSeconds
        do {
            let (samples, events) = try pool.write { db -> (Int, Int) in
                try db.execute(sql: "DELETE FROM sample WHERE t < ?", arguments: [cutoff])
                let s = db.changesCount
                try db.execute(sql: "DELETE FROM event WHERE t < ?", arguments: [cutoff])
                let e = db.changesCount
                try db.execute(sql: "DELETE FROM setting_sample WHERE t < ?", arguments: [cutoff])
                return (s, e)
            }
            if samples + events > 0 {
                let days = Int(retentionSeconds / 86_400)
                logger.info("data log: retention removed \(samples) samples and \(events) events older than \(days) days")
            }
        } catch {
            logger.error("data log: retention failed: \(error)")
        }
    }

    /// Ends the session: the writer commits what is left, running runs are recorded as aborted by the stop and open
    /// alarms as cleared by it. Call once, after every station stopped.
    package func close(reason: String) {
        stopping.store(true, ordering: .relaxed)
        if started.load(ordering: .relaxed) { _ = stopped.wait(timeout: .now() + 10) }
        commit()
        let now = now()
        do {
            try pool.write { db in
                try db.execute(sql: """
                    UPDATE run SET outcome = 'aborted', ended_at = ?, reason = ?
                    WHERE session_id = ? AND outcome = 'running'
                    """, arguments: [now, "rigd stopped during the run (\(reason))", sessionId])
                try db.execute(sql: """
                    UPDATE alarm SET cleared_at = ?, cleared_by = 'rigd stopped'
                    WHERE session_id = ? AND cleared_at IS NULL
                    """, arguments: [now, sessionId])
                try db.execute(sql: "UPDATE session SET stopped_at = ?, alive_at = ?, ending = 'clean' WHERE id = ?",
                               arguments: [now, now, sessionId])
            }
        } catch {
            logger.error("data log: cannot close the session cleanly: \(error)")
        }
    }

    /// Read access for the API and tests.
    package var reader: any DatabaseReader { pool }

    /// Write access for the MQTT edge node's forwarding place (`forward`, `forward_gap`); not for records.
    package var writer: any DatabaseWriter { pool }

    // MARK: Writing a batch

    private final class ChannelIds: @unchecked Sendable {
        package var ids: [String: Int64] = [:]
    }
    private let channelIds = Locked(ChannelIds())

    private func channelId(station: String, channel: StationStatus.Channel, db: Database) throws -> Int64 {
        let key = station + "\u{1F}" + channel.name
        if let id = channelIds.withLock({ $0.ids[key] }) { return id }
        try db.execute(sql: "INSERT OR IGNORE INTO channel (station, name, unit) VALUES (?, ?, ?)",
                       arguments: [station, channel.name, channel.unit])
        let id = try Int64.fetchOne(db, sql: "SELECT id FROM channel WHERE station = ? AND name = ?",
                                    arguments: [station, channel.name]) ?? 0
        channelIds.withLock { $0.ids[key] = id }
        return id
    }

    private func write(_ batch: [Record], db: Database) throws {
        let sample = try db.cachedStatement(
            sql: "INSERT OR REPLACE INTO sample (channel_id, t, value, quality) VALUES (?, ?, ?, ?)")
        for record in batch {
            switch record {
            case .samples(let station, let t, let channels):
                for channel in channels {
                    let id = try channelId(station: station, channel: channel, db: db)
                    try sample.execute(arguments: [id, t, channel.value, Int(channel.quality)])
                }
            case .loggedSamples(let station, let t, let channels):
                let logged = try db.cachedStatement(
                    sql: "INSERT OR REPLACE INTO logged_sample (channel_id, t, value, quality) VALUES (?, ?, ?, ?)")
                for channel in channels {
                    let id = try channelId(station: station, channel: channel, db: db)
                    try logged.execute(arguments: [id, t, channel.value, Int(channel.quality)])
                }
            case .settings(let station, let t, let values):
                let setting = try db.cachedStatement(
                    sql: "INSERT OR REPLACE INTO setting_sample (station, name, unit, t, value) VALUES (?, ?, ?, ?, ?)")
                for value in values {
                    try setting.execute(arguments: [station, value.name, value.unit, t, value.value])
                }
            case .event(let station, let t, let kind, let message, let actor):
                try db.execute(sql: "INSERT INTO event (t, station, kind, message, actor) VALUES (?, ?, ?, ?, ?)",
                               arguments: [t, station, kind, message, actor])
            case .alarmRaised(let station, let alarm, let t):
                try db.execute(sql: """
                    INSERT INTO alarm (session_id, station, code, severity, message, raised_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """, arguments: [sessionId, station, alarm.code, alarm.severity.rawValue, alarm.message, t])
            case .alarmAcknowledged(let station, let code, let by, let t):
                try db.execute(sql: """
                    UPDATE alarm SET acknowledged_at = ?, acknowledged_by = ?
                    WHERE id = (SELECT max(id) FROM alarm WHERE session_id = ? AND station = ? AND code = ?)
                    """, arguments: [t, by, sessionId, station, code])
            case .alarmCleared(let station, let code, let t):
                try db.execute(sql: """
                    UPDATE alarm SET cleared_at = ?, cleared_by = 'condition'
                    WHERE id = (SELECT max(id) FROM alarm WHERE session_id = ? AND station = ? AND code = ?
                                AND cleared_at IS NULL)
                    """, arguments: [t, sessionId, station, code])
            case .runStarted(let station, let number, let recipe, let t):
                try db.execute(sql: """
                    INSERT OR IGNORE INTO run (session_id, station, number, recipe, outcome, started_at)
                    VALUES (?, ?, ?, ?, 'running', ?)
                    """, arguments: [sessionId, station, number, recipe, t])
            case .runEnded(let station, let number, let outcome, let reason, let t, let results):
                try db.execute(sql: """
                    UPDATE run SET outcome = ?, reason = ?, ended_at = ?, results = ?
                    WHERE session_id = ? AND station = ? AND number = ?
                    """, arguments: [outcome, reason, t, results, sessionId, station, number])
            case .calibration(let record):
                try CalibrationLog.insert(record, db: db)
            case .stationStopped(let station, let t, let reason):
                try db.execute(sql: """
                    UPDATE run SET outcome = 'aborted', ended_at = ?, reason = ?
                    WHERE session_id = ? AND station = ? AND outcome = 'running'
                    """, arguments: [t, "the station stopped during the run (\(reason))", sessionId, station])
                try db.execute(sql: """
                    UPDATE alarm SET cleared_at = ?, cleared_by = ?
                    WHERE session_id = ? AND station = ? AND cleared_at IS NULL
                    """, arguments: [t, "station stopped (\(reason))", sessionId, station])
            }
        }
    }
}
