import Foundation
import RigdTestKit
import Testing

/// Tests too long for the functional suite (scripts/test): scripts/test-deep runs them with RIGD_DEEP_TESTS=1.
@Suite("Deep tier", .enabled(if: ProcessInfo.processInfo.environment["RIGD_DEEP_TESTS"] == "1",
                             "deep tier: scripts/test-deep runs it (RIGD_DEEP_TESTS=1)"))
struct DeepTier {
    /// Issue 8 acceptance: 72 h of the whole demo plant on the virtual clock with a fault timeline, twice with one
    /// seed (the two runs go side by side); each fault gives its alarm, nothing before it, and the reports match.
    /// It is here, not in scripts/test, for its time: the demo plant runs at about 450× real time on the virtual clock
    /// (bench/run, virtual; the mill's and the MSD's 1 kHz plants set the pace), so 72 h take 9–11 minutes.
    @Test func seventyTwoHoursOfTheDemoPlantWithAFaultTimeline() throws {
        let faults = try temporaryFile("""
        [[fault]]
        at = "2h"
        station = "extractor-1"
        disturbance = "filter_clog"

        [[fault]]
        at = "6h"
        station = "pond-1"
        device = "offline"

        [[fault]]
        at = "7h"
        station = "pond-1"
        device = "online"

        [[fault]]
        at = "24h"
        station = "heat-rig-1"
        disturbance = "open_thermocouple"

        [[fault]]
        at = "26h"
        station = "heat-rig-1"
        clear_all = true

        [[fault]]
        at = "48h"
        station = "mill-1"
        disturbance = "guard_open"

        [[fault]]
        at = "60h"
        station = "msd-1"
        device_fault = "exception"
        code = 4
        """)
        defer { unlink(faults) }
        let paths = (0..<2).map { _ in NSTemporaryDirectory() + "rigd-72h-\(UUID()).json" }
        defer { for p in paths { unlink(p) } }
        let children = try paths.map { path in
            try ChildProcess(try rigdReleaseBinary(), ["run", "--virtual", "--for", "72h", "--seed", "5",
                                                       "--faults", faults, "--report", path])
        }
        var reports: [[String: Any]] = []
        for (child, path) in zip(children, paths) {
            let status = child.waitForExit(timeout: 2400)
            #expect(status == 0, "\(child.stderr.suffix(2000))")
            var report = try readReport(path)
            #expect(report["duration_s"] as? Double == 259_200)
            report["wall_s"] = nil
            reports.append(report)
        }
        let a = try JSONSerialization.data(withJSONObject: reports[0], options: [.sortedKeys])
        let b = try JSONSerialization.data(withJSONObject: reports[1], options: [.sortedKeys])
        #expect(a == b, "two 72 h runs with one seed and timeline differ")
        #expect((reports[0]["faults"] as? [Any])?.count == 7)

        let stations = reports[0]["stations"] as? [[String: Any]] ?? []
        func alarms(_ name: String, _ code: String) -> [(raised: Double, cleared: Double?)] {
            let station = stations.first { $0["name"] as? String == name }
            return (station?["alarms"] as? [[String: Any]] ?? []).filter { $0["code"] as? String == code }.map {
                ($0["raised_s"] as? Double ?? -1, $0["cleared_s"] as? Double)
            }
        }
        let h = 3600.0
        let expected: [(String, String, ClosedRange<Double>)] = [
            ("extractor-1", "replace_element", 2 * h...6 * h),
            ("pond-1", "sonde_lost", 6 * h...6 * h + 120),
            ("heat-rig-1", "block_sensor_fault", 24 * h...24 * h + 60),
            ("mill-1", "guard_open", 48 * h...48 * h + 60),
            ("msd-1", "device_unavailable", 60 * h...60 * h + 60),
        ]
        for (station, code, window) in expected {
            let seen = alarms(station, code)
            #expect(seen.count >= 1 && seen.allSatisfy { window.contains($0.raised) },
                    "\(station) \(code): expected in \(window), got \(seen)")
        }
        // Faults taken away clear their alarms.
        #expect(alarms("pond-1", "sonde_lost").first?.cleared.map { (7 * h...7 * h + 120).contains($0) } == true,
                "\(alarms("pond-1", "sonde_lost"))")
        #expect(alarms("heat-rig-1", "block_sensor_fault").first?.cleared.map { (26 * h...26 * h + 60).contains($0) }
                == true, "\(alarms("heat-rig-1", "block_sensor_fault"))")
    }

    /// Issue 22: the broker stopped for 2 minutes of a real-clock run (the functional suite's version stops it for
    /// 12 s), with and without rigd killed with -9 in the middle: every sample the data log recorded meanwhile
    /// arrives once, in order, flagged historical, after the broker returns, and in the historian's PostgreSQL.
    @Test(arguments: [false, true])
    func aTwoMinuteBrokerOutageLosesNoSample(killDuringOutage: Bool) throws {
        let outage = 120.0
        let f = try SparkplugHarness.outage(seconds: outage, killDuringOutage: killDuringOutage, historian: true)
        #expect(f.problems(outage: outage) == [])
    }
}
