import Foundation

/// The CNC mill's physics (docs/register-contract.md §C1): a spindle carrying the cutting torque of a milling cut, a
/// feed drive,
/// tooth-pass ripple, a torque sensor and a spindle motor that warms up under load.
///
/// The mean cutting torque follows the sheet's formula with the *actual* feed and speed:
/// P_c = a_p·a_e·v_f·K_c / (60·10⁶) kW and T = 9550·P_c / n N·m. On top of it ride the tooth-pass ripple (a sine at
/// flutes × rpm / 60 Hz, about 400 Hz at 8000 rpm with three flutes — sampled at 1 kHz it aliases, as on the rig), a
/// once-per-revolution run-out component with a random phase per tool, and a slow random variation of the cutting
/// force (material inhomogeneity). Bearing and seal friction adds a constant torque whenever the spindle turns.
///
/// The fault injector's events (`Event`) disturb the cut: tool breakage (the cutting torque collapses to friction at
/// the next step and stays there until `replaceTool()`), chatter (the ripple grows) and overload (the cutting torque
/// is multiplied). The torque sensor measures what the spindle carries to the tool — cutting plus friction — not the
/// motor's acceleration torque.
///
/// A pure value type stepped by its caller (the firmware steps it every millisecond): no clocks, no globals, no
/// allocations in `step`, and all randomness comes from its own seeded generator with a fixed number of draws per
/// step, so the same seed and the same calls give bit-identical state.
public struct MillPlant: Sendable {
    /// Physical constants of one mill, tool and cut.
    public struct Parameters: Sendable, Equatable {
        // Tool and cut.
        /// Tool (end mill) diameter, mm. Informational: the sheet's power formula does not need it.
        public var toolDiameterMm: Double
        /// Number of flutes (teeth), z. Sets the tooth-pass frequency z·n/60 and, with `feedPerToothMm`, the nominal
        /// feed.
        public var flutes: Int
        /// Effective specific cutting force K_c at this cut's chip thickness, N/mm² (aluminium ≈ 700–800,
        /// steel ≈ 2000–3000).
        public var specificCuttingForce: Double
        /// Axial depth of cut a_p, mm.
        public var depthOfCutMm: Double
        /// Radial width of cut a_e, mm.
        public var widthOfCutMm: Double
        /// Feed per tooth f_z, mm. The nominal feed is f_z · z · n (mm/min).
        public var feedPerToothMm: Double

        // Spindle and feed drive.
        /// Highest spindle speed; setpoints are clamped to 0…this, rpm.
        public var maxSpindleRPM: Double
        /// Time constant of the spindle speed following its setpoint (run-up, coast-down), s.
        public var spindleTau: Double
        /// Speed droop of the spindle drive at rated torque, fraction of the setpoint (slip of the VFD-driven motor).
        public var spindleDroopAtRated: Double
        /// Time constant of the feed rate following its command (feed hold stops the feed within a few of these), s.
        public var feedTau: Double
        /// Highest feed rate; commands are clamped to 0…this, mm/min.
        public var maxFeedMmMin: Double
        /// The spindle must be at or above this fraction of its setpoint to cut at all (below it the tool rubs
        /// without cutting and the plant reports no cutting torque).
        public var cuttingSpeedFraction: Double
        /// "Spindle at speed" interlock of the controller: the feed is released only once the spindle, enabled, has
        /// reached this fraction of its setpoint, and is withdrawn as soon as the spindle is disabled or falls
        /// below `cuttingSpeedFraction`. Keeps the feed from ploughing a slow or stopping tool.
        public var feedInterlockFraction: Double

