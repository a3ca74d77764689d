import Control
import Devices
import Foundation
import Locking
import Logging
import Sim
import Stations
import Testing

/// Issue 20 item 6: several unit ids behind one station. A map's value may name another unit of the same line or
/// gateway (`unit = N`): the loader keeps each unit's registers apart, the read plan reads each unit on its own, the
/// host addresses each request to its unit, and the simulated instrument answers at every unit the map names.
struct MapUnitsTests {
    static let map = """
        [map]
        kind = "heat-rig"
        name = "Units test rig (an example, not a vendor's layout)"
        unit = 5

        [[map.channel]]
        name = "block_temp_c"
        table = "input"
        register = 0
        type = "float32"

        # Same registers as block_temp_c, but on unit 6: no overlap.
        [[map.channel]]
        name = "mid_temp_c"
        unit = 6
        table = "input"
        register = 0
        type = "int16"
        scale = 0.1
        quality = { table = "input", register = 1, good = [0] }

        [[map.channel]]
        name = "end_temp_c"
        unit = 7
        table = "input"
        register = 0
        type = "int16"
        scale = 0.1

        # unit = 5 is the map's own unit: the station's, wherever its address puts it.
        [[map.command]]
        name = "heater_pct"
        unit = 5
        table = "holding"
        register = 0
        type = "uint16"
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

        [[map.command]]
        name = "fan_pct"
        unit = 7
        table = "holding"
        register = 0
        type = "uint16"
        max = 100
        """

    /// The map in a file of its own, for a configuration to name.
    static func mapFile() throws -> URL {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("units-\(UUID().uuidString).toml")
        try map.write(to: file, atomically: true, encoding: .utf8)
        return file
    }

    @Test func theLoaderKeepsEachUnitsRegistersApart() throws {
        let map = try MapLoader.parse(Self.map, source: "units.toml")
        #expect(map.unit == 5)
        #expect(map.otherUnits == [6, 7])
        #expect(map.channel(named: "block_temp_c")?.field.unit == nil)
        #expect(map.channel(named: "mid_temp_c")?.field.unit == 6)
        // A channel's status register is on the channel's unit unless it says otherwise.
        #expect(map.channel(named: "mid_temp_c")?.quality?.unit == 6)
        #expect(map.command(named: "heater_pct")?.field.unit == nil, "the map's own unit is the station's")
        #expect(map.command(named: "fan_pct")?.field.unit == 7)
    }

