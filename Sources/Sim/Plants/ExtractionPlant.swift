import Foundation

/// The amino-acid circulating extraction device's physics (docs/register-contract.md §A): a lift and a push hydraulic
/// axis carrying
/// the suction nozzle, a 0.5 m² vessel whose level falls as filtrate is drawn off, a circulating pump feeding a
/// filter box whose cake raises the pressure drop until it is backflushed, and the box's heat balance against a fan.
///
/// The axes are proportional valves with a first-order velocity lag, a static-friction dead band and a slow creep of
/// the loaded lift, sub-stepped at ≥ 1 kHz so a ±1 mm position loop is a real control problem. Sensors add white
/// noise; the broth inlet and ambient temperatures carry slow independent Ornstein–Uhlenbeck disturbances.
///
/// The extraction itself is modelled too, from the true state: the batch's extractable amino acids are drawn off
/// at a rate set by where the nozzle really is relative to the real surface and by the circulation achieved, while
/// a share degrades in the warm loop (`extractedFraction`, served as the simulator-only `yield_true` channel).
/// A pure value type stepped by its caller: no clocks, no globals, and all randomness comes from its own seeded
/// generator, so the same seed and the same sequence of `step` calls give bit-identical state.
public struct ExtractionPlant: Sendable {
    /// Physical constants of one device.
    public struct Parameters: Sendable, Equatable {
        // MARK: Axes

        /// Axis speed at 100 % valve command, mm/s.
        public var axisMaxSpeed: Double
        /// Time constant of an axis velocity following its valve command, s.
        public var axisTau: Double
        /// Fraction of full command that static friction swallows: no motion at or below it.
        public var deadBand: Double
        /// Downward drift of the loaded lift with its valve centred (inside the dead band), mm/s at zero level;
        /// it grows by half at a 600 mm level (more broth in the line, more load on the cylinder).
        public var liftCreep: Double
        /// Lift travel between its hard stops, mm (nozzle height above the tank floor).
        public var liftRange: ClosedRange<Double>
        /// Push travel between its hard stops, mm (horizontal suction stroke).
        public var pushRange: ClosedRange<Double>
        /// Longest axis integration sub-step, s; `step` splits its dt into sub-steps no longer than this.
        public var axisSubstep: Double

        // MARK: Vessel

        /// Vessel cross-section, m² (1 L changes the level by 1/area mm: 2 mm at 0.5 m²).
        public var vesselArea: Double
        /// Liquid level at start, mm.
        public var initialLevel: Double
        /// Filtrate leaving the vessel for the ion-exchange column at nominal (10 L/min) circulation, L/min.
        public var drawOffLPM: Double
        /// Residue flowing back into the vessel while the residue-return valve is open, L/min.
        public var residueReturnLPM: Double
        /// The low-level switch closes below this level, mm.
        public var lowLevelMM: Double

        // MARK: Box heat balance  C·dT/dt = Q_pump + ṁcp(T_in − T) − G(v)(T − T_amb)

        /// Heat capacity of the filter box and its contents, J/K.
        public var boxCapacity: Double
        /// ṁ·cp of the broth stream at 10 L/min, W/K (scales linearly with the actual flow).
        public var mdotCpAt10: Double
        /// Mean broth inlet temperature, °C.
        public var inletC: Double
        /// Mean ambient temperature, °C.
        public var ambientC: Double
        /// Stationary standard deviation of the slow disturbances on inlet and on ambient (independent), °C.
        public var disturbanceSigma: Double
        /// Correlation time of those disturbances, s.
        public var disturbanceTau: Double
        /// Fin conductance to ambient with no air flow, W/K.
        public var gNatural: Double
        /// Fin conductance to ambient at 3 m/s, W/K; G(v) = gNatural + (g3 − gNatural)·(v/3)^0.7.
        public var g3: Double

        // MARK: Fan

        /// Air speed at 100 % fan, m/s.
        public var fanMaxAirMps: Double
        /// Time constant of the air speed following the fan command, s.
        public var fanTau: Double
        /// Fan electrical power at 100 %, W (∝ speed³).
        public var fanPowerW: Double

        // MARK: Pump and filter

