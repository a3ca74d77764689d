import Foundation
import RigdTestKit
import Testing

/// Many stations on the real clock (bench/run's scale section measures them; this checks behaviour).
@Suite struct ManyStationsTests {
    /// Every station thread is asked to stop at once. Before, each station was its own service and a service group
    /// stops one after another, each noticing within up to 100 ms: 1000 stations took about 55 s to stop, long
    /// enough for systemd's stop timeout to kill rigd before every station had driven its safe state.
    /// No time limit trait: its waits are bounded (90 s to start, 60 s to stop), and a trait's clock also counts the
    /// time the test waits for a thread of the cooperative pool, which a loaded machine made exceed 3 minutes.
    @Test func threeHundredStationsStopTogetherAndAllDriveTheirSafeState() throws {
        let count = 300
        let config = try temporaryFile((1...count).map {
            "[[station]]\nname = \"pond-\($0)\"\nkind = \"aqua-sonde\"\naddress = \"sim://\"\n"
        }.joined(separator: "\n"))
        let rigd = try ChildProcess(try rigdBinary(), ["run", "--config", config, "--http", "off",
                                                       "--status-every", "0", "--log-level", "notice"])
        #expect(rigd.wait(for: 90) { _, err in err.contains("rigd running \(count) station(s)") },
                "rigd did not start: \(rigd.stderr.suffix(2000))")
        Thread.sleep(forTimeInterval: 0.5)
        let signalled = Date()
        rigd.signal(SIGTERM)
        let status = rigd.waitForExit(timeout: 60)
        let stopping = Date().timeIntervalSince(signalled)
        #expect(status == 0, "rigd: \(rigd.stderr.suffix(2000))")
        // One stop delay for all: well under a second here; one after another it was about 15 s for 300.
        #expect(stopping < 5, "rigd took \(stopping) s to stop \(count) stations")
        let driven = rigd.stderr.components(separatedBy: "safe state driven").count - 1
        #expect(driven == count, "\(driven) of \(count) stations reported their safe state driven")
    }
}
