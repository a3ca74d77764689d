import Devices
import Foundation
import RigdTestKit
import Testing

/// Issue 19: each example map in examples/maps/ end to end — `rigd simulate --map` serves the plant through it, `rigd
/// run` drives the station through the same map (a real device to it: fallback "fail"), and mbpoll reads the raw
/// registers the map names, which must agree with what the API reports.
@Suite("Example device maps end to end")
struct ExampleMapTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// An example map's path (or `name` itself, when it is a path already).
    static func mapPath(_ name: String) -> String {
        name.hasPrefix("/") ? name : repository.appendingPathComponent("examples/maps/\(name)").path
    }

    /// Serves `map`, runs a station of `kind` through it, and returns the processes, the port and the API's base URL.
    private func start(kind: String, map: String, control: String = "", simulator: [String] = []) throws
        -> (sim: ChildProcess, rigd: ChildProcess, port: Int, base: String) {
        let (sim, port) = try startSimulator(["--map", Self.mapPath(map)] + simulator, kind: kind)
        #expect(sim.stdout.contains(", map \(Self.mapPath(map)))"), "\(sim.stdout)\(sim.stderr)")
        let config = try temporaryFile("""
            [[station]]
            name = "s"
            kind = "\(kind)"
            address = "tcp://127.0.0.1:\(port)"
            fallback = "fail"
            map = "\(Self.mapPath(map))"
            \(control)
            """)
        let rigd = try ChildProcess(try rigdBinary(), ["run", "--config", config])
        return (sim, rigd, port, try rigd.apiBase())
    }

    /// The station's channels by name once `ready` has a value, polling the API.
    private func channels(_ base: String, ready: String) async throws -> [String: [String: Any]] {
        var channels: [String: [String: Any]] = [:]
        for _ in 0..<60 {
            let station = try await http("GET", base + "/api/stations/s").json
            #expect(station?["mode"] as? String == "real")
            for c in station?["channels"] as? [[String: Any]] ?? [] { channels[c["name"] as? String ?? ""] = c }
            if channels[ready]?["value"] is Double { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        return channels
    }

    private func mbpoll(_ port: Int, _ args: [String]) throws -> [Int: Double] {
        let r = try runToCompletion("/usr/bin/mbpoll", ["-m", "tcp", "-p", "\(port)", "-0", "-1"] + args + ["127.0.0.1"])
        var values: [Int: Double] = [:]
        for line in r.stdout.split(separator: "\n") where line.hasPrefix("[") {
            let parts = line.dropFirst().split(separator: "]")
            guard parts.count == 2, let address = Int(parts[0]) else { continue }
            let text = parts[1].drop { $0 == ":" || $0 == " " || $0 == "\t" }.split(separator: " ").first ?? ""
            values[address] = Double(text)
        }
        return values
    }

    private func stop(_ sim: ChildProcess, _ rigd: ChildProcess) {
        rigd.signal(SIGTERM)
        #expect(rigd.waitForExit(timeout: 10) == 0, "\(rigd.stderr.suffix(2000))")
        sim.signal(SIGTERM)
        _ = sim.waitForExit(timeout: 5)
    }

    @Test func theSondeWithCDABFloatsAndScaledIntegers() async throws {
        let (sim, rigd, port, base) = try start(kind: "aqua-sonde", map: "sonde-cdab.toml")
        defer { stop(sim, rigd) }
        let channels = try await channels(base, ready: "do_mgl")
        func value(_ name: String) -> Double? { channels[name]?["value"] as? Double }
        // The raw registers: DO as a CDAB float (mbpoll's default word order), temperature int16 × 0.01, pH × 0.01.
        let doRaw = try #require(try mbpoll(port, ["-t", "3:float", "-r", "256", "-c", "1"])[256])
        let ints = try mbpoll(port, ["-t", "3", "-r", "300", "-c", "2"])
        let temperature = try #require(ints[300]).truncatingRemainder(dividingBy: 65536) / 100
        let ph = try #require(ints[301]) / 100
        #expect((2...15).contains(doRaw), "DO \(doRaw)")
        #expect((10...35).contains(temperature) && (6...10).contains(ph), "T \(temperature), pH \(ph)")
        #expect(value("do_mgl").map { abs($0 - doRaw) < 1.5 } == true, "API \(channels["do_mgl"] ?? [:]) vs \(doRaw)")
        #expect(value("water_temp_c").map { abs($0 - temperature) < 0.5 } == true, "\(channels["water_temp_c"] ?? [:])")
        #expect(value("ph").map { abs($0 - ph) < 0.2 } == true, "\(channels["ph"] ?? [:])")
        #expect(value("wind_mps") == nil && channels["wind_mps"]?["quality"] as? Int == 1, "not in the map")
        #expect(value("nh3_mgl").map { (0...1).contains($0) } == true, "\(channels["nh3_mgl"] ?? [:])")
        // The API shows the map and the read plan: the sonde's values in three reads.
        let station = try #require(try await http("GET", base + "/api/stations/s").json)
        let plan = (station["read_plan"] as? [String] ?? []).filter { $0.hasPrefix("sample (") }
        #expect(plan.map { $0.split(separator: ": ").last.map(String.init) ?? $0 }
                == ["FC 04 input 256…261 (6)", "FC 04 input 300…304 (5)", "FC 04 input 320…320 (1)"], "\(plan)")
        let map = station["device_map"] as? [String: Any]
        #expect(map?["name"] as? String == "Example sonde (CDAB floats, scaled integers, no FC 16)")
        #expect(map?["relies_on_host"] as? Bool == false, "a sonde switches nothing: it needs no watchdog")
        // The sonde has no FC 16, and its identity sits at HR 9000.
        #expect(try mbpoll(port, ["-t", "4", "-r", "9000", "-c", "1"])[9000] == 4711)
        let refused = try runToCompletion("/usr/bin/mbpoll", ["-m", "tcp", "-p", "\(port)", "-0", "-1", "-t", "4",
                                                              "-r", "9000", "127.0.0.1", "1", "2"])
        #expect(refused.status != 0 && refused.stderr.contains("Illegal function"), "\(refused.stderr)")
    }

    /// Issue 20 item 1: a sonde that measures only when asked (docs/maps.md, "Acquisition"). `rigd simulate --map`
    /// measures after the trigger and keeps its measuring time in a register; `rigd run` writes the trigger, waits
    /// that time, polls the ready flag and reads. When the instrument never finishes (the `never_ready` fault), the
    /// channels read "not available" and the failures are counted as `not_ready`; when it recovers, values return.
    @Test func aSondeThatMustBeAskedEndToEnd() async throws {
        let sonde = try String(contentsOfFile: Self.mapPath("sonde-cdab.toml"), encoding: .utf8)
        let map = try temporaryFile(sonde + """

            [[map.acquire]]
            simulate_ms = 1500
            [[map.acquire.step]]
            write = { table = "holding", register = 1, value = 1 }
            [[map.acquire.step]]
            wait = { table = "holding", register = 2, max_ms = 5000 }
            [[map.acquire.step]]
            poll = { table = "holding", register = 3, equals = 1, timeout_ms = 2000 }
            """)
        defer { unlink(map) }
        let (sim, rigd, port, base) = try start(kind: "aqua-sonde", map: map,
                                                control: "[station.control]\nsample_every_s = 1",
                                                simulator: ["--control", "127.0.0.1:0"])
        defer { stop(sim, rigd) }
        let good = try await channels(base, ready: "do_mgl")
        for name in ["do_mgl", "water_temp_c", "ph"] {
            #expect(good[name]?["value"] is Double && good[name]?["quality"] as? Int == 0, "\(name): \(good[name] ?? [:])")
        }
        #expect(try mbpoll(port, ["-t", "4", "-r", "2", "-c", "1"])[2] == 1500, "the instrument's measuring time")
        let station = try #require(try await http("GET", base + "/api/stations/s").json)
        let plan = station["read_plan"] as? [String] ?? []
        #expect(plan.contains { $0.hasPrefix("sample (1 s): acquire do_mgl, do_sat_pct, chl_ugl, water_temp_c, ph, "
                                             + "salinity_ppt, tan_mgl, nh3_mgl first: write holding 1 = 1, wait the ms in "
                                             + "holding 2 (at most 5000), poll holding 3 until 1 (timeout 2000 ms); takes "
                                             + "0…7000 ms, more than the loop's period") }, "\(plan)")

        let control = try #require(controlAddress(sim), "no control address: \(sim.stdout)")
        let fault = try runToCompletion(try rigdBinary(), ["fault", "--control", control, "device", "never_ready"])
        #expect(fault.status == 0, "\(fault.stderr)")
        var stale: [String: [String: Any]] = [:]
        var link: [String: Any] = [:]
        for _ in 0..<75 {
            let station = try await http("GET", base + "/api/stations/s").json
            for c in station?["channels"] as? [[String: Any]] ?? [] { stale[c["name"] as? String ?? ""] = c }
            link = station?["link"] as? [String: Any] ?? [:]
            if !(stale["do_mgl"]?["value"] is Double), (link["errors_by_kind"] as? [String: Any])?["not_ready"] != nil {
                break
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(!(stale["do_mgl"]?["value"] is Double) && stale["do_mgl"]?["quality"] as? Int == 1,
                "never ready: \(stale["do_mgl"] ?? [:])")
        #expect(((link["errors_by_kind"] as? [String: Any])?["not_ready"] as? Int ?? 0) >= 1, "\(link)")
        #expect((link["last_error"] as? String ?? "").contains("poll holding 3 until 1 (timeout 2000 ms) timed out"),
                "\(link)")
        let normal = try runToCompletion(try rigdBinary(), ["fault", "--control", control, "device", "normal"])
        #expect(normal.status == 0, "\(normal.stderr)")
        let back = try await channels(base, ready: "do_mgl")
        #expect(back["do_mgl"]?["value"] is Double && back["do_mgl"]?["quality"] as? Int == 0, "\(back["do_mgl"] ?? [:])")
    }

    /// Issue 20 item 3: a sonde whose parameter list is written at every connect (`[[map.setup]]`, with FC 6 one
    /// register at a time: it has no FC 16) and whose DO units ID must read 1 (`[[map.expect]]`). Units changed on
    /// the instrument make DO bad, never rescaled; a status error makes pH bad while its value looks fine; and an
    /// instrument that refuses the setup (it has no such registers) is refused, never simulated over.
    @Test func aSondeWithASetupAndExpectedUnitsEndToEnd() async throws {
        let sonde = try String(contentsOfFile: Self.mapPath("sonde-cdab.toml"), encoding: .utf8)
        let setup = """

            [[map.setup]]
            write = { table = "holding", register = 128, values = [212, 1, 18, 0] }

            [[map.expect]]
            table = "holding"
            register = 140
            equals = 1
            channels = ["do_mgl", "do_sat_pct"]
            what = "DO units ID"
            """
        let map = try temporaryFile(sonde + setup)
        defer { unlink(map) }
        let (sim, rigd, port, base) = try start(kind: "aqua-sonde", map: map, simulator: ["--control", "127.0.0.1:0"])
        defer { stop(sim, rigd) }
        let good = try await channels(base, ready: "do_mgl")
        for name in ["do_mgl", "ph"] {
            #expect(good[name]?["value"] is Double && good[name]?["quality"] as? Int == 0, "\(name): \(good[name] ?? [:])")
        }
        let list = try mbpoll(port, ["-t", "4", "-r", "128", "-c", "4"])
        #expect([128, 129, 130, 131].map { list[$0] } == [212, 1, 18, 0], "the parameter list as written: \(list)")
        let control = try #require(controlAddress(sim), "no control address: \(sim.stdout)")
        for words in [["device", "units_changed"], ["channel", "ph", "status_error"]] {
            let fault = try runToCompletion(try rigdBinary(), ["fault", "--control", control] + words)
            #expect(fault.status == 0, "\(words): \(fault.stderr)")
        }
        var bad: [String: [String: Any]] = [:]
        for _ in 0..<50 {
            let station = try await http("GET", base + "/api/stations/s").json
            for c in station?["channels"] as? [[String: Any]] ?? [] { bad[c["name"] as? String ?? ""] = c }
            if !(bad["do_mgl"]?["value"] is Double), !(bad["ph"]?["value"] is Double) { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(!(bad["do_mgl"]?["value"] is Double) && bad["do_mgl"]?["quality"] as? Int == 0x80, "\(bad["do_mgl"] ?? [:])")
        #expect(!(bad["ph"]?["value"] is Double) && bad["ph"]?["quality"] as? Int == 0x80, "\(bad["ph"] ?? [:])")
        #expect(bad["water_temp_c"]?["value"] is Double, "no expectation or status error: \(bad["water_temp_c"] ?? [:])")
        #expect(rigd.wait(for: 10, until: { _, err in
            err.contains("station s: do_mgl marked bad (never rescaled): DO units ID (holding 140) reads 2, the map "
                         + "expects 1")
        }), "\(rigd.stderr.suffix(3000))")

        // The same map against an instrument without those registers: it answers the setup with exception 02, so the
        // station is refused — not simulated, though its fallback would simulate a silent device.
        let (plain, plainPort) = try startSimulator(["--map", Self.mapPath("sonde-cdab.toml")], kind: "aqua-sonde")
        defer { plain.signal(SIGTERM); _ = plain.waitForExit(timeout: 5) }
        let config = try temporaryFile("""
            [[station]]
            name = "r"
            kind = "aqua-sonde"
            address = "tcp://127.0.0.1:\(plainPort)"
            fallback = "simulate"
            map = "\(map)"
            """)
        defer { unlink(config) }
        let refused = try ChildProcess(try rigdBinary(), ["run", "--config", config])
        defer { refused.signal(SIGTERM); _ = refused.waitForExit(timeout: 10) }
        let stations = try await http("GET", try refused.apiBase() + "/api/stations").json?["stations"] as? [[String: Any]]
        #expect(stations?.first?["mode"] as? String == "refused", "\(stations ?? [])")
        let reason = stations?.first?["refused_reason"] as? String ?? ""
        #expect(reason.contains("setup 1 of Example sonde (CDAB floats, scaled integers, no FC 16): write holding "
                                + "128…131 = 212, 1, 18, 0: exception 0x02 (illegal data address)"), "\(reason)")
    }

    /// A sonde-and-controller unit that switches the pond's aerators on its coils 0 and 1 (docs/maps.md, "Relays"):
    /// over TCP, the coils hold what the station decided, and its safe state (aerators on) when rigd stops.
    @Test func aeratorsSwitchedThroughTheInstrument() async throws {
        let sonde = try sondeMapWithAerators()
        let map = try temporaryFile(sonde, suffix: ".toml")
        let (sim, rigd, port, base) = try start(kind: "aqua-sonde", map: map)
        defer { stop(sim, rigd) }
        _ = try await channels(base, ready: "do_mgl")
        var decided: Bool?
        var coils: [Int: Double] = [:]
        // The decision and the coils, read until they agree (a decision may change between the two reads).
        for _ in 0..<20 {
            let station = try await http("GET", base + "/api/stations/s").json
            decided = (station?["relays"] as? [String: Any])?["aerator-1"] as? Bool
            coils = try mbpoll(port, ["-t", "0", "-r", "0", "-c", "2"])
            if let decided, coils[0] == (decided ? 1 : 0), coils[1] == coils[0] { break }
            try await Task.sleep(for: .milliseconds(300))
        }
        let on = try #require(decided as Bool?, "the API reports the aerators")
        #expect(coils[0] == (on ? 1 : 0) && coils[1] == (on ? 1 : 0), "decided \(on), coils \(coils)")
        #expect(!rigd.stderr.contains("GPIO"), "no host line is involved: \(rigd.stderr.suffix(1500))")
        rigd.signal(SIGTERM)
        #expect(rigd.waitForExit(timeout: 10) == 0, "\(rigd.stderr.suffix(2000))")
        #expect(rigd.stderr.contains("station s: safe state driven"), "\(rigd.stderr.suffix(2000))")
        let safe = try mbpoll(port, ["-t", "0", "-r", "0", "-c", "2"])
        #expect(safe[0] == 1 && safe[1] == 1, "a pond's aerators are on in its safe state: \(safe)")
    }

    /// The PLC heat rig with `fc23 = true`, over TCP: libmodbus sends FC 23 and the simulator's server answers it.
    /// With a 1 s watchdog the heartbeat is written on every 500 ms tick and, idle, nothing else is: without FC 23 a
    /// tick is that write and two reads (holding 0…11, coils 0…1), with it the write carries the next tick's holding
    /// read — two requests a tick instead of three (docs/maps.md, "FC 23").
    @Test func thePLCHeatRigWithFC23OverTCP() async throws {
        let plc = try String(contentsOfFile: Self.mapPath("plc-heat-rig.toml"), encoding: .utf8)
            .replacingOccurrences(of: "max_gap = 8\n", with: "max_gap = 8\nfc23 = true\n")
            .replacingOccurrences(of: "value_ms = 2000", with: "value_ms = 1000")
        #expect(plc.contains("fc23 = true") && plc.contains("value_ms = 1000"))
        // Setpoint 0 °C: the heater stays off, so each tick's only holding-register write is the heartbeat, and the
        // ratio below does not depend on how far the rig has heated (a slow machine, as under the thread sanitizer,
        // reached the band where the heater command changes every tick: one more write a tick).
        let (sim, rigd, _, base) = try start(kind: "heat-rig", map: try temporaryFile(plc, suffix: ".toml"),
                                             control: "[station.control]\nsetpoint_c = 0")
        defer { stop(sim, rigd) }
        _ = try await channels(base, ready: "block_temp_c")
        func counts() async throws -> (transactions: Int, ticks: Int, errors: Int, linkErrors: Int, plan: [String]) {
            let station = try #require(try await http("GET", base + "/api/stations/s").json)
            let link = station["link"] as? [String: Any] ?? [:]
            let ticks = (station["loops"] as? [[String: Any]] ?? []).compactMap { $0["ticks"] as? Int }.reduce(0, +)
            return (link["transactions"] as? Int ?? 0, ticks, link["transaction_errors"] as? Int ?? -1,
                    link["link_errors"] as? Int ?? -1, station["read_plan"] as? [String] ?? [])
        }
        let before = try await counts()
        try await Task.sleep(for: .seconds(6))
        let after = try await counts()
        #expect(after.errors == 0, "no request refused: the server answers FC 23")
        #expect(after.plan.contains { $0.contains("FC 23: a tick's last holding-register write goes with") }, "\(after.plan)")
        let ticks = after.ticks - before.ticks
        let perTick = Double(after.transactions - before.transactions) / Double(max(1, ticks))
        #expect(ticks >= 8, "\(ticks) ticks in 6 s")
        // FC 23 (heartbeat and holding read) and the coils: 2 a tick; without FC 23, 3. A timeout on a loaded machine
        // (a link error, then a reconnect) adds requests that are not FC 23's doing.
        #expect(perTick < 2.5 || after.linkErrors > before.linkErrors,
                "\(perTick) requests a tick (\(after.transactions - before.transactions) in \(ticks))")
        // The heartbeats reach the PLC inside FC 23: its 1 s watchdog never trips.
        let alarms = rigd.stderr.split(separator: "\n").filter { $0.contains("ALARM") && !$0.contains("device_unavailable") }
        #expect(alarms.isEmpty, "\(alarms)")
    }

    @Test func thePLCHeatRigOnHoldingRegistersAndCoils() async throws {
        let (sim, rigd, port, base) = try start(kind: "heat-rig", map: "plc-heat-rig.toml",
                                                control: "[station.control]\nsetpoint_c = 60")
        defer { stop(sim, rigd) }
        _ = try await channels(base, ready: "block_temp_c")
        // Let the controller heat for a moment: it writes the heater (HR 10, × 0.1 %) and its enable (coil 0).
        try await Task.sleep(for: .seconds(2))
        // The block heats: the raw reading must lie between what the API showed just before and just after it.
        let before = try #require(try await channels(base, ready: "block_temp_c")["block_temp_c"]?["value"] as? Double)
        let holding = try mbpoll(port, ["-t", "4", "-r", "0", "-c", "12"])
        let after = try #require(try await channels(base, ready: "block_temp_c")["block_temp_c"]?["value"] as? Double)
        let block = try #require(holding[0]) / 10
        #expect((10...90).contains(block), "block \(block) °C")
        #expect((min(before, after) - 0.3...max(before, after) + 0.3).contains(block),
                "API \(before)…\(after) vs raw \(block)")
        let heater = try #require(holding[10]) / 10
        #expect(heater > 0 && heater <= 100, "heater \(heater) % (the rig is far below 60 °C)")
        #expect(try mbpoll(port, ["-t", "0", "-r", "0", "-c", "2"])[0] == 1, "heater enable coil")
        // rigd armed the PLC's watchdog with the map's timeout.
        #expect(try mbpoll(port, ["-t", "4", "-r", "20", "-c", "1"])[20] == 2000)
        #expect(!rigd.stderr.contains("relies on the host"), "the PLC has a watchdog")
        let station = try #require(try await http("GET", base + "/api/stations/s").json)
        #expect((station["device_map"] as? [String: Any])?["relies_on_host"] as? Bool == false)
        #expect(station["read_plan"] as? [String] == ["heater (500 ms): FC 03 holding 0…11 (12)",
                                                      "heater (500 ms): FC 01 coil 0…1 (2)"],
                "the channels, their quality bits and the outputs in one read; the enables in another")
    }

    /// Issue 20 item 2 end to end: a 4-bit status field, an enumeration register, a NaN bit pattern and the device's
    /// fallback value, served by `rigd simulate --map` and read by `rigd run` through the same map. A sensor lost in
    /// the simulator (`rigd fault`) reaches the API as no value with the quality the map's rule gives.
    @Test func statusFieldsPatternsAndFallbackValuesEndToEnd() async throws {
        let commands = try String(contentsOfFile: Self.mapPath("plc-heat-rig.toml"), encoding: .utf8)
            .components(separatedBy: "[[map.command]]").dropFirst().joined(separator: "[[map.command]]")
            .components(separatedBy: "[map.watchdog]")[0]
        let status = try String(contentsOfFile: Self.repository
            .appendingPathComponent("fuzz/corpus/map/status-fields-patterns-fallback.toml").path, encoding: .utf8)
        let map = try temporaryFile(status.replacingOccurrences(of: "max_read_registers = 60",
                                                               with: "max_read_registers = 60\nmax_gap = 20")
                                    + "\n[[map.command]]" + commands.replacingOccurrences(of: "\"400", with: "\"401"))
        defer { unlink(map) }
        let (sim, rigd, _, base) = try start(kind: "heat-rig", map: map, control: "[station.control]\nsetpoint_c = 40",
                                             simulator: ["--control", "127.0.0.1:0"])
        defer { stop(sim, rigd) }
        let good = try await channels(base, ready: "heater_power_w")
        for name in ["block_temp_c", "mid_temp_c", "end_temp_c", "ambient_temp_c", "heater_power_w"] {
            #expect(good[name]?["value"] is Double && good[name]?["quality"] as? Int == 0, "\(name): \(good[name] ?? [:])")
        }
        let control = try #require(controlAddress(sim), "no control address: \(sim.stdout)")
        for channel in ["mid_temp_c", "ambient_temp_c"] {
            let fault = try runToCompletion(try rigdBinary(), ["fault", "--control", control, "channel", channel, "lost"])
            #expect(fault.status == 0, "\(fault.stderr)")
        }
        var lost: [String: [String: Any]] = [:]
        for _ in 0..<50 {
            lost = try await channels(base, ready: "heater_power_w")
            if !(lost["mid_temp_c"]?["value"] is Double), !(lost["ambient_temp_c"]?["value"] is Double) { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        // The status field says "sensor failure" (0x80); the NaN pattern is "not available" (0x01).
        #expect(!(lost["mid_temp_c"]?["value"] is Double) && lost["mid_temp_c"]?["quality"] as? Int == 0x80,
                "\(lost["mid_temp_c"] ?? [:])")
        #expect(!(lost["ambient_temp_c"]?["value"] is Double) && lost["ambient_temp_c"]?["quality"] as? Int == 0x01,
                "\(lost["ambient_temp_c"] ?? [:])")
        #expect(lost["block_temp_c"]?["value"] is Double && lost["end_temp_c"]?["value"] is Double)
    }

    @Test func aMappedDeviceWithoutFC16OnAnRTULine() async throws {
        // The PLC map changed to a device on a serial line with no FC 16 (a 32-bit heater command then goes as two
        // FC 6 writes), 5 ms of silence between requests, and a line it requires.
        let text = try String(contentsOfFile: Self.mapPath("plc-heat-rig.toml"), encoding: .utf8)
            .replacingOccurrences(of: "max_write_registers = 16", with: """
                max_write_registers = 0
                inter_request_ms = 5
                line = { baud = 9600, parity = "N", stop_bits = 1 }
                """)
            .replacingOccurrences(of: "register = \"40011\"\ntype = \"uint16\"\nscale = 0.1",
                                  with: "register = \"40011\"\ntype = \"uint32\"\nscale = 0.01")
            .replacingOccurrences(of: "register = \"40012\"", with: "register = \"40013\"")
            // The PLC's watchdog at 10 s, not 2: one read timing out on a loaded machine (3 s here) would trip it,
            // and this test is about the line and the FC 6 writes (the TCP test checks the watchdog).
            .replacingOccurrences(of: "value_ms = 2000", with: "value_ms = 10000")
        #expect(text.contains("type = \"uint32\"") && text.contains("40013") && text.contains("value_ms = 10000"),
                "the example map changed: \(text)")
        let map = try temporaryFile(text)
        let pty = try PtyPair()
        let sim = try ChildProcess(try rigdBinary(), ["simulate", "--map", map, "--rtu", pty.a, "--units", "3"])
        defer { sim.signal(SIGTERM); _ = sim.waitForExit(timeout: 5) }
        #expect(sim.wait(for: 15) { out, _ in out.contains("serving heat-rig on rtu://") }, "\(sim.stderr)")
        let config = try temporaryFile("""
            [[station]]
            name = "s"
            kind = "heat-rig"
            address = "rtu://\(pty.b)?baud=9600&unit=3"
            fallback = "fail"
            response_timeout_ms = 3000
            map = "\(map)"
            [station.control]
            setpoint_c = 60
            """)
        let rigd = try ChildProcess(try rigdBinary(), ["run", "--config", config])
        defer { rigd.signal(SIGTERM); _ = rigd.waitForExit(timeout: 10) }
        let base = try rigd.apiBase()
        _ = try await channels(base, ready: "block_temp_c")
        try await Task.sleep(for: .seconds(3))
        let station = try #require(try await http("GET", base + "/api/stations/s").json)
        let link = station["link"] as? [String: Any]
        // No request was refused (the FC 6 writes, the plan's reads). A loaded machine may still time out a read
        // now and then (a link error, and a device_unavailable alarm until it reconnects): that is not the map's doing.
        #expect(link?["transaction_errors"] as? Int == 0, "\(link ?? [:])")
        // The heater command reached the device through two FC 6 writes: the rig draws heater power.
        let channels = try await channels(base, ready: "heater_power_w")
        #expect((channels["heater_power_w"]?["value"] as? Double ?? 0) > 0, "\(channels)")
        let alarms = rigd.stderr.split(separator: "\n").filter { $0.contains("ALARM") && !$0.contains("device_unavailable") }
        #expect(alarms.isEmpty, "\(alarms)")
    }

    @Test func theStreamLoggerWithFloat64Values() async throws {
        let (sim, rigd, port, base) = try start(kind: "stream-station", map: "stream-logger-f64.toml")
        defer { stop(sim, rigd) }
        let channels = try await channels(base, ready: "stage_m")
        let words = try mbpoll(port, ["-t", "3", "-r", "1000", "-c", "4"])
        let registers = (1000..<1004).map { UInt16(Int(words[$0] ?? 0) & 0xFFFF) }
        let stage = RegisterCodec.decode(registers, as: .float64, order: .abcd)
        #expect((0.01...5).contains(stage), "stage \(stage) m")
        let api = try #require(channels["stage_m"]?["value"] as? Double)
        #expect(abs(api - stage) < 0.05, "API \(api) vs raw \(stage)")
        #expect(rigd.stderr.contains("the map has no autosampler_trigger (optional equipment)"),
                "\(rigd.stderr.prefix(3000))")
    }

    /// Issue 20 item 5: a sonde that sleeps after 1.5 s of silence (the simulator drops the first request after it)
    /// and whose DO reading carries a sample counter that must advance (`fresh`). The station wakes it with the map's
    /// retries and counts no error for it; a hung sensor board (the `stale` fault: value and counter stand still)
    /// makes DO "not available" after `max_age_ms`, logged, and fresh again when it moves. `rigd probe` wakes the
    /// sleeping sonde with the same map, and fails without `[map.wake]`.
    @Test func aSondeThatSleepsAndGoesStaleEndToEnd() async throws {
        let sonde = try String(contentsOfFile: Self.mapPath("sonde-cdab.toml"), encoding: .utf8)
        let fresh = sonde.replacingOccurrences(of: "name = \"do_mgl\"\n", with: """
            name = "do_mgl"
            fresh = { table = "input", register = 330, type = "uint32", max_age_ms = 3000 }

            """)
        #expect(fresh != sonde)
        let awake = try temporaryFile(fresh)
        let map = try temporaryFile(fresh + """

            [map.wake]
            first_timeout_ms = 500
            retries = 1
            sleeps_after_ms = 1500
            """)
        defer { unlink(map); unlink(awake) }
        let (sim, rigd, _, base) = try start(kind: "aqua-sonde", map: map,
                                             control: "[station.control]\nsample_every_s = 1",
                                             simulator: ["--control", "127.0.0.1:0"])
        defer { sim.signal(SIGTERM); _ = sim.waitForExit(timeout: 5) }
        let good = try await channels(base, ready: "do_mgl")
        #expect(good["do_mgl"]?["quality"] as? Int == 0, "\(good["do_mgl"] ?? [:])")
        var station = try #require(try await http("GET", base + "/api/stations/s").json)
        #expect((station["link"] as? [String: Any])?["transaction_errors"] as? Int == 0, "woken, not failed: \(station["link"] ?? "")")

        let control = try #require(controlAddress(sim), "no control address: \(sim.stdout)")
        let fault = try runToCompletion(try rigdBinary(), ["fault", "--control", control, "channel", "do_mgl", "stale"])
        #expect(fault.status == 0, "\(fault.stderr)")
        var doMgl: [String: Any] = [:]
        for _ in 0..<50 {
            station = try #require(try await http("GET", base + "/api/stations/s").json)
            doMgl = (station["channels"] as? [[String: Any]])?.first { $0["name"] as? String == "do_mgl" } ?? [:]
            if doMgl["quality"] as? Int == 1 { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(!(doMgl["value"] is Double) && doMgl["quality"] as? Int == 1, "stale: \(doMgl)")
        #expect(rigd.stderr.contains("do_mgl is stale, not used: input 330 has not changed for"),
                "\(rigd.stderr.suffix(3000))")
        let clear = try runToCompletion(try rigdBinary(), ["fault", "--control", control, "channel", "do_mgl", "clear"])
        #expect(clear.status == 0, "\(clear.stderr)")
        let back = try await channels(base, ready: "do_mgl")
        #expect(back["do_mgl"]?["quality"] as? Int == 0, "\(back["do_mgl"] ?? [:])")
        #expect(rigd.wait(for: 5) { _, err in err.contains("do_mgl is fresh again") }, "\(rigd.stderr.suffix(2000))")
        rigd.signal(SIGTERM)
        #expect(rigd.waitForExit(timeout: 10) == 0)

        // Left alone, the sonde sleeps: a probe through a map without [map.wake] loses its first request.
        try await Task.sleep(for: .seconds(2))
        let address = "tcp://127.0.0.1:\(try #require(sim.stdout.split(separator: ":").dropFirst().first?.prefix { $0.isNumber }))"
        let unwoken = try runToCompletion(try rigdBinary(), ["probe", address, "--map", awake, "--timeout-ms", "500"])
        #expect(unwoken.status != 0, "\(unwoken.stdout)\(unwoken.stderr)")
        try await Task.sleep(for: .seconds(2))
        let woken = try runToCompletion(try rigdBinary(), ["probe", address, "--map", map])
        #expect(woken.status == 0 && woken.stdout.contains("wake the device: read input 256: answered"),
                "\(woken.stdout)\(woken.stderr)")
    }
}
