import Devices
import Foundation
import Sim
import Stations
import Testing

/// Issue 20 item 2: a channel's quality from the device's own status registers (one bit, a bit field such as a
/// 4-bit status, or a whole register as an enumeration), "no reading" bit patterns (NaN patterns compare exactly), and
/// the device's fallback value, which is never taken as a measurement. The same map on both sides: the simulator
/// (`MappedDevice`) serves the statuses of what its plant reads, the host (`MappedClient`) turns them into qualities.
struct MapStatusQualityTests {
    static let map = """
        [map]
        kind = "heat-rig"
        name = "Status test rig (an example, not a vendor's layout)"
        max_read_registers = 60

        [[map.channel]]
        name = "block_temp_c"
        table = "holding"
        register = 0
        type = "float32"
        fallback = { table = "holding", register = 20 }

        [[map.channel]]
        name = "mid_temp_c"
        table = "holding"
        register = 2
        type = "int16"
        scale = 0.1
        quality = { table = "holding", register = 10, shift = 0, width = 4, good = [0], not_available = [1] }

        [[map.channel]]
        name = "end_temp_c"
        table = "holding"
        register = 3
        type = "int16"
        scale = 0.1
        quality = { table = "holding", register = 10, shift = 4, width = 4, good = [0, 2] }

        [[map.channel]]
        name = "ambient_temp_c"
        table = "holding"
        register = 4
        type = "float32"
        nan_if = ["0xFFFFFFFF", "0x7FC00000"]

        [[map.channel]]
        name = "heater_power_w"
        table = "holding"
        register = 6
        type = "uint16"
        quality = { table = "holding", register = 11, good = [0], not_available = [1, 2] }
        """

    private struct Rig {
        let device: SimulatedDevice<HeatRigFirmware>
        let served: MappedDevice
        let mapped: MappedClient
        let raw: InMemoryModbusClient
    }

    private func rig() throws -> Rig {
        let map = try MapLoader.parse(Self.map, source: "status.toml")
        let device = SimulatedDevice(model: HeatRigFirmware(plant: HeatRigPlant(parameters: .standard, seed: 3)),
                                     serial: 1)
        let clock: @Sendable () -> Double = { 5 }
        let served = MappedDevice(device: device, map: map, layout: HeatRigKind.contractLayout)
        let raw = InMemoryModbusClient(device: served, now: clock)
        let mapped = MappedClient(base: InMemoryModbusClient(device: served, now: clock), map: map,
                                  layout: HeatRigKind.contractLayout, paceRequests: false)
        try raw.connect()
        try mapped.connect()
        return Rig(device: device, served: served, mapped: mapped, raw: raw)
    }

    /// The host's readings of channels 0…4, as a station sees them through the contract.
    private func readings(_ client: MappedClient) throws -> [ChannelReading] {
        ChannelBlock.decode(try client.readInputRegisters(at: CommonRegisters.channelBase, count: 20), count: 5,
                            order: .abcd)
    }

    @Test func healthyChannelsAreGoodAndTheirStatusesSayGood() throws {
        let r = try rig()
        let readings = try readings(r.mapped)
        #expect(readings.allSatisfy { $0.quality == .ok && $0.value != nil }, "\(readings)")
        // Both 4-bit fields of holding 10 read good (0), the enumeration at holding 11 too.
        #expect(try r.raw.readHoldingRegisters(at: 10, count: 2) == [0, 0])
        // The fallback register holds the simulated instrument's fallback value, −9999.
        #expect(RegisterCodec.float32(try r.raw.readHoldingRegisters(at: 20, count: 2), at: 0, order: .abcd) == -9999)
    }

    /// A lost sensor: the device's status field says so (a value that is neither good nor "not available"), or it
    /// serves its fallback value, or a NaN pattern; the host reads each as no reading, never as a number.
    @Test(arguments: [0, 1, 2, 3, 4])
    func aLostSensorIsNeverTakenAsAMeasurement(_ channel: Int) throws {
        let r = try rig()
        r.device.setChannelFault(.lost, channel: channel)
        let readings = try readings(r.mapped)
        #expect(readings[channel].value == nil, "channel \(channel): \(readings[channel])")
        for (i, reading) in readings.enumerated() where i != channel {
            #expect(reading.value != nil, "channel \(i) is healthy: \(reading)")
        }
        let status = try r.raw.readHoldingRegisters(at: 10, count: 2)
        switch channel {
        case 0:
            // The value registers hold the fallback value: "not available", not a temperature of −9999 °C.
            #expect(RegisterCodec.float32(try r.raw.readHoldingRegisters(at: 0, count: 2), at: 0, order: .abcd) == -9999)
            #expect(readings[0].quality == .notAvailable)
        case 1:
            // Bits 0…3: 2, the first value that is neither good (0) nor "not available" (1): a sensor failure.
            #expect(status[0] & 0xF == 2 && readings[1].quality.contains(.sensorFailure))
        case 2:
            // Bits 4…7: 1 (0 and 2 are good); bits 0…3 of the other channel untouched.
            #expect(status[0] == 0x10 && readings[2].quality.contains(.sensorFailure))
        case 3:
            #expect(try r.raw.readHoldingRegisters(at: 4, count: 2) == [0xFFFF, 0xFFFF])
            #expect(readings[3].quality == .notAvailable, "a NaN pattern named by nan_if is no reading, not a fault")
        default:
            #expect(status[1] == 3 && readings[4].quality.contains(.sensorFailure))
        }
    }

