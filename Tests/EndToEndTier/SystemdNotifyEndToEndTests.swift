import Foundation
import RigdTestKit
import Testing

/// rigd under a stand-in for systemd: READY once wired, STATUS lines, WATCHDOG pets while every loop is alive —
/// and no more pets once a loop hangs — then STOPPING on SIGTERM.
@Suite("systemd notify, end to end")
struct SystemdNotifyEndToEndTests {
    @Test func readyPetsStatusThenPetsStopWhenALoopHangsThenStopping() throws {
        let socket = try FakeNotifySocket()
        defer { socket.close() }
        let config = try temporaryFile("""
        [daemon]
        watchdog_stall_s = 1

        [[station]]
        name = "rig-a"
        kind = "heat-rig"
        address = "tcp://127.0.0.1:1"
        probe_timeout_ms = 200

        [[station]]
        name = "rig-b"
        kind = "heat-rig"
        address = "tcp://127.0.0.1:1"
        probe_timeout_ms = 200
        """)
        defer { unlink(config) }
        let hangAfter = 4.0
        let started = FakeNotifySocket.monotonicNow()
        let rigd = try ChildProcess(try rigdBinary(), ["run", "--config", config, "--status-every", "0",
                                                       "--debug-hang", "rig-b@\(hangAfter)"],
                                    environment: ["NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "1000000"])
        defer { rigd.signal(SIGKILL) }
        #expect(socket.waitFor(prefix: "READY=1", timeout: 20), "\(rigd.stderr.suffix(2000))")
        let status = socket.lines(withPrefix: "STATUS=").first?.line ?? ""
        #expect(status.contains("2 stations (2 simulated)"), "\(status)")
        // Pets every half watchdog period (0.5 s) while both loops are alive.
        #expect(socket.waitFor(prefix: "WATCHDOG=1", count: 4, timeout: 10))
        // rig-b hangs at 4 s after start; 1 s later (watchdog_stall_s) the pets stop for good.
        #expect(rigd.wait(for: 20) { _, err in err.contains("no longer petting the systemd watchdog") },
                "\(rigd.stderr.suffix(2000))")
        let stoppedPetting = FakeNotifySocket.monotonicNow()
        Thread.sleep(forTimeInterval: 2.5)
        let pets = socket.lines(withPrefix: "WATCHDOG=1").map(\.receivedAt)
        let lastPet = pets.max() ?? 0
        #expect(lastPet < stoppedPetting + 0.1, "a pet came \(lastPet - stoppedPetting) s after the hang was seen")
        #expect(lastPet > started + hangAfter - 1, "pets stopped too early, \(lastPet - started) s after start")
        let stalled = socket.lines(withPrefix: "STATUS=").last?.line ?? ""
        // Both stations are simulated and share the pool's workers: the line names the station whose tick hangs.
        #expect(stalled.contains("STALLED: rig-b on sim-"), "\(stalled)")

        rigd.signal(SIGTERM)
        #expect(socket.waitFor(prefix: "STOPPING=1", timeout: 10), "\(rigd.stderr.suffix(2000))")
        // rig-b's thread never returns, so rigd cannot finish its shutdown: systemd would kill it after
        // TimeoutStopSec=; the test does so now.
    }

    @Test func aHealthyDaemonPetsUntilItStopsCleanly() throws {
        let socket = try FakeNotifySocket(abstract: true)
        defer { socket.close() }
        let config = try temporaryFile("""
        [[station]]
        name = "rig-ok"
        kind = "heat-rig"
        address = "tcp://127.0.0.1:1"
        probe_timeout_ms = 200
        """)
        defer { unlink(config) }
        let rigd = try ChildProcess(try rigdBinary(), ["run", "--config", config, "--status-every", "0"],
                                    environment: ["NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "400000"])
        #expect(socket.waitFor(prefix: "READY=1", timeout: 20), "\(rigd.stderr.suffix(2000))")
        #expect(socket.waitFor(prefix: "WATCHDOG=1", count: 10, timeout: 10))
        rigd.signal(SIGTERM)
        #expect(rigd.waitForExit(timeout: 15) == 0, "\(rigd.stderr.suffix(2000))")
        #expect(socket.waitFor(prefix: "STOPPING=1", timeout: 2))
        #expect(!rigd.stderr.contains("no longer petting"))
    }
}