        // Torque.
        /// Friction torque of the running spindle without a cut (bearings, seals), N·m.
        public var frictionTorqueNm: Double
        /// Amplitude of the tooth-pass ripple as a fraction of the mean cutting torque (a sine, so its standard
        /// deviation is this ÷ √2).
        public var rippleFraction: Double
        /// Amplitude of the once-per-revolution run-out component as a fraction of the mean cutting torque.
        public var runoutFraction: Double
        /// Standard deviation of the slow random variation of the cutting force, fraction of the cutting torque.
        public var cuttingNoiseFraction: Double
        /// Correlation time of that variation, s.
        public var cuttingNoiseTau: Double
        /// Standard deviation of the torque sensor's white noise, N·m (the rig's ±0.1 N·m is about 3–4 σ).
        public var sensorNoiseSigmaNm: Double
        /// Continuous rated torque of the spindle motor, N·m. Sets the speed droop; the plant does not limit torque.
        public var ratedTorqueNm: Double

        // Motor thermal model.
        /// Motor efficiency: heat in the motor is P_mech·(1/η − 1), with P_mech the spindle's mechanical power.
        public var motorEfficiency: Double
        /// Steady temperature rise of the motor per watt of heat, K/W.
        public var motorKelvinPerWatt: Double
        /// Thermal time constant of the motor, s.
        public var motorThermalTau: Double
        /// Ambient temperature (and the motor's starting temperature), °C.
        public var ambientC: Double

        /// Ø10 mm three-flute end mill in aluminium, a_p 2 mm, a_e 5 mm, f_z 0.05 mm: at 8000 rpm the feed is
        /// 1200 mm/min and the cutting torque ≈ 0.17 N·m (the register contract's example, §C1), plus 0.015 N·m friction.
        public static let aluminium = Parameters(
            toolDiameterMm: 10, flutes: 3, specificCuttingForce: 700,
            depthOfCutMm: 2, widthOfCutMm: 5, feedPerToothMm: 0.05,
            maxSpindleRPM: 24000, spindleTau: 0.3, spindleDroopAtRated: 0.02, feedTau: 0.003, maxFeedMmMin: 10000,
            cuttingSpeedFraction: 0.1, feedInterlockFraction: 0.9,
            frictionTorqueNm: 0.015, rippleFraction: 0.25, runoutFraction: 0.05,
            cuttingNoiseFraction: 0.03, cuttingNoiseTau: 0.005, sensorNoiseSigmaNm: 0.025, ratedTorqueNm: 1.2,
            motorEfficiency: 0.8, motorKelvinPerWatt: 0.3, motorThermalTau: 600, ambientC: 22)

        /// The same tool and cut in steel (K_c 2900 N/mm²): cutting torque ≈ 0.7 N·m at 8000 rpm.
        public static let steel: Parameters = {
            var p = aluminium
            p.specificCuttingForce = 2900
            return p
        }()

        /// The preset called `named` ("aluminium", "steel"), or nil for an unknown name.
        public static func preset(named name: String) -> Parameters? {
            switch name {
            case "aluminium": aluminium
            case "steel": steel
            default: nil
            }
        }

        /// Names `preset(named:)` accepts, "aluminium" first (the default).
        public static let presetNames: [String] = ["aluminium", "steel"]

        /// The nominal feed f_z · z · n for a spindle speed, mm/min.
        public func nominalFeedMmMin(rpm: Double) -> Double {
            feedPerToothMm * Double(max(flutes, 0)) * rpm
        }

        /// The sheet's mean cutting torque T = 9550·P_c/n, P_c = a_p·a_e·v_f·K_c/(60·10⁶) kW, for a feed and a
        /// speed, N·m; 0 for a speed that is not positive.
        public func cuttingTorqueNm(feedMmMin: Double, rpm: Double) -> Double {
            guard rpm > 0 else { return 0 }
            let powerKW = depthOfCutMm * widthOfCutMm * feedMmMin * specificCuttingForce / 60e6
            return 9550 * powerKW / rpm
        }
    }

    /// What the firmware drives this step (its registers and coils).
    public struct Inputs: Sendable, Equatable {
        /// Feed per revolution the default programmed feed assumes: the presets' tool, 3 flutes × 0.05 mm, mm.
        public static let defaultFeedPerRevMm = 0.15

