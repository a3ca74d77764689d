import Daemon
import Foundation
import Glibc
import RigdTestKit
import Stations
import Testing

/// Issue 23 item 3: hand and auto through the API and `rigd hand` / `rigd auto`, on a running rigd: who may, what it
/// shows, what it records.
@Suite("Hand and auto: an operator holds an output")
struct HandAutoTests {
    @Test func anOperatorHoldsARelayAndEveryChangeIsRecorded() async throws {
        let config = try temporaryFile("""
            [daemon]
            hand_max_min = 5

            [[station]]
            name = "pond"
            kind = "aqua-sonde"
            address = "sim://"
            """)
        defer { unlink(config) }
        let rigd = try ChildProcess(try rigdBinary(), ["run", "--config", config, "--status-every", "0"])
        defer { try? FileManager.default.removeItem(atPath: rigd.dataDirectory ?? "/nonexistent") }
        let base = try rigd.apiBase()
        let dataDir = try #require(rigd.dataDirectory)
        let viewer = try addToken("vera", role: "viewer", dataDir: dataDir)
        let operatorToken = try addToken("otto", role: "operator", dataDir: dataDir)
        let operatorFile = try temporaryFile(operatorToken)
        defer { unlink(operatorFile) }

        // What may be held, and for how long at most, is in the station's status. Hand mode waits for the station's
        // first read of its device (a pond reads every 10 s).
        var station: [String: Any] = [:]
        for _ in 0..<150 {
            station = try await http("GET", base + "/api/stations/pond").json ?? [:]
            let channels = station["channels"] as? [[String: Any]] ?? []
            if channels.contains(where: { $0["value"] is Double }) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let outputs = (station["hand_outputs"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        #expect(outputs.starts(with: ["aerator-1", "aerator-2", "exchange", "feeder"]), "\(outputs)")
        #expect(station["hand_max_s"] as? Double == 300)

        // A viewer may not.
        let body = #"{"output": "aerator-1", "value": true, "minutes": 2, "why": "diffuser check"}"#
        let refused = try await http("POST", base + "/api/stations/pond/hand", body: body, token: viewer)
        #expect(refused.status == 403, "\(refused.text)")

        // Bad requests: each 422 with its reason, nothing held.
        for (bad, reason) in [
            (#"{"output": "aerator-1", "value": 1, "minutes": 10}"#, "at most 5 min"),
            (#"{"output": "aerator-1"}"#, "outputs of pond: aerator-1, aerator-2, exchange, feeder"),
            (#"{"output": "pump", "value": 1}"#, "pond has no output pump"),
            (#"{"output": "aerator-1", "value": 1, "why": "  "}"#, "why must be 1–200 characters"),
        ] {
            let reply = try await http("POST", base + "/api/stations/pond/hand", body: bad, token: operatorToken)
            #expect(reply.status == 422 && (reply.json?["reason"] as? String ?? "").contains(reason),
                    "\(bad): \(reply.status) \(reply.text)")
        }

        // `rigd hand` with the operator's token: held, shown, and marked in `rigd status`.
        let held = try runToCompletion(try rigdBinary(), ["hand", "pond", "aerator-1", "on", "--for", "2m", "--why",
                                                          "diffuser check", "--url", base, "--token-file", operatorFile])
        #expect(held.status == 0, "\(held.stderr)")
        #expect(held.stdout.contains("pond: hand aerator-1 = 1 for 2 min: diffuser check (by otto)"), "\(held.stdout)")
        station = try await http("GET", base + "/api/stations/pond").json ?? [:]
        let hand = station["hand"] as? [[String: Any]] ?? []
        #expect(hand.count == 1 && hand.first?["output"] as? String == "aerator-1" && hand.first?["by"] as? String == "otto"
                && hand.first?["why"] as? String == "diffuser check", "\(hand)")
        if let since = hand.first?["since"] as? Double, let until = hand.first?["until"] as? Double {
            #expect(abs(until - since - 120) < 0.01)
        }
        #expect((station["relays"] as? [String: Any])?["aerator-1"] as? Bool == true)
        let status = try runToCompletion(try rigdBinary(), ["status", "--url", base])
        #expect(status.stdout.contains("SIMULATED HAND"), "\(status.stdout)")

        // Auto: back to the controller; asked again, refused (exit 65) with the reason.
        let auto = try runToCompletion(try rigdBinary(), ["auto", "pond", "--why", "done", "--url", base,
                                                          "--token-file", operatorFile])
        #expect(auto.status == 0 && auto.stdout.contains("pond: auto every output: done (by otto)"),
                "\(auto.status) \(auto.stdout) \(auto.stderr)")
        let again = try runToCompletion(try rigdBinary(), ["auto", "pond", "aerator-1", "--url", base,
                                                           "--token-file", operatorFile])
        #expect(again.status == 65 && again.stderr.contains("aerator-1 is not in hand mode"), "\(again.stderr)")
        let noToken = try runToCompletion(try rigdBinary(), ["hand", "pond", "aerator-1", "on", "--url", base])
        #expect(noToken.status == 77, "\(noToken.status) \(noToken.stderr)")
        let after = try await http("GET", base + "/api/stations/pond").json?["hand"] as? [Any]
        #expect(after?.isEmpty == true, "\(String(describing: after))")

        // Both changes are events with who, in the data log.
        var events: [[String: Any]] = []
        for _ in 0..<50 {
            events = try await http("GET", base + "/api/events?station=pond").json?["events"] as? [[String: Any]] ?? []
            if events.contains(where: { $0["kind"] as? String == "auto" }) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let handEvent = events.first { $0["kind"] as? String == "hand" }
        #expect(handEvent?["actor"] as? String == "otto"
                && (handEvent?["message"] as? String ?? "").contains("aerator-1 ON in hand mode for 2 min: diffuser check"),
                "\(events)")
        let autoEvent = events.first { $0["kind"] as? String == "auto" }
        #expect(autoEvent?["actor"] as? String == "otto"
                && (autoEvent?["message"] as? String ?? "").contains("aerator-1 returned to auto: done"), "\(events)")
    }

    /// `[daemon] hand_max_min` is checked like every key: out of range, rigd refuses the file and names it.
    @Test func aHoldLimitOutOfRangeIsAConfigurationError() throws {
        let config = try temporaryFile("""
            [daemon]
            hand_max_min = 0

            [[station]]
            name = "pond"
            kind = "aqua-sonde"
            address = "sim://"
            """)
        defer { unlink(config) }
        let check = try runToCompletion(try rigdBinary(), ["check", "--config", config])
        #expect(check.status == 78 && check.stderr.contains("hand_max_min"), "\(check.status) \(check.stderr)")
    }
}
