import Foundation

/// The heat-transfer rig's physics (docs/register-contract.md §C2): three lumped thermal nodes along a bar — heater
/// block, bar
/// middle, bar end — heated by a 0–100 W heater in the block and cooled to ambient by natural convection plus a fan.
///
/// Thermocouples see each node (and ambient) through a first-order lag and add white noise; a bimetal thermostat on
/// the block cuts the heater at `thermostatTripC` and restores it below `thermostatResetC`, independently of any
/// host. A pure value type stepped by its caller: no clocks, no globals, and all randomness comes from its own
/// seeded generator, so the same seed and the same sequence of `step` calls give bit-identical state.
public struct HeatRigPlant: Sendable {
    /// Physical constants of one rig.
    public struct Parameters: Sendable, Equatable {
        /// Heat capacity of the heater block, J/K.
        public var blockCapacity: Double
        /// Heat capacity of the bar middle node, J/K.
        public var midCapacity: Double
        /// Heat capacity of the bar end node, J/K.
        public var endCapacity: Double
        /// Conduction from block to bar middle, W/K.
        public var blockToMid: Double
        /// Conduction from bar middle to bar end, W/K.
        public var midToEnd: Double
        /// Block loss to ambient with the fan off, W/K.
        public var blockLossNatural: Double
        /// Extra block loss at full fan air speed, W/K.
        public var blockLossFan: Double
        /// Loss to ambient per bar node (middle and end each) with the fan off, W/K.
        public var barLossNatural: Double
        /// Extra loss per bar node at full fan air speed, W/K.
        public var barLossFan: Double
        /// Heater power at 100 %, W.
        public var heaterMaxW: Double
        /// Fan air speed at 100 %, m/s.
        public var fanMaxAirMps: Double
        /// Time constant of the fan's air speed following its command, s.
        public var fanTau: Double
        /// Time constant of every thermocouple, s.
        public var thermocoupleTau: Double
        /// Mean ambient temperature, °C.
        public var ambientC: Double
        /// Standard deviation of the slow (Ornstein–Uhlenbeck) ambient disturbance, °C.
        public var ambientSigma: Double
        /// Correlation time of the ambient disturbance, s.
        public var ambientTau: Double
        /// Standard deviation of the white thermocouple noise added on every step, °C.
        public var noiseSigma: Double
        /// True block temperature at or above which the thermostat trips and cuts the heater, °C.
        public var thermostatTripC: Double
        /// True block temperature below which a tripped thermostat resets by itself, °C.
        public var thermostatResetC: Double

        /// The bench rig as built: block time constant of a few minutes, about 60 °C at 32 % heater with the fan off.
        public static let standard = Parameters(
            blockCapacity: 450, midCapacity: 200, endCapacity: 200,
            blockToMid: 1.0, midToEnd: 1.0,
            blockLossNatural: 0.5, blockLossFan: 2.0, barLossNatural: 0.3, barLossFan: 1.0,
            heaterMaxW: 100, fanMaxAirMps: 4.0, fanTau: 2.0, thermocoupleTau: 2.0,
            ambientC: 22.0, ambientSigma: 0.3, ambientTau: 1200,
            noiseSigma: 0.05, thermostatTripC: 90, thermostatResetC: 80)

        /// A 10× faster rig for short real-clock tests: all three capacities ÷ 10, fanTau 0.5, thermocoupleTau 0.5,
        /// ambientTau 120. Everything else as standard.
        public static let fast: Parameters = {
            var p = standard
            p.blockCapacity /= 10
            p.midCapacity /= 10
            p.endCapacity /= 10
            p.fanTau = 0.5
            p.thermocoupleTau = 0.5
            p.ambientTau = 120
            return p
        }()

        /// The preset called `named` ("standard", "fast"), or nil for an unknown name.
        public static func preset(named name: String) -> Parameters? {
            switch name {
            case "standard": standard
            case "fast": fast
            default: nil
            }
        }

        /// Names `preset(named:)` accepts, "standard" first.
        public static let presetNames: [String] = ["standard", "fast"]
    }

