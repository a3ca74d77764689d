// CNC mill, device type 0x0C01, Modbus TCP (docs/register-contract.md §C1).
//
// Register table (0-based PDU offsets; the common header of §0 comes first on every device; the ring, the two
// setpoints, the coils and the two inputs follow the lab rigs' common table, LabRigTable.swift):
//
//   IR 100 + 4·i  channel blocks (value f32, quality u16, reserved u16):
//                 0 spindle_rpm, 1 torque_nm (spindle torque, ±0.1 N·m), 2 feed_mm_min, 3 motor_temp_c
//   IR 200        sample ring write index (u16, samples ever written, wraps)
//   IR 201        sample period in µs (1000: spindle torque at 1 kHz)
//   IR 202–329    the last 64 torque samples, f32; sample n sits at slot n mod 64
//   HR 100        spindle speed setpoint, rpm   0…24000 (f32)
//   HR 102        feed override, %              0…150   (f32)
//   Coil 0        spindle enable
//   Coil 1        feed hold
//   DI 0          E-stop OK (0 = pressed)
//   DI 1          guard door closed
//   Safe state    feed hold on (coil 1), spindle off (coil 0)

/// The CNC mill's register table and typed view.
public enum MillProfile: DeviceProfile {
    public static let kind = DeviceKind.cncMill
    public static var safeCommands: Commands { .safe() }

    public enum Channel: Int, CaseIterable, Sendable { case spindleRPM, torque, feed, motorTemp }

    public static let channels: [ChannelSpec] = [
        ChannelSpec(0, "spindle_rpm", unit: "rpm", range: 0...24000),
        ChannelSpec(1, "torque_nm", unit: "N·m", range: -5...20),
        ChannelSpec(2, "feed_mm_min", unit: "mm/min", range: 0...10000),
        ChannelSpec(3, "motor_temp_c", unit: "°C", range: -20...150),
    ]

    public static let spindleSetpoint = LabRigTable.setpoint(0, "spindle_rpm", unit: "rpm", limits: 0...24000)
    public static let feedOverride = LabRigTable.setpoint(1, "feed_override_pct", unit: "%", limits: 0...150)
    public static let holdingFloats = [spindleSetpoint, feedOverride]
    public static var holdingSetpoints: [FloatRegister] { holdingFloats }
    public static var coilNames: [String] { Coil.allCases.map(snakeCaseName) }

    public enum Coil: Int, CaseIterable, Sendable { case spindleEnable = 0, feedHold = 1 }
    public enum DiscreteInput: Int, CaseIterable, Sendable { case estopOK = 0, guardClosed = 1 }

    public static var sampleRing: SampleRingLayout? { ring }
    public static let ring = LabRigTable.ring(periodMicroseconds: 1000, channel: Channel.torque.rawValue)

    public struct Snapshot: DeviceSnapshot, Equatable {
        public var header: DeviceHeader
        public var channels: [ChannelReading]
        public var spindleEnabled: Bool
        public var feedHeld: Bool
        public var estopOK: Bool
        public var guardClosed: Bool

        public init(header: DeviceHeader, channels: [ChannelReading], spindleEnabled: Bool, feedHeld: Bool,
                    estopOK: Bool, guardClosed: Bool) {
            self.header = header
            self.channels = channels
            self.spindleEnabled = spindleEnabled
            self.feedHeld = feedHeld
            self.estopOK = estopOK
            self.guardClosed = guardClosed
        }

        public subscript(_ channel: Channel) -> ChannelReading { channels[channel.rawValue] }
    }

    public struct Commands: Sendable, Equatable {
        public var spindleRPM: Float
        public var feedOverridePercent: Float
        public var spindleEnable: Bool
        public var feedHold: Bool

        public init(spindleRPM: Float, feedOverridePercent: Float, spindleEnable: Bool, feedHold: Bool) {
            self.spindleRPM = spindleRPM
            self.feedOverridePercent = feedOverridePercent
            self.spindleEnable = spindleEnable
            self.feedHold = feedHold
        }

        /// Feed held, spindle off; the setpoints stay as they are.
        public static func safe(keeping c: Commands? = nil) -> Commands {
            Commands(spindleRPM: c?.spindleRPM ?? 0, feedOverridePercent: c?.feedOverridePercent ?? 100,
                     spindleEnable: false, feedHold: true)
        }
    }

    public static func readSnapshot(from client: any ModbusClient, order: WordOrder) throws -> Snapshot {
        let header = try client.readHeader()
        let channels = try readChannels(from: client, order: order)
        let switches = try LabRigTable.readSwitches(from: client, coils: Coil.allCases.count)
        return Snapshot(header: header, channels: channels, spindleEnabled: switches.coils[Coil.spindleEnable.rawValue],
                        feedHeld: switches.coils[Coil.feedHold.rawValue], estopOK: switches.estopOK,
                        guardClosed: switches.rigSwitch)
    }

    /// Feed hold goes first and the spindle enable last when stopping; setpoints before enabling.
    public static func writes(for commands: Commands, previous: Commands?, order: WordOrder) -> [RegisterWrite] {
        var out: [RegisterWrite] = []
        if previous?.feedHold != commands.feedHold, commands.feedHold {
            out.append(.coils(address: Coil.feedHold.rawValue, values: [true]))
        }
        if previous?.spindleEnable != commands.spindleEnable, !commands.spindleEnable {
            out.append(.coils(address: Coil.spindleEnable.rawValue, values: [false]))
        }
        if previous?.spindleRPM != commands.spindleRPM || previous?.feedOverridePercent != commands.feedOverridePercent {
            out.append(LabRigTable.setpointWrite(commands.spindleRPM, commands.feedOverridePercent, order: order))
        }
        if previous?.spindleEnable != commands.spindleEnable, commands.spindleEnable {
            out.append(.coils(address: Coil.spindleEnable.rawValue, values: [true]))
        }
        if previous?.feedHold != commands.feedHold, !commands.feedHold {
            out.append(.coils(address: Coil.feedHold.rawValue, values: [false]))
        }
        return out
    }
}

extension DeviceKind {
    public static let cncMill = DeviceKind("cnc-mill", deviceType: 0x0C01)
}
