// The common table of the three teaching-lab rigs (docs/register-contract.md §C), after the header of §0 and the
// channel blocks from IR 100 that every device has:
//
//   IR 200        sample ring write index (u16, samples ever written, wraps)
//   IR 201        sample period in µs
//   IR 202–329    the last 64 samples of one channel, f32; sample n sits at slot n mod 64
//   HR 100, 102   the rig's two float setpoints (f32 each), written together in one FC 16
//   Coil 0…       the rig's enables
//   DI 0          E-stop OK (0 = pressed)
//   DI 1          the rig's own switch: the heat rig's thermostat, the mill's guard door, the MSD's end stops
//
// A rig's profile says what its setpoints, coils, ring channel and DI 1 mean, and in which order its writes go.

/// The register table the CNC mill, the heat-transfer rig and the mass-spring-damper rig share.
public enum LabRigTable {
    public static let ringBase = 200
    public static let ringCapacity = 64
    /// HR of the first setpoint; the second follows at +2.
    public static let setpointBase = 100
    /// DI 0 (E-stop OK) and DI 1 (the rig's switch).
    public static let discreteInputCount = 2

    /// The rig's sample ring of `channel` every `periodMicroseconds`.
    public static func ring(periodMicroseconds: UInt32, channel: Int) -> SampleRingLayout {
        SampleRingLayout(base: ringBase, capacity: ringCapacity, periodMicroseconds: periodMicroseconds, channel: channel)
    }

    /// Setpoint `index` (0 or 1) at HR 100 + 2·index.
    public static func setpoint(_ index: Int, _ name: String, unit: String, limits: ClosedRange<Float>) -> FloatRegister {
        precondition((0...1).contains(index), "a lab rig has two setpoints")
        return FloatRegister(setpointBase + 2 * index, name, unit: unit, limits: limits)
    }

    /// The two setpoints in one write (FC 16, four registers).
    public static func setpointWrite(_ first: Float, _ second: Float, order: WordOrder) -> RegisterWrite {
        .registers(address: setpointBase,
                   values: RegisterCodec.encode(first, order: order) + RegisterCodec.encode(second, order: order))
    }

    /// The two setpoints as the rig holds them.
    public static func readSetpoints(from client: any ModbusClient, order: WordOrder) throws -> (Float, Float) {
        let holding = try client.readHoldingRegisters(at: setpointBase, count: 4)
        return (RegisterCodec.float32(holding, at: 0, order: order), RegisterCodec.float32(holding, at: 2, order: order))
    }

    /// The rig's coils and its two discrete inputs.
    public struct Switches: Sendable, Equatable {
        public var coils: [Bool]
        /// DI 0: the E-stop is released.
        public var estopOK: Bool
        /// DI 1: the rig's own switch.
        public var rigSwitch: Bool
    }

    /// Reads `coils` coils from 0, then DI 0 and DI 1 (two transactions, in this order on every rig).
    public static func readSwitches(from client: any ModbusClient, coils: Int) throws -> Switches {
        let coilValues = try client.readCoils(at: 0, count: coils)
        let inputs = try client.readDiscreteInputs(at: 0, count: discreteInputCount)
        return Switches(coils: coilValues, estopOK: inputs[0], rigSwitch: inputs[1])
    }
}
