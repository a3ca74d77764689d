import Devices

/// The CNC mill's firmware around its plant (DEVICES.md §C1).
///
/// Spindle speed and feed override follow HR 100/102; coil 0 enables the spindle and coil 1 holds the feed. The torque
/// channel and the 1 kHz ring carry the measured spindle torque. The guard door is a plant state the fault injector
/// opens; this mill has no door interlock of its own, so stopping the spindle is the host's job. Device safe state:
/// feed hold on, spindle off. Status: high warning (bit 1) while the torque is above the tool's rating.
public struct MillFirmware: FirmwareModel {
    public typealias Profile = MillProfile

    public static let tickPeriod = 0.001
    public static let holdingFloats = MillProfile.holdingFloats
    public static let coilCount = MillProfile.Coil.allCases.count
    public static let discreteInputCount = MillProfile.DiscreteInput.allCases.count
    public static let ring: SampleRingLayout? = MillProfile.ring
    public static let safeHolding: [Int: Float] = [:]
    public static let safeCoils: [Int: Bool] = [MillProfile.Coil.spindleEnable.rawValue: false,
                                                MillProfile.Coil.feedHold.rawValue: true]

    public private(set) var plant: MillPlant
    /// The guard door (true: closed).
    public var guardClosed = true

    /// The plant draws its own sensor noise once per step.
    public init(plant: MillPlant) {
        self.plant = plant
    }

    public mutating func tick(dt: Double, actuators: Actuators) {
        var inputs = MillPlant.Inputs()
        inputs.spindleRPMSetpoint = Double(actuators.value(MillProfile.spindleSetpoint))
        inputs.feedOverridePercent = Double(actuators.value(MillProfile.feedOverride))
        inputs.spindleEnabled = actuators.coil(MillProfile.Coil.spindleEnable.rawValue)
        inputs.feedHold = actuators.coil(MillProfile.Coil.feedHold.rawValue)
        plant.step(dt: dt, inputs: inputs)
    }

    public func channelReadings() -> [ChannelReading] {
        [plant.spindleRPM, plant.measuredTorqueNm(), plant.feedMmMin, plant.motorTempC].enumerated().map { i, value in
            ChannelReading.checked(value, MillProfile.channels[i])
        }
    }

    public func discreteInputs(estopPressed: Bool) -> [Bool] { [!estopPressed, guardClosed] }

    public var statusBits: StatusBits {
        plant.trueTorqueNm > plant.parameters.ratedTorqueNm ? .highWarning : []
    }

    /// A plant event, for the fault injector (through `SimulatedDevice.mutateModel`).
    public mutating func inject(_ event: MillPlant.Event) { plant.inject(event) }

    /// Plant disturbances: a broken tool (until it ends: the tool is replaced), chatter (ripple ×5), an overload
    /// (cutting torque ×4: a hard spot), and an open guard door.
    public static let disturbances = ["tool_breakage", "chatter", "overload", "guard_open"]

    public mutating func setDisturbance(_ name: String, active: Bool) {
        switch name {
        case "tool_breakage": if active { plant.inject(.toolBreakage) } else { plant.replaceTool() }
        case "chatter": if active { plant.inject(.chatter(gain: 5)) } else { plant.clearEvents() }
        case "overload": if active { plant.inject(.overload(factor: 4)) } else { plant.clearEvents() }
        case "guard_open": guardClosed = !active
        default: break
        }
    }
}

/// The mass-spring-damper rig's firmware around its plant (DEVICES.md §C3).
///
/// The shaker follows HR 100 (amplitude) and HR 102 (frequency) while coil 0 is on; the 1 kHz ring carries the
/// measured position. DI 1 reports the mass at an end stop. Device safe state: shaker off, amplitude 0.
public struct MassSpringDamperFirmware: FirmwareModel {
    public typealias Profile = MassSpringDamperProfile