        /// Time constant of the flow following the pump speed, s.
        public var pumpTau: Double
        /// Flow at 60 % pump speed on a clean filter, L/min.
        public var flowAt60Clean: Double
        /// How fouling throttles the pump: flow_ss = flowAt60Clean·(speed/0.6) / (1 + this·(cake + irreversible)),
        /// per bar. 0.5 gives ≈ 7.5 L/min at 60 % when the ΔP at 10 L/min reaches the 0.8 bar backflush point (80 %
        /// speed holds 10 L/min there), and lets a badly fouled element show more than the 2.0 bar trip at full speed
        /// (the reading levels off near 1.67/0.5 ≈ 3.3 bar); with 0.88 it levelled off at 1.9 bar and the sheet's
        /// 2.0 bar trip could never fire.
        public var flowFoulingPerBar: Double
        /// Pressure drop of a clean element at 10 L/min, bar.
        public var dpClean: Double
        /// Growth of the cake's pressure drop per hour of filtering at 10 L/min, bar/h (the cake grows with the
        /// filtered volume, so it is dpRisePerHourAt10 / 600 bar per litre).
        public var dpRisePerHourAt10: Double
        /// Fraction of the cake a complete backflush removes; the rest becomes irreversible ΔP.
        public var backflushRemoval: Double
        /// Seconds of open backflush valve that make a complete backflush.
        public var backflushDuration: Double
        /// Pump heat entering the box at 10 L/min, W (∝ flow).
        public var pumpHeatW: Double
        /// Pump electrical power at 10 L/min on a clean filter, W.
        public var pumpPowerAt10: Double

        // MARK: Sensors

        /// Standard deviation of the lift and push position readings, mm.
        public var positionNoise: Double
        /// Standard deviation of the ultrasonic level reading, mm.
        public var levelNoise: Double
        /// Standard deviation of the box and ambient temperature readings, °C.
        public var tempNoise: Double
        /// Standard deviation of the flow reading, L/min.
        public var flowNoise: Double
        /// Standard deviation of the filter ΔP reading, bar.
        public var dpNoise: Double

        // MARK: Extraction  dA/dt = −φ·(k_e·η + k_d(T))·A,  dE/dt = φ·k_e·η·A
        //
        // A is the batch's amino acids still in the material and extractable, E the fraction extracted (both of the
        // batch's total, starting at 1 and 0); φ = flow/10 L/min (forward flow through the filter: none with the pump
        // off or while backflushing), η the placement efficiency of the true nozzle height above the true surface and
        // the true stroke, k_d the loss of heat-sensitive amino acids in the warm loop at the true box temperature.
        // With the nozzle at its optimum, 10 L/min and 32.5 °C, E(t) = k_e/(k_e + k_d)·(1 − e^(−(k_e + k_d)·t)).

        /// Nozzle height above the surface where the suction works best, mm (the paper's working setpoint, 20 cm).
        public var optimumHeightMM: Double
        /// Stroke where the suction covers the extraction area best, mm (the paper's working setpoint, 15 cm).
        public var optimumStrokeMM: Double
        /// Spread of the placement efficiency over the height error, mm: η = exp(−Δh²/2σ_h² − Δs²/2σ_s²).
        /// **Calibrated**: with it, the paper's fixed nozzle (its height error grows as the surface falls ≈ 120 mm
        /// over a 6 h run) ends the run at ≈ 0.635, the paper's 63.5 %.
        public var placementSigmaHeightMM: Double
        /// Spread of the placement efficiency over the stroke error, mm [est: not calibrated, both of the paper's
        /// runs hold the 15 cm stroke].
        public var placementSigmaStrokeMM: Double
        /// Extraction rate constant k_e at 10 L/min with the nozzle at its optimum, 1/h. **Calibrated** with
        /// `extractionLossPerHour`: k_e + k_d = 1/h (the sheet's τ_E ≈ 1 h) and the paper's dynamic nozzle reaches
        /// ≈ 0.857 in 6 h of circulation at the paper's settings.
        public var extractionRatePerHour: Double
        /// Loss rate k_d at 10 L/min and a 32.5 °C box, 1/h (see `extractionRatePerHour`: **calibrated**).
        public var extractionLossPerHour: Double
        /// The loss rate's Q₁₀ with the box temperature, referred to 32.5 °C [est].
        public var extractionLossQ10: Double
        /// Above the 35 °C band, the loss grows by this fraction per kelvin on top of Q₁₀ [est: the paper keeps the
        /// box ≤ 35 °C "to avoid degradation of heat-sensitive amino acids"].
        public var heatDamagePerK: Double
        /// Relative standard deviation of the batch's extraction rate constant [est]: each simulated device holds
        /// one batch of broth, whose k_e is `extractionRatePerHour` times a factor drawn once from its seed (tea-cake
        /// batches differ). This, not the tracking, is what makes seeds differ: the nozzle tracks the surface to
        /// ±0.5 mm, which costs under 1e-4 of yield.
        public var batchVariation: Double
        /// Integration step of the extraction, s: it changes over minutes, so it is stepped far less often than
        /// the axes.
        public var extractionStep: Double

