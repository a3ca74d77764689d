import Foundation
import Glibc
import RigdTestKit
import Testing

/// Issue 8: the hardware-in-the-loop runner (`hil/run`, `hil/scenarios/`) — the sim set passes, a wrong assertion
/// fails with a message naming the scenario, the assertion and the observed value, and no process it started
/// survives an interruption.
@Suite(.serialized) struct HILRunnerTests {
    static let repository: URL = {
        var dir = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { dir.deleteLastPathComponent() }
        return dir
    }()
    static var runner: String { repository.appendingPathComponent("hil/run").path }
    static var scenarios: URL { repository.appendingPathComponent("hil/scenarios") }

    /// A new empty directory whose path is unique to this test run.
    private func temporaryDirectory(_ label: String) throws -> String {
        let path = NSTemporaryDirectory() + "rigd-hil-test-\(label)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// The `NAME="VALUE"` attributes of the first `<tag …>` in `xml`.
    private func attributes(of tag: String, in xml: String) -> [String: String] {
        guard let start = xml.range(of: "<\(tag) "), let end = xml[start.upperBound...].range(of: ">") else { return [:] }
        let text = String(xml[start.upperBound..<end.lowerBound])
        var out: [String: String] = [:]
        let regex = try! NSRegularExpression(pattern: #"([A-Za-z_:-]+)="([^"]*)""#)
        for m in regex.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
            let key = String(text[Range(m.range(at: 1), in: text)!])
            out[key] = String(text[Range(m.range(at: 2), in: text)!])
        }
        return out
    }

    private func count(_ needle: String, in text: String) -> Int {
        text.components(separatedBy: needle).count - 1
    }

    /// Pids of the processes whose command line mentions `text` (from /proc, so no pgrep is needed).
    private func processesMentioning(_ text: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> Int32? in
            guard let pid = Int32(entry), pid != getpid(),
                  let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { return nil }
            let cmdline = String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
            return cmdline.contains(text) ? pid : nil
        }
    }

