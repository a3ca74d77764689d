import Foundation
import GRDB
import Stations
import DeviceTransports
import SimServe
import Locking

/// rigd's SQLite data log (docs/design.md "recorder"): samples per station and channel (and the controllers' logged
/// series), events, alarms, runs and daemon sessions, in WAL mode so readers (the API, `rigd export`) never block the writer.
///
/// Times are Unix seconds (REAL). Schema changes are migrations (`migrator`), applied in order when the log opens.
package enum DataLog {
    /// The file inside the data directory.
    package static let fileName = "rigd.sqlite"

    package static func path(in dataDirectory: String) -> String {
        (dataDirectory as NSString).appendingPathComponent(fileName)
    }

    package static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1: samples, events, alarms, runs, sessions") { db in
            try db.execute(sql: """
                CREATE TABLE session (
                    id INTEGER PRIMARY KEY,
                    pid INTEGER NOT NULL,
                    started_at REAL NOT NULL,
                    -- updated on every commit: the last moment this process is known to have been alive
                    alive_at REAL NOT NULL,
                    stopped_at REAL,
                    -- 'clean' (SIGINT/SIGTERM or --for), 'unclean' (found unfinished by the next start)
                    ending TEXT
                );
                CREATE TABLE channel (
                    id INTEGER PRIMARY KEY,
                    station TEXT NOT NULL,
                    name TEXT NOT NULL,
                    unit TEXT NOT NULL,
                    UNIQUE (station, name)
                );
                CREATE TABLE sample (
                    channel_id INTEGER NOT NULL REFERENCES channel(id),
                    t REAL NOT NULL,
                    -- NULL when the reading was a fault (NaN or quality 0x80)
                    value REAL,
                    quality INTEGER NOT NULL,
                    PRIMARY KEY (channel_id, t)
                ) WITHOUT ROWID;
                CREATE INDEX sample_t ON sample(t);
                CREATE TABLE event (
                    id INTEGER PRIMARY KEY,
                    t REAL NOT NULL,
                    station TEXT,
                    kind TEXT NOT NULL,
                    message TEXT NOT NULL
                );
                CREATE INDEX event_t ON event(t);
                CREATE TABLE alarm (
                    id INTEGER PRIMARY KEY,
                    session_id INTEGER NOT NULL REFERENCES session(id),
                    station TEXT NOT NULL,
                    code TEXT NOT NULL,
                    severity TEXT NOT NULL,
                    message TEXT NOT NULL,
                    raised_at REAL NOT NULL,
                    acknowledged_at REAL,
                    acknowledged_by TEXT,
                    cleared_at REAL,
                    -- 'condition' (the cause went away), 'rigd stopped', 'unclean stop'
                    cleared_by TEXT
                );
                CREATE INDEX alarm_station ON alarm(station, raised_at);
                CREATE TABLE run (
                    id INTEGER PRIMARY KEY,
                    session_id INTEGER NOT NULL REFERENCES session(id),
                    station TEXT NOT NULL,
                    -- the run's number on its station within the session (1 = first)
                    number INTEGER NOT NULL,
                    recipe TEXT NOT NULL,
                    outcome TEXT NOT NULL,
                    reason TEXT,
                    started_at REAL NOT NULL,
                    ended_at REAL,
                    -- JSON object of the controller's results
                    results TEXT NOT NULL DEFAULT '{}',
                    UNIQUE (session_id, station, number)
                );
                CREATE INDEX run_station ON run(station, started_at);
                """)
        }
        m.registerMigration("v2: the controllers' logged series") { db in
            // A controller's logged (logbook, regulatory) series: a pond's 15-min sample, a stream's 15 → 5 min
            // event sampling. Apart from `sample` (every record_interval_s) and kept whatever the retention.
            try db.execute(sql: """
                CREATE TABLE logged_sample (
                    channel_id INTEGER NOT NULL REFERENCES channel(id),
                    t REAL NOT NULL,
                    value REAL,
                    quality INTEGER NOT NULL,
                    PRIMARY KEY (channel_id, t)
                ) WITHOUT ROWID;
                CREATE INDEX logged_sample_t ON logged_sample(t);
                """)
        }
        m.registerMigration("v3: what the MQTT edge node has forwarded") { db in
            // The Sparkplug edge node's place in `sample` (docs/fleet.md), kept across restarts: a station's samples
            // with t ≤ forward.through went to the broker (or were passed over: deadband, device dead), except those
            // inside a gap, which are the backlog of an outage still to be sent (after < t ≤ through).
            try db.execute(sql: """
                CREATE TABLE forward (
                    station TEXT PRIMARY KEY,
                    through REAL NOT NULL
                );
                CREATE TABLE forward_gap (
                    id INTEGER PRIMARY KEY,
                    station TEXT NOT NULL,
                    after REAL NOT NULL,
                    through REAL NOT NULL
                );
                """)
        }
        m.registerMigration("v4: who asked for an event") { db in
            // The token's name of an operator's request (issue 23's audit); NULL for what rigd did by itself.
            try db.execute(sql: "ALTER TABLE event ADD COLUMN actor TEXT")
        }
        m.registerMigration("v5: probe calibrations") { db in
            // Every finished calibration (issue 23 part 2), accepted or not: the latest applied one per station and
            // channel is the correction a restarted rigd applies. Kept whatever the retention.
            try db.execute(sql: """
                CREATE TABLE calibration (
                    id INTEGER PRIMARY KEY,
                    t REAL NOT NULL,
                    station TEXT NOT NULL,
                    channel TEXT NOT NULL,
                    method TEXT NOT NULL,
                    actor TEXT,
                    why TEXT,
                    -- JSON array of {standard, raw, temp_c, lot}
                    points TEXT NOT NULL,
                    -- corrected = correction_slope * raw + correction_offset
                    correction_slope REAL NOT NULL,
                    correction_offset REAL NOT NULL,
                    slope_pct REAL,
                    "offset" REAL,
                    offset_unit TEXT,
                    accepted INTEGER NOT NULL,
                    applied INTEGER NOT NULL,
                    -- JSON array of the reasons it was not accepted
                    failures TEXT NOT NULL,
                    due_at REAL
                );
                CREATE INDEX calibration_station ON calibration(station, channel, t);
                """)
        }
        m.registerMigration("v6: calibrations written to the device") { db in
            // A calibration the device's own registers took (`[[map.calibration]]`): JSON {registers, slope_before,
            // offset_before, slope, offset}; NULL when it was applied on the host or not at all.
            try db.execute(sql: "ALTER TABLE calibration ADD COLUMN device TEXT")
        }
        m.registerMigration("v7: what run a recording is") { db in
            // One row in a virtual run's recording (`rigd run --virtual --record FILE`, `Recording`); none in a
            // daemon's data log.
            try db.execute(sql: """
                CREATE TABLE recording (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    clock TEXT NOT NULL,
                    seed INTEGER NOT NULL,
                    -- Unix time of plant time 0
                    start_at REAL NOT NULL,
                    -- the plant time asked for (--for)
                    duration_s REAL NOT NULL,
                    record_interval_s REAL NOT NULL,
                    configuration TEXT NOT NULL,
                    -- JSON array of {name, kind}
                    stations TEXT NOT NULL,
                    rigd_version TEXT NOT NULL,
                    -- Unix time of the plant's end; NULL while running, or for good when the run was cut short
                    ended_at REAL,
                    interrupted INTEGER,
                    -- the run report (JSON), as rigd run wrote it
                    report TEXT
                );
                """)
        }
        m.registerMigration("v8: the controllers' settings as they change") { db in
            // A setting (a heat rig's setpoint, moved by its ramp or an operator) whenever it changed, at the record
            // cadence: what a recorded run's temperature is plotted against. Retention as for samples.
            try db.execute(sql: """
                CREATE TABLE setting_sample (
                    station TEXT NOT NULL,
                    name TEXT NOT NULL,
                    unit TEXT NOT NULL,
                    t REAL NOT NULL,
                    value REAL,
                    PRIMARY KEY (station, name, t)
                ) WITHOUT ROWID;
                """)
        }
        return m
    }

    /// SQLite's page cache per connection, in KiB (a negative `cache_size`). SQLite's default is 2000 KiB, filled
    /// lazily: a daemon that appends for hours grows by that much per connection as the log grows, which the soak
    /// saw as a slow RSS creep. rigd appends at the end of a few B-trees and reads history in index ranges the
    /// kernel's file cache holds anyway: a page the cache lacks is a read from that. Measured on this schema
    /// (hil/SOAK.md): 256 KiB costs the write path 0.06 ms CPU per second of records for 60 channels, and about 6 ms
    /// (0.6 % of a core) for 6000, against 2000 KiB.
    package static let pageCacheKiB = -256

    /// A virtual run's recording: 64 MiB of page cache (a recorded run writes as fast as SQLite takes it, and most
    /// of its time went to spilling and re-reading B-tree pages with the daemon's 256 KiB) and no fsync.
    package static let recordingPageCacheKiB = -65_536

    /// Opens (creating if needed) the log for writing, and migrates it. `recording`: a virtual run's recording, written
    /// without fsync (`synchronous = OFF`): a crash or kill -9 of rigd still loses nothing committed (the pages are
    /// the kernel's), a power loss may lose or damage the file, and the run can be made again from its seed.
    package static func openForWriting(path: String, recording: Bool = false) throws -> DatabasePool {
        var configuration = GRDB.Configuration()
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            // WAL with synchronous=NORMAL: a committed transaction survives a crash or kill -9 of rigd; a power
            // loss may lose the last commits but never corrupts the file.
            try db.execute(sql: "PRAGMA synchronous = \(recording ? "OFF" : "NORMAL")")
            try db.execute(sql: "PRAGMA foreign_keys = ON")
            try db.execute(sql: "PRAGMA cache_size = \(recording ? recordingPageCacheKiB : pageCacheKiB)")
        }
        let pool = try DatabasePool(path: path, configuration: configuration)
        try migrator.migrate(pool)
        return pool
    }

    /// Opens an existing log read-only (export, tests). Works while rigd writes to it. `olderSchema`: a log an older
    /// rigd wrote (some migrations not applied: a recording made before `setting_sample` existed) is read as it is,
    /// its readers checking for the tables they need, and one a newer rigd wrote is refused (its tables may mean
    /// something else); without it, a log with every migration this rigd knows is read whatever newer ones it has.
    package static func openForReading(path: String, olderSchema: Bool = false) throws -> DatabasePool {
        guard FileManager.default.fileExists(atPath: path) else {
            throw DataLogError("no data log at \(path) (rigd writes it under its data directory)")
        }
        var configuration = GRDB.Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA cache_size = \(pageCacheKiB)") }
        let pool = try DatabasePool(path: path, configuration: configuration)
        let (complete, superseded) = try pool.read { db in
            (try migrator.hasCompletedMigrations(db), try migrator.hasBeenSuperseded(db))
        }
        // Only where older schemas are taken (a recording's readers): a daemon's readers (export, backup) read a log
        // with newer migrations as before, and restore says what it refuses.
        if superseded && olderSchema {
            throw DataLogError("\(path) was written by a newer rigd (its schema has migrations this rigd does not know)")
        }
        if !complete && !olderSchema {
            throw DataLogError("\(path) has a schema this rigd does not know (written by an older or newer rigd?)")
        }
        return pool
    }
}

package struct DataLogError: Error, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}