        /// The device as described in docs/register-contract.md §A: box at 32.5 °C with the fan at 3 m/s and 10 L/min
        /// flowing.
        public static let standard = Parameters(
            axisMaxSpeed: 100, axisTau: 0.05, deadBand: 0.03, liftCreep: 0.01,
            liftRange: 0...800, pushRange: 0...300, axisSubstep: 0.001,
            vesselArea: 0.5, initialLevel: 500, drawOffLPM: 0.5, residueReturnLPM: 2.0, lowLevelMM: 100,
            boxCapacity: 9.1e4, mdotCpAt10: 697, inletC: 45, ambientC: 25,
            disturbanceSigma: 0.7, disturbanceTau: 600, gNatural: 60, g3: 1180,
            fanMaxAirMps: 6, fanTau: 2, fanPowerW: 40,
            pumpTau: 0.5, flowAt60Clean: 10, flowFoulingPerBar: 0.5, dpClean: 0.12, dpRisePerHourAt10: 0.14,
            backflushRemoval: 0.8, backflushDuration: 20, pumpHeatW: 150, pumpPowerAt10: 150,
            positionNoise: 0.05, levelNoise: 0.3, tempNoise: 0.02, flowNoise: 0.05, dpNoise: 0.002,
            optimumHeightMM: 200, optimumStrokeMM: 150, placementSigmaHeightMM: 31.6, placementSigmaStrokeMM: 50,
            extractionRatePerHour: 0.859, extractionLossPerHour: 0.141, extractionLossQ10: 2, heatDamagePerK: 0.5,
            batchVariation: 0.005, extractionStep: 0.1)

        /// The preset called `named` ("standard"), or nil for an unknown name.
        public static func preset(named name: String) -> Parameters? {
            switch name {
            case "standard": standard
            default: nil
            }
        }

        /// Names `preset(named:)` accepts, "standard" first.
        public static let presetNames: [String] = ["standard"]
    }

    /// What the firmware drives this step. Enables are already applied: a disabled actuator arrives as 0.
    public struct Inputs: Sendable, Equatable {
        /// Lift valve command, −1…1, + raises.
        public var liftValve: Double
        /// Push valve command, −1…1, + extends.
        public var pushValve: Double
        /// Pump speed, 0…1.
        public var pumpSpeed: Double
        /// Fan speed, 0…1.
        public var fanSpeed: Double
        /// Backflush valve open.
        public var backflush: Bool
        /// Residue-return valve open.
        public var residueReturn: Bool
        /// The axes are enabled (coil 2). Disabled, the lift's holding valves close and it leaks down at most
        /// `holdingLeakMMPerS`, whatever its valve command.
        public var axesEnabled: Bool

        /// Inputs as given; `step` clamps them to their ranges and treats NaN as 0 (valve centred, motor stopped).
        public init(liftValve: Double = 0, pushValve: Double = 0, pumpSpeed: Double = 0, fanSpeed: Double = 0,
                    backflush: Bool = false, residueReturn: Bool = false, axesEnabled: Bool = true) {
            self.axesEnabled = axesEnabled
            self.liftValve = liftValve
            self.pushValve = pushValve
            self.pumpSpeed = pumpSpeed
            self.fanSpeed = fanSpeed
            self.backflush = backflush
            self.residueReturn = residueReturn
        }
    }

    /// Faults a test or the fault injector can set; all off by default.
    public struct Faults: Sendable, Equatable {
        /// The fan produces no air whatever its command (its air speed runs down with the fan lag).
        public var fanStuck = false
        /// The cake grows this many times faster than normal (a clogging feed).
        public var foulingMultiplier = 1.0
        /// The leak detector reports a leak.
        public var leak = false