        /// Spindle speed setpoint (HR 100), rpm; clamped to 0…`maxSpindleRPM`, NaN as 0.
        public var spindleRPMSetpoint: Double
        /// Feed override (HR 102), %; clamped to 0…150, NaN as 0.
        public var feedOverridePercent: Double
        /// Spindle enable (coil 0).
        public var spindleEnabled: Bool
        /// Feed hold (coil 1): the feed decelerates to 0 within a few `feedTau`.
        public var feedHold: Bool
        /// The part program's feed before the override, mm/min; clamped to 0…`maxFeedMmMin`, NaN as 0.
        public var programmedFeedMmMin: Double

        /// `programmedFeedMmMin` nil: `defaultFeedPerRevMm` × setpoint, the presets' nominal feed (1200 mm/min at
        /// 8000 rpm). For other tools pass `parameters.nominalFeedMmMin(rpm:)`.
        public init(spindleRPMSetpoint: Double = 8000, feedOverridePercent: Double = 100, spindleEnabled: Bool = false,
                    feedHold: Bool = false, programmedFeedMmMin: Double? = nil) {
            self.spindleRPMSetpoint = spindleRPMSetpoint
            self.feedOverridePercent = feedOverridePercent
            self.spindleEnabled = spindleEnabled
            self.feedHold = feedHold
            self.programmedFeedMmMin = programmedFeedMmMin ?? Self.defaultFeedPerRevMm * spindleRPMSetpoint
        }
    }

    /// Events the fault injector can start; each is a plant disturbance.
    public enum Event: Sendable, Equatable {
        /// The tool breaks: the cutting torque collapses to 0 at the next step (friction remains) and stays there
        /// until `replaceTool()`.
        case toolBreakage
        /// Tooth-pass ripple grows to `gain` × its normal amplitude (e.g. 5) until `clearEvents()`. The gain is
        /// clamped to 0…1000, NaN as 0.
        case chatter(gain: Double)
        /// The cutting torque is multiplied by `factor` (e.g. 4: a hard spot or a plunge) until `clearEvents()`.
        /// The factor is clamped to 0…1000, NaN as 0.
        case overload(factor: Double)
    }

    /// The mill's constants.
    public let parameters: Parameters
    /// Plant time since creation, s.
    public private(set) var time: Double
    /// Actual spindle speed, rpm.
    public private(set) var spindleRPM: Double
    /// Actual feed rate, mm/min.
    public private(set) var feedMmMin: Double
    /// Spindle motor temperature, °C.
    public private(set) var motorTempC: Double
    /// Whether the tool is broken (until `replaceTool()`).
    public private(set) var toolBroken: Bool
    /// Torque the spindle really carries at the end of the last step: cutting (with ripple, run-out and force
    /// variation, never below 0) plus friction, N·m.
    public private(set) var trueTorqueNm: Double
    /// The spindle setpoint of the last step, clamped, rpm (the reference of the cutting-speed threshold).
    public private(set) var spindleSetpointRPM: Double
    /// Whether the controller's spindle-at-speed interlock lets the feed move.
    public private(set) var feedPermitted: Bool
    /// Current chatter gain on the ripple (1 without chatter).
    public private(set) var chatterGain: Double
    /// Current overload factor on the cutting torque (1 without overload).
    public private(set) var overloadFactor: Double

    /// The torque sensor's sample of the last step: `trueTorqueNm` + white noise, N·m.
    private var sensorSampleNm: Double
    /// Spindle angle in revolutions, kept in [0, 1).
    private var revolutionPhase: Double
    /// Angle of the run-out's maximum, revolutions; drawn for each tool.
    private var runoutPhase: Double
    /// Relative variation of the cutting force.
    private var cuttingNoise: OrnsteinUhlenbeck
    private var rng: SeededRandom

    /// A mill at rest: spindle stopped, feed 0, motor at ambient, a new tool, no events.
    public init(parameters: Parameters = .aluminium, seed: UInt64) {
        self.parameters = parameters
        time = 0
        spindleRPM = 0
        feedMmMin = 0
        motorTempC = parameters.ambientC
        toolBroken = false
        trueTorqueNm = 0
        spindleSetpointRPM = 0
        feedPermitted = false
        chatterGain = 1
        overloadFactor = 1
        sensorSampleNm = 0
        revolutionPhase = 0
        rng = SeededRandom(seed: seed)
        runoutPhase = rng.uniform()
        cuttingNoise = OrnsteinUhlenbeck(sigma: parameters.cuttingNoiseFraction, tau: parameters.cuttingNoiseTau)
    }

