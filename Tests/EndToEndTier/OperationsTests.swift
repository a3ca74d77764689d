import Daemon
import Foundation
import GRDB
import RigdTestKit
import Stations
import SwiftCSV
import Testing

/// Issue 6 acceptance: the HTTP API's token rules, the data log across a kill -9, Prometheus metrics, CSV export.
@Suite("Operations: API, data log, metrics, export")
struct OperationsTests {
    static let heatRigConfig = """
    [[station]]
    name = "rig-ops"
    kind = "heat-rig"
    address = "tcp://127.0.0.1:1"
    probe_timeout_ms = 200
    [station.sim]
    preset = "fast"
    [station.control]
    setpoint_c = 40
    """

    private func setpoint(_ base: String) async throws -> Double? {
        let station = try await http("GET", base + "/api/stations/rig-ops").json
        return (station?["results"] as? [String: Any])?["setpoint_c"] as? Double
    }

    @Test func writesNeedTheTokenAndInvalidValuesChangeNothing() async throws {
        let config = try temporaryFile(Self.heatRigConfig)
        defer { unlink(config) }
        let rigd = try ChildProcess(try rigdBinary(), ["run", "--config", config, "--status-every", "0"])
        let base = try rigd.apiBase()
        let dataDir = try #require(rigd.dataDirectory)
        let tokenFile = dataDir + "/api-token"
        var info = stat()
        #expect(stat(tokenFile, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600, "token file mode \(String(info.st_mode & 0o777, radix: 8))")
        let token = try String(contentsOfFile: tokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(token.count >= 32)

        // Reads need no token on loopback; the station shows it is simulated.
        let list = try await http("GET", base + "/api/stations")
        #expect(list.status == 200)
        let stations = list.json?["stations"] as? [[String: Any]]
        #expect(stations?.first?["mode"] as? String == "simulated")
        var before: Double?
        for _ in 0..<50 where before == nil {
            before = try await setpoint(base)
            if before == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(before == 40)

        let setBody = #"{"name": "setpoint_c", "value": 55}"#
        let anonymous = try await http("POST", base + "/api/stations/rig-ops/setpoints", body: setBody)
        #expect(anonymous.status == 401)
        #expect(anonymous.json?["error"] as? String == "unauthorized")
        let wrong = try await http("POST", base + "/api/stations/rig-ops/setpoints", body: setBody,
                                   token: String(token.dropLast()) + (token.last == "0" ? "1" : "0"))
        #expect(wrong.status == 401)
        let outOfRange = try await http("POST", base + "/api/stations/rig-ops/setpoints",
                                        body: #"{"name": "setpoint_c", "value": 999}"#, token: token)
        #expect(outOfRange.status == 422)
        let reason = outOfRange.json?["reason"] as? String ?? ""
        #expect(reason.contains("setpoint_c") && reason.contains("85"), "\(reason)")
        let unknown = try await http("POST", base + "/api/stations/nope/setpoints", body: setBody, token: token)
        #expect(unknown.status == 404)
        #expect(unknown.json?["error"] as? String == "unknown_station")
        try await Task.sleep(for: .milliseconds(600))
        #expect(try await setpoint(base) == 40, "a refused write changed the setpoint")

        let accepted = try await http("POST", base + "/api/stations/rig-ops/setpoints", body: setBody, token: token)
        #expect(accepted.status == 200, "\(accepted.text)")
        #expect(try await setpoint(base) == 55)

        // Prometheus accepts the exposition, and it carries the station's series.
        let metrics = try await http("GET", base + "/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.text.contains(#"rigd_link_up{station="rig-ops",mode="simulated"} 1"#))
        #expect(metrics.text.contains("rigd_loop_lateness_seconds_bucket{station=\"rig-ops\""))
        let check = try promtoolCheck(metrics.text)
        #expect(check.status == 0, "promtool: \(check.output)")
        #expect(check.output.isEmpty, "promtool: \(check.output)")

        try await Task.sleep(for: .milliseconds(600))  // the data log commits every 0.25 s
        rigd.signal(SIGTERM)
        #expect(rigd.waitForExit(timeout: 15) == 0, "\(rigd.stderr.suffix(2000))")

        // Only what reached the station was recorded: one rejection (the 422) and one acceptance; the 401s and the
        // 404 never got that far.
        let events = try runToCompletion(try rigdBinary(), ["export", "--station", "rig-ops", "--what", "events",
                                                            "--data-dir", dataDir])
        #expect(events.status == 0, "\(events.stderr)")
        let parsed = try CSV<Named>(string: events.stdout)
        let kinds = parsed.rows.compactMap { $0["kind"] }
        #expect(kinds.filter { $0 == "request_accepted" }.count == 1, "\(kinds)")
        #expect(kinds.filter { $0 == "request_rejected" }.count == 1, "\(kinds)")
        // Messages hold quotes and commas: RFC 4180 quoting must bring them back intact.
        let db = try DataLog.openForReading(path: DataLog.path(in: dataDir))
        let messages = try await db.read { db in
            try String.fetchAll(db, sql: "SELECT message FROM event WHERE station = 'rig-ops' ORDER BY t, id")
        }
        #expect(parsed.rows.compactMap { $0["message"] } == messages)
        #expect(messages.contains { $0.contains("\"") && $0.contains(",") }, "\(messages)")
    }

    @Test func exportRoundTripsThroughACSVParser() async throws {
        let config = try temporaryFile(Self.heatRigConfig)
        defer { unlink(config) }
        let run = try runToCompletion(try rigdBinary(), ["run", "--config", config, "--for", "4s", "--status-every", "0",
                                                         "--data-dir", NSTemporaryDirectory() + "rigd-export-\(UUID())"],
                                      timeout: 30)
        #expect(run.status == 0, "\(run.stderr.suffix(2000))")
        let dataDir = try #require(run.stderr.components(separatedBy: "data log: ").dropFirst().first?
            .components(separatedBy: "/rigd.sqlite").first)
        let db = try DataLog.openForReading(path: DataLog.path(in: dataDir))
        let (times, readings, channels) = try await db.read { db in
            (try Int.fetchOne(db, sql: """
                SELECT COUNT(DISTINCT s.t) FROM sample s JOIN channel c ON c.id = s.channel_id WHERE c.station = 'rig-ops'
                """) ?? 0,
             try Int.fetchOne(db, sql: """
                SELECT COUNT(*) FROM sample s JOIN channel c ON c.id = s.channel_id WHERE c.station = 'rig-ops'
                """) ?? 0,
             try String.fetchAll(db, sql: "SELECT name FROM channel WHERE station = 'rig-ops' ORDER BY id"))
        }
        #expect(times >= 3, "only \(times) sample times in 4 s")  // one a second by default

        let output = NSTemporaryDirectory() + "rigd-export-\(UUID()).csv"
        defer { unlink(output) }
        let wide = try runToCompletion(try rigdBinary(), ["export", "--station", "rig-ops", "--data-dir", dataDir,
                                                          "--format", "csv", "--output", output])
        #expect(wide.status == 0, "\(wide.stderr)")
        let text = try String(contentsOfFile: output, encoding: .utf8)
        #expect(text.contains("\r\n"), "RFC 4180 rows end in CRLF")
        let csv = try CSV<Named>(string: text)
        #expect(csv.header == ["time_utc", "unix_s"] + channels)
        #expect(csv.rows.count == times)
        let firstValue = csv.rows.first?[channels[0]].flatMap(Double.init)
        #expect(firstValue != nil, "\(String(describing: csv.rows.first))")

        let long = try runToCompletion(try rigdBinary(), ["export", "--station", "rig-ops", "--data-dir", dataDir,
                                                          "--layout", "long"])
        #expect(long.status == 0)
        #expect(try CSV<Named>(string: long.stdout).rows.count == readings)

        // A window keeps only its rows; an unknown station is an error naming the ones there are.
        let unix = csv.rows.compactMap { $0["unix_s"].flatMap(Double.init) }
        let windowed = try runToCompletion(try rigdBinary(), ["export", "--station", "rig-ops", "--data-dir", dataDir,
                                                              "--from", String(unix[1]), "--to", String(unix[1])])
        #expect(try CSV<Named>(string: windowed.stdout).rows.count == 1)
        let unknown = try runToCompletion(try rigdBinary(), ["export", "--station", "nope", "--data-dir", dataDir])
        #expect(unknown.status != 0)
        #expect(unknown.stderr.contains("rig-ops"), "\(unknown.stderr)")
    }

    /// Issue 18 item 10: a pond's logged series (here every 2 s, sampling every 0.5 s) is stored apart from the
    /// regular samples (here every 5 s) and exported with `--series logged`, also through the API.
    @Test func theLoggedSeriesIsStoredAndExported() async throws {
        let config = try temporaryFile("""
        [[station]]
        name = "pond-log"
        kind = "aqua-sonde"
        address = "sim://"
        [station.control]
        sample_every_s = 0.5
        log_every_s = 2
        [daemon]
        record_interval_s = 5
        """)
        defer { unlink(config) }
        let dataDir = NSTemporaryDirectory() + "rigd-logged-\(UUID())"
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let rigd = try ChildProcess(try rigdBinary(), ["run", "--config", config, "--status-every", "0",
                                                       "--data-dir", dataDir, "--http", "127.0.0.1:0"])
        let base = try rigd.apiBase()
        try await Task.sleep(for: .seconds(9))
        let api = try await http("GET", base + "/api/stations/pond-log/export.csv?series=logged&from=-1h")
        #expect(api.status == 200 && api.text.hasPrefix("time_utc,unix_s,do_mgl"), "\(api.status) \(api.text.prefix(300))")
        #expect(try await http("GET", base + "/api/stations/pond-log/export.csv?series=daily").status == 422)
        rigd.signal(SIGTERM)
        #expect(rigd.waitForExit(timeout: 10) == 0, "\(rigd.stderr.suffix(2000))")

        let logged = try runToCompletion(try rigdBinary(), ["export", "--station", "pond-log", "--data-dir", dataDir,
                                                            "--series", "logged"])
        #expect(logged.status == 0, "\(logged.stderr)")
        let rows = try CSV<Named>(string: logged.stdout).rows
        let times = rows.compactMap { $0["unix_s"].flatMap(Double.init) }
        let gaps = zip(times.dropFirst(), times).map { $0 - $1 }
        #expect(times.count >= 3 && gaps.allSatisfy { abs($0 - 2) < 0.05 }, "logged times \(times)")
        let empty = logged.stdout.split(separator: "\n").enumerated().filter { i, line in
            i > 0 && rows.indices.contains(i - 1) && rows[i - 1]["do_mgl"].flatMap(Double.init) == nil
        }.map { "line \($0.offset + 1): \($0.element)" }
        #expect(empty.isEmpty, "logged rows without do_mgl: \(empty) (stdout \(logged.stdout.utf8.count) bytes)")
        #expect(logged.stderr.contains("logged sample row(s) of pond-log"), "\(logged.stderr)")
        let regular = try runToCompletion(try rigdBinary(), ["export", "--station", "pond-log", "--data-dir", dataDir])
        let regularRows = try CSV<Named>(string: regular.stdout).rows.count
        #expect(regularRows >= 1 && regularRows < times.count, "regular \(regularRows), logged \(times.count)")
        let bad = try runToCompletion(try rigdBinary(), ["export", "--station", "pond-log", "--data-dir", dataDir,
                                                         "--series", "daily"])
        #expect(bad.status == 64 && bad.stderr.contains("regular") && bad.stderr.contains("logged"), "\(bad.stderr)")
    }

    @Test func killDashNineDuringARunThenRestart() async throws {
        let config = try temporaryFile("""
        [[station]]
        name = "ext-kill"
        kind = "extraction"
        address = "tcp://127.0.0.1:1"
        probe_timeout_ms = 200
        [station.control]
        start_run = true
        [daemon]
        record_interval_s = 0.1
        """)
        defer { unlink(config) }
        let dataDir = NSTemporaryDirectory() + "rigd-kill-\(UUID())"
        let rigd = try ChildProcess(try rigdBinary(), ["run", "--config", config, "--status-every", "0",
                                                       "--data-dir", dataDir])
        #expect(rigd.wait(for: 20) { _, err in err.contains("run 1 started") }, "\(rigd.stderr.suffix(2000))")
        try await Task.sleep(for: .seconds(3))
        let killedAt = Date().timeIntervalSince1970
        rigd.signal(SIGKILL)
        #expect(rigd.waitForExit(timeout: 10) == SIGKILL)

        let restart = try runToCompletion(try rigdBinary(), ["run", "--config", config, "--for", "2s",
                                                             "--status-every", "0", "--data-dir", dataDir], timeout: 30)
        #expect(restart.status == 0, "\(restart.stderr.suffix(2000))")
        #expect(restart.stderr.contains("did not stop cleanly; 1 run(s) recorded as aborted"), "\(restart.stderr)")

        let db = try DataLog.openForReading(path: DataLog.path(in: dataDir))
        try await db.read { db in
            #expect(try String.fetchOne(db, sql: "PRAGMA integrity_check") == "ok")
            let sessions = try Row.fetchAll(db, sql: "SELECT id, ending, started_at FROM session ORDER BY id")
            #expect(sessions.map { $0["ending"] as String? } == ["unclean", "clean"])
            let first: Int64 = sessions[0]["id"]
            let second: Double = sessions[1]["started_at"]
            // Samples up to one second before the kill are there.
            let times = try Double.fetchAll(db, sql: "SELECT DISTINCT t FROM sample WHERE t < ? ORDER BY t",
                                            arguments: [second])
            let last = times.last ?? 0
            #expect(last >= killedAt - 1, "last sample \(killedAt - last) s before the kill")
            // … and none is missing before it (a sample every 0.1 s).
            let gaps = zip(times, times.dropFirst()).map { $1 - $0 }
            #expect(times.count > 20 && (gaps.max() ?? 99) < 0.5, "\(times.count) samples, largest gap \(gaps.max() ?? 0) s")
            let runs = try Row.fetchAll(db, sql: "SELECT session_id, outcome, reason FROM run ORDER BY id")
            #expect(runs.count == 2)
            #expect(runs[0]["session_id"] as Int64 == first)
            #expect(runs[0]["outcome"] as String == "aborted")
            #expect((runs[0]["reason"] as String).hasPrefix("unclean stop"), "\(runs[0])")
            // The restarted daemon's own run, cut short by its --for, is an ordinary (clean) abort.
            #expect(runs[1]["outcome"] as String == "aborted")
            #expect((runs[1]["reason"] as String).contains("rigd stopped during the run"), "\(runs[1])")
        }
    }

    @Test func aNetworkListenerNeedsAnExistingTokenFile() async throws {
        let config = try temporaryFile(Self.heatRigConfig)
        defer { unlink(config) }
        let dataDir = NSTemporaryDirectory() + "rigd-net-\(UUID())"
        let refused = try runToCompletion(try rigdBinary(), ["run", "--config", config, "--http", "0.0.0.0:0",
                                                             "--data-dir", dataDir], timeout: 20)
        #expect(refused.status == ExitStatus.config)
        #expect(refused.stderr.contains("http = 0.0.0.0:0 is reachable from other machines"), "\(refused.stderr)")
        #expect(refused.stderr.contains(dataDir + "/api-token"))
        #expect(!FileManager.default.fileExists(atPath: dataDir + "/api-token"), "rigd invented a network token")

        // With a token file, it serves, and reads need the token too.
        try "0123456789abcdef0123456789abcdef\n".write(toFile: dataDir + "/api-token", atomically: true, encoding: .utf8)
        let rigd = try ChildProcess(try rigdBinary(), ["run", "--config", config, "--http", "0.0.0.0:0",
                                                       "--data-dir", dataDir, "--status-every", "0"])
        let base = try rigd.apiBase().replacingOccurrences(of: "0.0.0.0", with: "127.0.0.1")
        #expect(try await http("GET", base + "/api/stations").status == 401)
        #expect(try await http("GET", base + "/api/stations", token: "0123456789abcdef0123456789abcdef").status == 200)

        // One rigd per data directory.
        let second = try runToCompletion(try rigdBinary(), ["run", "--config", config, "--data-dir", dataDir],
                                         timeout: 20)
        #expect(second.status == ExitStatus.unavailable)
        #expect(second.stderr.contains("another rigd (pid \(rigd.process.processIdentifier))"), "\(second.stderr)")
        rigd.signal(SIGTERM)
        #expect(rigd.waitForExit(timeout: 15) == 0)
    }
}

@Suite("Operations: start-up refusals")
struct OperationsStartupTests {
    @Test func aTakenHTTPPortStopsRigdInOrder() throws {
        let (fd, port) = loopbackSocket(listening: true)
        defer { close(fd) }
        let config = try temporaryFile(OperationsTests.heatRigConfig)
        defer { unlink(config) }
        let r = try runToCompletion(try rigdBinary(), ["run", "--config", config, "--http", "127.0.0.1:\(port)",
                                                       "--for", "30s"], timeout: 30)
        #expect(r.status == ExitStatus.software)
        #expect(r.stderr.contains("HTTP API on 127.0.0.1:\(port) failed"), "\(r.stderr.suffix(2000))")
        #expect(r.stderr.contains("Address already in use"))
        #expect(r.stderr.contains("station rig-ops: safe state driven"))
    }
}
