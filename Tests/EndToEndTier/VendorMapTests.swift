import Devices
import Foundation
import RigdTestKit
import Testing

/// Issue 20 item 8: the maps in examples/maps/vendor/, written from vendors' manuals and drivers (never tried on the
/// instruments), each end to end against `rigd simulate` serving the same map: over TCP and over RTU on a socat pty,
/// `rigd run` with fallback "fail" (values through the API), and `rigd probe`.
@Suite("Vendor-style maps end to end")
struct VendorMapTests {
    static func mapPath(_ name: String) -> String {
        ExampleMapTests.repository.appendingPathComponent("examples/maps/vendor/\(name)").path
    }

    /// Every channel of `wanted` good through the API (waiting up to 30 s for them), DO and pH plausible, and no
    /// transaction error on the station's link.
    static func expectAllGood(_ base: String, wanted: [String]) async throws {
        var channels: [String: [String: Any]] = [:]
        for _ in 0..<150 {
            let station = try await http("GET", base + "/api/stations/s").json
            #expect(station?["mode"] as? String == "real")
            for c in station?["channels"] as? [[String: Any]] ?? [] { channels[c["name"] as? String ?? ""] = c }
            if wanted.allSatisfy({ channels[$0]?["value"] is Double }) { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        for name in wanted {
            #expect(channels[name]?["value"] is Double && channels[name]?["quality"] as? Int == 0,
                    "\(name): \(channels[name] ?? [:])")
        }
        #expect((channels["do_mgl"]?["value"] as? Double).map { (2...15).contains($0) } == true)
        #expect((channels["ph"]?["value"] as? Double).map { (6...10).contains($0) } == true)
        let station = try #require(try await http("GET", base + "/api/stations/s").json)
        #expect((station["link"] as? [String: Any])?["transaction_errors"] as? Int == 0, "\(station["link"] ?? "")")
    }

    /// `rigd run` with one aqua-sonde station "s" at `address` through `map`, fallback "fail": the process and the
    /// API's base URL.
    static func runStation(address: String, map: String) throws -> (ChildProcess, String) {
        let config = try temporaryFile("""
            [[station]]
            name = "s"
            kind = "aqua-sonde"
            address = "\(address)"
            fallback = "fail"
            response_timeout_ms = 3000
            map = "\(map)"
            [station.control]
            sample_every_s = 1
            """)
        let rigd = try ChildProcess(try rigdBinary(), ["run", "--config", config])
        return (rigd, try rigd.apiBase())
    }

    static let sondeChannels = ["do_mgl", "do_sat_pct", "water_temp_c", "ph", "salinity_ppt", "tan_mgl", "nh3_mgl",
                                "chl_ugl"]

    /// The EXO-style adapter: the parameter list written on connect (the simulator serves nothing without it), a
    /// forced sample and its wait before every read, per-parameter status registers, CDAB floats.
    @Test func theEXOStyleSondeOverTCP() async throws {
        let map = Self.mapPath("exo-style.toml")
        let (sim, port) = try startSimulator(["--map", map], kind: "aqua-sonde")
        defer { sim.signal(SIGTERM); _ = sim.waitForExit(timeout: 5) }
        // Before rigd: the simulated adapter has no parameter list, so no data (status "not set").
        let probeBefore = try runToCompletion("/usr/bin/mbpoll", ["-m", "tcp", "-p", "\(port)", "-0", "-1", "-t", "4",
                                                                  "-r", "256", "-c", "1", "127.0.0.1"])
        #expect(probeBefore.stdout.contains("[256]: \t1"), "\(probeBefore.stdout)")
        let (rigd, base) = try Self.runStation(address: "tcp://127.0.0.1:\(port)", map: map)
        defer { rigd.signal(SIGTERM); _ = rigd.waitForExit(timeout: 10) }
        try await Self.expectAllGood(base, wanted: Self.sondeChannels)
    }

    /// The same map on a serial line (9600 8N1, as the map requires), and `rigd probe`: it writes the list, forces a
    /// sample, waits, and reads every channel good.
    @Test func theEXOStyleSondeOverRTUAndTheProbe() async throws {
        let map = Self.mapPath("exo-style.toml")
        let pty = try PtyPair()
        let sim = try ChildProcess(try rigdBinary(), ["simulate", "--map", map, "--rtu", pty.a, "--units", "1"])
        defer { sim.signal(SIGTERM); _ = sim.waitForExit(timeout: 5) }
        #expect(sim.wait(for: 15) { out, _ in out.contains("serving aqua-sonde on rtu://") }, "\(sim.stderr)")
        let address = "rtu://\(pty.b)?baud=9600&unit=1"
        let probe = try runToCompletion(try rigdBinary(), ["probe", address, "--map", map])
        #expect(probe.status == 0, "\(probe.stdout)\(probe.stderr)")
        #expect(probe.stdout.contains("setup 1: write holding 128…136 = 212, 211, 1, 18, 12, 48, 47, 193, 0: ok"),
                "\(probe.stdout)")
        #expect(probe.stdout.contains("acquire do_mgl, do_sat_pct, water_temp_c, ph, salinity_ppt, tan_mgl, nh3_mgl, "
                                      + "chl_ugl: write holding 1 = 1, wait 2500 ms: done in"), "\(probe.stdout)")
        #expect(probe.stdout.contains("expect parameter code of the first data register (212, ODO mg/L) = 212: ok"),
                "\(probe.stdout)")
        let rows = probe.stdout.split(separator: "\n").filter { row in Self.sondeChannels.contains { row.hasPrefix($0) } }
        #expect(rows.count == 8 && rows.allSatisfy { $0.hasSuffix("good") }, "\(probe.stdout)")

        let (rigd, base) = try Self.runStation(address: address, map: map)
        defer { rigd.signal(SIGTERM); _ = rigd.waitForExit(timeout: 10) }
        try await Self.expectAllGood(base, wanted: Self.sondeChannels)
    }
}

