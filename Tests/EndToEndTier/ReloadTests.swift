import Daemon
import Foundation
import Glibc
import Locking
import RigdTestKit
import Stations
import Testing

/// Issue 23 part 6: hot reload of a running rigd (SIGHUP, `rigd reload`, POST /api/reload). A real device (a heat rig
/// served by `rigd simulate` over Modbus TCP) stays in the file unchanged through ten reloads under load, while
/// another station changes, one comes and goes, and a broken file is refused.
@Suite("Hot reload: unchanged stations keep running")
struct ReloadTests {
    /// The configuration with the real heat rig, a changing heat rig (its setpoint), a pond, mills for load, and the
    /// extra station when asked.
    private func configuration(port: Int, setpoint: Int, extra: Bool) -> String {
        var text = """
            [daemon]
            record_interval_s = 0.2

            [[station]]
            name = "steady"
            kind = "heat-rig"
            address = "tcp://127.0.0.1:\(port)"
            fallback = "fail"

            [[station]]
            name = "changing"
            kind = "heat-rig"
            address = "sim://"
            [station.control]
            setpoint_c = \(setpoint)

            [[station]]
            name = "pond"
            kind = "aqua-sonde"
            address = "sim://"

            """
        for i in 1...2 {
            text += "\n[[station]]\nname = \"load-\(i)\"\nkind = \"cnc-mill\"\naddress = \"sim://\"\n"
        }
        if extra { text += "\n[[station]]\nname = \"extra\"\nkind = \"msd-rig\"\naddress = \"sim://\"\n" }
        return text
    }

    /// The steady station's status: its link's transactions and reconnects, its loops' ticks and periods.
    private func steady(_ base: String) async throws
        -> (transactions: Int, reconnects: Int, ticks: [Int], periods: [Double], missed: Int, mode: String) {
        let status = try await http("GET", base + "/api/stations/steady").json ?? [:]
        let link = status["link"] as? [String: Any] ?? [:]
        let loops = status["loops"] as? [[String: Any]] ?? []
        return (link["transactions"] as? Int ?? -1, link["reconnects"] as? Int ?? -1,
                loops.map { $0["ticks"] as? Int ?? -1 }, loops.map { $0["period_s"] as? Double ?? 0 },
                loops.reduce(0) { $0 + ($1["missed_deadlines"] as? Int ?? 0) }, status["mode"] as? String ?? "")
    }

    private func names(_ base: String) async throws -> [String] {
        let list = try await http("GET", base + "/api/stations").json?["stations"] as? [[String: Any]] ?? []
        return list.compactMap { $0["name"] as? String }
    }

