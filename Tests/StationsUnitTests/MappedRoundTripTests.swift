import Control
import Devices
import Foundation
import Locking
import Logging
import Sim
import Stations
import Testing

/// Issue 19: both sides of a device map agree. A contract device served through its own built-in map
/// (`MappedDevice`) and read back through that map (`MappedClient`) must look to a station exactly as the contract
/// device does directly: the same channel blocks, setpoints and coils, and commands written through the map reach it.
struct MappedRoundTripTests {
    private struct Pair {
        let device: any ModbusDevice
        let direct: InMemoryModbusClient
        let mapped: MappedClient
    }

    private func pair(_ kind: any StationKind.Type) throws -> Pair {
        let map = try MapLoader.parse(kind.builtInMapText, source: "builtin/\(kind.kind).toml")
        let device = try kind.configure(nil).simulatedDevice(seed: 7, preset: kind.defaultPreset, unit: 1,
                                                              host: SimulatedHost())
        let clock: @Sendable () -> Double = { 12.5 }
        let direct = InMemoryModbusClient(device: device, now: clock)
        let served = MappedDevice(device: device, map: map, layout: kind.contractLayout)
        let mapped = MappedClient(base: InMemoryModbusClient(device: served, now: clock), map: map,
                                  layout: kind.contractLayout, paceRequests: false)
        try direct.connect()
        try mapped.connect()
        return Pair(device: device, direct: direct, mapped: mapped)
    }

    @Test(arguments: KindRegistry.builtIn.kinds.map { $0.kind.rawValue })
    func aContractDeviceThroughItsBuiltInMapReadsTheSame(_ name: String) throws {
        let kind = try #require(KindRegistry.builtIn.kind(named: name))
        let p = try pair(kind)
        // Identity passes (the built-in maps check IR 0), and the header names the kind.
        let header = try p.mapped.withinProbeTimeout { try p.mapped.readHeader() }
        #expect(header.deviceType == kind.kind.deviceType)
        #expect(p.mapped.identityProblem == nil)
        let served = kind.deviceChannelSpecs.count
        let blocks = served * CommonRegisters.channelStride
        let direct = try p.direct.readInputRegisters(at: CommonRegisters.channelBase, count: blocks)
        let mapped = try p.mapped.readInputRegisters(at: CommonRegisters.channelBase, count: blocks)
        // Value and quality words of every block (the reserved word is 0 on both sides).
        #expect(mapped == direct, "\(kind.kind)")
        let layout = kind.contractLayout
        if let first = layout.setpoints.first, let last = layout.setpoints.last {
            let count = last.address + 2 - first.address
            #expect(try p.mapped.readHoldingRegisters(at: first.address, count: count)
                    == p.direct.readHoldingRegisters(at: first.address, count: count), "\(kind.kind) setpoints")
        }
        if !layout.coils.isEmpty {
            #expect(try p.mapped.readCoils(at: 0, count: layout.coils.count)
                    == p.direct.readCoils(at: 0, count: layout.coils.count), "\(kind.kind) coils")
        }
    }

    @Test func commandsWrittenThroughTheMapReachTheDevice() throws {
        let p = try pair(HeatRigKind.self)
        let heater = try #require(HeatRigKind.contractLayout.setpoints.first { $0.name == "heater_pct" })
        try p.mapped.writeRegisters(at: heater.address, values: RegisterCodec.encode(Float(37.5), order: .abcd)
                                        + RegisterCodec.encode(Float(20), order: .abcd))
        let back = try p.direct.readHoldingRegisters(at: heater.address, count: 4)
        #expect(RegisterCodec.float32(back, at: 0, order: .abcd) == 37.5)
        #expect(RegisterCodec.float32(back, at: 2, order: .abcd) == 20)
        try p.mapped.writeCoils(at: 0, values: [true, true])
        #expect(try p.direct.readCoils(at: 0, count: 2) == [true, true])
        // Outside the map's limits: refused before anything is sent.
        #expect(throws: ModbusTransactionError.self) {
            try p.mapped.writeRegisters(at: heater.address, values: RegisterCodec.encode(Float(150), order: .abcd)
                                            + RegisterCodec.encode(Float(20), order: .abcd))
        }
        #expect(RegisterCodec.float32(try p.direct.readHoldingRegisters(at: heater.address, count: 2), at: 0,
                                      order: .abcd) == 37.5)
    }

    /// The example PLC map shows its watchdog's trip in a status bit: the station sees the contract's bits 18 and 19
    /// (its controller then asks for the reset, which goes out as the map's reset value).
    @Test func aTrippedWatchdogShowsAsTheContractsSafeState() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let map = try MapLoader.load(path: root.appendingPathComponent("examples/maps/plc-heat-rig.toml").path)
        let device = try HeatRigKind.configure(nil).simulatedDevice(seed: 1, preset: "standard", unit: 1,
                                                                     host: SimulatedHost())
        let clock = Locked(0.0)
        let served = MappedDevice(device: device, map: map, layout: HeatRigKind.contractLayout)
        let client = MappedClient(base: InMemoryModbusClient(device: served) { clock.withLock { $0 } }, map: map,
                                  layout: HeatRigKind.contractLayout, paceRequests: false)
        try client.connect()
        // Connecting arms the PLC's watchdog (HR 3 as the station reads it).
        let timeout = try client.withinProbeTimeout {
            _ = try client.readHeader()
            return try client.readHoldingRegisters(at: CommonRegisters.watchdogTimeoutMs, count: 1)[0]
        }
        #expect(timeout == 2000)
        try client.writeRegister(at: CommonRegisters.hostHeartbeat, value: 1)
        clock.withLock { $0 = 1.0 }
        #expect(try client.readHeader().status == [])
        // No heartbeat for 2.5 s: the PLC trips, and says so.
        clock.withLock { $0 = 3.5 }
        #expect(try client.readHeader().status == [.watchdogTripped, .safeState])
        // The contract's reset (HR 5 = 0xA5) goes out as the map's reset value, and heartbeats resume.
        try client.writeRegister(at: CommonRegisters.command, value: CommonRegisters.resetFaultsCommand)
        try client.writeRegister(at: CommonRegisters.hostHeartbeat, value: 2)
        clock.withLock { $0 = 3.6 }
        #expect(try client.readHeader().status == [])
    }

    @Test func aDeviceFailingTheIdentityCheckSaysWhy() throws {
        var map = try MapLoader.parse(HeatRigKind.builtInMapText, source: "heat-rig.toml")
        map.identity?.equals = 4711
        let device = try HeatRigKind.configure(nil).simulatedDevice(seed: 1, preset: "standard", unit: 1,
                                                                     host: SimulatedHost())
        let client = MappedClient(base: InMemoryModbusClient(device: device) { 1 }, map: map,
                                  layout: HeatRigKind.contractLayout, paceRequests: false)
        try client.connect()
        let header = try client.withinProbeTimeout { try client.readHeader() }
        #expect(header.deviceType == 0)
        #expect(client.identityProblem == "fails the map's identity check: input register 0 reads 3074, "
                + "rigd register contract: heat-rig (device type 0x0C02) expects 4711")
    }
}