    // MARK: Derived state

    /// Whether the spindle turns fast enough to cut: at least `cuttingSpeedFraction` of the setpoint (and 1 rpm).
    public var spindleTurning: Bool {
        spindleRPM >= max(parameters.cuttingSpeedFraction * spindleSetpointRPM, 1)
    }

    /// Spindle turning, feed moving and tool intact.
    public var isCutting: Bool {
        spindleTurning && feedMmMin > 0 && !toolBroken
    }

    /// Mean cutting torque without ripple, N·m: the sheet's 9550·P_c/n with the actual feed and speed, times the
    /// overload factor; 0 while not cutting (spindle too slow, feed stopped or tool broken).
    public var cuttingTorqueNm: Double {
        guard isCutting else { return 0 }
        return overloadFactor * parameters.cuttingTorqueNm(feedMmMin: feedMmMin, rpm: spindleRPM)
    }

    /// Friction torque of the spindle at its current speed, N·m: the full value from 100 rpm up, fading linearly
    /// to 0 at standstill.
    public var frictionTorqueNm: Double {
        parameters.frictionTorqueNm * min(1, max(spindleRPM, 0) / 100)
    }

    /// Tooth-pass frequency at the current speed, flutes × rpm / 60, Hz.
    public var toothPassFrequencyHz: Double {
        Double(parameters.flutes) * spindleRPM / 60
    }

    /// The torque sensor's reading, N·m: `trueTorqueNm` plus white noise of σ = `sensorNoiseSigmaNm`.
    ///
    /// The noise is drawn once per `step` from the plant's generator, so this returns the same sample until the next
    /// step (the sensor converts once per millisecond) and reading it — as often as a host polls — never disturbs
    /// the plant's random stream. Call-compatible with a `mutating` spelling. For independent extra draws use
    /// `measuredTorqueNm(using:)`.
    public func measuredTorqueNm() -> Double {
        sensorSampleNm
    }

    /// `trueTorqueNm` plus fresh sensor noise drawn from the caller's generator, N·m.
    public func measuredTorqueNm(using rng: inout SeededRandom) -> Double {
        trueTorqueNm + parameters.sensorNoiseSigmaNm * rng.gaussian()
    }

    // MARK: Events

    /// Starts `event`. Chatter and overload replace any earlier gain or factor of their kind.
    public mutating func inject(_ event: Event) {
        switch event {
        case .toolBreakage: toolBroken = true
        case .chatter(let gain): chatterGain = Self.nonNegative(gain)
        case .overload(let factor): overloadFactor = Self.nonNegative(factor)
        }
    }

    /// Ends chatter and overload; a broken tool stays broken.
    public mutating func clearEvents() {
        chatterGain = 1
        overloadFactor = 1
    }

    /// Fits a new tool: intact, with its own (random) run-out phase.
    public mutating func replaceTool() {
        toolBroken = false
        runoutPhase = rng.uniform()
    }

    // MARK: Step

