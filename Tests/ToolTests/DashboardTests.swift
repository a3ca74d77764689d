import Foundation
import Glibc
import RigdTestKit
import Testing

/// The technicians' dashboard in a real browser: `dashboard_check.py` (next to this file) drives Debian's headless
/// Chromium through chromedriver with Selenium (PyPI) against `rigd run` on the embedded demo plant — every station
/// and its mode on the overview, a live value changing, a setpoint changed with the token and taking effect, a
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

        let check = try runToCompletion("/usr/bin/env", ["python3", Self.checker, base, tokenFile, artifacts],
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
}