/// The maps whose instruments sit at several unit ids of one line (issue 20 item 6): a DO7016-style probe at unit 10
/// with pH, salinity and ammonia probes at 11–13 (8N2), and a Hach-LDO-style probe at 247 with sc-style sensors at
/// 2–4 (19200 baud). Each over TCP (the simulator as a gateway) and over RTU on a socat pty with `rigd probe`.
@Suite("Vendor-style maps at several unit ids")
struct VendorMultiUnitMapTests {
    static let required = ["do_mgl", "water_temp_c", "ph", "salinity_ppt", "tan_mgl", "nh3_mgl"]

    @Test func theDO7016StyleProbesOverTCP() async throws {
        let map = VendorMapTests.mapPath("do7016-style.toml")
        let (sim, port) = try startSimulator(["--map", map], kind: "aqua-sonde")
        defer { sim.signal(SIGTERM); _ = sim.waitForExit(timeout: 5) }
        #expect(sim.stdout.contains("(unit 10 and units 11, 12, 13 (through the map)"), "\(sim.stdout)")
        let (rigd, base) = try VendorMapTests.runStation(address: "tcp://127.0.0.1:\(port)", map: map)
        defer { rigd.signal(SIGTERM); _ = rigd.waitForExit(timeout: 10) }
        try await VendorMapTests.expectAllGood(base, wanted: Self.required + ["do_sat_pct"])
    }