    /// What the firmware drives this step.
    public struct Inputs: Sendable, Equatable {
        /// Commanded heater power, 0…1 (already includes the enable: the caller passes 0 when disabled).
        public var heaterFraction: Double
        /// Commanded fan, 0…1.
        public var fanFraction: Double

        /// Inputs as given; `step` clamps them to 0…1 and treats NaN as 0.
        public init(heaterFraction: Double, fanFraction: Double) {
            self.heaterFraction = heaterFraction
            self.fanFraction = fanFraction
        }
    }

    /// The rig's constants.
    public let parameters: Parameters
    /// True heater block temperature, °C.
    public private(set) var blockC: Double
    /// True bar middle temperature, °C.
    public private(set) var midC: Double
    /// True bar end temperature, °C.
    public private(set) var endC: Double
    /// Current ambient temperature (mean plus the slow disturbance), °C.
    public private(set) var ambientNowC: Double
    /// Actual air speed, lagging the fan command, m/s.
    public private(set) var fanAirMps: Double
    /// Actual electrical heater power, W: 0 while the thermostat is tripped.
    public private(set) var heaterPowerW: Double
    /// Whether the over-temperature thermostat has cut the heater.
    public private(set) var thermostatTripped: Bool
    /// Block thermocouple reading (lagged, with noise), °C.
    public private(set) var measuredBlockC: Double
    /// Bar middle thermocouple reading (lagged, with noise), °C.
    public private(set) var measuredMidC: Double
    /// Bar end thermocouple reading (lagged, with noise), °C.
    public private(set) var measuredEndC: Double
    /// Ambient thermocouple reading (lagged, with noise), °C.
    public private(set) var measuredAmbientC: Double

    // The thermocouple junction temperatures before noise. Kept apart from the readings so noise is not fed back
    // into the lag (which would filter it and make the reported noise level depend on dt).
    private var junctionBlockC: Double
    private var junctionMidC: Double
    private var junctionEndC: Double
    private var junctionAmbientC: Double
    private var ambientDisturbance: OrnsteinUhlenbeck
    private var rng: SeededRandom
    /// Largest node-integration step that keeps explicit Euler stable and non-oscillating at any fan speed.
    private let maxNodeStep: Double

    /// A rig at rest: every node at `initialC` (default: mean ambient), fan stopped, heater off, readings exact.
    /// The thermostat starts tripped if the block already starts at or above its trip temperature.
    public init(parameters: Parameters = .standard, seed: UInt64, initialC: Double? = nil) {
        self.parameters = parameters
        let start = initialC ?? parameters.ambientC
        blockC = start
        midC = start
        endC = start
        ambientNowC = parameters.ambientC
        fanAirMps = 0
        heaterPowerW = 0
        thermostatTripped = start >= parameters.thermostatTripC
        measuredBlockC = start
        measuredMidC = start
        measuredEndC = start
        measuredAmbientC = parameters.ambientC
        junctionBlockC = start
        junctionMidC = start
        junctionEndC = start
        junctionAmbientC = parameters.ambientC
        ambientDisturbance = OrnsteinUhlenbeck(sigma: parameters.ambientSigma, tau: parameters.ambientTau)
        rng = SeededRandom(seed: seed)
        // Gershgorin: each node's eigenvalue disc lies in [−2G/C, 0], so dt ≤ C/G (G = all conductances at the node
        // with the fan at full speed) keeps |1 + dt·λ| ≤ 1. Half of that leaves margin; with the presets it is
        // seconds, far above the ticks callers use, so substepping only ever guards against an odd caller.
        let p = parameters
        let blockG = p.blockToMid + p.blockLossNatural + max(0, p.blockLossFan)
        let midG = p.blockToMid + p.midToEnd + p.barLossNatural + max(0, p.barLossFan)
        let endG = p.midToEnd + p.barLossNatural + max(0, p.barLossFan)
        let limits = [(p.blockCapacity, blockG), (p.midCapacity, midG), (p.endCapacity, endG)]
            .filter { $0.1 > 0 }
            .map { 0.5 * $0.0 / $0.1 }
        maxNodeStep = limits.min() ?? .infinity
    }

