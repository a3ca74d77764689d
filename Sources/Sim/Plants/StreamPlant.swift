import Foundation

/// The stream behind the water-quality station (docs/register-contract.md §D): an 89 km² agricultural watershed after
/// Xiong, Cao and
/// Liu (2025), "Hydrological controls on nutrient dynamics and load estimation in an agricultural watershed: a case
/// study in Rock Creek, Ohio".
///
/// - Rain is a stochastic series of storms and drizzles. Storms arrive as a Poisson process whose rate follows the
///   seasons (wet spring, dry late summer); each lasts hours, is made of cells of varying intensity (all above the
///   paper's 0.5 mm/h storm threshold) with occasional short breaks inside. Drizzles stay below 0.5 mm/h.
/// - A seasonal runoff coefficient (evapotranspiration takes more in summer) turns rain into effective rain, split
///   between a quick linear reservoir (k ≈ 1 d, surface and tile-drain flow) and a slow one (k ≈ 40 d, groundwater);
///   discharge is their outflows plus a constant deep baseflow. Stage is the rating curve Q = a(h − h₀)^b inverted.
/// - Concentrations follow the current discharge through log₁₀C = log₁₀a + b·log₁₀Q, plus a seasonal cosine, an
///   optional clockwise hysteresis (higher on the rising limb) and noise that is correlated in time (an
///   Ornstein–Uhlenbeck process in log space), so a one-minute series looks like a stream, not like white noise.
/// - Water temperature is a seasonal plus a daily cosine with a slow random wander.
///
/// Step-size independence: the rain is piecewise constant in plant time and drawn from its own generator, and the
/// reservoirs are linear, so `step` integrates them exactly (splitting steps at rain changes); the slow drivers
/// (temperature, seasonal terms, concentration noise) are drawn on a fixed 5-minute grid in plant time and
/// interpolated. Stepping at 1 s or at 300 s therefore gives the same state at common times, to rounding.
///
/// A pure value type stepped by its caller: no clocks, no globals; the same seed and the same `step` calls give
/// bit-identical state. Days of the year are 0-based (0 is 1 January, 00:00) in 365-day years. Sensor noise comes
/// from the generator passed to `reading(rng:)`, so reading does not disturb the plant.
public struct StreamPlant: Sendable {
    /// One concentration-discharge (C–Q) relation: log₁₀C = log₁₀`atUnitFlow` + `exponent`·log₁₀Q
    /// + `seasonalAmplitudeLog10`·cos(2π(day − `seasonalPeakDay`)/365) + `hysteresis`·(log₁₀Q − log₁₀Q_lag) + noise,
    /// with Q in m³/s.
    public struct ConcentrationModel: Sendable, Equatable {
        /// Concentration at Q = 1 m³/s with the seasonal term, hysteresis and noise at zero (mg/L; NTU for turbidity).
        public var atUnitFlow: Double
        /// Slope b of log C on log Q (dimensionless; the same for log₁₀ and natural logarithms).
        public var exponent: Double
        /// Stationary standard deviation of the noise, log₁₀ units (0.1 ≈ ±26 %).
        public var noiseSigmaLog10: Double
        /// Correlation time of the noise, h.
        public var noiseTauHours: Double
        /// Amplitude of the seasonal cosine, log₁₀ units.
        public var seasonalAmplitudeLog10: Double
        /// Day of the year (0-based) of the seasonal maximum.
        public var seasonalPeakDay: Double
        /// Clockwise hysteresis: log₁₀C gains this times log₁₀(Q / Q_lag), where Q_lag is the discharge with the
        /// quick flow lagged by `Parameters.hysteresisTauHours`. Positive on the rising limb, negative on the
        /// falling one; 0 turns it off.
        public var hysteresis: Double

        public init(atUnitFlow: Double, exponent: Double, noiseSigmaLog10: Double, noiseTauHours: Double,
                    seasonalAmplitudeLog10: Double = 0, seasonalPeakDay: Double = 0, hysteresis: Double = 0) {
            self.atUnitFlow = atUnitFlow
            self.exponent = exponent
            self.noiseSigmaLog10 = noiseSigmaLog10
            self.noiseTauHours = noiseTauHours
            self.seasonalAmplitudeLog10 = seasonalAmplitudeLog10
            self.seasonalPeakDay = seasonalPeakDay
            self.hysteresis = hysteresis
        }
    }

    /// Noise of the station's sensors: the standard deviation of white noise added to each reading.
    public struct SensorNoise: Sendable, Equatable {
        /// Stage (pressure transducer), m. The discharge reading is the rating curve of the measured stage.
        public var stageM: Double
        /// Water temperature, °C.
        public var waterTempC: Double
        /// Nitrate, mg/L.
        public var no3MgL: Double
        /// Soluble reactive phosphorus, mg/L.
        public var srpMgL: Double
        /// Total phosphorus, mg/L.
        public var tpMgL: Double
        /// Turbidity, NTU.
        public var turbidityNTU: Double