    /// 8N2 at unit 10 as the driver has it; the probe triggers, waits the time the probe keeps at 0x00A4, and reads
    /// all four probes.
    @Test func theDO7016StyleProbesOverRTUAndTheProbe() async throws {
        let map = VendorMapTests.mapPath("do7016-style.toml")
        let pty = try PtyPair()
        let sim = try ChildProcess(try rigdBinary(), ["simulate", "--map", map, "--rtu", pty.a])
        defer { sim.signal(SIGTERM); _ = sim.waitForExit(timeout: 5) }
        #expect(sim.wait(for: 15) { out, _ in out.contains("(unit 10 and units 11, 12, 13") }, "\(sim.stdout)\(sim.stderr)")
        let address = "rtu://\(pty.b)?baud=9600&stop=2"
        let probe = try runToCompletion(try rigdBinary(), ["probe", address, "--map", map])
        #expect(probe.status == 0, "\(probe.stdout)\(probe.stderr)")
        #expect(probe.stdout.contains("acquire do_mgl, do_sat_pct, water_temp_c: write holding 1 = 15, wait the ms in "
                                      + "holding 164 (at most 10000): done in"), "\(probe.stdout)")
        for (name, at) in [("ph", "unit 11 holding 1"), ("salinity_ppt", "unit 12 holding 1"),
                           ("tan_mgl", "unit 13 holding 1"), ("nh3_mgl", "unit 13 holding 3")] {
            let row = probe.stdout.split(separator: "\n").first { $0.hasPrefix(name + " ") }
            #expect(row.map { $0.contains(at) && $0.hasSuffix("good") } == true, "\(name): \(probe.stdout)")
        }
        let (rigd, base) = try VendorMapTests.runStation(address: address, map: map)
        defer { rigd.signal(SIGTERM); _ = rigd.waitForExit(timeout: 10) }
        try await VendorMapTests.expectAllGood(base, wanted: Self.required)
    }

    @Test func theHachLDOStyleProbesOverTCP() async throws {
        let map = VendorMapTests.mapPath("hach-ldo-style.toml")
        let (sim, port) = try startSimulator(["--map", map], kind: "aqua-sonde")
        defer { sim.signal(SIGTERM); _ = sim.waitForExit(timeout: 5) }
        let (rigd, base) = try VendorMapTests.runStation(address: "tcp://127.0.0.1:\(port)", map: map)
        defer { rigd.signal(SIGTERM); _ = rigd.waitForExit(timeout: 10) }
        try await VendorMapTests.expectAllGood(base, wanted: Self.required)
    }

    /// Slave 247 at 19200 baud: an address at another rate is refused before anything is sent; at 19200 the probe
    /// and the station read every sensor.
    @Test func theHachLDOStyleProbesOverRTUAndTheProbe() async throws {
        let map = VendorMapTests.mapPath("hach-ldo-style.toml")
        let pty = try PtyPair()
        let sim = try ChildProcess(try rigdBinary(), ["simulate", "--map", map, "--rtu", pty.a, "--baud", "19200"])
        defer { sim.signal(SIGTERM); _ = sim.waitForExit(timeout: 5) }
        #expect(sim.wait(for: 15) { out, _ in out.contains("(unit 247 and units 2, 3, 4") }, "\(sim.stdout)\(sim.stderr)")
        let check = try runToCompletion(try rigdBinary(), ["check", "--config", try temporaryFile("""
            [[station]]
            name = "s"
            kind = "aqua-sonde"
            address = "rtu://\(pty.b)?baud=9600"
            map = "\(map)"
            """)])
        #expect(check.status != 0 && check.stderr.contains("baud 9600, the map requires 19200"),
                "\(check.stdout)\(check.stderr)")
        let address = "rtu://\(pty.b)?baud=19200"
        let probe = try runToCompletion(try rigdBinary(), ["probe", address, "--map", map])
        #expect(probe.status == 0, "\(probe.stdout)\(probe.stderr)")
        #expect(probe.stdout.contains("unit 247 (and units 2, 3, 4)"), "\(probe.stdout)")
        let rows = probe.stdout.split(separator: "\n").filter { row in Self.required.contains { row.hasPrefix($0 + " ") } }
        #expect(rows.count == 6 && rows.allSatisfy { $0.hasSuffix("good") }, "\(probe.stdout)")
        let (rigd, base) = try VendorMapTests.runStation(address: address, map: map)
        defer { rigd.signal(SIGTERM); _ = rigd.waitForExit(timeout: 10) }
        try await VendorMapTests.expectAllGood(base, wanted: Self.required)
    }
}

/// Issue 20 items 4 and 8: the In-Situ-style parameter-block sonde, its values found at start-up through its
/// sensors' pointer registers and parameter IDs.
@Suite("Vendor-style map with values found at start-up")
struct VendorLocatedMapTests {
    static let required = ["do_mgl", "do_sat_pct", "water_temp_c", "ph", "salinity_ppt", "tan_mgl", "nh3_mgl"]

    /// The read plan the API shows for the station's sample loop.
    static func samplePlan(_ base: String) async throws -> [String] {
        let station = try await http("GET", base + "/api/stations/s").json
        return (station?["read_plan"] as? [String] ?? []).filter { $0.hasPrefix("sample") }
    }

