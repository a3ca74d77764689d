import Control
import Daemon
import Foundation
import GRDB
import Logging
import Stations
import Testing

/// The data log's writer on its own: alarms from raise to clear, runs, retention, and the repair of an unclean stop.
@Suite("Data log recorder")
struct RecorderTests {
    private func directory() -> String { NSTemporaryDirectory() + "rigd-recorder-\(UUID())" }
    private let logger = Logger(label: "test")

    private func alarm(_ code: String, raisedAt: Double) -> Alarm {
        var book = AlarmBook()
        book.raise(code, .alarm, "\(code) message", now: raisedAt)
        return book.history[0]
    }

    @Test func alarmsCarryWhoAcknowledgedAndWhenTheyCleared() throws {
        let dir = directory()
        let recorder = try Recorder(dataDirectory: dir, retentionDays: 0, logger: logger)
        recorder.record(.alarmRaised(station: "s", alarm: alarm("box_temp_high", raisedAt: 100), t: 1000))
        recorder.record(.alarmAcknowledged(station: "s", code: "box_temp_high", by: "ann", t: 1010))
        recorder.record(.alarmCleared(station: "s", code: "box_temp_high", t: 1020))
        // A second occurrence of the same code is a row of its own, still open.
        recorder.record(.alarmRaised(station: "s", alarm: alarm("box_temp_high", raisedAt: 200), t: 1100))
        recorder.commit()
        let rows = try recorder.reader.read { db in
            try LogQueries.alarms(db, station: "s", from: 0, to: 2000, activeOnly: false, limit: 10)
        }
        #expect(rows.count == 2)
        let first = try #require(rows.last)
        #expect(first.acknowledgedBy == "ann")
        #expect(first.acknowledgedAt == 1010)
        #expect(first.clearedAt == 1020)
        #expect(first.clearedBy == "condition")
        #expect(rows.first?.clearedAt == nil)
        recorder.close(reason: "test")
        let closed = try recorder.reader.read { db in
            try LogQueries.alarms(db, station: "s", from: 0, to: 2000, activeOnly: true, limit: 10)
        }
        #expect(closed.isEmpty, "a clean stop closes open alarms")
    }

    @Test func aSessionThatNeverClosedIsRepairedOnTheNextOpen() throws {
        let dir = directory()
        do {
            let crashed = try Recorder(dataDirectory: dir, retentionDays: 0, logger: logger)
            crashed.record(.runStarted(station: "x", number: 1, recipe: "default", t: 500))
            crashed.record(.alarmRaised(station: "x", alarm: alarm("flow_low", raisedAt: 1), t: 510))
            crashed.commit()
            // No close(): as if killed.
        }
        let next = try Recorder(dataDirectory: dir, retentionDays: 0, logger: logger)
        #expect(next.recovery == Recorder.Recovery(uncleanSessions: 1, abortedRuns: 1, closedAlarms: 1))
        let (runs, alarms) = try next.reader.read { db in
            (try LogQueries.runs(db, station: "x", from: 0, to: .greatestFiniteMagnitude, limit: 10),
             try LogQueries.alarms(db, station: "x", from: 0, to: .greatestFiniteMagnitude, activeOnly: false, limit: 10))
        }
        #expect(runs.first?.outcome == "aborted")
        #expect(runs.first?.reason?.hasPrefix("unclean stop") == true)
        #expect(alarms.first?.clearedBy == "unclean stop")
        // Opening again finds nothing more to repair.
        next.close(reason: "test")
        let third = try Recorder(dataDirectory: dir, retentionDays: 0, logger: logger)
        #expect(third.recovery == Recorder.Recovery())
        third.close(reason: "test")
    }

    @Test func retentionDeletesOldSamplesAndEventsOnly() throws {
        let dir = directory()
        let recorder = try Recorder(dataDirectory: dir, retentionDays: 1, logger: logger)
        let now = Date().timeIntervalSince1970
        let channel = StationStatus.Channel(name: "temp_c", unit: "°C", value: 20, quality: 0)
        for t in [now - 3 * 86_400, now - 2 * 86_400, now - 3600, now] {
            recorder.record(.samples(station: "s", t: t, channels: [channel]))
            recorder.record(.event(station: "s", t: t, kind: "k", message: "m"))
        }
        recorder.record(.runStarted(station: "s", number: 1, recipe: "old", t: now - 5 * 86_400))
        recorder.commit()
        recorder.applyRetention(now: now)
        let (samples, events, runs) = try recorder.reader.read { db in
            (try LogQueries.samples(db, station: "s", from: 0, to: now + 1, limit: 100).map(\.t),
             try LogQueries.events(db, station: "s", from: 0, to: now + 1, limit: 100).count,
             try LogQueries.runs(db, station: "s", from: 0, to: now + 1, limit: 100).count)
        }
        #expect(samples == [now - 3600, now])
        #expect(events == 2)
        #expect(runs == 1, "runs are kept whatever their age")
        recorder.close(reason: "test")
    }