        public init(stageM: Double, waterTempC: Double, no3MgL: Double, srpMgL: Double, tpMgL: Double,
                    turbidityNTU: Double) {
            self.stageM = stageM
            self.waterTempC = waterTempC
            self.no3MgL = no3MgL
            self.srpMgL = srpMgL
            self.tpMgL = tpMgL
            self.turbidityNTU = turbidityNTU
        }

        /// A pressure-transducer stage gauge and in-situ nutrient analysers.
        public static let standard = SensorNoise(stageM: 0.002, waterTempC: 0.05, no3MgL: 0.03, srpMgL: 0.002,
                                                 tpMgL: 0.005, turbidityNTU: 0.5)
        /// No noise: readings are the true state.
        public static let none = SensorNoise(stageM: 0, waterTempC: 0, no3MgL: 0, srpMgL: 0, tpMgL: 0,
                                             turbidityNTU: 0)
    }

    /// Constants of the watershed, its weather and its water quality.
    public struct Parameters: Sendable, Equatable {
        // MARK: Catchment

        /// Catchment area, km² (the paper's 89 km²; 1 mm/d of runoff is then 1.03 m³/s).
        public var catchmentAreaKm2: Double

        // MARK: Rain

        /// Storm arrivals per week at the height of the wet season (Poisson; the rate follows a cosine over the year
        /// between this and the dry-season rate).
        public var wetSeasonStormsPerWeek: Double
        /// Storm arrivals per week at the height of the dry season, half a year after the wet peak.
        public var drySeasonStormsPerWeek: Double
        /// Day of the year (0-based) when storms and drizzles are most frequent.
        public var wetSeasonPeakDay: Double
        /// Length of a storm, h, drawn log-uniformly from this range.
        public var stormHours: ClosedRange<Double>
        /// A storm's typical intensity, mm/h, drawn log-uniformly from this range; its cells scatter around it.
        public var stormIntensityMmH: ClosedRange<Double>
        /// Spread of the cells' intensities around the storm's, standard deviation of the natural logarithm.
        public var cellIntensitySpread: Double
        /// Cells are clamped to this intensity range, mm/h (the lower end above the paper's 0.5 mm/h threshold, so
        /// every cell is storm rain).
        public var cellIntensityLimitsMmH: ClosedRange<Double>
        /// Length of one cell of constant intensity inside a storm, min (uniform).
        public var cellMinutes: ClosedRange<Double>
        /// Chance that a cell is followed by a break rather than the next cell.
        public var breakChance: Double
        /// Length of a break inside a storm, min (uniform; below 120 keeps a storm one event by the paper's rule).
        public var breakMinutes: ClosedRange<Double>
        /// Intensity during a break, mm/h (uniform; below the 0.5 mm/h threshold).
        public var breakIntensityMmH: ClosedRange<Double>
        /// Drizzle arrivals per week at the height of the wet season (Poisson, same seasonal cosine as storms).
        public var wetSeasonDrizzlesPerWeek: Double
        /// Drizzle arrivals per week at the height of the dry season.
        public var drySeasonDrizzlesPerWeek: Double
        /// Length of a drizzle, h (uniform).
        public var drizzleHours: ClosedRange<Double>
        /// Intensity of a drizzle, mm/h (uniform; below the storm threshold).
        public var drizzleIntensityMmH: ClosedRange<Double>

        // MARK: Runoff

        /// Mean share of rain that becomes streamflow (the rest is lost to evapotranspiration and deep seepage).
        public var runoffCoefficientMean: Double
        /// Seasonal amplitude of that share (high in winter and spring, low in summer when evapotranspiration peaks).
        public var runoffCoefficientAmplitude: Double
        /// Day of the year (0-based) when the runoff coefficient is highest.
        public var runoffCoefficientPeakDay: Double
        /// Share of effective rain routed through the quick reservoir; the rest recharges the slow one.
        public var quickFraction: Double
        /// Time constant k of the quick linear reservoir (outflow = storage / k), days.
        public var quickTauDays: Double
        /// Time constant k of the slow linear reservoir, days.
        public var slowTauDays: Double
        /// Constant deep groundwater baseflow, m³/s (keeps the stream running in the driest spell).
        public var baseflowM3s: Double
        /// Outflow of the slow reservoir at time 0, m³/s (its storage starts at this × k).
        public var initialSlowFlowM3s: Double

        // MARK: Rating curve Q = a(h − h₀)^b

        /// Rating coefficient a, m³/s at 1 m above h₀.
        public var ratingA: Double
        /// Stage of zero flow h₀, m.
        public var ratingH0M: Double
        /// Rating exponent b.
        public var ratingB: Double

        // MARK: Water temperature