    @Test func tenReloadsUnderLoadLeaveAnUnchangedStationRunningWithoutAGap() async throws {
        let (sim, port) = try startSimulator(kind: "heat-rig")
        _ = sim
        let config = try temporaryFile(configuration(port: port, setpoint: 40, extra: false))
        defer { unlink(config) }
        let rigd = try ChildProcess(try rigdBinary(), ["run", "--config", config, "--status-every", "0"])
        defer { try? FileManager.default.removeItem(atPath: rigd.dataDirectory ?? "/nonexistent") }
        let base = try rigd.apiBase()
        let dataDir = try #require(rigd.dataDirectory)
        let admin = try String(contentsOfFile: dataDir + "/api-token", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let adminFile = try temporaryFile(admin)
        defer { unlink(adminFile) }
        let viewer = try addToken("vera", role: "viewer", dataDir: dataDir)
        let operatorToken = try addToken("otto", role: "operator", dataDir: dataDir)

        var before = try await steady(base)
        for _ in 0..<150 where (before.ticks.min() ?? 0) < 2 {
            try await Task.sleep(for: .milliseconds(100))
            before = try await steady(base)
        }
        #expect(before.mode == "real" && (before.ticks.min() ?? 0) >= 2, "\(before)")
        let started = Date().timeIntervalSince1970

        // Only an admin may reload.
        for token in [viewer, operatorToken] {
            let refused = try await http("POST", base + "/api/reload", token: token)
            #expect(refused.status == 403, "\(refused.status) \(refused.text)")
        }
        #expect(try await http("POST", base + "/api/reload").status == 401)

        // Load: besides the plant's five stations (two mills tick every 10 ms), a reader asks for every station's
        // status five times a second while the reloads run, as a dashboard's tabs would. Paced, not a tight loop: the
        // suite runs this test beside others whose serial-line timing a hammered API would starve (a tight loop here
        // ran for minutes in a fresh-clone run while RTU tests elsewhere timed out). It is stopped by a flag, not by
        // cancelling its task: a URLSession request cancelled mid-flight may never return on Linux.
        let reading = Locked(true)
        let reader = Task {
            var reads = 0
            while reading.withLock({ $0 }) {
                _ = try? await http("GET", base + "/api/stations")
                reads += 1
                try? await Task.sleep(for: .milliseconds(200))
            }
            return reads
        }
        defer { reading.withLock { $0 = false } }

        // Ten reloads, by the three ways in turn: the changing station's setpoint each time, the extra station in
        // every other file.
        for round in 1...10 {
            // At least a tick of every loop of the steady station between two looks at it (its loop ticks every 0.5 s).
            try await Task.sleep(for: .milliseconds(1100))
            let extra = round % 2 == 1
            try configuration(port: port, setpoint: 40 + round, extra: extra)
                .write(toFile: config, atomically: true, encoding: .utf8)
            let expectedAdded = extra ? ["extra"] : []
            let expectedRemoved = extra ? [] : ["extra"]
            switch round % 3 {
            case 0:
                let reply = try await http("POST", base + "/api/reload", token: admin)
                #expect(reply.status == 200, "round \(round): \(reply.status) \(reply.text)")
                let json = reply.json ?? [:]
                #expect(json["restarted"] as? [String] == ["changing"], "round \(round): \(json)")
                #expect(json["added"] as? [String] == expectedAdded && json["removed"] as? [String] == expectedRemoved,
                        "round \(round): \(json)")
                #expect((json["unchanged"] as? [String] ?? []).contains("steady"), "round \(round): \(json)")
                #expect(json["by"] as? String == "admin")
            case 1:
                let cli = try runToCompletion(try rigdBinary(), ["reload", "--url", base, "--token-file", adminFile])
                #expect(cli.status == 0, "round \(round): \(cli.status) \(cli.stderr)")
                #expect(cli.stdout.contains("restarted: changing"), "round \(round): \(cli.stdout)")
            default:
                // Waited for with the task asleep, not a blocking wait: the suite's other tests share the threads.
                let seen = rigd.stderr.components(separatedBy: "configuration reloaded from").count
                rigd.signal(SIGHUP)
                var reloaded = false
                for _ in 0..<300 where !reloaded {
                    try await Task.sleep(for: .milliseconds(100))
                    reloaded = rigd.stderr.components(separatedBy: "configuration reloaded from").count > seen
                }
                #expect(reloaded, "round \(round): no reload after SIGHUP: \(rigd.stderr.suffix(2000))")
            }
            let now = try await names(base)
            #expect(now.contains("extra") == extra && now.contains("steady"), "round \(round): \(now)")
            let after = try await steady(base)
            // The same station object: its counters went on, its link never reconnected.
            #expect(after.transactions > before.transactions && after.reconnects == 0, "round \(round): \(before) → \(after)")
            #expect(after.ticks.count == before.ticks.count && zip(before.ticks, after.ticks).allSatisfy { $0 <= $1 },
                    "round \(round): \(before.ticks) → \(after.ticks)")
            before = after
        }

        // The changing station runs with its last setpoint.
        let changing = try await http("GET", base + "/api/stations/changing").json ?? [:]
        let settings = changing["settings"] as? [[String: Any]] ?? []
        let setpoint = settings.first { $0["name"] as? String == "setpoint_c" }?["value"] as? Double
        #expect(setpoint == 50, "\(settings)")

