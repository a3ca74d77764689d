import Foundation
import Glibc
import RigdTestKit
import Testing

/// Issue 25: a virtual run recorded (`rigd run --virtual --record FILE`), looked at with `rigd view` and
/// `rigd report` in headless Chromium (`recording_check.py`, next to this file), exported with `rigd export --log`,
/// and cut short by kill -9. The long virtual runs use the release build (`scripts/test` builds it).
@Suite("Recorded virtual runs")
struct RecordingTests {
    static let checker = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("recording_check.py").path
    static let pondWeek = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("examples/pond-week.toml").path

    private func directory(_ label: String) throws -> String {
        let dir = NSTemporaryDirectory() + "rigd-recording-\(label)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    private func reportWithoutWallTime(_ path: String) throws -> NSDictionary {
        var report = try readReport(path)
        report["wall_s"] = nil
        return report as NSDictionary
    }

    /// Recording must not change the run: the same seed gives the same report with and without it (the demo plant
    /// with a run on every kind that has runs, so samples, settings, relays, events and runs are all recorded).
    @Test func aRecordedRunReportsTheSameAsOneNotRecorded() throws {
        let dir = try directory("same")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let rigd = try rigdReleaseBinary()
        let common = ["run", "--virtual", "--for", "40m", "--start-run", "--seed", "7"]
        let plain = try runToCompletion(rigd, common + ["--report", dir + "/plain.json"], timeout: 300)
        try #require(plain.status == 0, "rigd run: \(plain.stderr.suffix(2000))")
        let recorded = try runToCompletion(rigd, common + ["--report", dir + "/recorded.json",
                                                           "--record", dir + "/run.rigdlog"], timeout: 300)
        try #require(recorded.status == 0, "rigd run --record: \(recorded.stderr.suffix(2000))")
        #expect(recorded.stderr.contains("recording written: \(dir)/run.rigdlog"))
        let a = try reportWithoutWallTime(dir + "/plain.json")
        let b = try reportWithoutWallTime(dir + "/recorded.json")
        #expect(a == b, "the reports differ with --record")

        // What was recorded: pond-1's samples (its loop reads every 10 s: a sample per read, the record interval being
        // 1 s), the heat rig's run, and its setpoint as the ramp moved it.
        let samples = try runToCompletion(rigd, ["export", "--log", dir + "/run.rigdlog", "--station", "pond-1"])
        #expect(samples.status == 0, "\(samples.stderr)")
        let rows = samples.stdout.split(separator: "\r\n").count - 1
        #expect((240...241).contains(rows), "pond-1: \(rows) sample rows for 40 min read every 10 s")
        #expect(samples.stdout.hasPrefix("time_utc,unix_s,do_mgl,"))
        let runs = try runToCompletion(rigd, ["export", "--log", dir + "/run.rigdlog", "--station", "heat-rig-1",
                                              "--what", "runs"])
        #expect(runs.stdout.contains(",completed,"), "heat-rig-1's runs: \(runs.stdout)")
        let page = dir + "/run.html"
        let report = try runToCompletion(rigd, ["report", dir + "/run.rigdlog", "-o", page])
        #expect(report.status == 0, "\(report.stderr)")
        let html = try String(contentsOfFile: page, encoding: .utf8)
        #expect(html.contains("\"channel\":\"setpoint_c\"") && html.contains("\"step\":true"),
                "the heat rig's setpoint is not plotted")