/// Issue 19: what the API shows of a station's map — its name, whether the device relies on the host for its safe
/// state, the channels it lacks, and the read plan.
struct StationMapStatusTests {
    private func status(_ map: String) throws -> StationStatus {
        let config = try ConfigLoader.parse("""
            [[station]]
            name = "rig"
            kind = "heat-rig"
            address = "sim://"
            \(map)
            """, source: "t.toml")
        let stations = try Wiring.virtualStations(config, clock: VirtualClock(), seed: 1, logger: Logger(label: "test"))
        return stations[0].status()
    }

    static let inline = """
        [station.map]
        name = "inline rig"
        [[station.map.channel]]
        name = "block_temp_c"
        table = "input"
        register = 0
        type = "int16"
        scale = 0.1
        [[station.map.command]]
        name = "heater_pct"
        table = "holding"
        register = 0
        type = "uint16"
        [[station.map.command]]
        name = "fan_pct"
        table = "holding"
        register = 1
        type = "uint16"
        [[station.map.command]]
        name = "heater_enable"
        table = "coil"
        register = 0
        type = "bool"
        [[station.map.command]]
        name = "fan_enable"
        table = "coil"
        register = 1
        type = "bool"
        """

    @Test func aMapWithoutAWatchdogIsShownAsRelyingOnTheHost() throws {
        let s = try status(Self.inline)
        #expect(s.deviceMap == StationStatus.DeviceMapInfo(
            name: "inline rig", reliesOnHost: true,
            missingChannels: ["mid_temp_c", "end_temp_c", "ambient_temp_c", "heater_power_w", "fan_air_mps"]))
        #expect(s.readPlan == ["heater (500 ms): FC 04 input 0…0 (1)", "heater (500 ms): FC 03 holding 0…1 (2)",
                               "heater (500 ms): FC 01 coil 0…1 (2)"])
        let withWatchdog = Self.inline + """

            [station.map.watchdog]
            timeout = { table = "holding", register = 10, type = "uint16", value_ms = 2000 }
            heartbeat = { table = "holding", register = 11 }
            """
        #expect(try status(withWatchdog).deviceMap?.reliesOnHost == false)
        let contract = try status("")
        // A contract station has no map, and its plan is the contract's: the header, the channel blocks, the
        // setpoints, the coils and the inputs.
        #expect(contract.deviceMap == nil)
        #expect(contract.readPlan == ["heater (500 ms): FC 04 input 0…6 (7)", "heater (500 ms): FC 04 input 100…123 (24)",
                                      "heater (500 ms): FC 03 holding 100…103 (4)", "heater (500 ms): FC 01 coil 0…1 (2)",
                                      "heater (500 ms): FC 02 discrete 0…1 (2)"])
    }
}