        /// No faults.
        public init() {}
    }

    /// What the device's sensors read: the true state plus white noise where the sensor has any.
    public struct Measurements: Sendable, Equatable {
        /// Lift position, mm.
        public var liftMM: Double
        /// Push position, mm.
        public var pushMM: Double
        /// Liquid level, mm.
        public var levelMM: Double
        /// Box temperature, °C.
        public var boxTempC: Double
        /// Ambient temperature, °C.
        public var ambientC: Double
        /// Circulation flow, L/min.
        public var flowLPM: Double
        /// Filter differential pressure, bar.
        public var filterDPBar: Double
        /// Fan air speed, m/s (noise-free: the anemometer is averaged).
        public var fanAirMps: Double
        /// Pump electrical power, W (noise-free: computed by the drive).
        public var pumpPowerW: Double
        /// Energy since reset, kWh.
        public var energyKWh: Double
        /// Filtered volume since the element was changed, L.
        public var filteredL: Double
        /// Fraction of the batch's amino acids extracted: the simulator's lab assay (exact; a real device has no
        /// such sensor).
        public var extractedFraction: Double

        /// Readings as given.
        public init(liftMM: Double, pushMM: Double, levelMM: Double, boxTempC: Double, ambientC: Double,
                    flowLPM: Double, filterDPBar: Double, fanAirMps: Double, pumpPowerW: Double,
                    energyKWh: Double, filteredL: Double, extractedFraction: Double) {
            self.liftMM = liftMM
            self.pushMM = pushMM
            self.levelMM = levelMM
            self.boxTempC = boxTempC
            self.ambientC = ambientC
            self.flowLPM = flowLPM
            self.filterDPBar = filterDPBar
            self.fanAirMps = fanAirMps
            self.pumpPowerW = pumpPowerW
            self.energyKWh = energyKWh
            self.filteredL = filteredL
            self.extractedFraction = extractedFraction
        }
    }

    /// Flow at which the "at 10" parameters are quoted, L/min.
    static let referenceFlowLPM = 10.0
    /// Air speed at which `g3` is quoted, m/s.
    static let g3AirMps = 3.0
    /// Top of the level sensor's range; the vessel overflows to the fermenter above it, mm.
    static let maxLevelMM = 600.0
    /// Pump speed at which `flowAt60Clean` is quoted.
    static let flowReferenceSpeed = 0.6
    /// Highest flow the pump can deliver, L/min (the top of the flow meter's range).
    static let maxFlowLPM = 20.0
    /// Switches close within this distance of an axis's hard stop, mm.
    static let switchMarginMM = 1.0
    /// Mixed into the seed for the batch draw.
    static let batchSeedSalt: UInt64 = 0xBA7C_4A11_0000_0001
    /// Box temperature at which `extractionLossPerHour` is quoted, °C (the paper's observed 32.5 °C).
    static let lossReferenceC = 32.5
    /// Top of the box's temperature band, °C (the paper's ≤ 35 °C); above it `heatDamagePerK` applies.
    static let heatBandC = 35.0

    /// The device's constants.
    public let parameters: Parameters
    /// Active faults; may be changed between steps.
    public var faults: Faults

    /// True lift position (nozzle height above the tank floor), mm.
    public private(set) var liftMM: Double
    /// True push position, mm.
    public private(set) var pushMM: Double
    /// True lift velocity, mm/s (+ rising).
    public private(set) var liftVelocity: Double
    /// True push velocity, mm/s (+ extending).
    public private(set) var pushVelocity: Double
    /// True liquid level above the tank floor, mm.
    public private(set) var levelMM: Double
    /// True box temperature, °C.
    public private(set) var boxTempC: Double
    /// Current broth inlet temperature (mean plus the slow disturbance), °C.
    public private(set) var inletNowC: Double
    /// Current ambient temperature (mean plus the slow disturbance), °C.
    public private(set) var ambientNowC: Double
    /// Actual air speed through the fins, m/s.
    public private(set) var fanAirMps: Double
    /// Actual forward flow through the filter, L/min.
    public private(set) var flowLPM: Double
    /// Removable filter cake, as its pressure drop at 10 L/min, bar.
    public private(set) var cakeBar: Double
    /// Cake that backflushes could not remove, as its pressure drop at 10 L/min, bar.
    public private(set) var irreversibleBar: Double
    /// Pump electrical power, W.
    public private(set) var pumpPowerW: Double
    /// Pump plus fan electrical energy since start, kWh.
    public private(set) var energyKWh: Double
    /// Volume filtered since start, L.
    public private(set) var filteredL: Double
    /// Plant time since start, s.
    public private(set) var elapsed: Double
    /// Fraction of the batch's amino acids extracted so far, 0…1 (the lab assay, `yield_true`).
    public private(set) var extractedFraction: Double
    /// Fraction of the batch's amino acids still in the material and extractable (neither extracted nor lost), 0…1.
    public private(set) var extractablePool: Double
    /// This batch's extraction rate constant over `extractionRatePerHour` (drawn from the seed, `batchVariation`).
    public let batchRateFactor: Double

