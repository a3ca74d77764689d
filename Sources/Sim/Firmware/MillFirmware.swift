import Devices

/// The CNC mill's firmware around its plant (docs/register-contract.md §C1).
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
        (0..<MillProfile.channels.count).map(channelReading)
    }

    public func channelReading(_ index: Int) -> ChannelReading {
        let value = switch index {
        case 0: plant.spindleRPM
        case 1: plant.measuredTorqueNm()
        case 2: plant.feedMmMin
        default: plant.motorTempC
        }
        return ChannelReading.checked(value, MillProfile.channels[index])
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
