import Devices
import DeviceTransports
import Foundation
import Glibc
import RigdTestKit
import Testing

/// Real clock, real TCP: the link to a running extraction device breaks while the device stays up.
@Suite(.serialized) struct ExtractionLinkTests {
    @Test func lostLinkMakesTheDeviceSafeOnItsOwnAndTheRunDoesNotResume() throws {
        let (sim, devicePort) = try startSimulator(kind: "extraction")
        defer { sim.signal(SIGTERM); _ = sim.waitForExit(timeout: 5) }
        let proxy = try SocatProxy(upstreamPort: devicePort)
        defer { proxy.cut() }
        let config = try temporaryFile("""
        [[station]]
        name = "ex"
        kind = "extraction"
        address = "tcp://127.0.0.1:\(proxy.port)"
        fallback = "fail"
        response_timeout_ms = 200
        [station.control]
        start_run = true
        """)
        let report = NSTemporaryDirectory() + "rigd-link-\(UUID().uuidString).json"
        defer { unlink(config); unlink(report) }
        let rigd = try ChildProcess(try rigdBinary(), ["run", "--config", config, "--report", report])
        // Watch the device directly, beside rigd.
        let device = ModbusTCPClient(host: "127.0.0.1", port: devicePort)
        try device.connect()
        func pumpOn() throws -> Bool { try device.readCoils(at: 0, count: 1)[0] }
        func waitUntil(_ seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
            let end = Date().addingTimeInterval(seconds)
            while Date() < end {
                if try condition() { return true }
                Thread.sleep(forTimeInterval: 0.05)
            }
            return try condition()
        }
        #expect(try waitUntil(30) { try pumpOn() }, "the run never started circulating: \(rigd.stderr)")
        #expect(try !device.readHeader().status.contains(.safeState))

        proxy.cut()
        let cutAt = Date()
        // HR 3 defaults to 2000 ms: the device goes safe on its own, with no host to tell it.
        #expect(try waitUntil(5) { try device.readHeader().status.isSuperset(of: [.watchdogTripped, .safeState]) })
        let tripAfter = Date().timeIntervalSince(cutAt)
        #expect(tripAfter >= 1.5, "device went safe \(tripAfter) s after the cut, before its watchdog time")
        #expect(try device.readCoils(at: 0, count: 5) == [false, true, false, false, false])
        #expect(rigd.wait(for: 5) { _, err in err.contains("ALARM device_unavailable raised") })

        try proxy.restore()
        #expect(rigd.wait(for: 40) { _, err in err.contains("link restored") }, "\(rigd.stderr)")
        // The host resets the device's watchdog latch but does not resume the run by itself.
        #expect(try waitUntil(5) { try !device.readHeader().status.contains(.safeState) })
        Thread.sleep(forTimeInterval: 2)
        #expect(try !pumpOn())
        rigd.signal(SIGTERM)
        #expect(rigd.waitForExit(timeout: 10) == 0)
        let station = try #require((try readReport(report)["stations"] as? [[String: Any]])?.first)
        let run = try #require((station["runs"] as? [[String: Any]])?.first)
        #expect(run["outcome"] as? String == "aborted")
        #expect((run["reason"] as? String)?.hasPrefix("device_unavailable") == true, "\(run)")
    }

    @Test func realStationWithAMissingEstopChipRefusesToStart() throws {
        let (sim, port) = try startSimulator(kind: "extraction")
        defer { sim.signal(SIGTERM); _ = sim.waitForExit(timeout: 5) }
        let config = try temporaryFile("""
        [[station]]
        name = "ex"
        kind = "extraction"
        address = "tcp://127.0.0.1:\(port)"
        estop = { chip = "gpiochip7", line = 17, active_low = true }
        """)
        defer { unlink(config) }
        let r = try runToCompletion(try rigdBinary(), ["run", "--config", config], timeout: 20)
        #expect(r.status == 69)
        #expect(r.stderr.contains("station \"ex\""))
        #expect(r.stderr.contains("gpiochip7"), "\(r.stderr)")
        #expect(r.stderr.contains("nothing started"))
    }
}