    /// True filter pressure drop at the current flow, bar: (clean + cake + irreversible)·flow/10.
    public var filterDPBar: Double {
        (parameters.dpClean + cakeBar + irreversibleBar) * flowLPM / Self.referenceFlowLPM
    }

    /// The sensor readings after the last step (the true state before the first).
    public var measured: Measurements {
        Measurements(
            liftMM: liftMM + noiseLift, pushMM: pushMM + noisePush, levelMM: levelMM + noiseLevel,
            boxTempC: boxTempC + noiseBox, ambientC: ambientNowC + noiseAmbient, flowLPM: flowLPM + noiseFlow,
            filterDPBar: filterDPBar + noiseDP, fanAirMps: fanAirMps, pumpPowerW: pumpPowerW,
            energyKWh: energyKWh, filteredL: filteredL, extractedFraction: extractedFraction)
    }

    /// Lift at (or within 1 mm of) its lower hard stop.
    public var liftLowerLimit: Bool { liftMM <= parameters.liftRange.lowerBound + Self.switchMarginMM }
    /// Lift at (or within 1 mm of) its upper hard stop.
    public var liftUpperLimit: Bool { liftMM >= parameters.liftRange.upperBound - Self.switchMarginMM }
    /// Push axis at (or within 1 mm of) home.
    public var pushHome: Bool { pushMM <= parameters.pushRange.lowerBound + Self.switchMarginMM }
    /// Push axis at (or within 1 mm of) its end stop.
    public var pushEnd: Bool { pushMM >= parameters.pushRange.upperBound - Self.switchMarginMM }
    /// Level below the low-level switch.
    public var lowLevel: Bool { levelMM < parameters.lowLevelMM }
    /// The leak detector's contact.
    public var leakDetected: Bool { faults.leak }

    // Measurement noise drawn in `step` and kept, so `measured` is a pure getter that reads the same until the next
    // step however often it is called.
    private var noiseLift = 0.0
    private var noisePush = 0.0
    private var noiseLevel = 0.0
    private var noiseBox = 0.0
    private var noiseAmbient = 0.0
    private var noiseFlow = 0.0
    private var noiseDP = 0.0

    /// Whether the backflush valve was open on the previous step, to catch the moment it opens.
    private var backflushing = false
    /// Cake present when the current backflush began; a complete backflush clears exactly this much.
    private var backflushStartCake = 0.0

    private var inletDisturbance: OrnsteinUhlenbeck
    private var ambientDisturbance: OrnsteinUhlenbeck
    private var rng: SeededRandom

    // Lag factors for the last dt. Callers step with one fixed dt, so recomputing the exponentials only when dt
    // changes saves most of the transcendental work; the values depend on dt alone, so results stay bit-identical.
    private var cachedDt = -1.0
    private var axisSubsteps = 1
    private var axisH = 0.0
    private var axisDecay = 0.0
    private var fanDecay = 0.0
    private var pumpDecay = 0.0
    /// Plant time since the extraction was last integrated, s.
    private var extractionPending = 0.0

