import Devices

// A test-only device kind (docs/adding-a-device-kind.md): a bioreactor with pH and DO control over Modbus TCP.
// It exists to prove that a kind is four layer files and one registry line; it is not a model of a real vessel.
//
//   IR 100 + 4·i  channel blocks: 0 ph, 1 do_pct
//   HR 100        base pump %  0…100  (f32)
//   HR 102        air %        0…100  (f32)
//   Safe state    base pump off, air off

/// The test bioreactor's register table and typed view (layer 1 of 4: Devices).
enum BioreactorProfile: DeviceProfile {
    static let kind = DeviceKind("test-bioreactor", deviceType: 0x7E01)
    static var safeCommands: Commands { .safe }
    static let channels: [ChannelSpec] = [
        ChannelSpec(0, "ph", unit: "", range: 0...14),
        ChannelSpec(1, "do_pct", unit: "%", range: 0...100),
    ]
    static let basePump = FloatRegister(100, "base_pump_pct", unit: "%", limits: 0...100)
    static let air = FloatRegister(102, "air_pct", unit: "%", limits: 0...100)

    struct Snapshot: DeviceSnapshot {
        var header: DeviceHeader
        var channels: [ChannelReading]
    }

    struct Commands: Sendable, Equatable {
        var basePumpPercent: Float
        var airPercent: Float
        static let safe = Commands(basePumpPercent: 0, airPercent: 0)
    }

    static func readSnapshot(from client: any ModbusClient, order: WordOrder) throws -> Snapshot {
        Snapshot(header: try client.readHeader(), channels: try readChannels(from: client, order: order))
    }

    static func writes(for commands: Commands, previous: Commands?, order: WordOrder) -> [RegisterWrite] {
        guard commands != previous else { return [] }
        return [.registers(address: basePump.address,
                           values: RegisterCodec.encode(commands.basePumpPercent, order: order)
                               + RegisterCodec.encode(commands.airPercent, order: order))]
    }
}
