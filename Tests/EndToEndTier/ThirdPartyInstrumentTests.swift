import Devices
import Foundation
import RigdTestKit
import Testing

/// Issue 19: a device that is not rigd's — a pymodbus server with a register layout written here, in the manner of a
/// vendor sonde (CDAB floats, scaled integers, a "no reading" code, a status bit, an identity register) — read by
/// `rigd run` through a map, with the decoded values checked through the HTTP API.
@Suite("Third-party instrument through a device map")
struct ThirdPartyInstrumentTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/pymodbus_instrument.py").path

    /// The map, as a technician writes it from the instrument's manual (Modicon numbers for the inputs).
    static func map(identity: Int) -> String {
        """
        [map]
        kind = "aqua-sonde"
        name = "pymodbus test sonde (an example layout, not a vendor's)"
        word_order = "CDAB"
        max_read_registers = 60
        max_write_registers = 0
        identity = { table = "holding", register = 400, type = "uint16", equals = \(identity) }

        [[map.channel]]
        name = "do_mgl"
        table = "input"
        register = "30257"
        type = "float32"

        [[map.channel]]
        name = "water_temp_c"
        table = "input"
        register = 260
        type = "int16"
        scale = 0.1

        [[map.channel]]
        name = "ph"
        table = "input"
        register = 262
        type = "uint16"
        scale = 0.01

        [[map.channel]]
        name = "salinity_ppt"
        table = "input"
        register = 264
        type = "uint16"
        scale = 0.1
        nan_if = 65535

        [[map.channel]]
        name = "tan_mgl"
        table = "input"
        register = 266
        type = "int16"
        scale = 0.001
        quality = { table = "input", register = 300, bit = 3, bad_when = 1 }

        [[map.channel]]
        name = "nh3_mgl"
        table = "input"
        register = 268
        type = "uint16"
        scale = 0.0001
        """
    }

    /// The instrument's registers: DO 7.25 mg/L (CDAB), −1.5 °C, pH 7.81, salinity "no reading", TAN flagged bad,
    /// NH3 0.0012 mg/L.
    static func layout() -> String {
        var words: [Int: UInt16] = [400: 4711, 300: 0b1000]
        for (i, w) in RegisterCodec.encode(Float(7.25), order: .cdab).enumerated() { words[256 + i] = w }
        words[260] = UInt16(bitPattern: -15)
        words[262] = 781
        words[264] = 65535
        words[266] = 120
        words[268] = 12
        let body = words.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ")
        return "{\"registers\": {\(body)}}"
    }

    private func startInstrument() throws -> (ChildProcess, Int) {
        let layout = try temporaryFile(Self.layout(), suffix: ".json")
        // The interpreter itself, not a wrapper (pyenv's shim is a shell that would outlive SIGTERM's target).
        let python = try runToCompletion("/usr/bin/env", ["python3", "-c", "import sys; print(sys.executable)"])
            .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let server = try ChildProcess(python, [Self.fixture, "127.0.0.1", "0", layout])
        var port: Int?
        _ = server.wait(for: 20) { out, _ in
            port = out.split(separator: "\n").first { $0.hasPrefix("listening on ") }
                .flatMap { $0.split(separator: ":").last }.flatMap { Int($0) }
            return port != nil
        }
        guard let port else { throw TestFailure("the pymodbus instrument did not start: \(server.stderr)") }
        return (server, port)
    }

    private func configuration(port: Int, identity: Int) throws -> String {
        let dir = NSTemporaryDirectory() + "rigd-map-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir + "/maps", withIntermediateDirectories: true)
        try Self.map(identity: identity).write(toFile: dir + "/maps/sonde.toml", atomically: true, encoding: .utf8)
        let config = dir + "/rigd.toml"
        try """
        [[station]]
        name = "pond"
        kind = "aqua-sonde"
        address = "tcp://127.0.0.1:\(port)"
        fallback = "fail"
        map = "maps/sonde.toml"
        """.write(toFile: config, atomically: true, encoding: .utf8)
        return config
    }

    @Test func rigdReadsAPymodbusInstrumentThroughAMap() async throws {
        let (server, port) = try startInstrument()
        defer { server.signal(SIGKILL); _ = server.waitForExit(timeout: 5) }  // SIGTERM may be blocked (the runner's signal mask)
        let config = try configuration(port: port, identity: 4711)
        let rigd = try ChildProcess(try rigdBinary(), ["run", "--config", config])
        defer { rigd.signal(SIGTERM); _ = rigd.waitForExit(timeout: 10) }
        let base = try rigd.apiBase()
        #expect(rigd.stderr.contains("REAL device at tcp://127.0.0.1:\(port), map \"pymodbus test sonde"))
        #expect(rigd.stderr.contains("the map has no do_sat_pct"), "\(rigd.stderr.prefix(3000))")
        var channels: [String: [String: Any]] = [:]
        for _ in 0..<50 {
            let station = try await http("GET", base + "/api/stations/pond").json
            #expect(station?["mode"] as? String == "real")
            for c in station?["channels"] as? [[String: Any]] ?? [] { channels[c["name"] as? String ?? ""] = c }
            if channels["do_mgl"]?["value"] is Double { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        func value(_ name: String) -> Double? { channels[name]?["value"] as? Double }
        func quality(_ name: String) -> Int? { channels[name]?["quality"] as? Int }
        #expect(value("do_mgl").map { abs($0 - 7.25) < 1e-6 } == true, "\(channels)")
        #expect(value("water_temp_c").map { abs($0 + 1.5) < 1e-5 } == true, "\(channels)")
        #expect(value("ph").map { abs($0 - 7.81) < 1e-5 } == true, "\(channels)")
        #expect(value("salinity_ppt") == nil && quality("salinity_ppt") == 1, "nan_if: \(channels)")
        #expect(value("tan_mgl") == nil && quality("tan_mgl") == 0x80, "quality bit: \(channels)")
        #expect(value("nh3_mgl").map { abs($0 - 0.0012) < 1e-7 } == true, "\(channels)")
        #expect(value("do_sat_pct") == nil && quality("do_sat_pct") == 1, "not mapped: \(channels)")
    }

    @Test func anInstrumentFailingTheIdentityCheckIsRefused() throws {
        let (server, port) = try startInstrument()
        defer { server.signal(SIGKILL); _ = server.waitForExit(timeout: 5) }  // SIGTERM may be blocked (the runner's signal mask)
        let config = try configuration(port: port, identity: 4712)
        let rigd = try ChildProcess(try rigdBinary(), ["run", "--config", config])
        let status = rigd.waitForExit(timeout: 20)
        #expect(status != nil && status != 0)
        #expect(rigd.stderr.contains("fails the map's identity check: holding register 400 reads 4711"),
                "\(rigd.stderr.suffix(2000))")
    }
}