    /// A device at rest: nozzle 200 mm above the initial surface (clamped to the lift's travel), push at home,
    /// vessel at `initialLevel`, box at mean ambient, pump and fan stopped, clean filter, readings exact.
    public init(parameters: Parameters = .standard, seed: UInt64) {
        self.parameters = parameters
        faults = Faults()
        let level = min(max(parameters.initialLevel, 0), Self.maxLevelMM)
        liftMM = min(max(level + 200, parameters.liftRange.lowerBound), parameters.liftRange.upperBound)
        pushMM = parameters.pushRange.lowerBound
        liftVelocity = 0
        pushVelocity = 0
        levelMM = level
        boxTempC = parameters.ambientC
        inletNowC = parameters.inletC
        ambientNowC = parameters.ambientC
        fanAirMps = 0
        flowLPM = 0
        cakeBar = 0
        irreversibleBar = 0
        pumpPowerW = 0
        energyKWh = 0
        filteredL = 0
        elapsed = 0
        extractedFraction = 0
        extractablePool = 1
        inletDisturbance = OrnsteinUhlenbeck(sigma: parameters.disturbanceSigma, tau: parameters.disturbanceTau)
        ambientDisturbance = OrnsteinUhlenbeck(sigma: parameters.disturbanceSigma, tau: parameters.disturbanceTau)
        rng = SeededRandom(seed: seed)
        // A generator of its own, so the batch draw leaves every other random sequence of the plant as it was.
        var batch = SeededRandom(seed: seed ^ Self.batchSeedSalt)
        batchRateFactor = max(0, 1 + parameters.batchVariation * batch.gaussian())
    }

    /// Advances by `dt` seconds (callers use 0.01). A non-positive or non-finite `dt` changes nothing.
    ///
    /// The axes are integrated in sub-steps of at most `axisSubstep` with an exact velocity lag and a semi-implicit
    /// position update; the fan, pump and box use exact exponential updates over the whole dt (their time constants
    /// are seconds to minutes). Random draws per call are fixed, whatever the parameters: inlet disturbance, ambient
    /// disturbance, then noise for lift, push, level, box temperature, ambient, flow and ΔP.
    public mutating func step(dt: Double, inputs: Inputs) {
        guard dt > 0, dt.isFinite else { return }
        let p = parameters
        if dt != cachedDt { cacheLags(dt: dt) }
        let liftCommand = Self.signedFraction(inputs.liftValve)
        let pushCommand = Self.signedFraction(inputs.pushValve)
        let pumpSpeed = Self.unitFraction(inputs.pumpSpeed)
        let fanSpeed = Self.unitFraction(inputs.fanSpeed)

        inletNowC = p.inletC + inletDisturbance.step(dt: dt, rng: &rng)
        ambientNowC = p.ambientC + ambientDisturbance.step(dt: dt, rng: &rng)

        stepAxes(liftCommand: liftCommand, pushCommand: pushCommand, axesEnabled: inputs.axesEnabled)

        let targetAir = faults.fanStuck ? 0 : fanSpeed * p.fanMaxAirMps
        fanAirMps = targetAir + (fanAirMps - targetAir) * fanDecay

        stepFilterAndPump(dt: dt, pumpSpeed: pumpSpeed, backflush: inputs.backflush)

        // The filtrate drawn off is a share of the circulation: 0.5 L/min at the nominal 10 L/min, less when the
        // flow sags, none with the pump stopped or reversed into a backflush. The column takes no more than that.
        let mmPerLitre = p.vesselArea > 0 ? 1 / p.vesselArea : 0
        let drawOff = inputs.backflush ? 0 : p.drawOffLPM * min(1, flowLPM / Self.referenceFlowLPM)
        let inflow = inputs.residueReturn ? p.residueReturnLPM : 0
        levelMM = min(max(levelMM + (inflow - drawOff) * dt / 60 * mmPerLitre, 0), Self.maxLevelMM)

        stepBox(dt: dt)

        // Slow: integrated every `extractionStep` over the time since, with the state at the end of this step.
        extractionPending += dt
        if extractionPending >= p.extractionStep - 1e-9 {
            stepExtraction(dt: extractionPending)
            extractionPending = 0
        }

        let fanPower = p.fanPowerW * fanSpeed * fanSpeed * fanSpeed
        energyKWh += (pumpPowerW + fanPower) * dt / 3.6e6

        noiseLift = p.positionNoise * rng.gaussian()
        noisePush = p.positionNoise * rng.gaussian()
        noiseLevel = p.levelNoise * rng.gaussian()
        noiseBox = p.tempNoise * rng.gaussian()
        noiseAmbient = p.tempNoise * rng.gaussian()
        noiseFlow = p.flowNoise * rng.gaussian()
        noiseDP = p.dpNoise * rng.gaussian()
        elapsed += dt
    }

