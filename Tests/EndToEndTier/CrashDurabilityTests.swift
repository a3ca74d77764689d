import Daemon
import Foundation
import GRDB
import RigdTestKit
import Testing

/// Issue 10: kill -9 at random points of a run, ten times over one data log. After every kill, what the log had
/// committed is read back before the next start; after all of them, every row committed before a kill is still there,
/// the database is intact, and every run a kill interrupted is marked aborted.
@Suite struct CrashDurabilityTests {
    struct Committed {
        let samples: Int
        let maxEvent: Int64
        let events: Int
        let maxRun: Int64
        let runs: Int
        let maxAlarm: Int64
        let alarms: Int
    }

    static func committed(_ dataDir: String) throws -> Committed {
        let db = try DataLog.openForReading(path: DataLog.path(in: dataDir))
        return try db.read { db in
            func int(_ sql: String) throws -> Int64 { try Int64.fetchOne(db, sql: sql) ?? 0 }
            return Committed(samples: Int(try int("SELECT COUNT(*) FROM sample")),
                             maxEvent: try int("SELECT MAX(id) FROM event"), events: Int(try int("SELECT COUNT(*) FROM event")),
                             maxRun: try int("SELECT MAX(id) FROM run"), runs: Int(try int("SELECT COUNT(*) FROM run")),
                             maxAlarm: try int("SELECT MAX(id) FROM alarm"), alarms: Int(try int("SELECT COUNT(*) FROM alarm")))
        }
    }

    /// Synchronous on purpose: the suite's long synchronous tests can hold every thread of Swift's cooperative pool
    /// (two on a two-core machine) for minutes, and an async test's sleeps would wait for them.
    @Test(.timeLimit(.minutes(5)))
    func tenKillsAtRandomPointsLoseNothingCommitted() throws {
        let config = try temporaryFile("""
        [[station]]
        name = "ext-crash"
        kind = "extraction"
        address = "sim://"
        [station.control]
        start_run = true
        [[station]]
        name = "pond-crash"
        kind = "aqua-sonde"
        address = "sim://"
        [daemon]
        record_interval_s = 0.05
        """)
        defer { unlink(config) }
        let dataDir = NSTemporaryDirectory() + "rigd-crash-\(UUID())"
        // A new seed each run explores new kill points; the seed is in every message, to replay one.
        let seed = UInt64(ProcessInfo.processInfo.environment["RIGD_CRASH_SEED"] ?? "")
            ?? UInt64(Date().timeIntervalSince1970 * 1000) % 1_000_000
        var random = SplitMix(seed: seed)
        var snapshots: [Committed] = []
        for kill in 1...10 {
            let rigd = try ChildProcess(try rigdBinary(), ["run", "--config", config, "--status-every", "0",
                                                           "--data-dir", dataDir, "--http", "off"])
            #expect(rigd.wait(for: 30) { _, err in err.contains("rigd running") }, "seed \(seed), kill \(kill): \(rigd.stderr.suffix(2000))")
            // Anywhere from before the run has started to a few seconds into it (a commit every 0.25 s).
            let delay = Double(random.next() % 3000) / 1000
            Thread.sleep(forTimeInterval: delay)
            rigd.signal(SIGKILL)
            #expect(rigd.waitForExit(timeout: 10) == SIGKILL)
            let now = try Self.committed(dataDir)
            if let before = snapshots.last {
                #expect(now.samples >= before.samples && now.events >= before.events,
                        "seed \(seed), kill \(kill): the log shrank")
            }
            snapshots.append(now)
        }
        let final = try runToCompletion(try rigdBinary(), ["run", "--config", config, "--for", "1s", "--status-every", "0",
                                                           "--data-dir", dataDir, "--http", "off"], timeout: 60)
        #expect(final.status == 0, "seed \(seed): \(final.stderr.suffix(2000))")

        let db = try DataLog.openForReading(path: DataLog.path(in: dataDir))
        let taken = snapshots
        try db.read { db in
            #expect(try String.fetchOne(db, sql: "PRAGMA integrity_check") == "ok", "seed \(seed)")
            let sessions = try String?.fetchAll(db, sql: "SELECT ending FROM session ORDER BY id")
            #expect(sessions == Array(repeating: "unclean", count: 10) + ["clean"], "seed \(seed): \(sessions)")
            // Nothing committed before a kill is gone: every row up to each snapshot's last id is still there.
            for (i, s) in taken.enumerated() {
                let events = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM event WHERE id <= ?", arguments: [s.maxEvent]) ?? 0
                let runs = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM run WHERE id <= ?", arguments: [s.maxRun]) ?? 0
                let alarms = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM alarm WHERE id <= ?", arguments: [s.maxAlarm]) ?? 0
                #expect(events == s.events && runs == s.runs && alarms == s.alarms,
                        "seed \(seed), after kill \(i + 1): events \(events)/\(s.events), runs \(runs)/\(s.runs), alarms \(alarms)/\(s.alarms)")
            }
            let samples = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM sample") ?? 0
            #expect(samples >= taken.last!.samples, "seed \(seed): \(samples) samples, \(taken.last!.samples) committed")
            // Every run of a killed session is aborted, with the unclean stop as its reason; none is left running.
            let killed = try Row.fetchAll(db, sql: """
                SELECT run.outcome, run.reason FROM run JOIN session ON session.id = run.session_id
                WHERE session.ending = 'unclean'
                """)
            #expect(killed.allSatisfy { ($0["outcome"] as String) == "aborted" && (($0["reason"] as String?) ?? "").hasPrefix("unclean stop") },
                    "seed \(seed): \(killed)")
            #expect(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM run WHERE outcome = 'running'") == 0)
            // Open alarms of killed sessions were closed at the session's last known moment.
            #expect(try Int.fetchOne(db, sql: """
                SELECT COUNT(*) FROM alarm JOIN session ON session.id = alarm.session_id
                WHERE session.ending = 'unclean' AND alarm.cleared_at IS NULL
                """) == 0)
            print("crash durability: seed \(seed), \(killed.count) interrupted run(s), \(samples) samples, \(taken.map(\.samples))")
        }
    }
}

/// A small seeded generator (SplitMix64), so a failing seed replays the same kill points.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE5_E9B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
