import Foundation
import RigdTestKit
import Testing

/// Many stations on the real clock (bench/run's scale section measures them; this checks behaviour).
@Suite struct ManyStationsTests {
    /// SIGTERM stops every station, and every one drives its safe state before rigd exits 0. (That every station
    /// thread is asked to stop at once, so 300 stations stop in one stop delay rather than 300, is asserted without a
    /// clock by StationServiceStopTests; bench/run's scale section measures the time to stop.)
    /// No time limit trait: its waits are bounded (90 s to start, 60 s to stop), and a trait's clock also counts the
    /// time the test waits for a thread of the cooperative pool, which a loaded machine made exceed 3 minutes.
    @Test func threeHundredStationsStopOnSIGTERMAndAllDriveTheirSafeState() throws {
        let count = 300
        let config = try temporaryFile((1...count).map {
            "[[station]]\nname = \"pond-\($0)\"\nkind = \"aqua-sonde\"\naddress = \"sim://\"\n"
        }.joined(separator: "\n"))
        let rigd = try ChildProcess(try rigdBinary(), ["run", "--config", config, "--http", "off",
                                                       "--status-every", "0", "--log-level", "notice"])
        #expect(rigd.wait(for: 90) { _, err in err.contains("rigd running \(count) station(s)") },
                "rigd did not start: \(rigd.stderr.suffix(2000))")
        Thread.sleep(forTimeInterval: 0.5)
        rigd.signal(SIGTERM)
        let status = rigd.waitForExit(timeout: 60)
        #expect(status == 0, "rigd: \(rigd.stderr.suffix(2000))")
        let driven = rigd.stderr.components(separatedBy: "safe state driven").count - 1
        #expect(driven == count, "\(driven) of \(count) stations reported their safe state driven")
    }
}