    /// The loaded lift's sink with the axes disabled: its pilot-operated holding valves close, and what leaks past
    /// their seats is at most 1 mm/h (docs/register-contract.md §A: the lift must not drop in the safe state).
    public static let holdingLeakMMPerS = 0.5 / 3600

    /// Both axes over one dt in equal sub-steps no longer than `axisSubstep`.
    private mutating func stepAxes(liftCommand: Double, pushCommand: Double, axesEnabled: Bool) {
        let p = parameters
        var liftTarget = Self.axisTarget(command: liftCommand, parameters: p)
        if !axesEnabled {
            liftTarget = -Self.holdingLeakMMPerS * (1 + 0.5 * levelMM / Self.maxLevelMM)
        } else if abs(liftCommand) <= p.deadBand {
            // With the valve centred, leakage past the spool lets the loaded cylinder sink; more broth in the line
            // is more load, hence the level dependence.
            liftTarget = -p.liftCreep * (1 + 0.5 * levelMM / Self.maxLevelMM)
        }
        let pushTarget = Self.axisTarget(command: pushCommand, parameters: p)
        var lift = liftMM
        var liftV = liftVelocity
        var push = pushMM
        var pushV = pushVelocity
        for _ in 0..<axisSubsteps {
            Self.substep(position: &lift, velocity: &liftV, target: liftTarget, decay: axisDecay, h: axisH,
                         range: p.liftRange)
            Self.substep(position: &push, velocity: &pushV, target: pushTarget, decay: axisDecay, h: axisH,
                         range: p.pushRange)
        }
        liftMM = lift
        liftVelocity = liftV
        pushMM = push
        pushVelocity = pushV
    }

    /// One axis sub-step: exact lag for the velocity, then the position with the new velocity (semi-implicit Euler).
    /// A hard stop takes the cylinder's momentum: the velocity has to build up again from rest.
    @inline(__always)
    private static func substep(position: inout Double, velocity: inout Double, target: Double, decay: Double,
                                h: Double, range: ClosedRange<Double>) {
        velocity = target + (velocity - target) * decay
        position += velocity * h
        if position < range.lowerBound {
            position = range.lowerBound
            velocity = 0
        } else if position > range.upperBound {
            position = range.upperBound
            velocity = 0
        }
    }

    /// Pump flow, cake growth or backflush, filtered volume and pump power over one dt.
    private mutating func stepFilterAndPump(dt: Double, pumpSpeed: Double, backflush: Bool) {
        let p = parameters
        // The cake throttles the pump (its curve meets a steeper system curve), so the flow sags at constant speed.
        let fouling = cakeBar + irreversibleBar
        let throttle = max(1 + p.flowFoulingPerBar * fouling, 1e-9)
        let unthrottled = p.flowAt60Clean * pumpSpeed / Self.flowReferenceSpeed
        // While backflushing the valve reverses the element, so nothing flows forward through it.
        let targetFlow = backflush ? 0 : min(unthrottled / throttle, Self.maxFlowLPM)
        flowLPM = targetFlow + (flowLPM - targetFlow) * pumpDecay

        if backflush {
            if !backflushing { backflushStartCake = cakeBar }
            // The cake comes off at a steady rate so that a full `backflushDuration` clears exactly the cake present
            // when the valve opened, and a shorter backflush proportionally less. Of what comes off, the
            // `backflushRemoval` share is gone; the rest is packed into the element for good.
            let loosened = p.backflushDuration > 0
                ? min(cakeBar, backflushStartCake * dt / p.backflushDuration)
                : cakeBar
            cakeBar -= loosened
            irreversibleBar += (1 - p.backflushRemoval) * loosened
        } else {
            let litres = flowLPM * dt / 60
            filteredL += litres
            // Cake filtration: the cake's resistance is proportional to the filtered volume (600 L per hour at
            // 10 L/min).
            let barPerLitre = p.dpRisePerHourAt10 / (Self.referenceFlowLPM * 60)
            cakeBar += barPerLitre * faults.foulingMultiplier * litres
        }
        backflushing = backflush

        pumpPowerW = p.pumpPowerAt10 * (flowLPM / Self.referenceFlowLPM) * (1 + cakeBar + irreversibleBar)
    }