    @Test func aFaultReadingIsStoredAsNullWithItsQuality() throws {
        let recorder = try Recorder(dataDirectory: directory(), retentionDays: 0, logger: logger)
        recorder.record(.samples(station: "s", t: 10, channels: [
            StationStatus.Channel(name: "do_mgl", unit: "mg/L", value: nil, quality: 0x80),
            StationStatus.Channel(name: "ph", unit: "pH", value: 7.9, quality: 0),
        ]))
        recorder.commit()
        let rows = try recorder.reader.read { db in try LogQueries.samples(db, station: "s", from: 0, to: 20, limit: 10) }
        #expect(rows == [LogQueries.Sample(t: 10, channel: "do_mgl", unit: "mg/L", value: nil, quality: 0x80),
                         LogQueries.Sample(t: 10, channel: "ph", unit: "pH", value: 7.9, quality: 0)])
        recorder.close(reason: "test")
    }

    /// Every connection to the log, writer and readers, has the small page cache (SQLite's 2000 KiB default filled
    /// as the log grew: the soak's RSS creep).
    @Test func everyConnectionHasTheSmallPageCache() throws {
        let dir = directory()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/rigd.sqlite"
        let writer = try DataLog.openForWriting(path: path)
        #expect(try writer.write { db in try Int.fetchOne(db, sql: "PRAGMA cache_size") } == DataLog.pageCacheKiB)
        #expect(try writer.read { db in try Int.fetchOne(db, sql: "PRAGMA cache_size") } == DataLog.pageCacheKiB)
        let reader = try DataLog.openForReading(path: path)
        #expect(try reader.read { db in try Int.fetchOne(db, sql: "PRAGMA cache_size") } == DataLog.pageCacheKiB)
        #expect(DataLog.pageCacheKiB == -256)
    }

    @Test func timeArguments() {
        let now = 1_800_000_000.0
        #expect(TimeArgument.parse("now", now: now) == now)
        #expect(TimeArgument.parse("-15m", now: now) == now - 900)
        #expect(TimeArgument.parse("-7d", now: now) == now - 7 * 86_400)
        #expect(TimeArgument.parse("1764400000", now: now) == 1_764_400_000)
        #expect(TimeArgument.parse("2026-11-29T10:00:00Z", now: now) == 1_795_946_400)
        #expect(TimeArgument.parse("2026-11-29T11:00:00+01:00", now: now) == 1_795_946_400)
        #expect(TimeArgument.parse("2026-11-29t11:00:00.5+01:00", now: now) == 1_795_946_400.5)
        #expect(TimeArgument.parse("2026-11-29", now: now) == 1_795_910_400)
        #expect(TimeArgument.parse("2028-02-29", now: now) == 1_835_395_200)
        #expect(TimeArgument.parse("1764400000.25", now: now) == 1_764_400_000.25)
        // Exactly the documented forms (the OpenAPI patterns): nothing looser, nothing that does not exist.
        for text in ["yesterday", "-5x", "2026-02-30", "2026-13-01", "2026-11-29T24:00:00Z", "2026-11-29T10:00:00",
                     "2026-11-29 10:00:00Z", "1e9", " 1764400000", "0x10", "inf", "nan", "+5", "-15 m", "Now", ""] {
            #expect(TimeArgument.parse(text, now: now) == nil, "\(text) was accepted")
        }
        // The patterns the document publishes accept what the parser accepts and refuse what it refuses (shape only:
        // "2026-02-30" has the shape of a date; the document's `format: date` rules it out).
        let patterns = [TimeArgument.unixSecondsPattern, TimeArgument.relativePattern, TimeArgument.datePattern,
                        TimeArgument.dateTimePattern]
        for text in ["now", "-15m", "-0.5h", "1764400000", "-1.5", "2026-11-29", "2026-11-29T10:00:00.25z",
                     "2026-11-29T10:00:00-05:30", "yesterday", "1e9", "+5", "2026-11-29T10:00:00"] {
            let shaped = patterns.contains { text.wholeMatch(of: try! Regex(String($0.dropFirst().dropLast()))) != nil }
            #expect(shaped == (TimeArgument.parse(text, now: now) != nil), "\(text)")
        }
    }

    @Test func tokenComparison() {
        let token = APIToken(value: "0123456789abcdef0123456789abcdef", file: "/dev/null")
        #expect(token.accepts(authorization: "Bearer 0123456789abcdef0123456789abcdef"))
        #expect(token.accepts(authorization: "bearer 0123456789abcdef0123456789abcdef"))
        #expect(!token.accepts(authorization: nil))
        #expect(!token.accepts(authorization: "Bearer 0123456789abcdef0123456789abcde"))
        #expect(!token.accepts(authorization: "Bearer 0123456789abcdef0123456789abcdef0"))
        #expect(!token.accepts(authorization: "Basic 0123456789abcdef0123456789abcdef"))
        #expect(!token.accepts(authorization: "0123456789abcdef0123456789abcdef"))
    }
}
