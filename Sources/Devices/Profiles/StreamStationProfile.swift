// Stream water-quality station, device type 0x0D01, Modbus RTU or TCP (docs/register-contract.md §D).
//
// Register table (0-based PDU offsets; the common header of §0 comes first on every device):
//
//   IR 100 + 4·i  channel blocks (value f32, quality u16, reserved u16):
//                 0 stage_m, 1 discharge_m3s, 2 water_temp_c, 3 no3_mgl (nitrate), 4 srp_mgl (soluble reactive P),
//                 5 tp_mgl (total P), 6 turbidity_ntu, 7 rain_mmh (rainfall intensity, mm/h)
//   Coil 0        autosampler trigger: a rising edge fills the next bottle (the host pulses it: 1, then 0)
//   Safe state    trigger low

/// The stream station's register table and typed view.
public enum StreamStationProfile: DeviceProfile {
    public static let kind = DeviceKind.streamStation
    public static var safeCommands: Commands { .safe }

    public enum Channel: Int, CaseIterable, Sendable { case stage, discharge, waterTemp, no3, srp, tp, turbidity, rain }

    public static let channels: [ChannelSpec] = [
        ChannelSpec(0, "stage_m", unit: "m", range: 0...10),
        ChannelSpec(1, "discharge_m3s", unit: "m³/s", range: 0...500),
        ChannelSpec(2, "water_temp_c", unit: "°C", range: -5...40),
        ChannelSpec(3, "no3_mgl", unit: "mg/L", range: 0...100),
        ChannelSpec(4, "srp_mgl", unit: "mg/L", range: 0...10),
        ChannelSpec(5, "tp_mgl", unit: "mg/L", range: 0...20),
        ChannelSpec(6, "turbidity_ntu", unit: "NTU", range: 0...4000),
        ChannelSpec(7, "rain_mmh", unit: "mm/h", range: 0...200),
    ]

    /// A station drives only its autosampler trigger; its watchdog need not be fed for that.
    public static let usesHostWatchdog = false
    public static var coilNames: [String] { ["autosampler_trigger"] }

    public struct Snapshot: DeviceSnapshot, Equatable {
        public var header: DeviceHeader
        public var channels: [ChannelReading]

        public init(header: DeviceHeader, channels: [ChannelReading]) {
            self.header = header
            self.channels = channels
        }

        public subscript(_ channel: Channel) -> ChannelReading { channels[channel.rawValue] }
    }

    public struct Commands: Sendable, Equatable {
        /// The autosampler trigger coil.
        public var trigger: Bool
        public init(trigger: Bool) { self.trigger = trigger }
        public static let safe = Commands(trigger: false)
    }

    public static func readSnapshot(from client: any ModbusClient, order: WordOrder) throws -> Snapshot {
        let header = try client.readHeader()
        return Snapshot(header: header, channels: try readChannels(from: client, order: order))
    }

    public static func writes(for commands: Commands, previous: Commands?, order: WordOrder) -> [RegisterWrite] {
        previous?.trigger == commands.trigger ? [] : [.coils(address: 0, values: [commands.trigger])]
    }
}

extension DeviceKind {
    public static let streamStation = DeviceKind("stream-station", deviceType: 0x0D01)
}
