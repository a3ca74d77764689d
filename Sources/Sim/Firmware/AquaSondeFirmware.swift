import Devices

/// The aquaculture sonde's firmware around its pond or tank (docs/register-contract.md §B).
///
/// The sonde only measures: its plant is the water body it hangs in, and the aerators, exchange pump and feeder that
/// act on that water are the host's GPIO relays, which the simulation reads through `relays` (in-process: the
/// simulated GPIO chip the station drives; over a serial line from `rigd simulate`: nothing, so all off). Sensors are
/// sampled once per device tick (1 s), so two reads within a tick return the same values, as a real sonde's output
/// registers do; the noise of a tick's sample is drawn from the seed and the tick number when it is read, so ticks
/// nobody reads cost nothing. Rainfall counts from local midnight. Status: low warning (bit 2) below 4 mg/L DO and low alarm
/// (bit 3) below 3 mg/L, the vendor's factory thresholds.
public struct AquaSondeFirmware: FirmwareModel {
    public typealias Profile = AquaSondeProfile

    public static let tickPeriod = 1.0
    public static let holdingFloats: [FloatRegister] = []
    public static let coilCount = 0
    public static let discreteInputCount = 0
    public static let ring: SampleRingLayout? = nil
    public static let safeHolding: [Int: Float] = [:]
    public static let safeCoils: [Int: Bool] = [:]
    public static let lowWarningMgL = 4.0
    public static let lowAlarmMgL = 3.0

    public private(set) var plant: PondPlant
    /// What the host's relays do to this water body now.
    public var relays: @Sendable () -> PondPlant.Inputs
    private let noiseSeed: UInt64
    private var ticks: UInt64 = 0

    public init(plant: PondPlant, seed: UInt64, relays: @escaping @Sendable () -> PondPlant.Inputs = { .init() }) {
        self.plant = plant
        self.relays = relays
        noiseSeed = seed ^ 0x50DE
    }

    /// Plant disturbances: a bad night for oxygen (community respiration ×2 and photosynthesis ×0.3, as after a
    /// plankton die-off under overcast skies), and aerators that do nothing whatever their relays say.
    public static let disturbances = ["bad_night", "aerator_failure"]
    private var aeratorsFailed = false
    private var normalParameters: PondPlant.Parameters?

    public mutating func setDisturbance(_ name: String, active: Bool) {
        switch name {
        case "bad_night":
            if active, normalParameters == nil {
                normalParameters = plant.parameters
                plant.parameters.respirationAt20MgLPerHour *= 2
                plant.parameters.photosynthesisNoonMgLPerHour *= 0.3
            } else if !active, let normal = normalParameters {
                plant.parameters = normal
                normalParameters = nil
            }
        case "aerator_failure": aeratorsFailed = active
        default: break
        }
    }

    public mutating func tick(dt: Double, actuators: Actuators) {
        let before = plant.hourOfDay
        var inputs = relays()
        if aeratorsFailed { inputs.aeratorsOn = 0 }
        plant.step(dt: dt, inputs: inputs)
        if plant.hourOfDay < before { plant.resetRain() }
        ticks += 1
    }

    public func channelReadings() -> [ChannelReading] {
        var rng = SeededRandom(seed: noiseSeed ^ (ticks &* 0x9E37_79B9_7F4A_7C15))
        return plant.reading(rng: &rng).values.enumerated().map { i, value in
            ChannelReading.checked(value, AquaSondeProfile.channels[i])
        }
    }

    public func discreteInputs(estopPressed: Bool) -> [Bool] { [] }

    public var statusBits: StatusBits {
        var bits: StatusBits = []
        if plant.doMgL < Self.lowWarningMgL { bits.insert(.lowWarning) }
        if plant.doMgL < Self.lowAlarmMgL { bits.insert(.lowAlarm) }
        return bits
    }

}