    /// Over TCP: the station finds the four sensors' blocks and reads every channel good; when the instrument lays its
    /// blocks out again (the layout_changed fault: its layout versions change), the station finds them again, logs the
    /// new layout and reads every channel good where it moved, without a transaction error.
    @Test func theInSituStyleSondeOverTCPFindsItsBlocksAgainWhenTheyMove() async throws {
        let map = VendorMapTests.mapPath("insitu-style.toml")
        let (sim, port) = try startSimulator(["--map", map, "--control", "127.0.0.1:0"], kind: "aqua-sonde")
        defer { sim.signal(SIGTERM); _ = sim.waitForExit(timeout: 5) }
        let (rigd, base) = try VendorMapTests.runStation(address: "tcp://127.0.0.1:\(port)", map: map)
        defer { rigd.signal(SIGTERM); _ = rigd.waitForExit(timeout: 10) }
        try await VendorMapTests.expectAllGood(base, wanted: Self.required)
        #expect(rigd.stderr.contains("station s: its map's layout: block rdo: holding 9306 reads 9401 (one-based); "
                                     + "layout version 1: holding id 20 at 9400…9407"), "\(rigd.stderr.suffix(3000))")
        let before = try await Self.samplePlan(base)
        #expect(before.first == "sample (1 s): FC 03 holding 9400…9422 (23)", "\(before)")

        let control = try #require(controlAddress(sim), "no control address: \(sim.stdout)")
        let fault = try runToCompletion(try rigdBinary(), ["fault", "--control", control, "device", "layout_changed"])
        #expect(fault.status == 0, "\(fault.stderr)")
        #expect(rigd.wait(for: 15) { _, err in err.contains("layout version 2") }, "\(rigd.stderr.suffix(3000))")
        #expect(rigd.stderr.contains("block rdo: holding 9306 reads 9409 (one-based); layout version 2: holding id 1 at "
                                     + "9408…9415"), "\(rigd.stderr.suffix(3000))")
        var after: [String] = []
        for _ in 0..<25 {
            after = try await Self.samplePlan(base)
            if after != before { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(after.first == "sample (1 s): FC 03 holding 9408…9430 (23)", "\(after)")
        try await Task.sleep(for: .seconds(2))
        try await VendorMapTests.expectAllGood(base, wanted: Self.required)
    }

    /// The same map on a serial line, and `rigd probe`: it follows each pointer, lists the blocks it found by
    /// parameter ID, checks the pH units ID in the block it found, and reads every channel good.
    @Test func theInSituStyleSondeOverRTUAndTheProbe() async throws {
        let map = VendorMapTests.mapPath("insitu-style.toml")
        let pty = try PtyPair()
        let sim = try ChildProcess(try rigdBinary(), ["simulate", "--map", map, "--rtu", pty.a])
        defer { sim.signal(SIGTERM); _ = sim.waitForExit(timeout: 5) }
        #expect(sim.wait(for: 15) { out, _ in out.contains("serving") }, "\(sim.stdout)\(sim.stderr)")
        let address = "rtu://\(pty.b)?baud=9600"
        let probe = try runToCompletion(try rigdBinary(), ["probe", address, "--map", map])
        #expect(probe.status == 0, "\(probe.stdout)\(probe.stderr)")
        #expect(probe.stdout.contains("locate block ph-sensor: holding 9316 reads 9501 (one-based); layout version 1: "
                                      + "holding id 17 at 9500…9507"), "\(probe.stdout)")
        #expect(probe.stdout.contains("expect pH units ID = 145: ok"), "\(probe.stdout)")
        let rows = probe.stdout.split(separator: "\n").filter { row in Self.required.contains { row.hasPrefix($0 + " ") } }
        #expect(rows.count == 7 && rows.allSatisfy { $0.hasSuffix("good") }, "\(probe.stdout)")
        #expect(rows.first?.contains("holding 9400–9401 (#9401)") == true, "\(probe.stdout)")
        let (rigd, base) = try VendorMapTests.runStation(address: address, map: map)
        defer { rigd.signal(SIGTERM); _ = rigd.waitForExit(timeout: 10) }
        try await VendorMapTests.expectAllGood(base, wanted: Self.required)
    }
}