        // A recording is never overwritten; --record needs the virtual clock.
        let again = try runToCompletion(rigd, common + ["--record", dir + "/run.rigdlog"])
        #expect(again.status == 73 && again.stderr.contains("the file exists"), "\(again.status): \(again.stderr)")
        let real = try runToCompletion(rigd, ["run", "--record", dir + "/x.rigdlog"])
        #expect(real.status == 64 && real.stderr.contains("--record needs --virtual"), "\(real.stderr)")
    }

    /// A week of a pond at 1-minute resolution: the viewer shows DO across all seven days, the report (small enough
    /// to mail) draws every plot from a file with no network and no console errors.
    @Test func aWeekOfAPondIsSeenInTheViewerAndTheReport() throws {
        let dir = try directory("week")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let rigd = try rigdReleaseBinary()
        let recording = dir + "/pond.rigdlog"
        let run = try runToCompletion(rigd, ["run", "--config", Self.pondWeek, "--virtual", "--for", "7d",
                                             "--record", recording, "--record-interval", "60",
                                             "--report", dir + "/report.json"], timeout: 300)
        try #require(run.status == 0, "rigd run: \(run.stderr.suffix(2000))")
        let page = dir + "/pond.html"
        let report = try runToCompletion(rigd, ["report", recording, "-o", page])
        try #require(report.status == 0, "rigd report: \(report.stderr)")
        let size = try FileManager.default.attributesOfItem(atPath: page)[.size] as? Int ?? 0
        #expect(size > 0 && size <= 5_000_000, "the report is \(size) bytes")
        let html = try String(contentsOfFile: page, encoding: .utf8)
        #expect(html.contains("downsampling"), "the page does not say it is downsampled")

        let view = try ChildProcess(rigd, ["view", recording, "--http", "127.0.0.1:0"])
        defer { view.signal(SIGTERM); _ = view.waitForExit(timeout: 10) }
        var url: String?
        _ = view.wait(for: 30) { _, err in
            if let range = err.range(of: #"http://127\.0\.0\.1:[0-9]+/"#, options: .regularExpression) {
                url = String(err[range])
            }
            return url != nil
        }
        let base = try #require(url, "rigd view did not say where it listens: \(view.stderr)")
        let artifacts = DashboardTests.artifactDirectory()
        let check = try runToCompletion("/usr/bin/env", ["python3", Self.checker, base, page, "controlled", "7",
                                                         artifacts], timeout: 300)
        #expect(check.status == 0, "recording_check.py failed (exit \(check.status)):\n\(check.stdout)\n\(check.stderr)")

        let alarms = try runToCompletion(rigd, ["export", "--log", recording, "--station", "unaerated",
                                                "--what", "alarms"])
        #expect(alarms.status == 0 && alarms.stdout.contains("do_critical"),
                "the unaerated pond's alarms: \(alarms.stderr) \(alarms.stdout.prefix(500))")
        view.signal(SIGTERM)
        #expect(view.waitForExit(timeout: 10) == 0, "rigd view after SIGTERM: \(view.stderr.suffix(1000))")
    }

    /// A recording cut short by kill -9 opens cleanly with what was committed, and says it was cut short.
    @Test func aRecordingCutShortByKillOpensWithWhatWasCommitted() throws {
        let dir = try directory("killed")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let rigd = try rigdReleaseBinary()
        let recording = dir + "/cut.rigdlog"
        let run = try ChildProcess(rigd, ["run", "--config", Self.pondWeek, "--virtual", "--for", "3650d",
                                          "--record", recording, "--record-interval", "60"])
        #expect(run.wait(for: 60) { _, err in err.contains("recording the run into") }, "\(run.stderr)")
        Thread.sleep(forTimeInterval: 2)
        run.signal(SIGKILL)
        _ = run.waitForExit(timeout: 10)

        let export = try runToCompletion(rigd, ["export", "--log", recording, "--station", "controlled"])
        #expect(export.status == 0, "rigd export of a killed recording: \(export.stderr)")
        let rows = export.stdout.split(separator: "\r\n").count - 1
        #expect(rows > 100, "only \(rows) rows were committed in 2 s")
        let page = dir + "/cut.html"
        let report = try runToCompletion(rigd, ["report", recording, "-o", page])
        #expect(report.status == 0, "rigd report of a killed recording: \(report.stderr)")
        let html = (try? String(contentsOfFile: page, encoding: .utf8)) ?? ""
        #expect(html.contains("\"cut_short\":true"), "the page does not say the recording was cut short")
    }

    /// A recording an older rigd made (before the settings table) still opens; one a newer rigd made is refused.
    @Test func anOlderRecordingOpensAndANewerOneIsRefused() throws {
        let dir = try directory("schemas")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let rigd = try rigdBinary()
        let recording = dir + "/old.rigdlog"
        let run = try runToCompletion(rigd, ["run", "--config", Self.pondWeek, "--virtual", "--for", "2h",
                                             "--record", recording], timeout: 120)
        try #require(run.status == 0, "\(run.stderr.suffix(2000))")
        func sql(_ statements: String) throws {
            let edit = try runToCompletion("/usr/bin/env", ["python3", "-c", """
                import sqlite3, sys
                db = sqlite3.connect(sys.argv[1]); db.executescript(sys.argv[2]); db.commit()
                """, recording, statements])
            try #require(edit.status == 0, "\(edit.stderr)")
        }
        // As rigd 0.1.0 before migration v8 wrote it.
        try sql("DROP TABLE setting_sample; DELETE FROM grdb_migrations WHERE identifier LIKE 'v8:%';")
        let older = try runToCompletion(rigd, ["report", recording, "-o", dir + "/old.html"])
        #expect(older.status == 0, "an older recording: \(older.stderr)")
        let export = try runToCompletion(rigd, ["export", "--log", recording, "--station", "controlled"])
        #expect(export.status == 0, "an older recording's export: \(export.stderr)")
        try sql("INSERT INTO grdb_migrations (identifier) VALUES ('v99: from the future');")
        let newer = try runToCompletion(rigd, ["report", recording, "-o", dir + "/new.html"])
        #expect(newer.status == 69 && newer.stderr.contains("written by a newer rigd"), "\(newer.stderr)")
    }

    /// Files that are not recordings are refused with the file's name.
    @Test func whatIsNotARecordingIsRefusedByName() throws {
        let rigd = try rigdBinary()
        let missing = try runToCompletion(rigd, ["report", "/nonexistent/run.rigdlog", "-o", "/tmp/x.html"])
        #expect(missing.status == 69 && missing.stderr.contains("/nonexistent/run.rigdlog"), "\(missing.stderr)")
        let text = try temporaryFile("not a database\n", suffix: ".rigdlog")
        defer { unlink(text) }
        let garbage = try runToCompletion(rigd, ["view", text, "--http", "127.0.0.1:0"])
        #expect(garbage.status == 65 && garbage.stderr.contains(text), "\(garbage.status): \(garbage.stderr)")
        let points = try runToCompletion(rigd, ["report", text, "-o", "/tmp/x.html", "--points", "3"])
        #expect(points.status == 64 && points.stderr.contains("--points"), "\(points.stderr)")
    }
}