        /// Annual mean water temperature, °C.
        public var waterTempMeanC: Double
        /// Amplitude of the seasonal cosine, °C.
        public var waterTempSeasonalAmplitudeC: Double
        /// Day of the year (0-based) of the seasonal maximum.
        public var waterTempWarmestDay: Double
        /// Amplitude of the daily cosine, °C.
        public var waterTempDailyAmplitudeC: Double
        /// Hour of the day of the daily maximum.
        public var waterTempWarmestHour: Double
        /// Standard deviation of the slow random wander, °C.
        public var waterTempSigmaC: Double
        /// Correlation time of that wander, h.
        public var waterTempTauHours: Double
        /// The water never reads below this, °C (ice forms instead).
        public var waterTempMinC: Double

        // MARK: Water quality

        /// Nitrate, mg/L.
        public var no3: ConcentrationModel
        /// Soluble reactive phosphorus, mg/L.
        public var srp: ConcentrationModel
        /// Total phosphorus, mg/L.
        public var tp: ConcentrationModel
        /// Turbidity, NTU.
        public var turbidity: ConcentrationModel
        /// Lag of the quick flow that hysteresis compares against, h.
        public var hysteresisTauHours: Double

        // MARK: Sensors

        /// Noise of the station's sensors in `reading(rng:)`.
        public var noise: SensorNoise

        /// Rock Creek at Tiffin, Ohio, as the paper describes it: about 900 mm of rain a year in some 50 storms, 30 %
        /// of it leaving as streamflow (mean ≈ 0.9 m³/s), summer low flows of 0.04–0.1 m³/s, and storm hydrographs
        /// above 4 m³/s (peaks 10–25 m³/s) about ten to twenty times a year, mostly in winter and spring.
        /// Long-run annual arithmetic means SRP ≈ 0.053, TP ≈ 0.19, NO₃ ≈ 2.0 mg/L (single years scatter by about
        /// ±20 %); TP rises most steeply with discharge (r ≈ 0.7 between log TP and log Q on hourly samples, SRP and
        /// NO₃ ≈ 0.55), so its flow-weighted mean is 2–2.5 times its arithmetic mean (SRP and NO₃ 1.3–1.6 times);
        /// nitrate has a spring flush and SRP a late-summer high.
        public static let standard = Parameters(
            catchmentAreaKm2: 89,
            wetSeasonStormsPerWeek: 1.5, drySeasonStormsPerWeek: 0.6, wetSeasonPeakDay: 90,
            stormHours: 2...24, stormIntensityMmH: 0.8...5, cellIntensitySpread: 0.5,
            cellIntensityLimitsMmH: 0.6...10, cellMinutes: 15...90,
            breakChance: 0.2, breakMinutes: 10...100, breakIntensityMmH: 0...0.3,
            wetSeasonDrizzlesPerWeek: 1.0, drySeasonDrizzlesPerWeek: 0.5,
            drizzleHours: 1...8, drizzleIntensityMmH: 0.1...0.45,
            runoffCoefficientMean: 0.3, runoffCoefficientAmplitude: 0.22, runoffCoefficientPeakDay: 45,
            quickFraction: 0.65, quickTauDays: 1, slowTauDays: 40, baseflowM3s: 0.01, initialSlowFlowM3s: 0.5,
            ratingA: 6, ratingH0M: 0.1, ratingB: 1.8,
            waterTempMeanC: 12, waterTempSeasonalAmplitudeC: 11, waterTempWarmestDay: 200,
            waterTempDailyAmplitudeC: 1.0, waterTempWarmestHour: 16, waterTempSigmaC: 0.7, waterTempTauHours: 72,
            waterTempMinC: 0,
            no3: ConcentrationModel(atUnitFlow: 1.77, exponent: 0.15, noiseSigmaLog10: 0.2, noiseTauHours: 48,
                                    seasonalAmplitudeLog10: 0.25, seasonalPeakDay: 100),
            srp: ConcentrationModel(atUnitFlow: 0.061, exponent: 0.35, noiseSigmaLog10: 0.18, noiseTauHours: 12,
                                    seasonalAmplitudeLog10: 0.1, seasonalPeakDay: 240),
            tp: ConcentrationModel(atUnitFlow: 0.187, exponent: 0.6, noiseSigmaLog10: 0.3, noiseTauHours: 6,
                                   seasonalAmplitudeLog10: 0.05, seasonalPeakDay: 130, hysteresis: 0.15),
            turbidity: ConcentrationModel(atUnitFlow: 15, exponent: 0.7, noiseSigmaLog10: 0.15, noiseTauHours: 6,
                                          hysteresis: 0.2),
            hysteresisTauHours: 6,
            noise: .standard)

        /// The preset called `named` ("standard"), or nil for an unknown name.
        public static func preset(named name: String) -> Parameters? {
            switch name {
            case "standard": standard
            default: nil
            }
        }

        /// Names `preset(named:)` accepts.
        public static let presetNames: [String] = ["standard"]
    }

