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

    /// The probes' own errors (`[station.sim] probe_errors`), drawn from the seed; nil: the probes read true.
    public let probeErrors: ProbeErrors?

    public init(plant: PondPlant, seed: UInt64, probeErrors: Bool = false,
                relays: @escaping @Sendable () -> PondPlant.Inputs = { .init() }) {
        self.plant = plant
        self.relays = relays
        noiseSeed = seed ^ 0x50DE
        self.probeErrors = probeErrors ? ProbeErrors(seed: seed) : nil
    }

    /// An uncalibrated sonde's probes, as they come out of storage: a pH electrode with a slope a little under
    /// Nernstian and an offset, a DO membrane that reads low, a conductivity cell whose constant is off. Drawn from the
    /// seed within what a probe still passes calibration with (pH slope 95.5–99 %, offset 0.05–0.25 pH either way;
    /// DO gain 88–96 %; salinity gain 102–107 %), so that calibrating it corrects something.
    public struct ProbeErrors: Sendable, Equatable {
        /// pH reads `phSlope · (pH − 7) + 7 + phOffset`.
        public var phSlope: Double
        public var phOffset: Double
        /// DO (and so % saturation) reads `doGain ·` the water's.
        public var doGain: Double
        /// Salinity reads `salinityGain ·` the water's.
        public var salinityGain: Double

        public init(seed: UInt64) {
            var rng = SeededRandom(seed: seed ^ 0xCA1B_0000)
            phSlope = 0.955 + 0.035 * rng.uniform()
            let offset = 0.05 + 0.2 * rng.uniform()
            phOffset = rng.uniform() < 0.5 ? -offset : offset
            doGain = 0.88 + 0.08 * rng.uniform()
            salinityGain = 1.02 + 0.05 * rng.uniform()
        }

        func pH(_ value: Double) -> Double { phSlope * (value - 7) + 7 + phOffset }
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
        var reading = plant.reading(rng: &rng)
        if let errors = probeErrors {
            // What the sonde derives (% saturation, NH₃) it derives from its probes' readings, errors and all.
            reading.doMgL *= errors.doGain
            reading.doSatPct *= errors.doGain
            reading.pH = errors.pH(reading.pH)
            reading.salinityPpt *= errors.salinityGain
            reading.nh3MgL = reading.tanMgL
                * AquaChemistry.unionisedAmmoniaFraction(pH: reading.pH, tempC: reading.waterTempC)
        }
        return reading.values.enumerated().map { i, value in
            ChannelReading.checked(value, AquaSondeProfile.channels[i])
        }
    }

    public func probeReading(_ index: Int, inStandard standard: Double) -> Double {
        guard let errors = probeErrors else { return standard }
        switch AquaSondeProfile.Channel(rawValue: index) {
        case .pH: return errors.pH(standard)
        case .doMgL, .doSatPct: return errors.doGain * standard
        case .salinity: return errors.salinityGain * standard
        default: return standard
        }
    }

    public func probeNoise(_ index: Int) -> Double {
        let n = plant.parameters.noise
        switch AquaSondeProfile.Channel(rawValue: index) {
        case .doMgL: return n.doMgL
        case .waterTemp: return n.tempC
        case .pH: return n.pH
        case .salinity: return n.salinityPpt
        case .tan: return n.tanMgL
        default: return 0
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