    /// Advances by `dt` seconds (the firmware uses 0.001; any positive dt works, the lags are exact exponentials).
    /// A non-positive or non-finite `dt` changes nothing.
    ///
    /// Order: spindle speed, the feed interlock and feed, the spindle angle, then the torque from the new speed and
    /// feed, the sensor sample and the motor temperature. Draws exactly two normal deviates per call (force
    /// variation, sensor noise), whatever the state.
    public mutating func step(dt: Double, inputs: Inputs) {
        guard dt > 0, dt.isFinite else { return }
        let p = parameters
        time += dt

        // Spindle: first-order lag to the setpoint, less the drive's droop under the last step's mean load.
        let setpoint = Self.clamp(inputs.spindleRPMSetpoint, 0, p.maxSpindleRPM)
        spindleSetpointRPM = setpoint
        let previousRPM = spindleRPM
        var targetRPM = 0.0
        if inputs.spindleEnabled {
            let load = p.ratedTorqueNm > 0 ? (cuttingTorqueNm + frictionTorqueNm) / p.ratedTorqueNm : 0
            targetRPM = setpoint * max(0, 1 - p.spindleDroopAtRated * load)
        }
        spindleRPM = Self.lag(spindleRPM, toward: targetRPM, decay: Self.decay(dt, p.spindleTau), snap: 0.01)

        // Feed: released once the spindle is at speed, withdrawn when it is disabled or too slow to cut.
        if !inputs.spindleEnabled || !spindleTurning {
            feedPermitted = false
        } else if setpoint > 0, spindleRPM >= p.feedInterlockFraction * setpoint {
            feedPermitted = true
        }
        var targetFeed = 0.0
        if feedPermitted, !inputs.feedHold {
            let override = Self.clamp(inputs.feedOverridePercent, 0, 150) / 100
            targetFeed = Self.clamp(inputs.programmedFeedMmMin, 0, p.maxFeedMmMin) * override
        }
        feedMmMin = Self.lag(feedMmMin, toward: targetFeed, decay: Self.decay(dt, p.feedTau), snap: 0.01)

        // Spindle angle (trapezoidal in speed), kept in [0, 1) revolutions.
        revolutionPhase += 0.5 * (previousRPM + spindleRPM) / 60 * dt
        revolutionPhase -= revolutionPhase.rounded(.down)

        // Torque: mean cut × (1 + ripple + run-out + force variation), never pulling, plus friction.
        let variation = cuttingNoise.step(dt: dt, rng: &rng)
        let meanCut = cuttingTorqueNm
        var cut = 0.0
        if meanCut > 0 {
            var toothPhase = Double(p.flutes) * revolutionPhase
            toothPhase -= toothPhase.rounded(.down)
            let ripple = chatterGain * p.rippleFraction * Foundation.sin(2 * Double.pi * toothPhase)
            let runout = p.runoutFraction * Foundation.sin(2 * Double.pi * (revolutionPhase + runoutPhase))
            cut = max(0, meanCut * (1 + ripple + runout + variation))
        }
        let friction = frictionTorqueNm
        trueTorqueNm = cut + friction
        sensorSampleNm = trueTorqueNm + p.sensorNoiseSigmaNm * rng.gaussian()

        // Motor: first-order toward ambient + K/W × heat, the heat from the mean mechanical power.
        let omega = spindleRPM * (2 * Double.pi / 60)
        let mechanicalW = (meanCut + friction) * omega
        let heatW = p.motorEfficiency > 0 ? mechanicalW * (1 / p.motorEfficiency - 1) : 0
        let targetC = p.ambientC + p.motorKelvinPerWatt * heatW
        motorTempC = targetC + (motorTempC - targetC) * Self.decay(dt, p.motorThermalTau)
    }

    // MARK: Helpers

    /// How much of a first-order lag's error remains after `dt`; a non-positive tau follows instantly.
    private static func decay(_ dt: Double, _ tau: Double) -> Double {
        tau > 0 ? Foundation.exp(-dt / tau) : 0
    }

    /// One exact first-order lag step, landing exactly on the target once within `snap` of it (so a stopping drive
    /// really stops).
    private static func lag(_ value: Double, toward target: Double, decay: Double, snap: Double) -> Double {
        let next = target + (value - target) * decay
        return abs(next - target) < snap ? target : next
    }

    /// `x` clamped to lo…hi, NaN as lo.
    private static func clamp(_ x: Double, _ lo: Double, _ hi: Double) -> Double {
        x.isNaN ? lo : min(max(x, lo), hi)
    }

    /// A gain or factor: clamped to 0…1000, NaN as 0.
    private static func nonNegative(_ x: Double) -> Double {
        clamp(x, 0, 1000)
    }
}