    /// One sample of every channel as the station's sensors read it, in docs/register-contract.md §D channel order.
    public struct Reading: Sendable, Equatable {
        /// Stage, m.
        public var stageM: Double
        /// Discharge from the rating curve of the measured stage, m³/s.
        public var dischargeM3s: Double
        /// Water temperature, °C.
        public var waterTempC: Double
        /// Nitrate, mg/L.
        public var no3MgL: Double
        /// Soluble reactive phosphorus, mg/L.
        public var srpMgL: Double
        /// Total phosphorus, mg/L.
        public var tpMgL: Double
        /// Turbidity, NTU.
        public var turbidityNTU: Double
        /// Rainfall intensity, mm/h.
        public var rainMmH: Double

        /// The 8 channels in docs/register-contract.md §D order, 0…7.
        public var values: [Double] {
            [stageM, dischargeM3s, waterTempC, no3MgL, srpMgL, tpMgL, turbidityNTU, rainMmH]
        }
    }

    /// The watershed's constants.
    public let parameters: Parameters
    /// Plant time since the start, s.
    public private(set) var time: Double
    /// Mean rainfall intensity over the last step, mm/h (what a rain gauge reports for that interval; at time 0 the
    /// intensity starting then). `rainMmH · dt / 3600` summed over the steps is the rain that fell.
    public private(set) var rainMmH: Double
    /// Discharge, m³/s.
    public private(set) var dischargeM3s: Double
    /// Stage, m: the rating curve inverted, h = h₀ + (Q/a)^(1/b).
    public private(set) var stageM: Double
    /// Water temperature, °C.
    public private(set) var waterTempC: Double
    /// Nitrate, mg/L.
    public private(set) var no3MgL: Double
    /// Soluble reactive phosphorus, mg/L.
    public private(set) var srpMgL: Double
    /// Total phosphorus, mg/L.
    public private(set) var tpMgL: Double
    /// Turbidity, NTU.
    public private(set) var turbidityNTU: Double
    /// Rain since the start, mm.
    public private(set) var rainTotalMm: Double
    /// Rain imposed on top of the stochastic series, mm/h (a storm injected by a test or the fault injector); 0
    /// normally. It runs off with the day's runoff coefficient like any rain.
    public var imposedRainMmH = 0.0
    /// Water in the quick reservoir, mm over the catchment.
    public private(set) var quickStorageMm: Double
    /// Water in the slow reservoir, mm over the catchment.
    public private(set) var slowStorageMm: Double
    /// Storms begun since the start (drizzles not counted).
    public private(set) var stormsStarted: Int

    /// Day of the year, 0..<365 (0 is 1 January 00:00).
    public var dayOfYear: Double { Self.wrapDay(startDayOfYear + time / 86400) }

    /// Outflow of the quick reservoir, m³/s.
    public var quickFlowM3s: Double { areaFactor * quickRate * quickStorageMm }
    /// Outflow of the slow reservoir plus the deep baseflow, m³/s.
    public var slowFlowM3s: Double { areaFactor * slowRate * slowStorageMm + baseflow }

    // MARK: Private state

    private let startDayOfYear: Double
    /// m³/s of discharge per mm/s of outflow over the catchment.
    private let areaFactor: Double
    /// 1/k of the quick and the slow reservoir and of the hysteresis lag, s⁻¹ (lag: infinity for none).
    private let quickRate: Double
    private let slowRate: Double
    private let lagRate: Double
    private let quickShare: Double
    private let baseflow: Double
    /// Natural logarithms of the relations' `atUnitFlow`, and of the rating's a.
    private let lnNo3: Double
    private let lnSRP: Double
    private let lnTP: Double
    private let lnTurbidity: Double
    private let lnRatingA: Double
    private let inverseRatingB: Double
    /// The quick outflow lagged by the hysteresis time constant, mm/s.
    private var lagOutflowMmS: Double
    /// Exponential decays over `cachedPiece` seconds: quick, slow, lag.
    private var cachedPiece: Double
    private var quickDecay: Double
    private var slowDecay: Double
    private var lagDecay: Double
    private var rain: RainSeries
    // The driver grid: values at k·gridSeconds and (k+1)·gridSeconds, interpolated in between.
    private var gridIndex: Int
    private var gridPrevious: Drivers
    private var gridNext: Drivers
    private var gridRng: SeededRandom
    private var tempOU: OrnsteinUhlenbeck
    private var no3OU: OrnsteinUhlenbeck
    private var srpOU: OrnsteinUhlenbeck
    private var tpOU: OrnsteinUhlenbeck
    private var turbidityOU: OrnsteinUhlenbeck

    /// Spacing of the driver grid, s.
    static let gridSeconds = 300.0
    static let ln10 = Foundation.log(10.0)

    /// Slow drivers at one grid point: the water temperature and, for each relation, its seasonal term plus noise
    /// in natural-log units.
    private struct Drivers: Sendable {
        var tempC: Double
        var no3: Double
        var srp: Double
        var tp: Double
        var turbidity: Double
    }

