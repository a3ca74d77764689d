// Aquaculture sonde, device type 0x0B01, Modbus RTU (RS-485, 9600 8N1 by default) or TCP via a gateway
// (docs/register-contract.md §B).
//
// Register table (0-based PDU offsets; the common header of §0 comes first on every device):
//
//   IR 100 + 4·i  channel blocks (value f32, quality u16, reserved u16):
//                  0 do_mgl        dissolved oxygen, mg/L           7 chl_ugl       chlorophyll, µg/L
//                  1 do_sat_pct    DO, % of saturation              8 current_mps   water current, m/s
//                  2 water_temp_c  water temperature, °C            9 wave_m        wave height, m
//                  3 ph            pH                              10 wind_mps      wind speed, m/s
//                  4 salinity_ppt  salinity, ppt (g/kg)            11 pressure_hpa  air pressure, hPa
//                  5 tan_mgl       total ammonia nitrogen, mg/L    12 rain_mm       rainfall since local midnight, mm
//                  6 nh3_mgl       un-ionised ammonia (as N), mg/L
//   No holding registers beyond the common ones, no coils, no discrete inputs: a sonde only measures. Aerators,
//   water exchange and feeders hang on the host's GPIO relay lines.
//   do_sat_pct and nh3_mgl are derived by the sonde (AquaChemistry: Benson–Krause, un-ionised fraction).
//   Safe state: none of its own (nothing to switch); the host's safe state is on its relays.

/// The aquaculture sonde's register table and typed view.
public enum AquaSondeProfile: DeviceProfile {
    public static let kind = DeviceKind.aquaSonde
    public static var safeCommands: Commands { Commands() }

    public enum Channel: Int, CaseIterable, Sendable {
        case doMgL, doSatPct, waterTemp, pH, salinity, tan, nh3, chlorophyll, current, wave, wind, pressure, rain
    }

    public static let channels: [ChannelSpec] = [
        ChannelSpec(0, "do_mgl", unit: "mg/L", range: 0...25),
        ChannelSpec(1, "do_sat_pct", unit: "%", range: 0...300),
        ChannelSpec(2, "water_temp_c", unit: "°C", range: -5...50),
        ChannelSpec(3, "ph", unit: "pH", range: 0...14),
        ChannelSpec(4, "salinity_ppt", unit: "ppt", range: 0...70),
        ChannelSpec(5, "tan_mgl", unit: "mg/L", range: 0...100),
        ChannelSpec(6, "nh3_mgl", unit: "mg/L", range: 0...10),
        ChannelSpec(7, "chl_ugl", unit: "µg/L", range: 0...500),
        ChannelSpec(8, "current_mps", unit: "m/s", range: 0...5),
        ChannelSpec(9, "wave_m", unit: "m", range: 0...10),
        ChannelSpec(10, "wind_mps", unit: "m/s", range: 0...60),
        ChannelSpec(11, "pressure_hpa", unit: "hPa", range: 850...1100),
        ChannelSpec(12, "rain_mm", unit: "mm", range: 0...1000),
    ]

    /// A sonde drives nothing, so the host does not feed its watchdog; the watchdog bits it may show mean nothing.
    public static let usesHostWatchdog = false

    public struct Snapshot: DeviceSnapshot, Equatable {
        public var header: DeviceHeader
        public var channels: [ChannelReading]

        public init(header: DeviceHeader, channels: [ChannelReading]) {
            self.header = header
            self.channels = channels
        }

        public subscript(_ channel: Channel) -> ChannelReading { channels[channel.rawValue] }
    }

    /// Nothing to command on the sonde itself.
    public struct Commands: Sendable, Equatable {
        public init() {}
    }

    public static func readSnapshot(from client: any ModbusClient, order: WordOrder) throws -> Snapshot {
        let header = try client.readHeader()
        return Snapshot(header: header, channels: try readChannels(from: client, order: order))
    }

    public static func writes(for commands: Commands, previous: Commands?, order: WordOrder) -> [RegisterWrite] { [] }
}

extension DeviceKind {
    public static let aquaSonde = DeviceKind("aqua-sonde", deviceType: 0x0B01)
}