    /// The field's values map to qualities as the map says, and a device serves what the host reads back.
    @Test func statusFieldValuesMapToQualities() throws {
        let field = DeviceMap.QualityBit(table: .holding, register: 7, shift: 4, width: 4, good: [0], notAvailable: [1, 2])
        #expect(field.quality(0x00F0) == .sensorFailure)
        #expect(field.quality(0xFF0F) == .ok, "only bits 4…7 count")
        #expect(field.quality(0x0010) == .notAvailable && field.quality(0x0020) == .notAvailable)
        #expect(field.quality(0x0030) == .sensorFailure)
        for quality: ChannelQuality in [.ok, .notAvailable, .sensorFailure] {
            #expect(field.quality(field.word(for: quality)) == quality, "\(quality)")
        }
        let bit = DeviceMap.QualityBit(table: .input, register: 3, bit: 2, badWhen: true)
        #expect(bit.quality(0b100) == .sensorFailure && bit.quality(0) == .ok)
        #expect(bit.word(for: .sensorFailure) == 0b100 && bit.word(for: .ok) == 0)
    }

    @Test func theProbeSaysWhyAReadingIsNotOne() throws {
        let r = try rig()
        r.device.setChannelFault(.lost, channel: 0)
        r.device.setChannelFault(.lost, channel: 1)
        r.device.setChannelFault(.lost, channel: 3)
        let map = try MapLoader.parse(Self.map, source: "status.toml")
        let result = MapProbe.run(map, client: r.raw)
        let quality = Dictionary(uniqueKeysWithValues: result.channels.map { ($0.name, $0.quality) })
        #expect(quality["block_temp_c"] == "not available (the device's fallback value (holding 20))")
        #expect(quality["mid_temp_c"] == "bad (holding 10 bits 0…3 = 2)")
        #expect(quality["ambient_temp_c"] == "not available (nan_if 0xFFFFFFFF)")
        #expect(quality["end_temp_c"] == "good" && quality["heater_power_w"] == "good")
    }

    @Test(arguments: [
        ("quality = { table = \"holding\", register = 10, shift = 4 }", "good", "is required"),
        ("quality = { table = \"holding\", register = 10, bit = 1, good = [0] }", "bit", "is for one status bit"),
        ("quality = { table = \"holding\", register = 10, good = [] }", "good", "at least one value"),
        ("quality = { table = \"holding\", register = 10, shift = 12, width = 8, good = [0] }", "width", "passes the register's 16 bits"),
        ("quality = { table = \"holding\", register = 10, width = 2, good = [0, 1], not_available = [2, 3] }", "good", "can never say a sensor failed"),
        ("quality = { table = \"holding\", register = 10, width = 4, good = [16] }", "good", "0…15"),
        ("quality = { table = \"holding\", register = 10, good = [0], not_available = [0] }", "not_available", "also in good"),
        ("quality = { table = \"coil\", register = 10, good = [0] }", "table", "a status field is in an input or holding register"),
        ("nan_if = \"0x123456789\"", "nan_if", "at most 8 hex digits"),
        ("nan_if = \"FFFF\"", "nan_if", "not a bit pattern"),
        ("nan_if = [true]", "nan_if", "must be a raw number, a bit pattern"),
        ("fallback = { table = \"holding\", register = 20, type = \"int16\" }", "type", "the channel's type (float32)"),
        ("fallback = { table = \"holding\", register = 20, scale = 2 }", "scale", "compared raw"),
    ])
    func badStatusKeysAreRefusedWithTheKey(_ line: String, _ key: String, _ message: String) throws {
        let text = """
            [map]
            kind = "heat-rig"
            name = "bad"
            [[map.channel]]
            name = "block_temp_c"
            table = "holding"
            register = 0
            type = "float32"
            \(line)
            """
        do {
            _ = try MapLoader.parse(text, source: "bad.toml")
            Issue.record("accepted: \(line)")
        } catch {
            let said = "\(error)"
            let path = line.hasPrefix("quality") ? "quality.\(key)" : line.hasPrefix("fallback") ? "fallback.\(key)" : key
            #expect(said.contains("bad.toml:9: ") && said.contains("channel \"block_temp_c\": \(path) ")
                    && said.contains(message), "\(said)")
            #expect(!said.contains("not a known key"), "one message for one mistake: \(said)")
        }
    }
}