    /// A watershed at time 0 (day of the year `startDayOfYear`): the quick reservoir empty, the slow one giving
    /// `initialSlowFlowM3s`, no rain falling, and a dry spell before the first rain.
    public init(parameters: Parameters, seed: UInt64, startDayOfYear: Double = 0) {
        self.parameters = parameters
        let p = parameters
        self.startDayOfYear = startDayOfYear.isFinite ? Self.wrapDay(startDayOfYear) : 0
        areaFactor = max(0, p.catchmentAreaKm2) * 1e6 / 1000
        quickRate = 1 / (max(p.quickTauDays, 1e-6) * 86400)
        slowRate = 1 / (max(p.slowTauDays, 1e-6) * 86400)
        lagRate = p.hysteresisTauHours > 0 ? 1 / (p.hysteresisTauHours * 3600) : .infinity
        quickShare = min(max(p.quickFraction, 0), 1)
        baseflow = max(p.baseflowM3s, 1e-6)
        lnNo3 = Foundation.log(max(p.no3.atUnitFlow, .leastNormalMagnitude))
        lnSRP = Foundation.log(max(p.srp.atUnitFlow, .leastNormalMagnitude))
        lnTP = Foundation.log(max(p.tp.atUnitFlow, .leastNormalMagnitude))
        lnTurbidity = Foundation.log(max(p.turbidity.atUnitFlow, .leastNormalMagnitude))
        lnRatingA = Foundation.log(max(p.ratingA, .leastNormalMagnitude))
        inverseRatingB = 1 / max(p.ratingB, 1e-6)

        var seeder = SeededRandom(seed: seed)
        rain = RainSeries(rng: SeededRandom(seed: seeder.next()))
        gridRng = SeededRandom(seed: seeder.next())
        tempOU = OrnsteinUhlenbeck(sigma: p.waterTempSigmaC, tau: p.waterTempTauHours * 3600)
        no3OU = OrnsteinUhlenbeck(sigma: p.no3.noiseSigmaLog10, tau: p.no3.noiseTauHours * 3600)
        srpOU = OrnsteinUhlenbeck(sigma: p.srp.noiseSigmaLog10, tau: p.srp.noiseTauHours * 3600)
        tpOU = OrnsteinUhlenbeck(sigma: p.tp.noiseSigmaLog10, tau: p.tp.noiseTauHours * 3600)
        turbidityOU = OrnsteinUhlenbeck(sigma: p.turbidity.noiseSigmaLog10, tau: p.turbidity.noiseTauHours * 3600)

        time = 0
        quickStorageMm = 0
        lagOutflowMmS = 0
        slowStorageMm = 0
        rainTotalMm = 0
        stormsStarted = 0
        cachedPiece = 0
        quickDecay = 1
        slowDecay = 1
        lagDecay = 1
        gridIndex = 0
        let blank = Drivers(tempC: 0, no3: 0, srp: 0, tp: 0, turbidity: 0)
        gridPrevious = blank
        gridNext = blank
        rainMmH = 0
        dischargeM3s = 0
        stageM = 0
        waterTempC = 0
        no3MgL = 0
        srpMgL = 0
        tpMgL = 0
        turbidityNTU = 0

        if areaFactor > 0 {
            slowStorageMm = max(0, p.initialSlowFlowM3s) / (areaFactor * slowRate)
        }
        // Start the noise processes from their stationary spread, so the first weeks are like any others.
        tempOU.value = p.waterTempSigmaC * gridRng.gaussian()
        no3OU.value = p.no3.noiseSigmaLog10 * gridRng.gaussian()
        srpOU.value = p.srp.noiseSigmaLog10 * gridRng.gaussian()
        tpOU.value = p.tp.noiseSigmaLog10 * gridRng.gaussian()
        turbidityOU.value = p.turbidity.noiseSigmaLog10 * gridRng.gaussian()
        gridPrevious = drivers(atSeconds: 0)
        gridNext = nextDrivers(atSeconds: Self.gridSeconds)
        rain.startDry(at: 0, parameters: p, startDay: self.startDayOfYear)
        rainMmH = rain.intensity
        updateOutputs()
    }

