import Foundation
import Glibc
import RigdTestKit
import Testing

/// Issue 19's commissioning tools against `rigd simulate`: `rigd probe` (one read of every mapped channel) and
/// `rigd scan` (which unit ids answer on a line), over Modbus TCP and over a socat pty pair (RTU).
@Suite(.serialized) struct CommissioningTests {
    @Test func probeReadsEveryChannelOverTCPAndNamesWhatFails() throws {
        let (sim, port) = try startSimulator(kind: "heat-rig")
        defer { sim.signal(SIGTERM); _ = sim.waitForExit(timeout: 5) }
        let address = "tcp://127.0.0.1:\(port)"
        // No map: the kind is found from IR 0.
        let auto = try runToCompletion(try rigdBinary(), ["probe", address])
        #expect(auto.status == 0, "\(auto.stdout)\(auto.stderr)")
        #expect(auto.stdout.contains("IR 0 reads 3074: heat-rig"))
        #expect(auto.stdout.contains("identity: input 0 (#1) = 3074 (expected 3074): ok"))
        let row = auto.stdout.split(separator: "\n").first { $0.hasPrefix("block_temp_c") }.map(String.init) ?? ""
        #expect(row.contains("input 100–101 (#101)") && row.contains("°C") && row.hasSuffix("good"), "\(row)")
        let temp = row.split(separator: " ", omittingEmptySubsequences: true).dropFirst(6).first.flatMap { Double($0) }
        #expect(temp.map { (15...35).contains($0) } == true, "\(row)")
        #expect(auto.stdout.contains("function codes: 04 ok") && auto.stdout.contains("all 6 mapped channels read"))

        // A map naming a register the device lacks: that channel fails with the exception, exit 1.
        let map = try temporaryFile("""
            [map]
            kind = "heat-rig"
            name = "test: one good, one missing register"
            [[map.channel]]
            name = "block_temp_c"
            table = "input"
            register = "30101"
            type = "float32"
            [[map.channel]]
            name = "mid_temp_c"
            table = "holding"
            register = 5000
            type = "int16"
            scale = 0.1
            """)
        defer { unlink(map) }
        let mapped = try runToCompletion(try rigdBinary(), ["probe", address, "--map", map])
        #expect(mapped.status == 1, "\(mapped.stdout)\(mapped.stderr)")
        #expect(mapped.stdout.contains("FAILED") && mapped.stdout.contains("illegal data address"), "\(mapped.stdout)")
        #expect(mapped.stdout.contains("1 of 2 channels did not read: mid_temp_c"), "\(mapped.stdout)")
        #expect(mapped.stdout.contains("function codes: 03 exception 02, 04 ok"), "\(mapped.stdout)")

        // The wrong kind's map: the identity does not match, exit 1.
        let wrong = try runToCompletion(try rigdBinary(), ["probe", address, "--kind", "cnc-mill"])
        #expect(wrong.status == 1 && wrong.stdout.contains("expected 3073): MISMATCH"), "\(wrong.stdout)")
        // Nothing there: 69; bad arguments: 64.
        #expect(try runToCompletion(try rigdBinary(), ["probe", "tcp://127.0.0.1:1"]).status == 69)
        #expect(try runToCompletion(try rigdBinary(), ["probe", "bogus://x"]).status == 64)
        #expect(try runToCompletion(try rigdBinary(), ["probe", address, "--kind", "toaster"]).status == 64)
    }

    @Test func scanAndProbeOverAnRTULine() throws {
        let pty = try PtyPair()
        let sim = try ChildProcess(try rigdBinary(), ["simulate", "--kind", "aqua-sonde", "--rtu", pty.a,
                                                      "--units", "2,5"])
        defer { sim.signal(SIGTERM); _ = sim.waitForExit(timeout: 5) }
        #expect(sim.wait(for: 15) { out, _ in out.split(separator: "\n").filter { $0.hasPrefix("serving") }.count == 2 },
                "\(sim.stderr)")
        let line = "rtu://\(pty.b)?baud=9600&parity=N"
        let scan = try runToCompletion(try rigdBinary(), ["scan", line, "--units", "1-6"], timeout: 60)
        #expect(scan.status == 0, "\(scan.stdout)\(scan.stderr)")
        let answering = scan.stdout.split(separator: "\n").filter { $0.hasPrefix("unit ") }
        #expect(answering.count == 2, "\(scan.stdout)")
        #expect(answering.first?.contains("unit 2: answers (FC 03 ok, FC 04 ok): aqua-sonde (IR 0 = 0x0B01") == true,
                "\(scan.stdout)")
        #expect(answering.last?.hasPrefix("unit 5: answers") == true, "\(scan.stdout)")
        let none = try runToCompletion(try rigdBinary(), ["scan", line, "--units", "7,8"], timeout: 60)
        #expect(none.status == 1 && none.stdout.contains("no unit answered"), "\(none.stdout)")

        let probe = try runToCompletion(try rigdBinary(), ["probe", line + "&unit=5"], timeout: 60)
        #expect(probe.status == 0, "\(probe.stdout)\(probe.stderr)")
        #expect(probe.stdout.contains("unit 5") && probe.stdout.contains("all 13 mapped channels read"),
                "\(probe.stdout)")
    }
}
