import Foundation
import Glibc
import RigdTestKit
import Testing

/// Sondes on a real RTU line (a socat pty pair) on the real clock: `rigd simulate --rtu` on one end, `rigd run` or
/// mbpoll on the other.
@Suite(.serialized) struct AquacultureEndToEndTests {
    /// Starts `rigd simulate --kind aqua-sonde --rtu` on `path` and waits for its "serving" lines.
    static func startSondes(_ path: String, units: String, extra: [String] = []) throws -> ChildProcess {
        let sim = try ChildProcess(try rigdBinary(), ["simulate", "--kind", "aqua-sonde", "--rtu", path,
                                                      "--units", units] + extra)
        let count = units.split(separator: ",").count
        guard sim.wait(for: 15, until: { out, _ in out.split(separator: "\n").filter { $0.hasPrefix("serving") }.count == count })
        else { throw TestFailure("rigd simulate --rtu did not start: \(sim.stderr)") }
        return sim
    }

    @Test func mbpollReadsTheSondeTypeAndDissolvedOxygen() throws {
        let pty = try PtyPair()
        let sim = try Self.startSondes(pty.a, units: "1,2,3")
        defer { sim.signal(SIGTERM) }
        let type = try runToCompletion("/usr/bin/mbpoll", ["-m", "rtu", "-b", "9600", "-P", "none", "-a", "2", "-t", "3",
                                                           "-r", "1", "-c", "1", "-1", pty.b], timeout: 20)
        #expect(type.status == 0, "mbpoll failed: \(type.stdout) \(type.stderr)")
        #expect(type.stdout.contains("[1]: \t2817"), "IR 0 of unit 2: \(type.stdout)")
        let oxygen = try runToCompletion("/usr/bin/mbpoll", ["-m", "rtu", "-b", "9600", "-P", "none", "-a", "2", "-t",
                                                             "3:float", "-B", "-r", "101", "-c", "1", "-1", pty.b],
                                         timeout: 20)
        #expect(oxygen.status == 0, "mbpoll failed: \(oxygen.stdout) \(oxygen.stderr)")
        let value = oxygen.stdout.split(separator: "\n").first { $0.hasPrefix("[101]:") }
            .flatMap { Double($0.split(separator: "\t").last?.trimmingCharacters(in: .whitespaces) ?? "") }
        #expect(value.map { (1...20).contains($0) } == true, "DO of unit 2 is not plausible: \(oxygen.stdout)")
    }

    @Test func aSilentSondeGoesSafeWhileTheOthersKeepTheirPollRate() throws {
        let pty = try PtyPair()
        let sim = try Self.startSondes(pty.a, units: "1,2,3", extra: ["--offline", "2@14"])
        defer { sim.signal(SIGTERM) }
        var toml = ""
        for unit in 1...3 {
            toml += """
            [[station]]
            name = "pond-\(unit)"
            kind = "aqua-sonde"
            address = "rtu://\(pty.b)?baud=9600&parity=N&unit=\(unit)"
            fallback = "fail"
            response_timeout_ms = 250
            [station.control]
            sample_every_s = 2
            log_every_s = 10

            """
        }
        let config = try temporaryFile(toml)
        let report = NSTemporaryDirectory() + "rigd-rtu-\(UUID().uuidString).json"
        let run = try runToCompletion(try rigdBinary(), ["run", "--config", config, "--for", "30s", "--report", report,
                                                         "--status-every", "0"], timeout: 90)
        #expect(run.status == 0, "rigd run failed: \(run.stderr)")
        #expect(run.stderr.contains("share the thread of serial line"), "one bus thread for the line")
        let json = try readReport(report)
        let stations = try #require(json["stations"] as? [[String: Any]])
        #expect(stations.count == 3)
        for station in stations {
            let name = station["name"] as? String ?? "?"
            let link = station["link"] as? [String: Double] ?? [:]
            let loops = station["loops"] as? [String: [String: Double]] ?? [:]
            let sample = loops["sample"] ?? [:]
            let results = station["results"] as? [String: Any] ?? [:]
            let alarms = (station["alarms"] as? [[String: Any]] ?? []).compactMap { $0["code"] as? String }
            print("RTU \(name): link \(link), sample loop \(sample), alarms \(alarms)")
            #expect(station["mode"] as? String == "real")
            #expect(sample["overruns"] == 0, "\(name) overran its 2 s sample loop: \(sample)")
            if name == "pond-2" {
                let lost = (station["alarms"] as? [[String: Any]] ?? []).first { $0["code"] as? String == "sonde_lost" }
                let raised = lost?["raised_s"] as? Double
                #expect(raised.map { (12...24).contains($0) } == true,
                        "sonde_lost must follow the unit going silent at ≈ 14 s within a few 2 s polls: \(String(describing: raised))")
                #expect(results["safe_state"] as? Bool == true)
                let relays = results["relays"] as? [String: Bool] ?? [:]
                #expect(relays["aerator-1"] == true && relays["aerator-2"] == true && relays["feeder"] == false)
                #expect((link["link_errors"] ?? 0) >= 1)
            } else {
                // 15 sample ticks in 30 s and 3 log ticks, each one snapshot of two transactions.
                #expect((13...16).contains(sample["ticks"] ?? 0), "\(name) lost its poll rate: \(sample)")
                #expect((link["transactions"] ?? 0) >= 2 * 15, "\(name): \(link)")
                #expect(link["link_errors"] == 0 && link["transaction_errors"] == 0, "\(name): \(link)")
                #expect(!alarms.contains("sonde_lost"))
                #expect(results["safe_state"] as? Bool == false)
            }
        }
    }
}