    /// Advances by `dt` seconds (callers use 1…60 s; any positive dt is exact). A non-positive or non-finite `dt`
    /// changes nothing.
    ///
    /// The step is split where the rain changes; over each piece the rain is constant and the two reservoirs and the
    /// hysteresis lag are advanced by their exact exponential solution, so there is no stability limit on dt.
    public mutating func step(dt: Double) {
        guard dt > 0, dt.isFinite else { return }
        let end = time + dt
        var rainMm = 0.0
        while time < end {
            if time >= rain.segmentEnd { rain.advance(parameters: parameters, startDay: startDayOfYear) }
            let pieceEnd = min(end, rain.segmentEnd)
            let piece = pieceEnd - time
            let imposed = imposedRainMmH > 0
                ? StreamPlant.runoffCoefficient(parameters, day: dayOfYear) * imposedRainMmH / 3600 : 0
            integrate(piece, effectiveMmS: rain.effectiveMmS + imposed)
            rainMm += (rain.intensity + max(0, imposedRainMmH)) * piece / 3600
            time = pieceEnd
        }
        if time >= rain.segmentEnd { rain.advance(parameters: parameters, startDay: startDayOfYear) }
        stormsStarted = rain.storms
        rainTotalMm += rainMm
        rainMmH = rainMm * 3600 / dt

        while time >= Double(gridIndex + 1) * Self.gridSeconds {
            gridIndex += 1
            gridPrevious = gridNext
            gridNext = nextDrivers(atSeconds: Double(gridIndex + 1) * Self.gridSeconds)
        }
        updateOutputs()
    }

    /// The station's readings of the present state, with sensor noise drawn from `rng` (always six normal
    /// deviates, so the caller's stream stays aligned). Discharge is the rating curve of the measured stage, as the
    /// station computes it; the rain gauge reads exactly. No reading goes below 0.
    public func reading(rng: inout SeededRandom) -> Reading {
        let n = parameters.noise
        let p = parameters
        let stage = stageM + n.stageM * rng.gaussian()
        let head = max(0, stage - p.ratingH0M)
        let discharge = p.ratingA * Foundation.pow(head, p.ratingB)
        let temp = waterTempC + n.waterTempC * rng.gaussian()
        let no3 = max(0, no3MgL + n.no3MgL * rng.gaussian())
        let srp = max(0, srpMgL + n.srpMgL * rng.gaussian())
        let tp = max(0, tpMgL + n.tpMgL * rng.gaussian())
        let turbidity = max(0, turbidityNTU + n.turbidityNTU * rng.gaussian())
        return Reading(stageM: max(0, stage), dischargeM3s: discharge, waterTempC: temp, no3MgL: no3, srpMgL: srp,
                       tpMgL: tp, turbidityNTU: turbidity, rainMmH: rainMmH)
    }

    /// Runoff coefficient on day of the year `day`, clamped to 0…1.
    public func runoffCoefficient(dayOfYear day: Double) -> Double {
        Self.runoffCoefficient(parameters, day: day)
    }

    // MARK: - Integration

    /// Advances the reservoirs by `h` seconds of constant effective rain `u` (mm/s):
    /// S′ = input − S/k for each reservoir, and L′ = (quick outflow − L)/τ for the hysteresis lag.
    private mutating func integrate(_ h: Double, effectiveMmS u: Double) {
        if h != cachedPiece {
            cachedPiece = h
            quickDecay = Foundation.exp(-quickRate * h)
            slowDecay = Foundation.exp(-slowRate * h)
            lagDecay = lagRate.isFinite ? Foundation.exp(-lagRate * h) : 0
        }
        let q = quickRate
        let quickIn = quickShare * u
        let quickEquilibrium = quickIn / q
        let quickExcess = quickStorageMm - quickEquilibrium
        quickStorageMm = max(0, quickEquilibrium + quickExcess * quickDecay)
        if lagRate.isFinite {
            // Exact solution of the lag driven by the quick outflow q·S(t) = quickIn + q·excess·e^(−qt).
            let g = lagRate
            let coupling: Double
            if abs(g - q) > 1e-9 * max(g, q) {
                coupling = q * quickExcess * g / (g - q) * (quickDecay - lagDecay)
            } else {
                coupling = q * quickExcess * g * h * quickDecay
            }
            lagOutflowMmS = max(0, quickIn + (lagOutflowMmS - quickIn) * lagDecay + coupling)
        } else {
            lagOutflowMmS = q * quickStorageMm
        }
        let slowIn = (1 - quickShare) * u
        let slowEquilibrium = slowIn / slowRate
        slowStorageMm = max(0, slowEquilibrium + (slowStorageMm - slowEquilibrium) * slowDecay)
    }

    /// Discharge, stage, temperature and concentrations from the present storages and drivers.
    private mutating func updateOutputs() {
        let slowOut = slowRate * slowStorageMm
        let q = areaFactor * (quickRate * quickStorageMm + slowOut) + baseflow
        let lagged = areaFactor * (lagOutflowMmS + slowOut) + baseflow
        dischargeM3s = q
        let lnQ = Foundation.log(q)
        let rising = lnQ - Foundation.log(lagged)
        stageM = parameters.ratingH0M + Foundation.exp((lnQ - lnRatingA) * inverseRatingB)

        let w = min(max(time / Self.gridSeconds - Double(gridIndex), 0), 1)
        let a = gridPrevious
        let b = gridNext
        let p = parameters
        waterTempC = max(p.waterTempMinC, a.tempC + (b.tempC - a.tempC) * w)
        no3MgL = Foundation.exp(lnNo3 + p.no3.exponent * lnQ + p.no3.hysteresis * rising + a.no3 + (b.no3 - a.no3) * w)
        srpMgL = Foundation.exp(lnSRP + p.srp.exponent * lnQ + p.srp.hysteresis * rising + a.srp + (b.srp - a.srp) * w)
        tpMgL = Foundation.exp(lnTP + p.tp.exponent * lnQ + p.tp.hysteresis * rising + a.tp + (b.tp - a.tp) * w)
        turbidityNTU = Foundation.exp(lnTurbidity + p.turbidity.exponent * lnQ + p.turbidity.hysteresis * rising
                                      + a.turbidity + (b.turbidity - a.turbidity) * w)
    }