    /// Advances by `dt` seconds (callers use dt ≤ 0.05). A non-positive or non-finite `dt` changes nothing.
    ///
    /// The lags (fan, thermocouples, ambient disturbance) use exact exponential updates, so they are right for any
    /// dt; the nodes use explicit Euler, split into substeps if dt were ever large enough to threaten stability.
    /// Random draws per call are fixed: one for the ambient disturbance, then one noise value for each thermocouple
    /// (block, middle, end, ambient), whatever the parameters.
    public mutating func step(dt: Double, inputs: Inputs) {
        guard dt > 0, dt.isFinite else { return }
        let p = parameters
        let heater = Self.unitFraction(inputs.heaterFraction)
        let fan = Self.unitFraction(inputs.fanFraction)

        let targetAir = fan * p.fanMaxAirMps
        fanAirMps = targetAir + (fanAirMps - targetAir) * Self.lagDecay(dt: dt, tau: p.fanTau)
        ambientNowC = p.ambientC + ambientDisturbance.step(dt: dt, rng: &rng)

        // The thermostat's contacts as they stood at the start of the step decide this step's power.
        let power = thermostatTripped ? 0 : p.heaterMaxW * heater
        let airFraction = p.fanMaxAirMps > 0 ? fanAirMps / p.fanMaxAirMps : 0
        let blockLoss = p.blockLossNatural + p.blockLossFan * airFraction
        let barLoss = p.barLossNatural + p.barLossFan * airFraction
        let substeps = dt > maxNodeStep ? Int((dt / maxNodeStep).rounded(.up)) : 1
        let h = dt / Double(substeps)
        for _ in 0..<substeps {
            let toMid = p.blockToMid * (blockC - midC)
            let toEnd = p.midToEnd * (midC - endC)
            let dBlock = (power - toMid - blockLoss * (blockC - ambientNowC)) / p.blockCapacity
            let dMid = (toMid - toEnd - barLoss * (midC - ambientNowC)) / p.midCapacity
            let dEnd = (toEnd - barLoss * (endC - ambientNowC)) / p.endCapacity
            blockC += h * dBlock
            midC += h * dMid
            endC += h * dEnd
        }

        // A bimetal switch acts on the block's true temperature, with hysteresis between trip and reset.
        if thermostatTripped {
            if blockC < p.thermostatResetC { thermostatTripped = false }
        } else if blockC >= p.thermostatTripC {
            thermostatTripped = true
        }
        // Report the power as the heater now draws it, so a tripped thermostat always reads 0 W.
        heaterPowerW = thermostatTripped ? 0 : p.heaterMaxW * heater

        let tcDecay = Self.lagDecay(dt: dt, tau: p.thermocoupleTau)
        junctionBlockC = blockC + (junctionBlockC - blockC) * tcDecay
        junctionMidC = midC + (junctionMidC - midC) * tcDecay
        junctionEndC = endC + (junctionEndC - endC) * tcDecay
        junctionAmbientC = ambientNowC + (junctionAmbientC - ambientNowC) * tcDecay
        measuredBlockC = junctionBlockC + p.noiseSigma * rng.gaussian()
        measuredMidC = junctionMidC + p.noiseSigma * rng.gaussian()
        measuredEndC = junctionEndC + p.noiseSigma * rng.gaussian()
        measuredAmbientC = junctionAmbientC + p.noiseSigma * rng.gaussian()
    }

    /// A command fraction clamped to 0…1, with NaN as 0 (a lost command must not heat).
    private static func unitFraction(_ x: Double) -> Double {
        x.isNaN ? 0 : min(max(x, 0), 1)
    }

    /// How much of a first-order lag's error remains after `dt`; a non-positive tau follows instantly.
    private static func lagDecay(dt: Double, tau: Double) -> Double {
        tau > 0 ? Foundation.exp(-dt / tau) : 0
    }
}
