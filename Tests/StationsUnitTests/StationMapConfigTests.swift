import Devices
import Foundation
import RigdTestKit
import Stations
import Testing

/// Issue 19: a station names its device's map (`map = "FILE"` or an inline `[station.map]`), checked against the
/// station when the configuration loads.
struct StationMapConfigTests {
    /// A heat-rig PLC map: every command, the block temperature; a 19200 8N2 line.
    static let heatRigMap = """
        [map]
        kind = "heat-rig"
        name = "example PLC heat rig"
        line = { baud = 19200, parity = "N", stop_bits = 2 }

        [[map.channel]]
        name = "block_temp_c"
        table = "holding"
        register = 10
        type = "int16"
        scale = 0.1

        [[map.command]]
        name = "heater_pct"
        table = "holding"
        register = 0
        type = "uint16"
        scale = 0.1
        min = 0
        max = 100

        [[map.command]]
        name = "fan_pct"
        table = "holding"
        register = 1
        type = "uint16"
        min = 0
        max = 100

        [[map.command]]
        name = "heater_enable"
        table = "coil"
        register = 0
        type = "bool"

        [[map.command]]
        name = "fan_enable"
        table = "coil"
        register = 1
        type = "bool"
        """

    /// A configuration file in a directory of its own, with `maps/rig.toml` holding `map`.
    private func files(station: String, map: String = heatRigMap) throws -> String {
        let dir = NSTemporaryDirectory() + "rigd-stationmap-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir + "/maps", withIntermediateDirectories: true)
        try map.write(toFile: dir + "/maps/rig.toml", atomically: true, encoding: .utf8)
        try station.write(toFile: dir + "/rigd.toml", atomically: true, encoding: .utf8)
        return dir + "/rigd.toml"
    }

    private func problems(_ path: String) -> String {
        do {
            _ = try ConfigLoader.load(path: path)
            return ""
        } catch {
            return error.description
        }
    }

    static let rtuRig = """
        [[station]]
        name = "rig"
        kind = "heat-rig"
        address = "rtu:///dev/ttyUSB0?baud=19200&stop=2&unit=3"
        map = "maps/rig.toml"
        """

    @Test func aMapFileIsFoundBesideTheConfiguration() throws {
        let config = try ConfigLoader.load(path: try files(station: Self.rtuRig))
        let map = try #require(config.stations[0].map)
        #expect(map.map.name == "example PLC heat rig")
        #expect(map.source.hasSuffix("/maps/rig.toml"))
        #expect(map.missingChannels == ["mid_temp_c", "end_temp_c", "ambient_temp_c", "heater_power_w", "fan_air_mps"])
        #expect(map.map.command(named: "heater_pct")?.field.scale == 0.1)
    }

    @Test func theMapsUnitIsTheDefaultAndTheAddressOverridesIt() throws {
        let map = Self.heatRigMap.replacingOccurrences(of: "name = \"example PLC heat rig\"",
                                                       with: "name = \"example PLC heat rig\"\nunit = 7")
        let tcp = """
            [[station]]
            name = "rig"
            kind = "heat-rig"
            address = "tcp://127.0.0.1:1502"
            map = "maps/rig.toml"
            """
        #expect(try ConfigLoader.load(path: try files(station: tcp, map: map)).stations[0].address.unit == 7)
        let named = tcp.replacingOccurrences(of: "1502\"", with: "1502?unit=3\"")
        #expect(try ConfigLoader.load(path: try files(station: named, map: map)).stations[0].address.unit == 3)
        // The line's stop bits are the map's requirement; the unit comes from the map.
        let rtu = Self.rtuRig.replacingOccurrences(of: "&unit=3", with: "")
        #expect(try ConfigLoader.load(path: try files(station: rtu, map: map)).stations[0].address.unit == 7)
    }

    @Test func theLineMustBeTheOneTheMapRequires() throws {
        let station = Self.rtuRig.replacingOccurrences(of: "baud=19200&stop=2", with: "baud=9600")
        let found = problems(try files(station: station))
        #expect(found.contains("rigd.toml:4: station \"rig\": address the line is 9600 8N1 but"), "\(found)")
        #expect(found.contains("baud 9600, the map requires 19200"), "\(found)")
        #expect(found.contains("stop bits 1, the map requires 2"), "\(found)")
    }