    /// Advances the noise processes by one grid cell and returns the drivers at `seconds`.
    private mutating func nextDrivers(atSeconds seconds: Double) -> Drivers {
        let g = Self.gridSeconds
        _ = tempOU.step(dt: g, rng: &gridRng)
        _ = no3OU.step(dt: g, rng: &gridRng)
        _ = srpOU.step(dt: g, rng: &gridRng)
        _ = tpOU.step(dt: g, rng: &gridRng)
        _ = turbidityOU.step(dt: g, rng: &gridRng)
        return drivers(atSeconds: seconds)
    }

    /// The drivers at `seconds` from the present noise values.
    private func drivers(atSeconds seconds: Double) -> Drivers {
        let p = parameters
        let days = startDayOfYear + seconds / 86400
        let angle = 2 * Double.pi * days / 365
        let c = Foundation.cos(angle)
        let s = Foundation.sin(angle)
        // cos(angle − peak) = cos·cos(peak) + sin·sin(peak), so one sine and cosine serve every seasonal term.
        func seasonal(_ amplitude: Double, _ peakDay: Double) -> Double {
            let peak = 2 * Double.pi * peakDay / 365
            return amplitude * (c * Foundation.cos(peak) + s * Foundation.sin(peak))
        }
        let hour = (days - days.rounded(.down)) * 24
        let daily = p.waterTempDailyAmplitudeC * Foundation.cos(2 * Double.pi * (hour - p.waterTempWarmestHour) / 24)
        let ln10 = Self.ln10
        return Drivers(
            tempC: p.waterTempMeanC + seasonal(p.waterTempSeasonalAmplitudeC, p.waterTempWarmestDay) + daily
                + tempOU.value,
            no3: ln10 * (seasonal(p.no3.seasonalAmplitudeLog10, p.no3.seasonalPeakDay) + no3OU.value),
            srp: ln10 * (seasonal(p.srp.seasonalAmplitudeLog10, p.srp.seasonalPeakDay) + srpOU.value),
            tp: ln10 * (seasonal(p.tp.seasonalAmplitudeLog10, p.tp.seasonalPeakDay) + tpOU.value),
            turbidity: ln10 * (seasonal(p.turbidity.seasonalAmplitudeLog10, p.turbidity.seasonalPeakDay)
                + turbidityOU.value))
    }

    /// `day` wrapped into 0..<365.
    static func wrapDay(_ day: Double) -> Double {
        let d = day.truncatingRemainder(dividingBy: 365)
        return d < 0 ? d + 365 : d
    }

    static func runoffCoefficient(_ p: Parameters, day: Double) -> Double {
        let c = p.runoffCoefficientMean
            + p.runoffCoefficientAmplitude * Foundation.cos(2 * Double.pi * (day - p.runoffCoefficientPeakDay) / 365)
        return min(max(c, 0), 1)
    }

    /// Seasonal rate between a wet-season and a dry-season value, per week.
    static func seasonalRate(wet: Double, dry: Double, peakDay: Double, day: Double) -> Double {
        let wet = max(0, wet)
        let dry = max(0, dry)
        return (wet + dry) / 2 + (wet - dry) / 2 * Foundation.cos(2 * Double.pi * (day - peakDay) / 365)
    }
}

/// The rain as a sequence of segments of constant intensity in plant time, drawn from its own generator as they are
/// reached, so the series does not depend on how the plant is stepped.
private struct RainSeries: Sendable {
    enum Mode: Sendable { case dry, cell, pause, drizzle }

    var rng: SeededRandom
    /// What the present segment is, when it ends (plant s), its intensity (mm/h) and its effective rain (mm/s).
    var mode = Mode.dry
    var segmentEnd = 0.0
    var intensity = 0.0
    var effectiveMmS = 0.0
    /// Rain of the current storm still to come after this segment, s, and the storm's typical intensity, mm/h.
    var stormLeft = 0.0
    var stormIntensity = 0.0
    /// Whether the rain after the current dry spell is a storm (else a drizzle).
    var stormNext = false
    /// Storms begun.
    var storms = 0

    init(rng: SeededRandom) {
        self.rng = rng
    }

