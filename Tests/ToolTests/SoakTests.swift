import Foundation
import Glibc
import RigdTestKit
import Testing

/// Issue 10: the soak (`hil/soak`, hil/SOAK.md), short version for CI — two minutes of the demo plant's TCP device
/// kinds against `rigd simulate` processes that are killed and restarted, delayed beyond the response timeout and made
/// to answer with exceptions: loss detected and the station safe, reconnects spaced by the backoff, alarms cleared on
/// recovery, RSS within 5 % and threads flat after warm-up, failed transactions rate-limited in the log, a clean
/// SIGTERM stop and no process left behind.
@Suite(.serialized) struct SoakTests {
    static let repository: URL = {
        var dir = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { dir.deleteLastPathComponent() }
        return dir
    }()
    static var soak: String { repository.appendingPathComponent("hil/soak").path }

    /// The release build when there is one (`scripts/test` builds it: the soak measures rigd as it is deployed),
    /// else the debug build next to the tests.
    private func binary() throws -> String {
        if let release = try? rigdReleaseBinary() { return release }
        return try rigdBinary()
    }

    @Test(.timeLimit(.minutes(6)))
    func twoMinuteSoakPasses() throws {
        let dir = NSTemporaryDirectory() + "rigd-soak-test-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let junit = dir + "/soak.xml"
        let (status, stdout, stderr) = try runToCompletion(
            Self.soak, ["--minutes", "2", "--rigd", try binary(), "--junit", junit, "--out", dir + "/logs"],
            timeout: 330)
        // The summary (every check with its observed value) goes to the test log, pass or fail.
        let summary = stdout.range(of: "\nSoak events").map { String(stdout[$0.lowerBound...]) } ?? stdout
        print(summary)
        #expect(status == 0, "hil/soak failed (logs in \(dir)/logs):\n\(stdout.suffix(8000))\n\(stderr.suffix(2000))")
        #expect(stdout.contains("RESULT: PASS"))
        for check in ["on loss: link down and loss alarm active", "reconnect attempts spaced by the backoff",
                      "link back within the backoff bound", "on recovery the loss alarm clears",
                      "RSS after warm-up", "thread count flat", "failed transactions rate-limited in the log",
                      "rigd stops cleanly on SIGTERM", "every simulator stopped and no process left behind"] {
            #expect(stdout.contains("PASS  \(check)"), "no passing check \"\(check)\" in the summary")
        }

        let xml = try String(contentsOfFile: junit, encoding: .utf8)
        #expect(xml.contains("<testsuites name=\"soak\"") && xml.contains("failures=\"0\"")
                && xml.contains("errors=\"0\""), "\(xml.prefix(2000))")
        #expect(!xml.contains("<failure") && !xml.contains("<error"))

        // Every process it started — rigd and each incarnation of each simulator — is gone.
        let started = startedProcesses(stdout)
        #expect(started.contains { $0.role == "rigd" })
        #expect(started.filter { $0.role.hasPrefix("sim-") }.count > 6, "no simulator was restarted: \(started)")
        for (role, pid) in started { #expect(!processAlive(pid), "\(role) (pid \(pid)) survived the soak") }
    }
}
