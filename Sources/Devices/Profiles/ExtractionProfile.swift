// Amino-acid circulating extraction device, device type 0x0A01, Modbus TCP (docs/register-contract.md §A).
//
// Register table (0-based PDU offsets; the common header of §0 comes first on every device):
//
//   IR 100 + 4·i  channel blocks (value f32, quality u16, reserved u16):
//                 0 lift_mm 0–800, 1 push_mm 0–300, 2 level_mm 0–600, 3 box_temp_c −20–100,
//                 4 ambient_temp_c −20–60, 5 flow_lpm 0–20, 6 filter_dp_bar 0–2.5, 7 fan_air_mps 0–6,
//                 8 pump_power_w 0–1500, 9 energy_kwh, 10 filtered_l,
//                 11 yield_true 0–1: SIMULATOR ONLY, the lab assay (fraction of the batch's amino acids
//                    extracted); a real device has no such sensor and answers 02 for its block
//   HR 100        lift valve command  −100…100 %  (f32, + raises)
//   HR 102        push valve command  −100…100 %  (f32, + extends)
//   HR 104        pump speed             0…100 %  (f32)
//   HR 106        fan speed              0…100 %  (f32)
//   Coil 0 pump enable, 1 fan enable, 2 axes enable, 3 backflush valve, 4 residue-return valve
//   DI 0 E-stop OK (0 = pressed), 1 lift lower limit, 2 lift upper limit, 3 push home, 4 push end,
//   DI 5 low liquid level, 6 leak detected
//   Safe state    pump off, valves centred (axes disabled: spring-centred valves hold the load), fan 100 %,
//                 backflush and residue valves closed

/// The extraction device's register table and typed view.
public enum ExtractionProfile: DeviceProfile {
    public static let kind = DeviceKind.extraction
    public static var safeCommands: Commands { .safe }

    public enum Channel: Int, CaseIterable, Sendable {
        case lift, push, level, boxTemp, ambientTemp, flow, filterDP, fanAir, pumpPower, energy, filtered
        /// Simulator only: the lab assay. Never used for control (docs/register-contract.md §A).
        case yieldTrue
    }

    public static let channels: [ChannelSpec] = [
        ChannelSpec(0, "lift_mm", unit: "mm", range: 0...800),
        ChannelSpec(1, "push_mm", unit: "mm", range: 0...300),
        ChannelSpec(2, "level_mm", unit: "mm", range: 0...600),
        ChannelSpec(3, "box_temp_c", unit: "°C", range: -20...100),
        ChannelSpec(4, "ambient_temp_c", unit: "°C", range: -20...60),
        ChannelSpec(5, "flow_lpm", unit: "L/min", range: 0...20),
        ChannelSpec(6, "filter_dp_bar", unit: "bar", range: 0...2.5),
        ChannelSpec(7, "fan_air_mps", unit: "m/s", range: 0...6),
        ChannelSpec(8, "pump_power_w", unit: "W", range: 0...1500),
        // The sheet gives no range for the totals; these bound a year of running for the statistics.
        ChannelSpec(9, "energy_kwh", unit: "kWh", range: 0...100_000),
        ChannelSpec(10, "filtered_l", unit: "L", range: 0...10_000_000),
        // Simulator only ("lab assay"): the plant's true extracted fraction, which a real device cannot measure
        // in-line. Last, so that the real device's register addresses are those of the contract.
        ChannelSpec(11, "yield_true", unit: "fraction", range: 0...1),
    ]

    /// `yield_true` is served by the simulator only.
    public static let simulatorOnlyChannelCount = 1

    public static let liftValve = FloatRegister(100, "lift_valve_pct", unit: "%", limits: -100...100)
    public static let pushValve = FloatRegister(102, "push_valve_pct", unit: "%", limits: -100...100)
    public static let pumpSpeed = FloatRegister(104, "pump_speed_pct", unit: "%", limits: 0...100)
    public static let fanSpeed = FloatRegister(106, "fan_speed_pct", unit: "%", limits: 0...100)
    public static let holdingFloats = [liftValve, pushValve, pumpSpeed, fanSpeed]
    public static var holdingSetpoints: [FloatRegister] { holdingFloats }
    public static var coilNames: [String] { Coil.allCases.map(snakeCaseName) }

    public enum Coil: Int, CaseIterable, Sendable {
        case pumpEnable = 0, fanEnable, axesEnable, backflush, residueReturn
    }

    public enum DiscreteInput: Int, CaseIterable, Sendable {
        case estopOK = 0, liftLowerLimit, liftUpperLimit, pushHome, pushEnd, lowLevel, leak
    }