    /// Starts a dry spell at `t` lasting until the next arrival.
    mutating func startDry(at t: Double, parameters p: StreamPlant.Parameters, startDay: Double) {
        let weekly = 1.0 / (7 * 86400)
        let maxStorms = max(0, p.wetSeasonStormsPerWeek, p.drySeasonStormsPerWeek)
        let maxDrizzles = max(0, p.wetSeasonDrizzlesPerWeek, p.drySeasonDrizzlesPerWeek)
        let ceiling = (maxStorms + maxDrizzles) * weekly
        var arrival = Double.infinity
        if ceiling > 0 {
            // Thinning (Lewis and Shedler): candidates at the peak rate, each kept with probability rate(t)/peak.
            var candidate = t
            while true {
                candidate += -Foundation.log(1 - rng.uniform()) / ceiling
                let day = StreamPlant.wrapDay(startDay + candidate / 86400)
                let storms = StreamPlant.seasonalRate(wet: p.wetSeasonStormsPerWeek, dry: p.drySeasonStormsPerWeek,
                                                      peakDay: p.wetSeasonPeakDay, day: day) * weekly
                let drizzles = StreamPlant.seasonalRate(wet: p.wetSeasonDrizzlesPerWeek,
                                                        dry: p.drySeasonDrizzlesPerWeek,
                                                        peakDay: p.wetSeasonPeakDay, day: day) * weekly
                let u = rng.uniform() * ceiling
                if u < storms + drizzles {
                    stormNext = u < storms
                    arrival = candidate
                    break
                }
            }
        }
        set(.dry, from: t, length: arrival - t, intensity: 0, parameters: p, startDay: startDay)
    }

    /// Moves on to the segment that follows the present one, starting where it ends.
    mutating func advance(parameters p: StreamPlant.Parameters, startDay: Double) {
        let t = segmentEnd
        switch mode {
        case .dry:
            if stormNext {
                storms += 1
                stormLeft = Self.logUniform(p.stormHours, &rng) * 3600
                stormIntensity = Self.logUniform(p.stormIntensityMmH, &rng)
                nextCell(at: t, parameters: p, startDay: startDay)
            } else {
                let length = Self.uniform(p.drizzleHours, &rng) * 3600
                set(.drizzle, from: t, length: length, intensity: Self.uniform(p.drizzleIntensityMmH, &rng),
                    parameters: p, startDay: startDay)
            }
        case .cell, .pause:
            if stormLeft <= 0 {
                startDry(at: t, parameters: p, startDay: startDay)
            } else if mode == .cell, rng.uniform() < p.breakChance {
                let length = Self.uniform(p.breakMinutes, &rng) * 60
                // A break must leave a cell after it, so a storm never ends on a break.
                if length < stormLeft - 60 {
                    stormLeft -= length
                    set(.pause, from: t, length: length, intensity: Self.uniform(p.breakIntensityMmH, &rng),
                        parameters: p, startDay: startDay)
                } else {
                    nextCell(at: t, parameters: p, startDay: startDay)
                }
            } else {
                nextCell(at: t, parameters: p, startDay: startDay)
            }
        case .drizzle:
            startDry(at: t, parameters: p, startDay: startDay)
        }
    }

    private mutating func nextCell(at t: Double, parameters p: StreamPlant.Parameters, startDay: Double) {
        var length = min(Self.uniform(p.cellMinutes, &rng) * 60, stormLeft)
        // Do not leave a sliver of storm behind.
        if stormLeft - length < 60 { length = stormLeft }
        stormLeft -= length
        let spread = max(0, p.cellIntensitySpread)
        let raw = stormIntensity * Foundation.exp(spread * rng.gaussian() - spread * spread / 2)
        let limits = p.cellIntensityLimitsMmH
        set(.cell, from: t, length: length, intensity: min(max(raw, limits.lowerBound), limits.upperBound),
            parameters: p, startDay: startDay)
    }

    private mutating func set(_ mode: Mode, from t: Double, length: Double, intensity: Double,
                              parameters p: StreamPlant.Parameters, startDay: Double) {
        self.mode = mode
        // Never shorter than a second, so a degenerate range cannot stall the plant.
        segmentEnd = t + max(length.isNaN ? 1 : length, 1)
        self.intensity = max(0, intensity)
        let day = StreamPlant.wrapDay(startDay + t / 86400)
        effectiveMmS = StreamPlant.runoffCoefficient(p, day: day) * self.intensity / 3600
    }

    static func uniform(_ range: ClosedRange<Double>, _ rng: inout SeededRandom) -> Double {
        range.lowerBound + (range.upperBound - range.lowerBound) * rng.uniform()
    }

    /// Log-uniform on the range (uniform if it does not lie above 0).
    static func logUniform(_ range: ClosedRange<Double>, _ rng: inout SeededRandom) -> Double {
        guard range.lowerBound > 0 else { return uniform(range, &rng) }
        return range.lowerBound * Foundation.exp(Foundation.log(range.upperBound / range.lowerBound) * rng.uniform())
    }
}
