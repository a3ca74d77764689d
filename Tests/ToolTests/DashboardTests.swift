import Foundation
import Glibc
import RigdTestKit
import Testing

/// The technicians' dashboard in a real browser: `dashboard_check.py` (next to this file) drives Debian's headless
/// Chromium through chromedriver with Selenium (PyPI) against `rigd run` on the embedded demo plant — every station
/// and its mode on the overview, a live value changing, a viewer's named token read-only, a setpoint changed with an operator's named token
/// and taking effect with the operator's name in the data log, a
/// rejected value's reason shown, read-only without the token, no console errors — and saves screenshots.
/// `scripts/test` installs chromium, chromium-driver, libjs-chart.js and selenium.
@Suite("Dashboard in a browser")
struct DashboardTests {
    static let checker = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("dashboard_check.py").path

    /// `$RIGD_TEST_ARTIFACTS`, else `<repository>/.build/test-artifacts`.
    static func artifactDirectory() -> String {
        if let dir = ProcessInfo.processInfo.environment["RIGD_TEST_ARTIFACTS"], !dir.isEmpty { return dir }
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return repository.appendingPathComponent(".build/test-artifacts").path
    }

    @Test func theDashboardWorksInABrowser() throws {
        let rigd = try ChildProcess(try rigdBinary(), ["run", "--status-every", "0"])
        defer { try? FileManager.default.removeItem(atPath: rigd.dataDirectory ?? "/nonexistent") }
        let base = try rigd.apiBase()
        let dataDirectory = try #require(rigd.dataDirectory, "ChildProcess gave rigd no data directory")
        let tokenFile = dataDirectory + "/api-token"
        let artifacts = Self.artifactDirectory()
        try FileManager.default.createDirectory(atPath: artifacts, withIntermediateDirectories: true)

        // Named tokens, added while rigd runs (it reads the tokens file again when it changes).
        var named: [String] = []
        for (name, role) in [("vera", "viewer"), ("otto", "operator")] {
            let add = try runToCompletion(try rigdBinary(), ["token", "add", name, "--role", role,
                                                             "--data-dir", dataDirectory], timeout: 30)
            try #require(add.status == 0, "rigd token add \(name): \(add.stderr)")
            let file = dataDirectory + "/\(name).token"
            try add.stdout.write(toFile: file, atomically: true, encoding: .utf8)
            named.append(file)
        }
        let check = try runToCompletion("/usr/bin/env", ["python3", Self.checker, base, tokenFile, artifacts] + named,
                                        timeout: 300)
        let output = check.stdout + (check.stderr.isEmpty ? "" : "\nstderr:\n" + check.stderr)
        print("dashboard screenshots: \(artifacts)/overview.png, \(artifacts)/station-heat-rig-1.png "
              + "(and *-full.png, *-tablet.png)")
        #expect(check.status == 0, "dashboard_check.py \(base) failed (exit \(check.status)):\n\(output)")

        rigd.signal(SIGTERM)
        let status = rigd.waitForExit(timeout: 20)
        let outcome = status.map { "exit \($0)" } ?? "still running after 20 s"
        #expect(status == 0, "rigd after SIGTERM: \(outcome)\n\(rigd.stderr.suffix(3000))")
    }

    /// Issue 18 item 13 on the dashboard: a station whose device answers as another kind shows as REFUSED with the
    /// reason, on the overview and its own page, in headless Chromium (the rendered DOM, after the page's scripts).
    @Test func aRefusedStationIsShownWithItsReason() throws {
        let (mill, port) = try startSimulator(kind: "cnc-mill")
        defer { mill.signal(SIGTERM); _ = mill.waitForExit(timeout: 5) }
        let config = try temporaryFile("""
            [[station]]
            name = "rig"
            kind = "heat-rig"
            address = "tcp://127.0.0.1:\(port)"
            probe_timeout_ms = 500
            [[station]]
            name = "spare"
            kind = "heat-rig"
            address = "sim://"
            """)
        defer { unlink(config) }
        let rigd = try ChildProcess(try rigdBinary(), ["run", "--config", config, "--status-every", "0"])
        defer { rigd.signal(SIGTERM); _ = rigd.waitForExit(timeout: 10) }
        let base = try rigd.apiBase()
        func dom(_ path: String) throws -> String {
            try runToCompletion("/usr/bin/chromium", ["--headless", "--no-sandbox", "--disable-gpu",
                                                      "--virtual-time-budget=5000", "--dump-dom", base + path],
                                timeout: 60).stdout
        }
        let overview = try dom("/")
        #expect(overview.contains("REFUSED — 1 station not started"), "\(overview.suffix(3000))")
        #expect(overview.contains("NOT STARTED") && overview.contains("answers as cnc-mill, not heat-rig (IR 0)"))
        let page = try dom("/dashboard/station/rig")
        #expect(page.contains("REFUSED STATION — the device at tcp://127.0.0.1:\(port) answers as cnc-mill"),
                "\(page.suffix(3000))")
    }
}
