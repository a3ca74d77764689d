import Devices
import DeviceTransports
import Foundation
import Glibc
import RigdTestKit
import Testing

/// End-to-end tests: the rigd binary as a user runs it, over real Modbus TCP on loopback.
@Suite(.serialized) struct EndToEndTests {
    @Test func badConfigurationsExit78NamingFileLineAndKey() throws {
        let rigd = try rigdBinary()
        let cases: [(String, String)] = [
            ("[[station]]\nname = \"r\"\nkind = = 1\n", ":3: malformed TOML"),
            ("[[station]]\nname = \"r\"\nkind = \"heat-rig\"\naddress = \"sim://\"\ncolor = 1\n",
             ":5: station \"r\": color is not a known key"),
            ("[[station]]\nname = \"r\"\nkind = \"heat-rig\"\naddress = \"sim://\"\n[station.control]\nfan_pct = 150\n",
             ":6: station \"r\": control.fan_pct must be within 0…100, got 150"),
            ("[[station]]\nname = \"r\"\nkind = \"toaster\"\naddress = \"sim://\"\n", ":3: station \"r\": kind unknown kind"),
            ("[[station]]\nname = \"r\"\nkind = \"heat-rig\"\naddress = \"tcp//x\"\n", ":4: station \"r\": address bad address"),
        ]
        for (text, expected) in cases {
            let file = try temporaryFile(text)
            defer { unlink(file) }
            for command in [["run", "--config", file], ["check", "--config", file]] {
                let r = try runToCompletion(rigd, command, timeout: 20)
                #expect(r.status == 78, "\(command) \(text)")
                #expect(r.stderr.contains(file + expected), "\(r.stderr)")
                #expect(r.stderr.contains("nothing started"))
                #expect(!r.stderr.contains("running"), "something started: \(r.stderr)")
            }
        }
        let missing = try runToCompletion(rigd, ["check", "--config", "/nonexistent/rigd.toml"])
        #expect(missing.status == 78 && missing.stderr.contains("/nonexistent/rigd.toml: cannot read"))
    }

    @Test func checkAcceptsAGoodFile() throws {
        let file = try temporaryFile("[[station]]\nname = \"r\"\nkind = \"heat-rig\"\naddress = \"tcp://127.0.0.1:1\"\n")
        defer { unlink(file) }
        let r = try runToCompletion(try rigdBinary(), ["check", "--config", file])
        #expect(r.status == 0)
        #expect(r.stdout.contains("ok, 1 station(s)"))
    }