        // A run in progress on a station that restarts ends as aborted, with the reason; the station that comes back
        // numbers its runs on (the data log keeps one run per station and number).
        let run = try await http("POST", base + "/api/stations/changing/run/start", body: "{}", token: operatorToken)
        #expect(run.status == 200, "\(run.status) \(run.text)")
        var runs: [[String: Any]] = []
        for _ in 0..<50 {
            runs = try await http("GET", base + "/api/runs?station=changing").json?["runs"] as? [[String: Any]] ?? []
            if runs.contains(where: { $0["outcome"] as? String == "running" }) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(runs.count == 1 && runs.first?["number"] as? Int == 1, "\(runs)")
        try configuration(port: port, setpoint: 51, extra: false).write(toFile: config, atomically: true, encoding: .utf8)
        let restarted = try await http("POST", base + "/api/reload", token: admin)
        #expect(restarted.json?["restarted"] as? [String] == ["changing"], "\(restarted.text)")
        let again = try await http("POST", base + "/api/stations/changing/run/start", body: "{}", token: operatorToken)
        #expect(again.status == 200, "\(again.status) \(again.text)")
        for _ in 0..<50 {
            runs = try await http("GET", base + "/api/runs?station=changing").json?["runs"] as? [[String: Any]] ?? []
            if runs.count == 2 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let first = runs.first { $0["number"] as? Int == 1 }
        #expect(first?["outcome"] as? String == "aborted"
                && (first?["reason"] as? String ?? "").contains("restarted by a configuration reload"), "\(runs)")
        #expect(runs.contains { $0["number"] as? Int == 2 && $0["outcome"] as? String == "running" }, "\(runs)")
        let changingRun = try await http("GET", base + "/api/stations/changing").json?["run"] as? [String: Any]
        #expect(changingRun?["number"] as? Int == 2, "\(String(describing: changingRun))")

        // A broken file is refused whole, with its problem named by file and line; nothing changes.
        let good = try String(contentsOfFile: config, encoding: .utf8)
        try (good.replacingOccurrences(of: "setpoint_c = 51", with: "setpoint_c = 500")
             + "\n[[station]]\nname = \"late\"\nkind = \"aqua-sonde\"\naddress = \"sim://\"\n")
            .write(toFile: config, atomically: true, encoding: .utf8)
        let refused = try await http("POST", base + "/api/reload", token: admin)
        #expect(refused.status == 422, "\(refused.status) \(refused.text)")
        let errors = refused.json?["errors"] as? [String] ?? []
        #expect(errors.contains { $0.contains("\(config):") && $0.contains("setpoint_c") }, "\(errors)")
        #expect(refused.json?["applied"] as? Bool == false)
        #expect(!(try await names(base)).contains("late"))
        let cli = try runToCompletion(try rigdBinary(), ["reload", "--url", base, "--token-file", adminFile])
        #expect(cli.status == 65 && cli.stderr.contains("setpoint_c"), "\(cli.status) \(cli.stderr)")
        try good.write(toFile: config, atomically: true, encoding: .utf8)

        // The steady station's samples have no gap across all of it: one at every tick of its control loop (it records
        // at most every 0.2 s, and its loop is slower).
        let interval = max(0.2, before.periods.min() ?? 0)
        let reply = try await http("GET", base + "/api/stations/steady/samples?channel=block_temp_c&from=\(started)")
        let times = (reply.json?["samples"] as? [[String: Any]] ?? []).compactMap { $0["t"] as? Double }.sorted()
        #expect(Double(times.count) > 10 / interval, "\(reply.text.prefix(500))")
        // A tick the machine's load made miss its deadline is skipped on the loop's grid, and counted by the loop: only
        // such a gap may be there (a reload that stopped or held up the station would leave one it did not count).
        let gaps = zip(times.dropFirst(), times).map { $0 - $1 }.filter { $0 > interval * 1.5 }
        let missed = try await steady(base).missed
        #expect(gaps.count <= missed, "gaps \(gaps) s in \(times.count) samples (every \(interval) s), \(missed) missed deadlines")
        #expect(!rigd.stderr.contains("station steady: safe state driven"), "the steady station was never stopped")

        // Every reload is an event with who asked; the extra station's removal too (the data log commits every 0.25 s).
        var events: [[String: Any]] = []
        for _ in 0..<50 {
            events = try await http("GET", base + "/api/events").json?["events"] as? [[String: Any]] ?? []
            if events.contains(where: { $0["kind"] as? String == "config_reload_refused" }) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let reloads = events.filter { $0["kind"] as? String == "config_reloaded" }
        #expect(reloads.count == 11, "\(reloads.count) config_reloaded events")
        #expect(Set(reloads.compactMap { $0["actor"] as? String }) == ["admin", "SIGHUP"], "\(reloads)")
        #expect(events.contains { $0["kind"] as? String == "config_reload_refused" })
        #expect(events.contains { $0["kind"] as? String == "station_removed" && $0["station"] as? String == "extra" })
        reading.withLock { $0 = false }
        #expect(await reader.value > 10, "the reader kept reading")

        // Stopping still drives every station's safe state, the restarted and added ones included.
        rigd.signal(SIGTERM)
        #expect(rigd.waitForExit(timeout: 30) == 0)
        for name in ["steady", "changing", "pond"] {
            #expect(rigd.stderr.contains("station \(name): safe state driven"), "\(name)")
        }
    }
}
