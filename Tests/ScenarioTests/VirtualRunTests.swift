import Foundation
import Glibc
import RigdTestKit
import Testing

@Suite struct VirtualRunTests {
    /// Runs the heat rig alone on the virtual clock (release build, as a lab would run it); returns the parsed
    /// report and its text without the `wall_s` line.
    private func run(_ args: [String]) throws -> ([String: Any], String) {
        let report = NSTemporaryDirectory() + "rigd-virtual-\(UUID().uuidString).json"
        let config = try temporaryFile("""
        [[station]]
        name = "heat-rig-1"
        kind = "heat-rig"
        address = "sim://"
        [station.control]
        setpoint_c = 60
        """)
        defer { unlink(report); unlink(config) }
        let r = try runToCompletion(try rigdReleaseBinary(),
                                    ["run", "--virtual", "--config", config, "--report", report] + args, timeout: 60)
        #expect(r.status == 0, "\(r.stderr)")
        let data = try Data(contentsOf: URL(fileURLWithPath: report))
        let text = String(decoding: data, as: UTF8.self).split(separator: "\n")
            .filter { !$0.contains("\"wall_s\"") }.joined(separator: "\n")
        return (try #require(JSONSerialization.jsonObject(with: data) as? [String: Any]), text)
    }

    @Test func twoHourHeatUpAndHoldSettlesFastAndRepeatably() throws {
        let (a, aText) = try run(["--for", "2h", "--seed", "11"])
        let wall = a["wall_s"] as? Double ?? 99
        #expect(wall < 5, "2 h of plant time took \(wall) s of wall time")
        #expect(a["duration_s"] as? Double == 7200)
        let station = try #require((a["stations"] as? [[String: Any]])?.first)
        #expect(station["mode"] as? String == "simulated")
        #expect(station["kind"] as? String == "heat-rig")
        let results = try #require(station["results"] as? [String: Any])
        #expect(results["settled"] as? Bool == true)
        // Settled means inside ±0.5 °C from settled_s to the end: require that to be most of the run.
        #expect((results["settled_s"] as? Double ?? 9999) < 3600)
        #expect(abs((results["final_c"] as? Double ?? 0) - 60) <= 0.5)
        let block = try #require((station["channels"] as? [String: Any])?["block_temp_c"] as? [String: Any])
        #expect(block["samples"] as? Double == 14401)  // 2 Hz for 2 h, both ends
        #expect((block["p95"] as? Double ?? 0) > 59 && (block["max"] as? Double ?? 99) < 70)
        let loop = try #require((station["loops"] as? [String: Any])?["heater"] as? [String: Any])
        #expect(loop["ticks"] as? Double == 14401 && loop["overruns"] as? Double == 0)

        // Same seed: identical apart from wall_s. Another seed: different noise.
        let (_, bText) = try run(["--for", "2h", "--seed", "11"])
        #expect(aText == bText)
        #expect(aText.contains("\"block_temp_c\""))
        let (_, cText) = try run(["--for", "2h", "--seed", "12"])
        #expect(aText != cText)
    }

    @Test func virtualNeedsADuration() throws {
        let r = try runToCompletion(try rigdBinary(), ["run", "--virtual"])
        #expect(r.status == 64)
        #expect(r.stderr.contains("--virtual needs --for DURATION"))
    }
}
