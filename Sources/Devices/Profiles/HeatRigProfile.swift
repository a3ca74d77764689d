// Heat-transfer rig, device type 0x0C02, Modbus TCP (docs/register-contract.md §C2).
//
// Register table (0-based PDU offsets; the common header of §0 comes first on every device; the ring, the two
// setpoints, the coils and the two inputs follow the lab rigs' common table, LabRigTable.swift):
//
//   IR 100 + 4·i  channel blocks (value f32, quality u16, reserved u16):
//                 0 block_temp_c, 1 mid_temp_c, 2 end_temp_c, 3 ambient_temp_c, 4 heater_power_w, 5 fan_air_mps
//   IR 200        sample ring write index (u16, samples ever written, wraps)
//   IR 201        sample period in µs (100 000: block temperature at 10 Hz)
//   IR 202–329    the last 64 block temperatures, f32; sample n sits at slot n mod 64
//   HR 100        heater power %   0…100  (f32)
//   HR 102        fan %            0…100  (f32)
//   Coil 0        heater enable
//   Coil 1        fan enable
//   DI 0          E-stop OK (0 = pressed)
//   DI 1          over-temperature thermostat tripped (hardware, 90 °C, independent of the host)
//   Safe state    heater off (coil 0 off, HR 100 = 0), fan on (coil 1 on, HR 102 = 100)

/// The heat-transfer rig's register table and typed view.
public enum HeatRigProfile: DeviceProfile {
    public static let kind = DeviceKind.heatRig
    public static var safeCommands: Commands { .safe }

    public enum Channel: Int, CaseIterable, Sendable {
        case blockTemp, midTemp, endTemp, ambientTemp, heaterPower, fanAir
    }

    public static let channels: [ChannelSpec] = [
        ChannelSpec(0, "block_temp_c", unit: "°C", range: -50...400),
        ChannelSpec(1, "mid_temp_c", unit: "°C", range: -50...400),
        ChannelSpec(2, "end_temp_c", unit: "°C", range: -50...400),
        ChannelSpec(3, "ambient_temp_c", unit: "°C", range: -50...100),
        ChannelSpec(4, "heater_power_w", unit: "W", range: 0...150),
        ChannelSpec(5, "fan_air_mps", unit: "m/s", range: 0...10),
    ]

    public static let heaterPercent = LabRigTable.setpoint(0, "heater_pct", unit: "%", limits: 0...100)
    public static let fanPercent = LabRigTable.setpoint(1, "fan_pct", unit: "%", limits: 0...100)
    public static let holdingFloats = [heaterPercent, fanPercent]
    public static var holdingSetpoints: [FloatRegister] { holdingFloats }
    public static var coilNames: [String] { Coil.allCases.map(snakeCaseName) }

    public enum Coil: Int, CaseIterable, Sendable { case heaterEnable = 0, fanEnable = 1 }
    public enum DiscreteInput: Int, CaseIterable, Sendable { case estopOK = 0, thermostatTripped = 1 }

    public static var sampleRing: SampleRingLayout? { ring }
    public static let ring = LabRigTable.ring(periodMicroseconds: 100_000, channel: Channel.blockTemp.rawValue)
    /// The hardware thermostat's trip point.
    public static let thermostatTripC = 90.0

    /// Everything the host reads in one pass.
    public struct Snapshot: DeviceSnapshot, Equatable {
        public var header: DeviceHeader
        public var channels: [ChannelReading]
        /// HR 100/102 and coils as the device holds them (they show the device's own safe state).
        public var heaterPercent: Float
        public var fanPercent: Float
        public var heaterEnabled: Bool
        public var fanEnabled: Bool
        public var estopOK: Bool
        public var thermostatTripped: Bool

        public init(header: DeviceHeader, channels: [ChannelReading], heaterPercent: Float, fanPercent: Float,
                    heaterEnabled: Bool, fanEnabled: Bool, estopOK: Bool, thermostatTripped: Bool) {
            self.header = header
            self.channels = channels
            self.heaterPercent = heaterPercent
            self.fanPercent = fanPercent
            self.heaterEnabled = heaterEnabled
            self.fanEnabled = fanEnabled
            self.estopOK = estopOK
            self.thermostatTripped = thermostatTripped
        }

        public subscript(_ channel: Channel) -> ChannelReading { channels[channel.rawValue] }
    }

    /// What the host commands.
    public struct Commands: Sendable, Equatable {
        public var heaterPercent: Float
        public var fanPercent: Float
        public var heaterEnable: Bool
        public var fanEnable: Bool

        public init(heaterPercent: Float, fanPercent: Float, heaterEnable: Bool, fanEnable: Bool) {
            self.heaterPercent = heaterPercent
            self.fanPercent = fanPercent
            self.heaterEnable = heaterEnable
            self.fanEnable = fanEnable
        }

        /// The rig's safe state: heater off, fan on.
        public static let safe = Commands(heaterPercent: 0, fanPercent: 100, heaterEnable: false, fanEnable: true)
    }

    public static func readSnapshot(from client: any ModbusClient, order: WordOrder) throws -> Snapshot {
        let header = try client.readHeader()
        let channels = try readChannels(from: client, order: order)
        let (heater, fan) = try LabRigTable.readSetpoints(from: client, order: order)
        let switches = try LabRigTable.readSwitches(from: client, coils: Coil.allCases.count)
        return Snapshot(header: header, channels: channels, heaterPercent: heater, fanPercent: fan,
                        heaterEnabled: switches.coils[Coil.heaterEnable.rawValue],
                        fanEnabled: switches.coils[Coil.fanEnable.rawValue], estopOK: switches.estopOK,
                        thermostatTripped: switches.rigSwitch)
    }

    public static func writes(for commands: Commands, previous: Commands?, order: WordOrder) -> [RegisterWrite] {
        var out: [RegisterWrite] = []
        // Enables go last when switching on and first when switching off, so the heater never runs on a stale %.
        let enables = RegisterWrite.coils(address: 0, values: [commands.heaterEnable, commands.fanEnable])
        let enablesChanged = previous.map { $0.heaterEnable != commands.heaterEnable
            || $0.fanEnable != commands.fanEnable } ?? true
        if enablesChanged && !commands.heaterEnable { out.append(enables) }
        if previous?.heaterPercent != commands.heaterPercent || previous?.fanPercent != commands.fanPercent {
            out.append(LabRigTable.setpointWrite(commands.heaterPercent, commands.fanPercent, order: order))
        }
        if enablesChanged && commands.heaterEnable { out.append(enables) }
        return out
    }
}

extension DeviceKind {
    public static let heatRig = DeviceKind("heat-rig", deviceType: 0x0C02)
}