    @Test func valuesOfOneUnitStillMayNotOverlap() {
        let twice = Self.map.replacingOccurrences(of: """
            name = "end_temp_c"
            unit = 7
            """, with: """
            name = "end_temp_c"
            unit = 6
            """)
        #expect(DeviceMapTests.issues(twice).contains { $0.contains("overlaps channel mid_temp_c at unit 6 input 0") },
                "\(DeviceMapTests.issues(twice))")
        let bad = Self.map.replacingOccurrences(of: "unit = 7\ntable = \"input\"", with: "unit = 248\ntable = \"input\"")
        #expect(DeviceMapTests.issues(bad).contains { $0.contains("unit") && $0.contains("248") },
                "\(DeviceMapTests.issues(bad))")
    }

    /// Each unit is read on its own: requests are never merged across units, whatever the gap.
    @Test func theReadPlanReadsEachUnitOnItsOwn() throws {
        let map = try MapLoader.parse(Self.map, source: "units.toml")
        #expect(map.snapshotPlan.requests.map(\.description) == [
            "FC 04 input 0…1 (2)", "FC 03 holding 0…0 (1)", "FC 01 coil 0…1 (2)",
            "unit 6 FC 04 input 0…1 (2)",
            "unit 7 FC 04 input 0…0 (1)", "unit 7 FC 03 holding 0…0 (1)",
        ])
    }

    private final class Rig: @unchecked Sendable {
        let served: MappedDevice
        let mapped: MappedClient
        let transport: InMemoryModbusClient
        let time = Locked(10.0)

        init(units: [Int]? = nil) throws {
            let map = try MapLoader.parse(MapUnitsTests.map, source: "units.toml")
            let device = SimulatedDevice(model: HeatRigFirmware(plant: HeatRigPlant(parameters: .standard, seed: 3)),
                                         serial: 1, unitId: 5)
            served = MappedDevice(device: device, map: map, layout: HeatRigKind.contractLayout)
            let time = time
            let others = served.otherUnits.filter { units?.contains($0.key) ?? true }
            transport = InMemoryModbusClient(device: served, units: others) { time.withLock { $0 } }
            mapped = MappedClient(base: transport, map: map, layout: HeatRigKind.contractLayout, paceRequests: false)
            try mapped.connect()
        }
    }

    /// The host reads each channel from its unit and writes each command to its unit; the simulated instrument
    /// answers at all three.
    @Test func theHostReadsAndWritesEachValueAtItsUnit() throws {
        let rig = try Rig()
        let words = try rig.mapped.readInputRegisters(at: CommonRegisters.channelBase, count: 12)
        let readings = ChannelBlock.decode(words, count: 3, order: .abcd)
        for r in readings { #expect(r.quality == .ok && r.value.map { (0...100).contains($0) } == true, "\(readings)") }
        // The fan's command is at unit 7: written there, and only there.
        try rig.mapped.writeRegisters(at: HeatRigProfile.fanPercent.address,
                                      values: RegisterCodec.encode(Float(40), order: .abcd))
        #expect(try rig.transport.addressing(unit: 7) { try rig.transport.readHoldingRegisters(at: 0, count: 1) } == [40])
        #expect(try rig.transport.readHoldingRegisters(at: 0, count: 1) == [0], "unit 5's holding 0 is the heater")
        // Unit 6 has no holding registers at all: the instrument refuses them there, as a separate probe would.
        #expect(throws: ModbusTransactionError.self) {
            try rig.transport.addressing(unit: 6) { try rig.transport.readHoldingRegisters(at: 0, count: 1) }
        }
    }

    /// A unit that does not answer is a link failure of the station, named by that unit: the station goes safe
    /// and reconnects, as when its own unit is silent.
    @Test func aSilentUnitIsALinkFailureNamingIt() throws {
        let rig = try Rig(units: [6])
        do {
            _ = try rig.mapped.readInputRegisters(at: CommonRegisters.channelBase, count: 12)
            Issue.record("unit 7 is not on the line: the read must fail")
        } catch let error as ModbusLinkError {
            #expect(error.errno == ETIMEDOUT && error.endpoint.hasSuffix("unit 7"), "\(error)")
        }
    }

    /// A client that reaches one unit only (no line or gateway under it) refuses another unit rather than asking
    /// its own.
    @Test func aClientThatReachesOneUnitRefusesAnother() {
        final class OneUnit: ModbusClient {
            var endpoint: String { "one" }
            var isConnected: Bool { true }
            func connect() throws {}
            func close() {}
            func readInputRegisters(at address: Int, count: Int) throws -> [UInt16] { [0] }
            func readHoldingRegisters(at address: Int, count: Int) throws -> [UInt16] { [0] }
            func readCoils(at address: Int, count: Int) throws -> [Bool] { [false] }
            func readDiscreteInputs(at address: Int, count: Int) throws -> [Bool] { [false] }
            func writeRegister(at address: Int, value: UInt16) throws {}
            func writeRegisters(at address: Int, values: [UInt16]) throws {}
            func writeCoil(at address: Int, value: Bool) throws {}
            func writeCoils(at address: Int, values: [Bool]) throws {}
        }
        let client = OneUnit()
        #expect((try? client.addressing(unit: nil) { try client.readInputRegisters(at: 0, count: 1) }) == [0])
        #expect(throws: ModbusTransactionError.self) {
            try client.addressing(unit: 3) { try client.readInputRegisters(at: 0, count: 1) }
        }
    }

    /// A map's other units belong to its station on that line: another station at one of them is refused.
    @Test func anotherStationAtAUnitTheMapReadsIsALineConflict() throws {
        let mapFile = try Self.mapFile()
        defer { try? FileManager.default.removeItem(at: mapFile) }
        let config = try ConfigLoader.parse("""
            [[station]]
            name = "a"
            kind = "heat-rig"
            address = "rtu:///dev/ttyUSB0"
            map = "\(mapFile.path)"
            [[station]]
            name = "b"
            kind = "heat-rig"
            address = "rtu:///dev/ttyUSB0?unit=7"
            """, source: "line.toml")
        let conflicts = Wiring.lineConflicts(config.stations).map(\.description)
        #expect(conflicts.count == 1 && conflicts[0].contains("station \"b\"")
                    && conflicts[0].contains("same unit id as station \"a\""), "\(conflicts)")
    }

    /// A simulated station reads its other units through the in-process simulator too.
    @Test func aSimulatedStationServesEveryUnit() throws {
        let mapFile = try Self.mapFile()
        defer { try? FileManager.default.removeItem(at: mapFile) }
        let config = try ConfigLoader.parse("""
            [[station]]
            name = "rig"
            kind = "heat-rig"
            address = "sim://"
            map = "\(mapFile.path)"
            """, source: "t.toml")
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let clock = VirtualClock()
        let station = try Wiring.virtualStations(config, clock: clock, seed: 1, logger: logger)[0]
        station.start(now: 0)
        LoopRunner(clock: clock, loops: station.makeLoops()).run(until: 5 * 1_000_000_000)
        let status = station.status()
        #expect(status.link.transactionErrors == 0, "\(status.link)")
        for name in ["block_temp_c", "mid_temp_c", "end_temp_c"] {
            let c = status.channels.first { $0.name == name }
            #expect(c?.value != nil && c?.quality == 0, "\(name): \(String(describing: c))")
        }
    }
}