    /// The box temperature over one dt, exact for the step's (constant) flow, air speed and disturbances.
    private mutating func stepBox(dt: Double) {
        let p = parameters
        let flowShare = flowLPM / Self.referenceFlowLPM
        let heat = p.pumpHeatW * flowShare
        let mdotCp = p.mdotCpAt10 * flowShare
        let air = max(fanAirMps, 0)
        let g = air > 0
            ? p.gNatural + (p.g3 - p.gNatural) * Foundation.pow(air / Self.g3AirMps, 0.7)
            : p.gNatural
        let conductance = mdotCp + g
        if conductance > 0 {
            let settle = (heat + mdotCp * inletNowC + g * ambientNowC) / conductance
            boxTempC = settle + (boxTempC - settle) * Foundation.exp(-dt * conductance / p.boxCapacity)
        } else {
            boxTempC += dt * heat / p.boxCapacity
        }
    }

    /// The extraction over `dt` (explicit Euler: at most a few 1e-4 of the pool change per step).
    private mutating func stepExtraction(dt: Double) {
        let p = parameters
        // Forward flow through the filter only: nothing is drawn off with the pump stopped or while backflushing.
        let circulation = min(max(flowLPM / Self.referenceFlowLPM, 0), Self.maxFlowLPM / Self.referenceFlowLPM)
        guard circulation > 0, extractablePool > 0 else { return }
        let heightError = liftMM - levelMM - p.optimumHeightMM
        let strokeError = pushMM - p.optimumStrokeMM
        let sh = max(p.placementSigmaHeightMM, 1e-9), ss = max(p.placementSigmaStrokeMM, 1e-9)
        let efficiency = Foundation.exp(-0.5 * (heightError * heightError / (sh * sh)
                                                + strokeError * strokeError / (ss * ss)))
        var loss = p.extractionLossPerHour * Foundation.pow(p.extractionLossQ10, (boxTempC - Self.lossReferenceC) / 10)
        if boxTempC > Self.heatBandC { loss *= 1 + p.heatDamagePerK * (boxTempC - Self.heatBandC) }
        let hours = dt / 3600 * circulation
        let extracted = p.extractionRatePerHour * batchRateFactor * efficiency * extractablePool * hours
        let lost = loss * extractablePool * hours
        let taken = min(extracted + lost, extractablePool)
        let share = extracted + lost > 0 ? taken / (extracted + lost) : 0
        extractedFraction = min(extractedFraction + extracted * share, 1)
        extractablePool -= taken
    }

    /// Recomputes the sub-step count and the lag factors for a new dt.
    private mutating func cacheLags(dt: Double) {
        let p = parameters
        let ratio = p.axisSubstep > 0 ? dt / p.axisSubstep : 1
        // The tolerance keeps 0.01 / 0.001 (which is not exactly 10 in binary) from becoming 11 sub-steps.
        axisSubsteps = max(1, Int(min((ratio - 1e-9).rounded(.up), 1e7)))
        axisH = dt / Double(axisSubsteps)
        axisDecay = Self.lagDecay(dt: axisH, tau: p.axisTau)
        fanDecay = Self.lagDecay(dt: dt, tau: p.fanTau)
        pumpDecay = Self.lagDecay(dt: dt, tau: p.pumpTau)
        cachedDt = dt
    }

    /// The velocity a valve command asks for: nothing inside the dead band, then linear up to full speed.
    private static func axisTarget(command: Double, parameters p: Parameters) -> Double {
        let magnitude = abs(command)
        guard magnitude > p.deadBand, p.deadBand < 1 else { return 0 }
        let speed = p.axisMaxSpeed * (magnitude - p.deadBand) / (1 - p.deadBand)
        return command < 0 ? -speed : speed
    }

    /// A command fraction clamped to 0…1, with NaN as 0 (a lost command must not run a motor).
    private static func unitFraction(_ x: Double) -> Double {
        x.isNaN ? 0 : min(max(x, 0), 1)
    }

    /// A valve command clamped to −1…1, with NaN as 0 (a lost command centres the valve).
    private static func signedFraction(_ x: Double) -> Double {
        x.isNaN ? 0 : min(max(x, -1), 1)
    }

    /// How much of a first-order lag's error remains after `dt`; a non-positive tau follows instantly.
    private static func lagDecay(dt: Double, tau: Double) -> Double {
        tau > 0 ? Foundation.exp(-dt / tau) : 0
    }
}