    @Test(.timeLimit(.minutes(12)))
    func everyScenarioPassesAgainstTheSimulators() throws {
        let out = try temporaryDirectory("all")
        let junit = out + "/junit.xml"
        let (status, stdout, stderr) = try runToCompletion(
            Self.runner, ["--target", "sim", "--rigd", try rigdBinary(), "--junit", junit, "--out", out + "/logs"],
            timeout: 600)
        #expect(status == 0, "hil/run failed:\n\(stdout.suffix(6000))\n\(stderr.suffix(2000))")
        #expect(stdout.contains("RESULT: PASS"))

        let xml = try String(contentsOfFile: junit, encoding: .utf8)
        let totals = attributes(of: "testsuites", in: xml)
        #expect(totals["failures"] == "0" && totals["errors"] == "0", "JUnit totals: \(totals)")
        #expect(count("<failure", in: xml) == 0 && count("<error", in: xml) == 0)
        // One suite per scenario file, each with its assertions as test cases.
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.scenarios.path).filter { $0.hasSuffix(".toml") }
        #expect(files.count >= 8)
        #expect(count("<testsuite ", in: xml) == files.count, "\(files)")
        for file in files {
            let name = String(file.dropLast(".toml".count))
            #expect(xml.contains("<testsuite name=\"\(name)\""), "no test suite for \(file)")
        }
        #expect(Int(totals["tests"] ?? "0") ?? 0 >= 100, "JUnit totals: \(totals)")
        // Every device kind, and RTU, are exercised.
        let texts = try files.map { try String(contentsOf: Self.scenarios.appendingPathComponent($0), encoding: .utf8) }
        for kind in ["heat-rig", "extraction", "aqua-sonde", "cnc-mill", "msd-rig", "stream-station"] {
            #expect(texts.contains { $0.contains("kind = \"\(kind)\"") }, "no scenario for \(kind)")
        }
        #expect(texts.contains { $0.contains("transport = \"rtu\"") })
        // Each scenario's recording next to the JUnit file (issue 25), and one opens as a recording does.
        for file in files {
            let name = String(file.dropLast(".toml".count))
            #expect(FileManager.default.fileExists(atPath: "\(out)/\(name).rigdlog"), "no recording of \(name) in \(out)")
        }
        #expect(stdout.contains("rigd view \(out)/"), "the summary does not name the recordings:\n\(stdout.suffix(3000))")
        if let name = files.sorted().first.map({ String($0.dropLast(".toml".count)) }) {
            let page = "\(out)/\(name).html"
            let report = try runToCompletion(try rigdBinary(), ["report", "\(out)/\(name).rigdlog", "-o", page])
            #expect(report.status == 0, "rigd report of \(name)'s recording: \(report.stderr)")
            let html = (try? String(contentsOfFile: page, encoding: .utf8)) ?? ""
            #expect(html.contains("\"name\":\"") && html.contains("\"plots\":[{"), "the page has no station with plots")
        }
        #expect(processesMentioning(out).isEmpty, "processes left behind: \(processesMentioning(out))")
    }

    @Test(.timeLimit(.minutes(3)))
    func aWrongAssertionFailsWithTheScenarioTheAssertionAndTheObservedValue() throws {
        let dir = try temporaryDirectory("wrong")
        var text = try String(contentsOf: Self.scenarios.appendingPathComponent("heat-rig-sensor-lost.toml"),
                              encoding: .utf8)
        // The block heats from ≈ 22 °C towards 40 °C before the fault: a 60…70 °C band cannot hold. And the alarm
        // rigd raises for a lost block thermocouple is block_sensor_fault, not sensor_fault.
        text += """

            [[assert]]
            kind = "channel_band"
            station = "rig-1"
            channel = "block_temp_c"
            min = 60
            max = 70
            from_s = 0
            to_s = 4

            [[assert]]
            kind = "alarm_raised"
            station = "rig-1"
            code = "sensor_fault"
            after_s = 4.5
            within_s = 2.5

            """
        let scenario = dir + "/wrong.toml"
        try text.write(toFile: scenario, atomically: true, encoding: .utf8)
        let junit = dir + "/junit.xml"
        let (status, stdout, stderr) = try runToCompletion(
            Self.runner, [scenario, "--rigd", try rigdBinary(), "--junit", junit, "--out", dir + "/logs"],
            timeout: 150)
        #expect(status == 1, "exit status \(status):\n\(stdout.suffix(4000))\n\(stderr.suffix(2000))")
        #expect(stdout.contains("RESULT: FAIL"))

        // The band: scenario, assertion, and the values seen.
        let band = "heat-rig-sensor-lost: channel_band block_temp_c on rig-1 within 60…70 from 0 s to 4 s: "
        let bandLine = stdout.split(separator: "\n").first { $0.contains(band) }.map(String.init)
        #expect(bandLine != nil, "no failure line for the band:\n\(stdout.suffix(4000))")
        if let bandLine {
            #expect(bandLine.contains("samples outside the band, first "))
            let regex = try NSRegularExpression(pattern: #"range seen ([0-9.]+)…([0-9.]+)"#)
            let match = regex.firstMatch(in: bandLine, range: NSRange(bandLine.startIndex..., in: bandLine))
            #expect(match != nil, "\(bandLine)")
            if let match, let low = Double(bandLine[Range(match.range(at: 1), in: bandLine)!]),
               let high = Double(bandLine[Range(match.range(at: 2), in: bandLine)!]) {
                #expect(low > 15 && high < 45 && low <= high, "observed range \(low)…\(high) in: \(bandLine)")
            }
        }
        // The alarm: not raised, and the alarms that were.
        let alarm = "heat-rig-sensor-lost: alarm_raised sensor_fault on rig-1 within 2.5 s after 4.5 s: not raised "
            + "(alarms seen: block_sensor_fault at "
        #expect(stdout.contains(alarm), "no failure line for the alarm:\n\(stdout.suffix(4000))")

        // JUnit: exactly these two failures, with their messages; the scenario's own assertions still pass.
        let xml = try String(contentsOfFile: junit, encoding: .utf8)
        let totals = attributes(of: "testsuites", in: xml)
        #expect(totals["failures"] == "2" && totals["errors"] == "0", "JUnit totals: \(totals)")
        #expect(xml.contains("<failure message=\"\(band)"))
        #expect(xml.contains("alarm_raised sensor_fault on rig-1"))
        #expect(processesMentioning(dir).isEmpty)
    }

    @Test(.timeLimit(.minutes(3)))
    func anInterruptedRunLeavesNoProcessBehind() throws {
        let dir = try temporaryDirectory("sigint")
        // The RTU scenario starts all three kinds of process: socat, rigd simulate, rigd run.
        let runner = try ChildProcess(Self.runner, ["aqua-sonde-rtu", "--rigd", try rigdBinary(), "--out", dir])
        let midway = runner.wait(for: 60) { out, _ in out.contains("fault on sondes") }
        #expect(midway, "the scenario did not get going:\n\(runner.stdout.suffix(3000))\n\(runner.stderr)")
        let started = startedProcesses(runner.stdout)
        #expect(Set(started.map(\.role)) == ["socat-sondes", "sim-sondes", "rigd"], "\(started)")
        for (role, pid) in started { #expect(processAlive(pid), "\(role) (pid \(pid)) should be running mid-scenario") }
        #expect(processesMentioning(dir).count >= 3, "every process of the scenario has the --out path in its arguments")

        runner.signal(SIGINT)
        let status = runner.waitForExit(timeout: 40)
        #expect(status == 130, "exit status \(String(describing: status)):\n\(runner.stdout.suffix(3000))")
        #expect(runner.stdout.contains("INTERRUPTED by SIGINT"))
        #expect(runner.stdout.contains("aqua-sonde-rtu: interrupted by SIGINT"))
        for (role, pid) in started { #expect(!processAlive(pid), "\(role) (pid \(pid)) survived the interrupted runner") }
        #expect(processesMentioning(dir).isEmpty, "left behind: \(processesMentioning(dir))")
        // rigd was stopped, not killed: its stations drove their safe state.
        let log = try String(contentsOfFile: dir + "/aqua-sonde-rtu/rigd.stderr.log", encoding: .utf8)
        #expect(log.contains("received SIGTERM") && log.contains("safe state driven"), "\(log.suffix(2000))")
    }

    @Test(.timeLimit(.minutes(3)))
    func aKilledRunnerTakesItsProcessesWithIt() throws {
        let dir = try temporaryDirectory("sigkill")
        let runner = try ChildProcess(Self.runner, ["heat-rig-offline", "--rigd", try rigdBinary(), "--out", dir])
        let midway = runner.wait(for: 60) { out, _ in out.contains("rigd's API is up") }
        #expect(midway, "the scenario did not get going:\n\(runner.stdout.suffix(3000))\n\(runner.stderr)")
        let started = startedProcesses(runner.stdout)
        #expect(started.count == 2, "\(started)")
        // No cleanup code runs on SIGKILL: the children's parent-death signal (SIGTERM) must do it.
        runner.signal(SIGKILL)
        _ = runner.waitForExit(timeout: 10)
        let end = Date().addingTimeInterval(20)
        while Date() < end, started.contains(where: { processAlive($0.pid) }) { Thread.sleep(forTimeInterval: 0.1) }
        for (role, pid) in started { #expect(!processAlive(pid), "\(role) (pid \(pid)) survived the killed runner") }
    }

    @Test func anInvalidScenarioIsRefusedBeforeAnythingStarts() throws {
        let dir = try temporaryDirectory("invalid")
        var text = try String(contentsOf: Self.scenarios.appendingPathComponent("heat-rig-sensor-lost.toml"),
                              encoding: .utf8)
        text = text.replacingOccurrences(of: "fallback = \"fail\"", with: "fallback = \"simulate\"")
        let scenario = dir + "/invalid.toml"
        try text.write(toFile: scenario, atomically: true, encoding: .utf8)
        let (status, _, stderr) = try runToCompletion(Self.runner, [scenario, "--rigd", try rigdBinary(),
                                                                    "--out", dir + "/logs"], timeout: 30)
        #expect(status == 2)
        #expect(stderr.contains("fallback = \"fail\""), "\(stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/logs"), "nothing may start for an invalid file")
    }
}
