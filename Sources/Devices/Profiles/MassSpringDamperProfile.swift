// Mass-spring-damper rig, device type 0x0C03, Modbus TCP (docs/register-contract.md §C3).
//
// Register table (0-based PDU offsets; the common header of §0 comes first on every device; the ring, the two
// setpoints, the coils and the two inputs follow the lab rigs' common table, LabRigTable.swift):
//
//   IR 100 + 4·i  channel blocks (value f32, quality u16, reserved u16):
//                 0 position_mm, 1 velocity_mms (mm/s), 2 accel_ms2 (m/s²), 3 force_n (excitation force, N)
//   IR 200        sample ring write index (u16, samples ever written, wraps)
//   IR 201        sample period in µs (1000: position at 1 kHz)
//   IR 202–329    the last 64 positions, f32; sample n sits at slot n mod 64
//   HR 100        excitation amplitude, N   0…20  (f32)
//   HR 102        excitation frequency, Hz  0…50  (f32)
//   Coil 0        shaker enable
//   DI 0          E-stop OK (0 = pressed)           — not in the sheet; as every rig here has one
//   DI 1          mass at an end stop (±25 mm)     — not in the sheet; the rig's limit switches
//   Safe state    shaker off (coil 0 off, HR 100 = 0)

/// The mass-spring-damper rig's register table and typed view.
public enum MassSpringDamperProfile: DeviceProfile {
    public static let kind = DeviceKind.msdRig
    public static var safeCommands: Commands { .safe }

    public enum Channel: Int, CaseIterable, Sendable { case position, velocity, acceleration, force }

    public static let channels: [ChannelSpec] = [
        ChannelSpec(0, "position_mm", unit: "mm", range: -30...30),
        ChannelSpec(1, "velocity_mms", unit: "mm/s", range: -5000...5000),
        ChannelSpec(2, "accel_ms2", unit: "m/s²", range: -200...200),
        ChannelSpec(3, "force_n", unit: "N", range: -25...25),
    ]

    public static let amplitude = LabRigTable.setpoint(0, "amplitude_n", unit: "N", limits: 0...20)
    public static let frequency = LabRigTable.setpoint(1, "frequency_hz", unit: "Hz", limits: 0...50)
    public static let holdingFloats = [amplitude, frequency]
    public static var holdingSetpoints: [FloatRegister] { holdingFloats }
    public static var coilNames: [String] { Coil.allCases.map(snakeCaseName) }

    public enum Coil: Int, CaseIterable, Sendable { case shakerEnable = 0 }
    public enum DiscreteInput: Int, CaseIterable, Sendable { case estopOK = 0, atEndStop = 1 }

    public static var sampleRing: SampleRingLayout? { ring }
    public static let ring = LabRigTable.ring(periodMicroseconds: 1000, channel: Channel.position.rawValue)

    public struct Snapshot: DeviceSnapshot, Equatable {
        public var header: DeviceHeader
        public var channels: [ChannelReading]
        public var shakerEnabled: Bool
        public var estopOK: Bool
        public var atEndStop: Bool

        public init(header: DeviceHeader, channels: [ChannelReading], shakerEnabled: Bool, estopOK: Bool,
                    atEndStop: Bool) {
            self.header = header
            self.channels = channels
            self.shakerEnabled = shakerEnabled
            self.estopOK = estopOK
            self.atEndStop = atEndStop
        }

        public subscript(_ channel: Channel) -> ChannelReading { channels[channel.rawValue] }
    }

    public struct Commands: Sendable, Equatable {
        public var amplitudeN: Float
        public var frequencyHz: Float
        public var shakerEnable: Bool

        public init(amplitudeN: Float, frequencyHz: Float, shakerEnable: Bool) {
            self.amplitudeN = amplitudeN
            self.frequencyHz = frequencyHz
            self.shakerEnable = shakerEnable
        }

        public static let safe = Commands(amplitudeN: 0, frequencyHz: 0, shakerEnable: false)
    }

    public static func readSnapshot(from client: any ModbusClient, order: WordOrder) throws -> Snapshot {
        let header = try client.readHeader()
        let channels = try readChannels(from: client, order: order)
        let switches = try LabRigTable.readSwitches(from: client, coils: Coil.allCases.count)
        return Snapshot(header: header, channels: channels, shakerEnabled: switches.coils[Coil.shakerEnable.rawValue],
                        estopOK: switches.estopOK, atEndStop: switches.rigSwitch)
    }

    /// The shaker goes off before its settings change and on after them.
    public static func writes(for commands: Commands, previous: Commands?, order: WordOrder) -> [RegisterWrite] {
        var out: [RegisterWrite] = []
        let enableChanged = previous?.shakerEnable != commands.shakerEnable
        if enableChanged, !commands.shakerEnable { out.append(.coils(address: 0, values: [false])) }
        if previous?.amplitudeN != commands.amplitudeN || previous?.frequencyHz != commands.frequencyHz {
            out.append(LabRigTable.setpointWrite(commands.amplitudeN, commands.frequencyHz, order: order))
        }
        if enableChanged, commands.shakerEnable { out.append(.coils(address: 0, values: [true])) }
        return out
    }
}

extension DeviceKind {
    public static let msdRig = DeviceKind("msd-rig", deviceType: 0x0C03)
}
