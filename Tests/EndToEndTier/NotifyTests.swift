import Daemon
import Foundation
import Glibc
import RigdTestKit
import Stations
import Testing

/// Issue 23 item 1: alarm notifications. The caps on an hour of virtual time; the `[[notify]]` tables' validation;
/// and a real rigd over a real simulator on Modbus TCP whose sensor is lost and whose link then goes, delivering to a
/// local HTTP receiver (generic JSON that fails twice first, Slack) and a fake sendmail that records its input.
@Suite("Notifications")
struct NotifyTests {
    static let receiver = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/webhook_receiver.py").path

    @Test func aFlappingAlarmForAnHourSendsAtMostTheCap() {
        var policy = NotifyPolicy(maxPerHour: 10, minInterval: 300)
        var out: [(Double, Outgoing)] = []
        var offered = 0
        // Raised and cleared every 10 s for an hour, with a tick every second between.
        for second in 0..<3600 {
            let t = Double(second)
            if second % 10 == 0 {
                let event: NotifyTarget.Event = (second / 10) % 2 == 0 ? .raised : .cleared
                offered += 1
                out += policy.offer(Notice(event: event, station: "pond-1", code: "do_low", severity: "alarm",
                                           message: "DO low", t: t), now: t).map { (t, $0) }
            }
            out += policy.tick(now: t).map { (t, $0) }
        }
        #expect(out.count <= 10, "\(out.count) messages in an hour")
        #expect(out.first.map { $0.0 == 0 && $0.1 == .notice(Notice(event: .raised, station: "pond-1", code: "do_low",
                                                                    severity: "alarm", message: "DO low", t: 0)) } == true,
                "the first raise goes out at once")
        // Nothing is lost: each notice was sent alone, is in a digest, or is still held for the next one.
        let alone = out.filter { if case .notice = $0.1 { true } else { false } }.count
        let digested = out.reduce(0) { n, o in if case .digest(let held, _) = o.1 { n + held.count } else { n } }
        #expect(alone + digested + policy.held.count == offered, "\(alone) + \(digested) + \(policy.held.count) ≠ \(offered)")
        #expect(digested > 0, "the held-back notices went out in digests")
        // Distinct alarms within the cap all go out at once.
        var fresh = NotifyPolicy(maxPerHour: 5, minInterval: 300)
        let sent = (0..<5).flatMap { i in
            fresh.offer(Notice(event: .raised, station: "s\(i)", code: "c", severity: "trip", message: "m", t: 0), now: 0)
        }
        #expect(sent.count == 5)
        #expect(fresh.offer(Notice(event: .raised, station: "s9", code: "c", severity: "trip", message: "m", t: 1), now: 1).isEmpty,
                "the sixth in the hour is held")
    }

    @Test func notifyTablesAreCheckedWithTheirKeysNamed() {
        func issues(_ notify: String) -> [String] {
            let text = """
                [[station]]
                name = "rig"
                kind = "heat-rig"
                address = "sim://"
                \(notify)
                """
            do {
                _ = try ConfigLoader.parse(text, source: "n.toml")
                return []
            } catch {
                return error.issues.map(\.description)
            }
        }
        #expect(issues("[[notify]]\nname = \"a\"\nwebhook = \"https://h.example/x\"\nformat = \"slack\"").isEmpty)
        #expect(issues("[[notify]]\nname = \"a\"\nemail = [\"ops@farm.example\"]").isEmpty)
        let both = issues("[[notify]]\nname = \"a\"\nwebhook = \"https://h/x\"\nemail = [\"o@f\"]")
        #expect(both.contains { $0.contains("not both") }, "\(both)")
        #expect(issues("[[notify]]\nname = \"a\"").contains { $0.contains("needs webhook") })
        #expect(issues("[[notify]]\nname = \"a\"\nwebhook = \"ftp://h/x\"").contains { $0.contains("http:// or https://") })
        #expect(issues("[[notify]]\nname = \"a\"\nwebhook = \"https://h/x\"\nstations = [\"nope\"]")
                .contains { $0.contains("\"nope\", which is not a station") })
        #expect(issues("[[notify]]\nname = \"a\"\nwebhook = \"https://h/x\"\nevents = [\"exploded\"]")
                .contains { $0.contains("\"exploded\" is not an event") })
        #expect(issues("[[notify]]\nname = \"a\"\nwebhook = \"https://h/x\"\nmax_per_hour = 0")
                .contains { $0.contains("max_per_hour") })
        #expect(issues("[[notify]]\nname = \"a\"\nemail = [\"a, b@c\"]").contains { $0.contains("is not one e-mail address") })
        #expect(issues("[[notify]]\nname = \"a\"\nwebhook = \"https://h/x\"\ncolour = \"red\"").contains { $0.contains("colour") })
        let twice = issues("[[notify]]\nname = \"a\"\nwebhook = \"https://h/x\"\n[[notify]]\nname = \"a\"\nwebhook = \"https://h/y\"")
        #expect(twice.contains { $0.contains("used by another [[notify]]") }, "\(twice)")
    }

    @Test func alarmsAndALostLinkReachAWebhookSlackAndSendmail() async throws {
        let dir = NSTemporaryDirectory() + "rigd-notify-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let posts = dir + "/posts.jsonl"
        let receiver = try ChildProcess("/usr/bin/env", ["python3", Self.receiver, posts, "2"])
        defer { receiver.signal(SIGTERM); _ = receiver.waitForExit(timeout: 5) }
        #expect(receiver.wait(for: 10) { out, _ in out.contains("listening ") })
        let port = try #require(receiver.stdout.split(separator: " ").last.flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
        let mail = dir + "/mail.txt"
        let sendmail = dir + "/sendmail"
        try "#!/bin/sh\necho \"ARGS $*\" >> \(mail)\ncat >> \(mail)\n".write(toFile: sendmail, atomically: true, encoding: .utf8)
        chmod(sendmail, 0o755)

        let (sim, simPort) = try startSimulator(["--control", "127.0.0.1:0"])
        defer { sim.signal(SIGTERM); _ = sim.waitForExit(timeout: 5) }
        let control = try #require(controlAddress(sim), "no control address: \(sim.stdout)")
        let config = dir + "/rigd.toml"
        try """
            [[station]]
            name = "rig"
            kind = "heat-rig"
            address = "tcp://127.0.0.1:\(simPort)"
            fallback = "fail"

            [[notify]]
            name = "generic"
            webhook = "http://127.0.0.1:\(port)/generic"
            min_interval_s = 0

            [[notify]]
            name = "chat"
            webhook = "http://127.0.0.1:\(port)/slack"
            format = "slack"
            severities = ["trip"]
            events = ["raised"]

            [[notify]]
            name = "mail"
            email = ["ops@farm.example", "vet@farm.example"]
            sendmail = "\(sendmail)"
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let rigd = try ChildProcess(try rigdBinary(), ["run", "--config", config, "--data-dir", dir + "/data",
                                                       "--http", "127.0.0.1:0", "--status-every", "0"])
        defer { rigd.signal(SIGTERM); _ = rigd.waitForExit(timeout: 15) }
        let base = try rigd.apiBase()

        func received() -> [[String: Any]] {
            ((try? String(contentsOfFile: posts, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
                (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
            }
        }
        func body(_ post: [String: Any]) -> [String: Any] {
            ((try? JSONSerialization.jsonObject(with: Data((post["body"] as? String ?? "").utf8))) as? [String: Any]) ?? [:]
        }

        let fault = try runToCompletion(try rigdBinary(), ["fault", "--control", control, "channel", "block_temp_c", "lost"])
        #expect(fault.status == 0, "\(fault.stderr)")
        // The generic webhook answers 500 twice: rigd retries after 2 and 4 s, then it is delivered.
        var delivered: [String: Any]?
        for _ in 0..<100 where delivered == nil {
            delivered = received().first { $0["path"] as? String == "/generic" && $0["answered"] as? Int == 200
                && body($0)["code"] as? String == "block_sensor_fault" }
            if delivered == nil { try await Task.sleep(for: .milliseconds(200)) }
        }
        let generic = body(try #require(delivered, "no delivery to /generic: \(received())\n\(rigd.stderr.suffix(2000))"))
        #expect(generic["event"] as? String == "raised" && generic["station"] as? String == "rig"
                && generic["severity"] as? String == "trip", "\(generic)")
        #expect(received().filter { $0["path"] as? String == "/generic" && $0["answered"] as? Int == 500 }.count == 2)
        // Slack's target takes trips' raises only: one message (answered 500 twice, then delivered).
        var slack: [[String: Any]] = []
        for _ in 0..<50 where slack.isEmpty {
            slack = received().filter { $0["path"] as? String == "/slack" && $0["answered"] as? Int == 200 }
            if slack.isEmpty { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(slack.count == 1, "\(slack)")
        #expect((body(slack.first ?? [:])["text"] as? String ?? "").contains("rig: ALARM block_sensor_fault raised (trip)"),
                "\(slack)")
        var mailText = ""
        for _ in 0..<50 where !mailText.contains("block_sensor_fault") {
            mailText = (try? String(contentsOfFile: mail, encoding: .utf8)) ?? ""
            if !mailText.contains("block_sensor_fault") { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(mailText.contains("ARGS -t -oi"), "\(mailText)")
        #expect(mailText.contains("To: ops@farm.example, vet@farm.example\nSubject: [rigd] rig: ALARM block_sensor_fault raised (trip)"),
                "\(mailText)")

        // The counters, in the API and in Prometheus.
        let list = try await http("GET", base + "/api/notify").json?["targets"] as? [[String: Any]] ?? []
        let counters = Dictionary(uniqueKeysWithValues: list.map { ($0["name"] as? String ?? "", $0) })
        #expect(counters["generic"]?["retried"] as? Int == 2 && counters["generic"]?["sent"] as? Int == 1, "\(list)")
        #expect(counters["mail"]?["sent"] as? Int == 1, "\(list)")
        let metrics = try await http("GET", base + "/metrics").text
        #expect(metrics.contains(#"rigd_notify_retries_total{target="generic"} 2"#), "\(metrics.suffix(1500))")

        // The link goes: the simulator is stopped.
        sim.signal(SIGTERM)
        _ = sim.waitForExit(timeout: 5)
        var lost = false
        for _ in 0..<75 where !lost {
            lost = received().contains { body($0)["event"] as? String == "link_lost" && $0["answered"] as? Int == 200 }
            if !lost { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(lost, "no link_lost notification: \(received().map { $0["body"] ?? "" })")

        // A test message from the API (admin) and from the command line.
        let token = try String(contentsOfFile: dir + "/data/api-token", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let test = try await http("POST", base + "/api/notify/chat/test", token: token)
        #expect(test.status == 200 && test.json?["delivered"] as? Bool == true, "\(test.text)")
        let cli = try runToCompletion(try rigdBinary(), ["notify", "test", "generic", "--config", config])
        #expect(cli.status == 0 && cli.stdout.contains("delivered a test message to generic"), "\(cli.stdout)\(cli.stderr)")
        let unknown = try runToCompletion(try rigdBinary(), ["notify", "test", "nobody", "--config", config])
        #expect(unknown.status == 64 && unknown.stderr.contains("generic, chat, mail"), "\(unknown.stderr)")
        // A target that does not answer: the reason, exit 69.
        let dead = dir + "/dead.toml"
        try "[[station]]\nname = \"rig\"\nkind = \"heat-rig\"\naddress = \"sim://\"\n[[notify]]\nname = \"dead\"\nwebhook = \"http://127.0.0.1:1/x\"\ntimeout_s = 2\n"
            .write(toFile: dead, atomically: true, encoding: .utf8)
        let refused = try runToCompletion(try rigdBinary(), ["notify", "test", "dead", "--config", dead], timeout: 30)
        #expect(refused.status == 69 && refused.stderr.contains("not delivered to dead: http://127.0.0.1:1/x"), "\(refused.stderr)")
    }
}
