import Foundation
import Glibc
import RigdTestKit
import Testing

/// A PLC-style heat rig written for this test (an example layout, not any vendor's): a CDAB float and int16 × 0.1
/// temperatures in input registers, a status bit, the heater % as int16 × 0.1 in a holding register, the fan enable
/// on a coil, an identity register, unit 3, reads of at most 16 registers and no FC 16.
private let plcHeatRig = """
    [map]
    kind = "heat-rig"
    name = "Example PLC heat rig (test layout, not a vendor's)"
    word_order = "CDAB"
    unit = 3
    max_read_registers = 16
    max_write_registers = 0
    identity = { table = "holding", register = 200, type = "uint16", equals = 4711 }

    [[map.channel]]
    name = "block_temp_c"
    table = "input"
    register = 0
    type = "float32"

    [[map.channel]]
    name = "mid_temp_c"
    table = "input"
    register = 2
    type = "int16"
    scale = 0.1
    quality = { table = "input", register = 10, bit = 0, bad_when = 1 }

    [[map.channel]]
    name = "ambient_temp_c"
    table = "input"
    register = 4
    type = "int16"
    scale = 0.1

    [[map.command]]
    name = "heater_pct"
    table = "holding"
    register = 0
    type = "int16"
    scale = 0.1
    min = 0
    max = 80

    [[map.command]]
    name = "fan_enable"
    table = "coil"
    register = 0
    type = "bool"

    """

/// The values mbpoll printed, by reference ("[7]: \t123").
private func polled(_ stdout: String) -> [Int: String] {
    var out: [Int: String] = [:]
    for line in stdout.split(separator: "\n") where line.hasPrefix("[") {
        let parts = line.dropFirst().split(separator: "]", maxSplits: 1)
        guard parts.count == 2, let reference = Int(parts[0]) else { continue }
        out[reference] = parts[1].dropFirst().trimmingCharacters(in: .whitespaces)
    }
    return out
}

/// `rigd simulate --map`: the same plant served through a device map, read and written raw with mbpoll.
@Suite(.serialized) struct SimulateMapTests {
    @Test func mbpollReadsAndWritesTheRegistersTheMapNames() throws {
        let map = try temporaryFile(plcHeatRig)
        defer { unlink(map) }
        let (sim, port) = try startSimulator(["--map", map], kind: "heat-rig")
        defer { sim.signal(SIGTERM); _ = sim.waitForExit(timeout: 5) }
        #expect(sim.stdout.contains("serving heat-rig on 127.0.0.1:\(port) (unit 3")
                && sim.stdout.contains("map \(map)"), "\(sim.stdout)")
        // 0-based references (-0) at the map's unit (-a 3); values to write follow the host.
        func mbpoll(_ args: [String], write values: [String] = []) throws -> (status: Int32, stdout: String,
                                                                             stderr: String) {
            try runToCompletion("/usr/bin/mbpoll", ["-m", "tcp", "-p", "\(port)", "-a", "3", "-0", "-1"] + args
                                + ["127.0.0.1"] + values)
        }
        // block_temp_c: a CDAB float (mbpoll's default word order, no -B).
        let block = try mbpoll(["-t", "3:float", "-r", "0", "-c", "1"])
        #expect(polled(block.stdout)[0].flatMap(Double.init).map { (15...35).contains($0) } == true, "\(block)")
        // mid_temp_c and ambient_temp_c: int16 tenths of a degree, the gap between reads 0, the status bit is good.
        let words = polled(try mbpoll(["-t", "3", "-r", "2", "-c", "9"]).stdout).compactMapValues { Int($0) }
        for reference in [2, 4] {
            #expect(words[reference].map { (150...350).contains($0) } == true, "\(words)")
        }
        #expect([3, 5, 6, 7, 8, 9, 10].allSatisfy { words[$0] == 0 }, "\(words)")
        // The identity register.
        #expect(polled(try mbpoll(["-t", "4", "-r", "200", "-c", "1"]).stdout)[200] == "4711")
        // Longer than max_read_registers, or outside what the map names: exception 02.
        let long = try mbpoll(["-t", "4", "-r", "0", "-c", "17"])
        #expect(long.status != 0 && long.stderr.contains("Illegal data address"), "\(long.stderr)")
        let outside = try mbpoll(["-t", "3", "-r", "11", "-c", "1"])
        #expect(outside.status != 0 && outside.stderr.contains("Illegal data address"), "\(outside.stderr)")
        // heater_pct: 42.5 % is raw 425 (FC 6); 90 % is outside the map's limits (03); two registers need FC 16,
        // which the map says the device lacks (01).
        let write = try mbpoll(["-t", "4", "-r", "0"], write: ["425"])
        #expect(write.status == 0, "\(write.stderr)")
        #expect(polled(try mbpoll(["-t", "4", "-r", "0", "-c", "1"]).stdout)[0] == "425")
        let refused = try mbpoll(["-t", "4", "-r", "0"], write: ["900"])
        #expect(refused.status != 0 && refused.stderr.contains("Illegal data value"), "\(refused.stderr)")
        let multiple = try mbpoll(["-t", "4", "-r", "0"], write: ["100", "0"])
        #expect(multiple.status != 0 && multiple.stderr.contains("Illegal function"), "\(multiple.stderr)")
        #expect(polled(try mbpoll(["-t", "4", "-r", "0", "-c", "1"]).stdout)[0] == "425")
        // fan_enable on coil 0.
        #expect(try mbpoll(["-t", "0", "-r", "0"], write: ["1"]).status == 0)
        #expect(polled(try mbpoll(["-t", "0", "-r", "0", "-c", "1"]).stdout)[0] == "1")
    }

    @Test func aBadMapExits78NamingFileAndLine() throws {
        let map = try temporaryFile("[map]\nkind = \"heat-rig\"\nname = \"bad\"\ncolour = 1\n")
        defer { unlink(map) }
        let r = try runToCompletion(try rigdBinary(), ["simulate", "--kind", "heat-rig", "--map", map,
                                                       "--listen", "127.0.0.1:0"], timeout: 20)
        #expect(r.status == 78, "\(r.stderr)")
        #expect(r.stderr.contains(map + ":4:") && r.stderr.contains("colour"), "\(r.stderr)")
        #expect(r.stderr.contains("nothing started") && !r.stdout.contains("serving"), "\(r.stdout)")
    }

    @Test func theKindMustBeTheMapsOrLeftOut() throws {
        let map = try temporaryFile(plcHeatRig)
        defer { unlink(map) }
        let rigd = try rigdBinary()
        let other = try runToCompletion(rigd, ["simulate", "--kind", "aqua-sonde", "--map", map,
                                               "--listen", "127.0.0.1:0"], timeout: 20)
        #expect(other.status == 64 && other.stderr.contains("--kind aqua-sonde does not match --map"),
                "\(other.stderr)")
        #expect(!other.stdout.contains("serving"))
        // Without --kind, the map's kind is served.
        let sim = try ChildProcess(rigd, ["simulate", "--map", map, "--listen", "127.0.0.1:0"])
        defer { sim.signal(SIGTERM); _ = sim.waitForExit(timeout: 5) }
        #expect(sim.wait(for: 15) { out, _ in out.contains("serving heat-rig on 127.0.0.1:") }, "\(sim.stderr)")
    }
}