    @Test func aSafetyChannelOrACommandMissingIsAnError() throws {
        let noBlock = Self.heatRigMap.replacingOccurrences(of: "name = \"block_temp_c\"", with: "name = \"end_temp_c\"")
        let found = problems(try files(station: Self.rtuRig, map: noBlock))
        #expect(found.contains("does not map block_temp_c, needed for the heater's control and its over-temperature trip"),
                "\(found)")
        let noFan = String(Self.heatRigMap[..<Self.heatRigMap.range(of: "\n\n[[map.command]]\nname = \"fan_enable\"")!.lowerBound])
        let second = problems(try files(station: Self.rtuRig, map: noFan))
        #expect(second.contains("does not map fan_enable: the heat-rig controller drives every one of its commands"),
                "\(second)")
    }

    @Test func problemsInsideTheMapFileNameItsLine() throws {
        let bad = Self.heatRigMap.replacingOccurrences(of: "scale = 0.1\n\n[[map.command]]", with: "scal = 0.1\n\n[[map.command]]")
        let path = try files(station: Self.rtuRig, map: bad)
        let found = problems(path)
        #expect(found.contains("map names \(path.replacingOccurrences(of: "rigd.toml", with: "maps/rig.toml")), which "
                               + "has problems (below)"), "\(found)")
        #expect(found.contains("maps/rig.toml:") && found.contains("scal"), "\(found)")
    }

    @Test func aMapOfAnotherKindOrOfARingKindIsRefused() throws {
        let sonde = Self.rtuRig.replacingOccurrences(of: "kind = \"heat-rig\"", with: "kind = \"aqua-sonde\"")
        #expect(problems(try files(station: sonde)).contains("is a map of heat-rig, the station is a aqua-sonde"))
        let mill = """
            [[station]]
            name = "mill"
            kind = "cnc-mill"
            address = "tcp://127.0.0.1:1"
            [station.map]
            name = "a mill"
            [[station.map.channel]]
            name = "torque_nm"
            table = "input"
            register = 0
            type = "float32"
            """
        let found = problems(try files(station: mill))
        #expect(found.contains("reads the device's sample ring"), "\(found)")
    }

    /// A relay the map names is switched through the device (docs/maps.md, "Relays"); the same relay on a host line
    /// as well is refused, naming both.
    @Test func aRelayInTheMapIsSwitchedThroughTheDeviceNotAlsoOnALine() throws {
        let sonde = try String(contentsOf: DeviceMapTests.repository.appendingPathComponent("examples/maps/sonde-cdab.toml"),
                               encoding: .utf8)
            + "\n[[map.command]]\nname = \"aerator_1\"\ntable = \"coil\"\nregister = 0\ntype = \"bool\"\n"
        let station = """
            [[station]]
            name = "pond"
            kind = "aqua-sonde"
            address = "tcp://127.0.0.1:1"
            map = "maps/rig.toml"
            """
        #expect(problems(try files(station: station, map: sonde)) == "")
        let alsoOnALine = station + """

            [station.relays]
            aerators = [{ chip = "gpiochip0", line = 10 }]
            """
        let found = problems(try files(station: alsoOnALine, map: sonde))
        #expect(found.contains("aerator-1 is on gpiochip0 line 10 and is also a command in"), "\(found)")
        #expect(found.contains("not both"), "\(found)")
    }

    @Test func rigdKindsSaysWhatAMapMustHave() throws {
        let heat = try #require(KindRegistry.builtIn.descriptions.first { $0.name == "heat-rig" })
        #expect(heat.map?.channels.map(\.channel) == ["block_temp_c"])
        #expect(heat.map?.commands == ["heater_pct", "fan_pct", "heater_enable", "fan_enable"])
        let stream = try #require(KindRegistry.builtIn.descriptions.first { $0.name == "stream-station" })
        #expect(stream.map?.commands == [] && stream.map?.optionalCommands == ["autosampler_trigger"])
        #expect(KindRegistry.builtIn.descriptions.first { $0.name == "cnc-mill" }?.map == nil)
    }

    @Test func anInlineMapTakesTheStationsKind() throws {
        let inline = """
            [[station]]
            name = "creek"
            kind = "stream-station"
            address = "tcp://127.0.0.1:1"
            [station.map]
            name = "inline logger"
            word_order = "DCBA"
            [[station.map.channel]]
            name = "stage_m"
            table = "input"
            register = 0
            type = "float64"
            """
        let config = try ConfigLoader.load(path: try files(station: inline))
        let map = try #require(config.stations[0].map)
        #expect(map.map.kind.rawValue == "stream-station")
        #expect(map.map.channel(named: "stage_m")?.field.order == .dcba)
        #expect(map.source.hasPrefix("inline [station.map] in "))
        #expect(problems(try files(station: inline.replacingOccurrences(of: "register = 0", with: "registr = 0")))
            .contains("registr"))
    }
}