    /// Everything the host reads in one pass.
    public struct Snapshot: DeviceSnapshot, Equatable {
        public var header: DeviceHeader
        public var channels: [ChannelReading]
        /// HR 100–107 as the device holds them, in `holdingFloats` order.
        public var holding: [Float]
        public var coils: [Bool]
        public var inputs: [Bool]

        public init(header: DeviceHeader, channels: [ChannelReading], holding: [Float], coils: [Bool],
                    inputs: [Bool]) {
            self.header = header
            self.channels = channels
            self.holding = holding
            self.coils = coils
            self.inputs = inputs
        }

        public subscript(_ channel: Channel) -> ChannelReading { channels[channel.rawValue] }
        public subscript(_ coil: Coil) -> Bool { coils[coil.rawValue] }
        public subscript(_ input: DiscreteInput) -> Bool { inputs[input.rawValue] }
    }

    /// What the host commands.
    public struct Commands: Sendable, Equatable {
        /// Valve commands and speeds in %, in `holdingFloats` order of meaning.
        public var liftValve: Float
        public var pushValve: Float
        public var pumpSpeed: Float
        public var fanSpeed: Float
        public var pumpEnable: Bool
        public var fanEnable: Bool
        public var axesEnable: Bool
        public var backflush: Bool
        public var residueReturn: Bool

        public init(liftValve: Float = 0, pushValve: Float = 0, pumpSpeed: Float = 0, fanSpeed: Float = 0,
                    pumpEnable: Bool = false, fanEnable: Bool = false, axesEnable: Bool = false,
                    backflush: Bool = false, residueReturn: Bool = false) {
            self.liftValve = liftValve
            self.pushValve = pushValve
            self.pumpSpeed = pumpSpeed
            self.fanSpeed = fanSpeed
            self.pumpEnable = pumpEnable
            self.fanEnable = fanEnable
            self.axesEnable = axesEnable
            self.backflush = backflush
            self.residueReturn = residueReturn
        }

        /// The device's safe state: pump off, valves centred, fan 100 %, backflush and residue valves closed.
        public static let safe = Commands(fanSpeed: 100, fanEnable: true)

        var floats: [Float] { [liftValve, pushValve, pumpSpeed, fanSpeed] }
        var coils: [Bool] { [pumpEnable, fanEnable, axesEnable, backflush, residueReturn] }
    }

    public static func readSnapshot(from client: any ModbusClient, order: WordOrder) throws -> Snapshot {
        try readSnapshot(from: client, order: order, channelCount: channels.count)
    }

    public static func readSnapshot(from client: any ModbusClient, order: WordOrder,
                                    channelCount: Int) throws -> Snapshot {
        let header = try client.readHeader()
        let channels = try readChannels(from: client, order: order, served: channelCount)
        let registers = try client.readHoldingRegisters(at: liftValve.address, count: 2 * holdingFloats.count)
        let holding = (0..<holdingFloats.count).map { RegisterCodec.float32(registers, at: 2 * $0, order: order) }
        let coils = try client.readCoils(at: 0, count: Coil.allCases.count)
        let inputs = try client.readDiscreteInputs(at: 0, count: DiscreteInput.allCases.count)
        return Snapshot(header: header, channels: channels, holding: holding, coils: coils, inputs: inputs)
    }

    public static func writes(for commands: Commands, previous: Commands?, order: WordOrder) -> [RegisterWrite] {
        var out: [RegisterWrite] = []
        let coilsWrite = RegisterWrite.coils(address: 0, values: commands.coils)
        let coilsChanged = previous?.coils != commands.coils
        // Switching something off goes first; switching on goes after the set-points it acts on.
        let switchingOff = previous.map { zip($0.coils, commands.coils).contains { $0 && !$1 } } ?? true
        if coilsChanged && switchingOff { out.append(coilsWrite) }
        let floats = commands.floats
        let old = previous?.floats
        // One FC16 covering the changed span keeps a 100 Hz loop at one float write per tick.
        if let first = floats.indices.first(where: { old?[$0] != floats[$0] }),
           let last = floats.indices.last(where: { old?[$0] != floats[$0] }) {
            let values = floats[first...last].flatMap { RegisterCodec.encode($0, order: order) }
            out.append(.registers(address: holdingFloats[first].address, values: values))
        }
        if coilsChanged && !switchingOff { out.append(coilsWrite) }
        return out
    }
}

extension DeviceKind {
    public static let extraction = DeviceKind("extraction", deviceType: 0x0A01)
}