    @Test func mbpollReadsTheSimulatedHeatRig() throws {
        let (sim, port) = try startSimulator()
        defer { sim.signal(SIGTERM); _ = sim.waitForExit(timeout: 5) }
        func poll(_ args: [String]) throws -> String {
            let r = try runToCompletion("/usr/bin/mbpoll", ["-m", "tcp", "-p", "\(port)"] + args + ["-1", "127.0.0.1"])
            #expect(r.status == 0, "mbpoll failed: \(r.stdout) \(r.stderr)")
            return r.stdout
        }
        func registerValue(_ output: String, _ number: Int) -> Double? {
            for line in output.split(separator: "\n") where line.hasPrefix("[\(number)]:") {
                return Double(line.split(separator: ":")[1].trimmingCharacters(in: .whitespaces))
            }
            return nil
        }
        let first = try poll(["-t", "3", "-r", "1", "-c", "7"])
        #expect(registerValue(first, 1) == 3074)
        Thread.sleep(forTimeInterval: 0.1)
        let second = try poll(["-t", "3", "-r", "1", "-c", "7"])
        #expect(registerValue(first, 7) != nil && registerValue(first, 7) != registerValue(second, 7))
        // mbpoll reads floats low word first unless told -B; the sheet's default (HR 2 = 0) is ABCD, high word first.
        let abcd = registerValue(try poll(["-t", "3:float", "-B", "-r", "101", "-c", "1"]), 101)
        #expect(abcd.map { (10...40).contains($0) } == true, "block temperature \(String(describing: abcd))")
        // Switch the device to CDAB (HR 2 = 1, Modicon 40003) and plain -t 3:float reads it too.
        let write = try runToCompletion("/usr/bin/mbpoll", ["-m", "tcp", "-p", "\(port)", "-t", "4", "-r", "3",
                                                            "-1", "127.0.0.1", "1"])
        #expect(write.status == 0 && write.stdout.contains("Written 1 references"))
        let cdab = registerValue(try poll(["-t", "3:float", "-r", "101", "-c", "1"]), 101)
        #expect(cdab.map { (10...40).contains($0) } == true, "block temperature \(String(describing: cdab))")
        // Out of range (heater 150 %, FC16) → exception 03; half a float (FC06 on HR 100) → exception 02.
        let tooHot = try runToCompletion("/usr/bin/mbpoll", ["-m", "tcp", "-p", "\(port)", "-t", "4:float", "-r", "101",
                                                             "-1", "127.0.0.1", "150"])
        #expect(tooHot.status != 0 && tooHot.stderr.contains("Illegal data value"), "\(tooHot.stderr)")
        let half = try runToCompletion("/usr/bin/mbpoll", ["-m", "tcp", "-p", "\(port)", "-t", "4", "-r", "101",
                                                           "-1", "127.0.0.1", "5"])
        #expect(half.status != 0 && half.stderr.contains("Illegal data address"), "\(half.stderr)")
        let heater = registerValue(try poll(["-t", "4:float", "-r", "101", "-c", "1"]), 101)
        #expect(heater == 0, "heater % changed by a refused write: \(String(describing: heater))")
    }

