import Devices
import Foundation
import RigdTestKit
import Stations
import Testing

/// Issue 19 (first part): the device-map format, its strict loader and the built-in maps.
@Suite struct DeviceMapTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The issue's example map (a sonde with CDAB floats and scaled integers), as a technician would write it.
    static let exampleSonde = """
        [map]
        kind = "aqua-sonde"
        name = "Example sonde (CDAB floats, scaled integers)"
        word_order = "CDAB"
        unit = 1
        max_read_registers = 60
        max_write_registers = 0
        max_gap = 8
        inter_request_ms = 0
        identity = { table = "holding", register = 9000, type = "uint16", equals = 4711 }

        [[map.channel]]
        name = "do_mgl"
        table = "input"
        register = 256
        type = "float32"
        nan_if = 65535
        quality = { table = "input", register = 300, bit = 3, bad_when = 1 }

        [[map.channel]]
        name = "water_temp_c"
        table = "holding"
        register = "40011"
        type = "int16"
        scale = 0.1

        [[map.channel]]
        name = "ph"
        table = "input"
        register = 260
        type = "float32"
        word_order = "ABCD"

        [[map.command]]
        name = "aerator_1"
        table = "coil"
        register = 0
        type = "bool"
        min = 0.0
        max = 1.0
        """

    static func issues(_ text: String) -> [String] {
        do {
            _ = try MapLoader.parse(text, source: "map.toml")
            return []
        } catch {
            return error.issues.map(\.description)
        }
    }

    @Test func theBuiltInMapsAreTheRegisterContractAndLoad() throws {
        for kind in KindRegistry.builtIn.kinds {
            let file = Self.repository.appendingPathComponent("maps/builtin/\(kind.kind).toml")
            let committed = try String(contentsOf: file, encoding: .utf8)
            #expect(committed == kind.builtInMapText,
                    "maps/builtin/\(kind.kind).toml differs from the profile: regenerate it with rigd kinds --map \(kind.kind)")
            let map = try MapLoader.parse(committed, source: file.path)
            #expect(map.kind == kind.kind)
            #expect(map.channels.map(\.name) == kind.deviceChannelSpecs.map(\.name))
            #expect(map.channels.map(\.field.register) == kind.deviceChannelSpecs.map(\.address))
            #expect(map.identity?.equals == Double(kind.kind.deviceType))
            #expect((map.watchdog != nil) == kind.feedsDeviceWatchdog)
            #expect(map.commands.map(\.name) == kind.commandNames)
        }
    }

    @Test func theExampleMapLoadsWithEveryNotationNormalised() throws {
        let map = try MapLoader.parse(Self.exampleSonde, source: "sonde.toml")
        #expect(map.kind == .aquaSonde && map.wordOrder == .cdab && map.maxWriteRegisters == 0)
        let temp = try #require(map.channel(named: "water_temp_c"))
        #expect(temp.field.table == .holding && temp.field.register == 10 && temp.field.type == .int16)
        #expect(temp.field.scale == 0.1)
        #expect(map.channel(named: "do_mgl")?.field.order == .cdab, "the map's word order by default")
        #expect(map.channel(named: "ph")?.field.order == .abcd, "a channel may override it")
        #expect(map.channel(named: "do_mgl")?.nanIf == [65535])
        #expect(map.channel(named: "do_mgl")?.quality == .init(table: .input, register: 300, bit: 3, badWhen: true))
        #expect(map.commands.first?.name == "aerator_1" && map.identity?.field.register == 9000)
        #expect(map.watchdog == nil)
    }

    /// `register = 37` (0-based), `"38"` with one-based numbering, `"40038"` and `"400038"`: all protocol address 37.
    @Test func registerNotations() throws {
        func address(_ numbering: String, _ register: String) throws -> Int? {
            let text = """
                [map]
                kind = "heat-rig"
                name = "n"
                numbering = "\(numbering)"
                [[map.channel]]
                name = "block_temp_c"
                table = "holding"
                register = \(register)
                type = "float32"
                """
            return try MapLoader.parse(text, source: "n.toml").channel(named: "block_temp_c")?.field.register
        }
        #expect(try address("zero-based", "37") == 37)
        #expect(try address("one-based", "\"38\"") == 37)
        #expect(try address("one-based", "38") == 37)
        #expect(try address("zero-based", "\"40038\"") == 37)
        #expect(try address("zero-based", "\"400038\"") == 37)
        #expect(throws: ConfigError.self) { try address("one-based", "0") }
        #expect(throws: ConfigError.self) { try address("zero-based", "\"30038\"") }
    }

    @Test func everyMistakeIsNamedWithItsLine() {
        let found = Self.issues("""
            [map]
            kind = "aqua-sonde"
            name = "bad"
            max_read_registers = 1
            colour = "blue"
            [[map.channel]]
            name = "do_mgl"
            table = "input"
            register = 10
            type = "float32"
            [[map.channel]]
            name = "torque_nm"
            table = "input"
            register = 20
            type = "uint16"
            [[map.channel]]
            name = "ph"
            table = "input"
            register = "30011"
            type = "uint16"
            [[map.channel]]
            name = "water_temp_c"
            table = "coil"
            register = 3
            type = "int16"
            [[map.command]]
            name = "exchange"
            table = "holding"
            register = 40
            type = "int16"
            scale = 0.1
            max = 5000
            [[map.command]]
            name = "launch"
            table = "input"
            register = 50
            type = "uint16"
            """)
        let expected = [
            "map.toml:5: map.colour is not a known key here",
            "map.toml:12: channel \"torque_nm\": name \"torque_nm\" is not a channel of aqua-sonde",
            "map.toml:19: channel \"ph\": register overlaps channel do_mgl at input 10–11",
            "map.toml:25: channel \"water_temp_c\": type must be bool in the coil table, got int16",
            "map.toml:32: command \"exchange\": max 5000 cannot be written as int16 with scale 0.1 (raw 50000)",
            "map.toml:34: command \"launch\": name \"launch\" is not a command or relay of aqua-sonde (commands: "
                + "aerator_1, aerator_2",
            "map.toml:35: command \"launch\": table must be coil or holding for a command (it is written), not input",
            "map.toml:10: channel \"do_mgl\": type float32 takes 2 registers, more than max_read_registers (1) allows "
                + "in one read",
        ]
        for text in expected {
            #expect(found.contains { $0.contains(text) }, "missing \"\(text)\" in:\n\(found.joined(separator: "\n"))")
        }
    }

    /// `[[map.calibration]]` (docs/maps.md, "Calibration registers"): a channel of the map, holding registers of a
    /// number type, at least one of slope and offset, and registers no other value holds.
    @Test func calibrationRegistersAreCheckedWithTheirLines() throws {
        let found = Self.issues("""
            [map]
            kind = "aqua-sonde"
            name = "cal"
            [[map.channel]]
            name = "ph"
            table = "input"
            register = 10
            type = "float32"
            [[map.channel]]
            name = "do_mgl"
            table = "input"
            register = 12
            type = "float32"
            [[map.calibration]]
            channel = "salinity_ppt"
            slope = { table = "holding", register = 100 }
            [[map.calibration]]
            channel = "ph"
            slope = { table = "input", register = 10 }
            [[map.calibration]]
            channel = "do_mgl"
            [[map.calibration]]
            channel = "do_mgl"
            offset = { table = "holding", register = 200, type = "string", length = 2 }
            gain = 3
            [[map.calibration]]
            channel = "ph"
            offset = { table = "holding", register = 300, type = "float32" }
            slope = { table = "holding", register = 301, type = "float32" }
            """)
        let expected = [
            "map.toml:15: calibration 1: channel \"salinity_ppt\" is not a channel of this map (its channels: ph, do_mgl)",
            "map.toml:19: calibration 2: slope must be a holding register (rigd writes it), not input",
            "map.toml:20: calibration 3: slope or offset is required",
            "map.toml:24: calibration 4: offset must be a number type, not string",
            "map.toml:25: calibration 4: gain is not a known key here",
            "map.toml:26: calibration 5: register overlaps calibration slope of ph at holding 301–302",
        ]
        for text in expected {
            #expect(found.contains { $0.contains(text) }, "missing \"\(text)\" in:\n\(found.joined(separator: "\n"))")
        }
        #expect(found.count == expected.count, "\(found.joined(separator: "\n"))")
        // The example sonde's: pH's slope and offset, DO's gain alone.
        let sonde = try MapLoader.load(path: Self.repository.appendingPathComponent("examples/maps/sonde-cdab.toml").path)
        #expect(sonde.calibrations.map(\.channel) == ["ph", "do_mgl"])
        #expect(sonde.calibration(of: "ph")?.offset?.register == 402 && sonde.calibration(of: "do_mgl")?.offset == nil)
    }

    @Test func oversizedFilesAreRefusedNotParsed() {
        let large = String(repeating: "# padding\n", count: 110_000)
        #expect(Self.issues(large).first?.contains("too large") == true)
        let many = "[map]\nkind = \"heat-rig\"\nname = \"n\"\nx = [" + Array(repeating: "1", count: 10_001)
            .joined(separator: ",") + "]\n"
        #expect(Self.issues(many).first?.contains("too many entries") == true)
    }

    @Test func rigdCheckAndKindsSpeakMaps() throws {
        let file = try temporaryFile(Self.exampleSonde)
        defer { unlink(file) }
        let check = try runToCompletion(try rigdBinary(), ["check", "--map", file])
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.stdout.contains("channel water_temp_c: holding 10 (one-based 11, reference 40011) int16 × 0.1"),
                "\(check.stdout)")
        #expect(check.stdout.contains("no device watchdog: the device relies on the host for its safe state"))
        let bad = try temporaryFile("[map]\nkind = \"toaster\"\nname = \"t\"\n")
        defer { unlink(bad) }
        let refused = try runToCompletion(try rigdBinary(), ["check", "--map", bad])
        #expect(refused.status == 78 && refused.stderr.contains("unknown kind \"toaster\""), "\(refused.stderr)")
        let kinds = try runToCompletion(try rigdBinary(), ["kinds", "--map", "heat-rig"])
        #expect(kinds.stdout == KindRegistry.builtIn.kind(named: "heat-rig")?.builtInMapText)
        let neither = try runToCompletion(try rigdBinary(), ["check"])
        #expect(neither.status == 64)
    }
}