    public static let tickPeriod = 0.001
    public static let holdingFloats = MassSpringDamperProfile.holdingFloats
    public static let coilCount = MassSpringDamperProfile.Coil.allCases.count
    public static let discreteInputCount = MassSpringDamperProfile.DiscreteInput.allCases.count
    public static let ring: SampleRingLayout? = MassSpringDamperProfile.ring
    public static let safeHolding: [Int: Float] = [MassSpringDamperProfile.amplitude.address: 0]
    public static let safeCoils: [Int: Bool] = [MassSpringDamperProfile.Coil.shakerEnable.rawValue: false]

    public private(set) var plant: MassSpringDamperPlant
    private var rng: SeededRandom
    private var latest: [ChannelReading] = []

    public init(plant: MassSpringDamperPlant, seed: UInt64) {
        self.plant = plant
        rng = SeededRandom(seed: seed ^ 0x3503)
        latest = measure()
    }

    public mutating func tick(dt: Double, actuators: Actuators) {
        plant.step(dt: dt, inputs: MassSpringDamperPlant.Inputs(
            amplitudeN: Double(actuators.value(MassSpringDamperProfile.amplitude)),
            frequencyHz: Double(actuators.value(MassSpringDamperProfile.frequency)),
            shakerEnabled: actuators.coil(MassSpringDamperProfile.Coil.shakerEnable.rawValue)))
        latest = measure()
    }

    private mutating func measure() -> [ChannelReading] {
        let r = plant.reading(rng: &rng)
        return [r.positionMm, r.velocityMms, r.accelMs2, r.forceN].enumerated().map { i, value in
            ChannelReading.checked(value, MassSpringDamperProfile.channels[i])
        }
    }

    public func channelReadings() -> [ChannelReading] { latest }

    public func discreteInputs(estopPressed: Bool) -> [Bool] { [!estopPressed, plant.atEndStop] }

    public var statusBits: StatusBits { plant.atEndStop ? [.highWarning] : [] }

}

/// The stream station's firmware around its watershed (DEVICES.md §D).
///
/// Sensors are read once per device tick (60 s, the station's logging resolution). A rising edge on coil 0 fills the
/// next autosampler bottle. No safe state of its own beyond the trigger low.
public struct StreamStationFirmware: FirmwareModel {
    public typealias Profile = StreamStationProfile

    public static let tickPeriod = 60.0
    public static let holdingFloats: [FloatRegister] = []
    public static let coilCount = 1
    public static let discreteInputCount = 0
    public static let ring: SampleRingLayout? = nil
    public static let safeHolding: [Int: Float] = [:]
    public static let safeCoils: [Int: Bool] = [0: false]

    /// Plant disturbances: a storm of 12 mm/h on top of the weather, for as long as it is active.
    public static let disturbances = ["storm"]

    public mutating func setDisturbance(_ name: String, active: Bool) {
        if name == "storm" { plant.imposedRainMmH = active ? 12 : 0 }
    }

    public private(set) var plant: StreamPlant
    /// Bottles the autosampler filled.
    public private(set) var bottles = 0
    private var rng: SeededRandom
    private var latest: [ChannelReading] = []
    private var triggerWas = false

    public init(plant: StreamPlant, seed: UInt64) {
        self.plant = plant
        rng = SeededRandom(seed: seed ^ 0x57E4)
        latest = measure()
    }

    public mutating func tick(dt: Double, actuators: Actuators) {
        plant.step(dt: dt)
        let trigger = actuators.coil(0)
        if trigger, !triggerWas { bottles += 1 }
        triggerWas = trigger
        latest = measure()
    }

    private mutating func measure() -> [ChannelReading] {
        plant.reading(rng: &rng).values.enumerated().map { i, value in
            ChannelReading.checked(value, StreamStationProfile.channels[i])
        }
    }

    public func channelReadings() -> [ChannelReading] { latest }

    public func discreteInputs(estopPressed: Bool) -> [Bool] { [] }

    public var statusBits: StatusBits { [] }
}