    @Test func holdsTheSetpointOverTCPOnTheRealClock() throws {
        // The test uses the simulator's "fast" preset: a heat rig 10× faster than the real one, so heat-up and
        // settling fit in well under a minute. Its integral gain is the standard one ×10, as its time constants are ÷10.
        let (sim, port) = try startSimulator(["--preset", "fast", "--seed", "5"])
        defer { sim.signal(SIGTERM); _ = sim.waitForExit(timeout: 5) }
        let config = try temporaryFile("""
        [[station]]
        name = "rig-e2e"
        kind = "heat-rig"
        address = "tcp://127.0.0.1:\(port)"
        fallback = "fail"
        [station.control]
        setpoint_c = 40
        kp = 10
        ki = 0.4
        """)
        let report = NSTemporaryDirectory() + "rigd-e2e-\(UUID().uuidString).json"
        defer { unlink(config); unlink(report) }
        let r = try runToCompletion(try rigdBinary(), ["run", "--config", config, "--for", "40s", "--report", report],
                                    timeout: 60)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("REAL device at tcp://127.0.0.1:\(port)"))
        #expect(r.stderr.contains("safe state driven"))
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: report))) as? [String: Any]
        let station = (json?["stations"] as? [[String: Any]])?.first
        #expect(station?["mode"] as? String == "real")
        let results = station?["results"] as? [String: Any]
        #expect(results?["settled"] as? Bool == true, "\(String(describing: results))")
        let error = results?["max_abs_error_since_settled_c"] as? Double ?? 99
        #expect(error <= 0.5, "max error after settling \(error) °C")
        let settled = results?["settled_s"] as? Double ?? 99
        #expect(settled < 30, "settled only at \(settled) s")
        // Independently of rigd's own report, the device itself says it is in its safe state now.
        let client = ModbusTCPClient(host: "127.0.0.1", port: port)
        try client.connect()
        #expect(try client.readCoils(at: 0, count: 2) == [false, true])
    }

    /// A refused connection is an answer: the station falls back at once, without spending a probe timeout (how long
    /// that takes on this machine is not asserted; the log says which it was).
    @Test func refusedAddressFallsBackToSimulatedAtOnce() throws {
        let config = try temporaryFile("""
        [[station]]
        name = "lonely"
        kind = "heat-rig"
        address = "tcp://127.0.0.1:1"
        """)
        defer { unlink(config) }
        let rigd = try ChildProcess(try rigdBinary(), ["run", "--config", config])
        #expect(rigd.wait(for: 10) { _, err in err.contains("SIMULATED") })
        #expect(rigd.stderr.contains("station lonely (heat-rig): SIMULATED — no device at tcp://127.0.0.1:1"))
        #expect(rigd.stderr.contains("Connection refused") && !rigd.stderr.contains("timed out"), "\(rigd.stderr)")
        rigd.signal(SIGINT)
        #expect(rigd.waitForExit(timeout: 10) == 0)
        #expect(rigd.stderr.contains("station lonely: safe state driven"))
    }

    @Test func fallbackFailExitsNamingStationAndAddress() throws {
        let config = try temporaryFile("""
        [[station]]
        name = "strict"
        kind = "heat-rig"
        address = "tcp://127.0.0.1:1"
        fallback = "fail"
        """)
        defer { unlink(config) }
        let r = try runToCompletion(try rigdBinary(), ["run", "--config", config], timeout: 20)
        #expect(r.status == 69)
        #expect(r.stderr.contains("station \"strict\": device at tcp://127.0.0.1:1 does not answer"))
        #expect(r.stderr.contains("nothing started"))
    }

    @Test func deviceWatchdogOverTCPTripsAndRecovers() throws {
        let (sim, port) = try startSimulator()
        defer { sim.signal(SIGTERM); _ = sim.waitForExit(timeout: 5) }
        let client = ModbusTCPClient(host: "127.0.0.1", port: port)
        try client.connect()
        try client.writeRegister(at: 3, value: 300)
        try client.writeCoils(at: 0, values: [true, false])
        try client.writeRegisters(at: 100, values: RegisterCodec.encode(Float(60), order: .abcd)
                                  + RegisterCodec.encode(Float(0), order: .abcd))
        for beat in 1...5 {
            try client.writeRegister(at: 4, value: UInt16(beat))
            #expect(!(try client.readHeader().status.contains(.watchdogTripped)))
            Thread.sleep(forTimeInterval: 0.1)
        }
        // Heartbeats stop: the device goes safe on its own.
        Thread.sleep(forTimeInterval: 0.6)
        let status = try client.readHeader().status
        #expect(status.isSuperset(of: [.watchdogTripped, .safeState]), "\(status)")
        #expect(try client.readCoils(at: 0, count: 2) == [false, true])
        try client.writeRegister(at: 4, value: 6)
        try client.writeRegister(at: 5, value: 0xA5)
        #expect(try client.readHeader().status.intersection([.watchdogTripped, .safeState]).isEmpty)
    }

    @Test func sigtermDrivesSafeStateAndExitsZero() throws {
        let (sim, port) = try startSimulator()
        defer { sim.signal(SIGTERM); _ = sim.waitForExit(timeout: 5) }
        let config = try temporaryFile("[[station]]\nname = \"r\"\nkind = \"heat-rig\"\naddress = \"tcp://127.0.0.1:\(port)\"\n")
        defer { unlink(config) }
        let rigd = try ChildProcess(try rigdBinary(), ["run", "--config", config])
        #expect(rigd.wait(for: 10) { _, err in err.contains("running 1 station") })
        // Let it heat for a moment, then stop it.
        Thread.sleep(forTimeInterval: 1.5)
        let client = ModbusTCPClient(host: "127.0.0.1", port: port)
        try client.connect()
        #expect(try client.readCoils(at: 0, count: 1) == [true])
        rigd.signal(SIGTERM)
        #expect(rigd.waitForExit(timeout: 10) == 0)
        #expect(try client.readCoils(at: 0, count: 2) == [false, true])
    }

    @Test func lostDeviceAlarmsAndReconnectsWithoutFallingBackToTheSimulator() throws {
        var (sim, port) = try startSimulator()
        let config = try temporaryFile("[[station]]\nname = \"r\"\nkind = \"heat-rig\"\n"
                                       + "address = \"tcp://127.0.0.1:\(port)\"\nresponse_timeout_ms = 200\n")
        defer { unlink(config) }
        let rigd = try ChildProcess(try rigdBinary(), ["run", "--config", config])
        // The first status line comes with the station's first snapshot: the link is up.
        #expect(rigd.wait(for: 10) { _, err in err.contains("station r [real]:") })
        sim.signal(SIGKILL)
        _ = sim.waitForExit(timeout: 5)
        #expect(rigd.wait(for: 10) { _, err in err.contains("ALARM device_unavailable raised") })
        #expect(rigd.stderr.contains("station r: link lost"))
        #expect(!rigd.stderr.contains("SIMULATED"))
        // The device comes back on the same port: the station reconnects and the alarm clears.
        sim = try ChildProcess(try rigdBinary(), ["simulate", "--kind", "heat-rig", "--listen", "127.0.0.1:\(port)"])
        defer { sim.signal(SIGTERM); _ = sim.waitForExit(timeout: 5) }
        #expect(rigd.wait(for: 40) { _, err in err.contains("alarm device_unavailable cleared") },
                "\(rigd.stderr)")
        #expect(rigd.stderr.contains("link restored to tcp://127.0.0.1:\(port)"))
        rigd.signal(SIGTERM)
        #expect(rigd.waitForExit(timeout: 10) == 0)
    }

    @Test func signalDuringStartUpIsNotLost() throws {
        // A listening socket that never answers: the probe's header read waits for its response timeout.
        let (fd, port) = loopbackSocket(listening: true)
        defer { close(fd) }
        let config = try temporaryFile("[[station]]\nname = \"r\"\nkind = \"heat-rig\"\n"
                                       + "address = \"tcp://127.0.0.1:\(port)\"\nresponse_timeout_ms = 3000\n")
        defer { unlink(config) }
        let rigd = try ChildProcess(try rigdBinary(), ["run", "--config", config])
        Thread.sleep(forTimeInterval: 0.5)
        rigd.signal(SIGTERM)  // still probing
        #expect(rigd.waitForExit(timeout: 15) == 0, "\(rigd.stderr)")
        #expect(rigd.stderr.contains("received SIGTERM"))
        #expect(rigd.stderr.contains("safe state driven"))
    }

    @Test func mbpollReadsAndWritesTheSimulatedExtractionDevice() throws {
        let (sim, port) = try startSimulator(kind: "extraction")
        defer { sim.signal(SIGTERM); _ = sim.waitForExit(timeout: 5) }
        func mbpoll(_ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
            try runToCompletion("/usr/bin/mbpoll", ["-m", "tcp", "-p", "\(port)"] + args)
        }
        let header = try mbpoll(["-t", "3", "-r", "1", "-c", "7", "-1", "127.0.0.1"])
        #expect(header.stdout.contains("[1]: \t2561"))  // 0x0A01
        // Every channel, by its Modicon number (IR 100 + 4·i → 30101 + 4·i), high word first (-B).
        // No host feeds the device's watchdog here, and each mbpoll takes about a second: the device trips into its
        // safe state (fan on) after 2 s, so the fan's air speed (channel 7) may be anywhere in its range.
        let plausible: [ClosedRange<Double>] = [690...710, 0...1, 490...510, 15...35, 15...35, 0...0.5, 0...0.2, 0...6,
                                                0...1, 0...0.01, 0...1]
        for (i, range) in plausible.enumerated() {
            let r = try mbpoll(["-t", "3:float", "-B", "-r", "\(101 + 4 * i)", "-c", "1", "-1", "127.0.0.1"])
            let value = r.stdout.split(separator: "\n").first { $0.hasPrefix("[\(101 + 4 * i)]:") }
                .flatMap { Double($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) }
            #expect(value.map(range.contains) == true, "channel \(i): \(r.stdout)")
        }
        // Turn the device watchdog off (HR 3 = 0, Modicon 40004), then reset a trip that may have come first
        // (HR 5 = 0xA5, 40006): from here on nothing drives the safe state, which would overwrite the setpoint.
        #expect(try mbpoll(["-t", "4", "-r", "4", "-1", "127.0.0.1", "0"]).status == 0)
        #expect(try mbpoll(["-t", "4", "-r", "6", "-1", "127.0.0.1", "165"]).status == 0)
        // IR 4 (Modicon 30005) holds status bits 16–31, high word first: 18 watchdog tripped, 19 safe state.
        let status = try mbpoll(["-t", "3", "-r", "5", "-c", "1", "-1", "127.0.0.1"])
        let high = status.stdout.split(separator: "\n").first { $0.hasPrefix("[5]:") }
            .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) }
        #expect(high.map { $0 & 0b1100 == 0 } == true, "\(status.stdout)")
        let write = try mbpoll(["-t", "4:float", "-B", "-r", "101", "-1", "127.0.0.1", "25"])
        #expect(write.status == 0, "\(write.stderr)")
        let back = try mbpoll(["-t", "4:float", "-B", "-r", "101", "-c", "1", "-1", "127.0.0.1"])
        #expect(back.stdout.contains("[101]: \t25"))
        let refused = try mbpoll(["-t", "4:float", "-B", "-r", "101", "-1", "127.0.0.1", "150"])
        #expect(refused.status != 0 && refused.stderr.contains("Illegal data value"), "\(refused.stderr)")
        let still = try mbpoll(["-t", "4:float", "-B", "-r", "101", "-c", "1", "-1", "127.0.0.1"])
        #expect(still.stdout.contains("[101]: \t25"))
    }

    @Test func portsListsSerialPortsOrSaysThereAreNone() throws {
        let r = try runToCompletion(try rigdBinary(), ["ports"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n")
        #expect(!lines.isEmpty)
        let none = lines == ["no serial ports found (libserialport lists native, USB and Bluetooth ports; "
                             + "is the adapter plugged in?)"]
        #expect(none || lines.allSatisfy { $0.hasPrefix("/dev/") }, "\(r.stdout)")
    }

    @Test func simulateRejectsBadArguments() throws {
        let rigd = try rigdBinary()
        let unpaired = try runToCompletion(rigd, ["simulate", "--kind", "heat-rig"])
        #expect(unpaired.status == 64 && unpaired.stderr.contains("give one --listen for each --kind"))
        let unknown = try runToCompletion(rigd, ["simulate", "--kind", "toaster", "--listen", "127.0.0.1:0"])
        #expect(unknown.status == 64 && unknown.stderr.contains("no simulator for it"))
    }

    @Test func simulateServesSeveralDevicesFromOneProcess() throws {
        let sim = try ChildProcess(try rigdBinary(), ["simulate", "--kind", "heat-rig", "--listen", "127.0.0.1:0",
                                                      "--kind", "heat-rig", "--listen", "127.0.0.1:0"])
        defer { sim.signal(SIGTERM); _ = sim.waitForExit(timeout: 5) }
        #expect(sim.wait(for: 10) { out, _ in out.components(separatedBy: "serving heat-rig").count == 3 })
        let ports = sim.stdout.split(separator: "\n").compactMap { line in
            line.split(separator: ":").dropFirst().first?.split(separator: " ").first.flatMap { Int($0) }
        }
        #expect(ports.count == 2 && ports[0] != ports[1])
        var serials: Set<UInt32> = []
        for port in ports {
            let c = ModbusTCPClient(host: "127.0.0.1", port: port)
            try c.connect()
            serials.insert(try c.readHeader().serialNumber)
        }
        #expect(serials.count == 2)
    }
}
