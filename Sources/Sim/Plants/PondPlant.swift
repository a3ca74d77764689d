import Devices
import Foundation

/// The water body an aquaculture sonde hangs in (docs/register-contract.md §B): an earthen pond or an indoor nursery
/// tank, with the
/// host's aerators, water-exchange pump and feeder acting on it.
///
/// Dissolved oxygen follows the classic pond budget, per hour: photosynthesis (a half-sine of daylight, scaled by
/// the day's cloudiness and the chlorophyll) − respiration (stock, water column and sediment, Q₁₀ on temperature,
/// slowing at low DO) + surface reaeration (wind-dependent) + aerators (k_La·α·1.024^(T−20) each) + water exchange,
/// − the oxygen demand of digesting feed, − ebullition at strong supersaturation. The same photosynthesis and
/// respiration move dissolved inorganic carbon, and pH follows from it by the carbonate equilibrium at the pond's
/// alkalinity, so pH is low before sunrise and high in the late afternoon, and aeration strips CO₂. Total ammonia
/// nitrogen comes from excretion and digested feed and goes by nitrification and uptake and by exchange; its
/// un-ionised share follows pH and temperature (AquaChemistry). Water temperature swings over the day (coolest at
/// dawn, warmest in the afternoon); salinity is diluted by rain, concentrated by evaporation and pulled towards the
/// inflow by exchange.
///
/// The weather (wind, pressure, rain), the slow wander of chlorophyll and water temperature, and each day's
/// cloudiness are drawn from the seed on a fixed one-minute grid in plant time and interpolated, so they are the
/// same whatever step size the caller uses: two runs with the same seed differ only by integration error. A pure
/// value type stepped by its caller: no clocks, no globals. Sensor noise comes from the generator passed to
/// `reading(rng:)`, so reading does not disturb the plant.
public struct PondPlant: Sendable {
    /// Noise of the sonde's sensors: the standard deviation of white noise added to each reading.
    public struct SensorNoise: Sendable, Equatable {
        /// Dissolved oxygen, mg/L.
        public var doMgL: Double
        /// Water temperature, °C.
        public var tempC: Double
        /// pH units.
        public var pH: Double
        /// Salinity, ppt.
        public var salinityPpt: Double
        /// Total ammonia nitrogen, mg/L.
        public var tanMgL: Double
        /// Chlorophyll, µg/L.
        public var chlUgL: Double
        /// Water current, m/s.
        public var currentMps: Double
        /// Wave height, m.
        public var waveM: Double
        /// Wind speed, m/s.
        public var windMps: Double
        /// Air pressure, hPa.
        public var pressureHPa: Double
        /// Resolution of the tipping-bucket rain gauge, mm (the reading is whole tips; 0 reads exactly).
        public var rainResolutionMm: Double

        /// A typical optical-DO sonde with an ammonium electrode and a small weather station.
        public static let standard = SensorNoise(
            doMgL: 0.05, tempC: 0.02, pH: 0.01, salinityPpt: 0.05, tanMgL: 0.01, chlUgL: 0.5, currentMps: 0.005,
            waveM: 0.002, windMps: 0.2, pressureHPa: 0.3, rainResolutionMm: 0.2)

        /// No noise at all and an exact rain gauge.
        public static let none = SensorNoise(
            doMgL: 0, tempC: 0, pH: 0, salinityPpt: 0, tanMgL: 0, chlUgL: 0, currentMps: 0, waveM: 0, windMps: 0,
            pressureHPa: 0, rainResolutionMm: 0)
    }

    /// Constants of one pond or tank and of its weather.
    public struct Parameters: Sendable, Equatable {
        // MARK: Water body

        /// Water volume, m³.
        public var volumeM3: Double
        /// Mean depth, m (turns surface transfer velocities and rain into rates per volume).
        public var depthM: Double
        /// Wind fetch across the water, m (wave height).
        public var fetchM: Double
        /// Share of the outdoor wind and rain that reaches the water surface, 0…1 (1 an open pond, 0 indoors).
        public var exposure: Double

        // MARK: Aeration

        /// Aerators the pond has (the host's relays); `Inputs.aeratorsOn` is clamped to this.
        public var aerators: Int
        /// Oxygen transfer coefficient k_La of one running aerator in clean water at 20 °C, h⁻¹
        /// (SOTR / (volume · C_s20)).
        public var aeratorKLaPerHour: Double
        /// Ratio of k_La in this water to clean water, α (dimensionless).
        public var aeratorAlpha: Double
        /// Electrical power of one aerator, kW.
        public var aeratorKW: Double
        /// Water current at the sonde per running aerator, m/s.
        public var currentPerAeratorMps: Double
        /// Wave (ripple) height at the sonde per running aerator, m.
        public var wavePerAeratorM: Double

        // MARK: Surface reaeration

        /// Surface oxygen transfer velocity in calm air, m/h (divided by depth it is the reaeration k, h⁻¹).
        public var surfaceKLMPerHour: Double
        /// Extra surface transfer velocity per (wind speed)², m/h per (m/s)², at the water's exposure.
        public var surfaceKLWindMPerHour: Double
        /// Wind-driven surface current as a share of the wind speed reaching the water (dimensionless).
        public var currentPerWind: Double

        // MARK: Oxygen biology

        /// Gross photosynthesis at solar noon on a clear day at mean chlorophyll, mg/L/h O₂.
        public var photosynthesisNoonMgLPerHour: Double
        /// Community respiration (stock, water column, sediment) at 20 °C, mean chlorophyll and ample DO, mg/L/h O₂.
        public var respirationAt20MgLPerHour: Double
        /// Share of that respiration that is plankton and so scales with chlorophyll, 0…1.
        public var planktonRespirationShare: Double
        /// Temperature factor of respiration and excretion per 10 °C, Q₁₀ (dimensionless).
        public var q10: Double
        /// DO at which respiration runs at half its rate, mg/L (respiration × C / (C + this)).
        public var respirationHalfSaturationMgL: Double
        /// Supersaturation (fraction of local saturation) above which oxygen escapes as bubbles (dimensionless).
        public var ebullitionThreshold: Double
        /// Rate at which DO above that threshold escapes as bubbles, h⁻¹.
        public var ebullitionPerHour: Double

        // MARK: Water exchange

        /// Exchange while the exchange pump runs, fraction of the volume per hour, h⁻¹.
        public var exchangePerHour: Double
        /// Dissolved oxygen of the inflowing water, mg/L.
        public var inflowDOMgL: Double
        /// Temperature of the inflowing water, °C.
        public var inflowTempC: Double
        /// Salinity of the inflowing water, ppt.
        public var inflowSalinityPpt: Double
        /// Total ammonia nitrogen of the inflowing water, mg/L.
        public var inflowTANMgL: Double
        /// pH of the inflowing water (its inorganic carbon at the pond's alkalinity).
        public var inflowPH: Double
        /// Time constant with which the water's heat balance pulls a temperature offset left by exchange back to
        /// the daily curve, h.
        public var heatRelaxHours: Double
        /// Electric heater on the host's "heater" relay, kW (0: none). Its heat goes into the water's temperature
        /// offset, which relaxes back to the ambient curve at 1/`heatRelaxHours` (a 2 m³ tank takes 2.15 K/h from
        /// 5 kW: 18 000 kJ/h ÷ (2000 kg × 4.186 kJ/(kg·K)); with the nursery's 2 h relaxation it can hold ≈ 4 K above
        /// its hall).
        public var heaterKW: Double = 0
        /// Photosynthesis under the host's "light" relay (a grow lamp), as a fraction of clear-sky noon sun (0: no
        /// lamp).
        public var lampSun: Double = 0

        // MARK: Feed and ammonia

        /// Feed thrown while the feeder runs, kg/h.
        public var feedKgPerHour: Double
        /// Total ammonia nitrogen excreted per kg of feed, kg/kg.
        public var feedTANYield: Double
        /// Oxygen consumed digesting and decomposing one kg of feed, kg/kg.
        public var feedOxygenYield: Double
        /// Time constant of digestion: feed releases its TAN and oxygen demand over this, h.
        public var feedDigestionHours: Double
        /// Base ammonia excretion of the stock and sediment at 20 °C, mg/L/h TAN (× the same Q₁₀ as respiration).
        public var excretionAt20MgLPerHour: Double
        /// First-order TAN removal (nitrification, plankton uptake) at 20 °C, h⁻¹.
        public var ammoniaRemovalAt20PerHour: Double
        /// Temperature factor of that removal per °C, θ (rate × θ^(T−20)).
        public var ammoniaRemovalTheta: Double

        // MARK: Carbonate system

        /// Total alkalinity, meq/L (held constant; 1 meq/L = 50 mg/L as CaCO₃).
        public var alkalinityMeqL: Double
        /// CO₂ in the air, µatm.
        public var co2AtmosphereUatm: Double
        /// Rate at which inorganic carbon returns towards equilibrium with the air's CO₂ besides plain gas transfer
        /// (carbonate exchange with the sediment, chemically enhanced CO₂ transfer), h⁻¹.
        public var carbonBufferPerHour: Double

        // MARK: Temperature and light

        /// Daily mean water temperature on a clear day, °C (every day's minimum is this less the clear-day amplitude).
        public var waterTempMeanC: Double
        /// Half the daily min-to-max swing of water temperature on a clear day, °C (dull days swing less).
        public var waterTempAmplitudeC: Double
        /// Local hour of the daily temperature minimum.
        public var coolestHour: Double
        /// Local hour of the daily temperature maximum.
        public var warmestHour: Double
        /// Standard deviation of the slow day-to-day wander of water temperature, °C.
        public var waterTempSigmaC: Double
        /// Correlation time of that wander, h.
        public var waterTempTauHours: Double
        /// Local hour of sunrise (light and photosynthesis start).
        public var sunriseHour: Double
        /// Local hour of sunset.
        public var sunsetHour: Double
        /// Chance that a day is dull (overcast), 0…1.
        public var dullDayChance: Double
        /// Daylight of a clear day as a fraction of full clear-sky sun, drawn uniformly from this range.
        public var clearDaySun: ClosedRange<Double>
        /// Daylight of a dull day as a fraction of full clear-sky sun, drawn uniformly from this range.
        public var dullDaySun: ClosedRange<Double>

        // MARK: Salinity and plankton

        /// Salinity at the start, ppt.
        public var salinityPpt: Double
        /// Evaporation from the surface, mm/day (× exposure).
        public var evaporationMmPerDay: Double
        /// Mean chlorophyll a, µg/L.
        public var chlMeanUgL: Double
        /// Standard deviation of the natural logarithm of chlorophyll about its mean (dimensionless).
        public var chlLogSigma: Double
        /// Correlation time of chlorophyll's wander, h.
        public var chlTauHours: Double

        // MARK: Weather

        /// Mean night-time wind speed, m/s.
        public var windMeanMps: Double
        /// Extra mean wind in the afternoon (a half-sine from 08:00 to 20:00 peaking at 14:00), m/s.
        public var windDaytimeExtraMps: Double
        /// Standard deviation of the wind's random part, m/s.
        public var windSigmaMps: Double
        /// Correlation time of the wind's random part, h.
        public var windTauHours: Double
        /// Mean air pressure, hPa.
        public var pressureMeanHPa: Double
        /// Standard deviation of air pressure, hPa.
        public var pressureSigmaHPa: Double
        /// Correlation time of air pressure, h.
        public var pressureTauHours: Double
        /// Mean number of rain showers per day (Poisson arrivals).
        public var rainEventsPerDay: Double
        /// Mean rain of one shower, mm (exponentially distributed).
        public var rainMeanEventMm: Double
        /// Duration of one shower, h.
        public var rainEventHours: Double

        // MARK: Start and sensors

        /// DO at time 0 as a fraction of saturation (dimensionless).
        public var initialDOSaturation: Double
        /// pH at time 0 (sets the initial inorganic carbon).
        public var initialPH: Double
        /// Total ammonia nitrogen at time 0, mg/L.
        public var initialTANMgL: Double
        /// Noise of the sonde's sensors.
        public var noise: SensorNoise

        /// A 1 ha × 1 m earthen pond (10 000 m³) of brackish water at about 28 °C, semi-intensively stocked, with two
        /// 4 kW paddlewheels (k_La 0.11 h⁻¹ each at 20 °C: 4 kW ≈ 0.11 h⁻¹ on 1 ha × 1 m, docs/register-contract.md
        /// §B). Left
        /// unaerated, DO falls below 3 mg/L before dawn on most nights; both paddlewheels hold it near 4–5 mg/L.
        public static let pond = Parameters(
            volumeM3: 10_000, depthM: 1.0, fetchM: 100, exposure: 1,
            aerators: 2, aeratorKLaPerHour: 0.11, aeratorAlpha: 0.85, aeratorKW: 4,
            currentPerAeratorMps: 0.06, wavePerAeratorM: 0.005,
            surfaceKLMPerHour: 0.01, surfaceKLWindMPerHour: 0.0015, currentPerWind: 0.02,
            photosynthesisNoonMgLPerHour: 2.3, respirationAt20MgLPerHour: 0.38, planktonRespirationShare: 0.5,
            q10: 2, respirationHalfSaturationMgL: 1.0, ebullitionThreshold: 1.25, ebullitionPerHour: 4.0,
            exchangePerHour: 0.05, inflowDOMgL: 5.0, inflowTempC: 27.0, inflowSalinityPpt: 12, inflowTANMgL: 0.1,
            inflowPH: 7.6, heatRelaxHours: 12,
            feedKgPerHour: 100, feedTANYield: 0.03, feedOxygenYield: 0.5, feedDigestionHours: 3,
            excretionAt20MgLPerHour: 0.004, ammoniaRemovalAt20PerHour: 0.02, ammoniaRemovalTheta: 1.05,
            alkalinityMeqL: 2.0, co2AtmosphereUatm: 420, carbonBufferPerHour: 0.05,
            waterTempMeanC: 28.5, waterTempAmplitudeC: 1.25, coolestHour: 6, warmestHour: 15,
            waterTempSigmaC: 0.3, waterTempTauHours: 240,
            sunriseHour: 6, sunsetHour: 18.5, dullDayChance: 0.25, clearDaySun: 0.85...1.0, dullDaySun: 0.45...0.7,
            salinityPpt: 15, evaporationMmPerDay: 4, chlMeanUgL: 80, chlLogSigma: 0.15, chlTauHours: 72,
            windMeanMps: 2.0, windDaytimeExtraMps: 1.5, windSigmaMps: 1.0, windTauHours: 2,
            pressureMeanHPa: 1010, pressureSigmaHPa: 4, pressureTauHours: 48,
            rainEventsPerDay: 0.25, rainMeanEventMm: 12, rainEventHours: 1.5,
            initialDOSaturation: 0.85, initialPH: 7.7, initialTANMgL: 0.3, noise: .standard)

        /// A 2 m³ indoor nursery tank in a heated hall: no photosynthesis to speak of, 26 ± 0.3 °C (a 5 kW tank heater
        /// on the host's "heater" relay can hold it up to ≈ 4 K warmer; a grow lamp on "light"), densely stocked
        /// (respiration several mg/L/h, so DO crashes within an hour or two without air), two blowers on air
        /// stones at k_La 8 h⁻¹ each. The weather channels read the station's outdoor sensors; none of it reaches
        /// the water.
        public static let nursery = Parameters(
            volumeM3: 2, depthM: 1.0, fetchM: 1.5, exposure: 0,
            aerators: 2, aeratorKLaPerHour: 8, aeratorAlpha: 0.8, aeratorKW: 0.25,
            currentPerAeratorMps: 0.03, wavePerAeratorM: 0.002,
            surfaceKLMPerHour: 0.02, surfaceKLWindMPerHour: 0, currentPerWind: 0,
            photosynthesisNoonMgLPerHour: 0.05, respirationAt20MgLPerHour: 2.5, planktonRespirationShare: 0.05,
            q10: 2, respirationHalfSaturationMgL: 0.5, ebullitionThreshold: 1.3, ebullitionPerHour: 0.5,
            exchangePerHour: 0.5, inflowDOMgL: 6.5, inflowTempC: 25, inflowSalinityPpt: 20, inflowTANMgL: 0.05,
            inflowPH: 7.8, heatRelaxHours: 2,
            feedKgPerHour: 0.1, feedTANYield: 0.03, feedOxygenYield: 0.5, feedDigestionHours: 2,
            excretionAt20MgLPerHour: 0.04, ammoniaRemovalAt20PerHour: 0.1, ammoniaRemovalTheta: 1.05,
            alkalinityMeqL: 2.5, co2AtmosphereUatm: 420, carbonBufferPerHour: 0.05,
            waterTempMeanC: 26, waterTempAmplitudeC: 0.25, coolestHour: 6, warmestHour: 15,
            waterTempSigmaC: 0.1, waterTempTauHours: 24,
            sunriseHour: 6, sunsetHour: 18.5, dullDayChance: 0.3, clearDaySun: 0.85...1.0, dullDaySun: 0.3...0.6,
            salinityPpt: 20, evaporationMmPerDay: 0, chlMeanUgL: 5, chlLogSigma: 0.1, chlTauHours: 72,
            windMeanMps: 2.0, windDaytimeExtraMps: 1.5, windSigmaMps: 1.0, windTauHours: 2,
            pressureMeanHPa: 1010, pressureSigmaHPa: 4, pressureTauHours: 48,
            rainEventsPerDay: 0.25, rainMeanEventMm: 12, rainEventHours: 1.5,
            initialDOSaturation: 1.0, initialPH: 7.8, initialTANMgL: 0.4, noise: .standard)
            .with(heaterKW: 5, lampSun: 1)

        /// These parameters with a heater and a grow lamp.
        public func with(heaterKW: Double, lampSun: Double) -> Parameters {
            var copy = self
            copy.heaterKW = heaterKW
            copy.lampSun = lampSun
            return copy
        }

        /// The preset called `named` ("pond", "nursery"), or nil for an unknown name.
        public static func preset(named name: String) -> Parameters? {
            switch name {
            case "pond": pond
            case "nursery": nursery
            default: nil
            }
        }

        /// Names `preset(named:)` accepts, "pond" first.
        public static let presetNames: [String] = ["pond", "nursery"]
    }

    /// What the host's relays do to the water this step.
    public struct Inputs: Sendable, Equatable {
        /// How many aerators run; `step` clamps it to 0…`Parameters.aerators`.
        public var aeratorsOn: Int
        /// The water-exchange pump or valve is open.
        public var exchange: Bool
        /// The feeder is running.
        public var feeding: Bool
        /// The tank heater is on (no effect without `Parameters.heaterKW`).
        public var heater: Bool
        /// The grow lamp is on (no effect without `Parameters.lampSun`).
        public var light: Bool

        public init(aeratorsOn: Int = 0, exchange: Bool = false, feeding: Bool = false, heater: Bool = false,
                    light: Bool = false) {
            self.aeratorsOn = aeratorsOn
            self.exchange = exchange
            self.feeding = feeding
            self.heater = heater
            self.light = light
        }
    }

    /// One sample of every channel as the sonde's sensors read it (noise added), in docs/register-contract.md §B
    /// channel order.
    public struct Reading: Sendable, Equatable {
        /// Dissolved oxygen, mg/L.
        public var doMgL: Double
        /// DO as % of saturation at 1 atm and the water's temperature and salinity (from the measured DO).
        public var doSatPct: Double
        /// Water temperature, °C.
        public var waterTempC: Double
        /// pH.
        public var pH: Double
        /// Salinity, ppt.
        public var salinityPpt: Double
        /// Total ammonia nitrogen, mg/L.
        public var tanMgL: Double
        /// Un-ionised ammonia (as N), mg/L, from the measured TAN, pH and temperature.
        public var nh3MgL: Double
        /// Chlorophyll a, µg/L.
        public var chlUgL: Double
        /// Water current, m/s.
        public var currentMps: Double
        /// Wave height, m.
        public var waveM: Double
        /// Wind speed, m/s.
        public var windMps: Double
        /// Air pressure, hPa.
        public var pressureHPa: Double
        /// Rainfall since the last `resetRain()`, mm (whole gauge tips).
        public var rainMm: Double

        /// The 13 channels in docs/register-contract.md §B order, 0…12.
        public var values: [Double] {
            [doMgL, doSatPct, waterTempC, pH, salinityPpt, tanMgL, nh3MgL, chlUgL, currentMps, waveM, windMps,
             pressureHPa, rainMm]
        }
    }

    /// The water body's constants (a disturbance may change them for a while: a bad night for oxygen).
    public var parameters: Parameters
    /// Plant time since the start, s.
    public private(set) var time: Double

    /// True dissolved oxygen, mg/L.
    public private(set) var doMgL: Double
    /// True water temperature, °C.
    public private(set) var waterTempC: Double
    /// True pH (from the inorganic carbon at the water's alkalinity, temperature and salinity).
    public private(set) var pH: Double
    /// Dissolved inorganic carbon, mmol/L.
    public private(set) var dicMmolL: Double
    /// Free CO₂, mg/L.
    public private(set) var co2MgL: Double
    /// True salinity, ppt.
    public private(set) var salinityPpt: Double
    /// True total ammonia nitrogen, mg/L.
    public private(set) var tanMgL: Double
    /// True chlorophyll a, µg/L.
    public private(set) var chlUgL: Double
    /// Wind speed at the station, m/s.
    public private(set) var windMps: Double
    /// Air pressure, hPa.
    public private(set) var pressureHPa: Double
    /// Rain since the start or the last `resetRain()`, mm.
    public private(set) var rainMm: Double
    /// Water current at the sonde, m/s.
    public private(set) var currentMps: Double
    /// Wave height at the sonde, m.
    public private(set) var waveM: Double
    /// Today's daylight as a fraction of full clear-sky sun (cloudiness; 1 is a cloudless day).
    public private(set) var sunToday: Double
    /// Gross photosynthesis during the last step, mg/L/h O₂.
    public private(set) var photosynthesisMgLPerHour: Double
    /// Respiration (community plus feed demand) during the last step, mg/L/h O₂.
    public private(set) var respirationMgLPerHour: Double
    /// Feed thrown but not yet digested, kg.
    public private(set) var undigestedFeedKg: Double
    /// Aerators running during the last step (the clamped input).
    public private(set) var aeratorsRunning: Int
    /// Aerator electrical energy since the start, kWh.
    public private(set) var aeratorEnergyKWh: Double

    /// Local hour of day, 0..<24.
    public var hourOfDay: Double {
        let h = (startHourOfDay + time / 3600).truncatingRemainder(dividingBy: 24)
        return h < 0 ? h + 24 : h
    }

    /// DO saturation at 1 atm (Benson–Krause) at the water's temperature and salinity, mg/L: the reference of
    /// `doSatPct`.
    public var saturationMgL: Double {
        AquaChemistry.oxygenSaturationMgL(tempC: waterTempC, salinityPpt: salinityPpt)
    }

    /// DO saturation at the current air pressure, mg/L: what aeration and the surface drive DO towards.
    public var localSaturationMgL: Double { saturationMgL * pressureHPa / Self.standardPressureHPa }

    /// DO as a percentage of `saturationMgL`.
    public var doSatPct: Double { 100 * doMgL / saturationMgL }

    /// Un-ionised ammonia (as N), mg/L: TAN × the un-ionised fraction at the water's pH and temperature.
    public var nh3MgL: Double {
        tanMgL * AquaChemistry.unionisedAmmoniaFraction(pH: pH, tempC: waterTempC)
    }

    // MARK: Private state

    private let startHourOfDay: Double
    /// Seed of the per-day cloudiness draws.
    private let daySeed: UInt64
    /// Inorganic carbon of the inflow, mmol/L.
    private let inflowDIC: Double
    /// Offset of the water temperature from its daily curve left by exchange, °C.
    private var heatOffsetC: Double

    // The weather grid: values at grid points k·gridSeconds and (k+1)·gridSeconds, interpolated in between.
    private var gridIndex: Int
    private var gridPrevious: WeatherPoint
    private var gridNext: WeatherPoint
    /// Rain rate over the current grid cell, mm/s.
    private var cellRainMmPerS: Double
    /// Rain still to fall from the current shower, mm, and its rate, mm/s.
    private var showerLeftMm: Double
    private var showerMmPerS: Double
    private var windOU: OrnsteinUhlenbeck
    private var pressureOU: OrnsteinUhlenbeck
    private var chlOU: OrnsteinUhlenbeck
    private var tempOU: OrnsteinUhlenbeck
    private var weatherRng: SeededRandom

    /// Weather and slow drivers at one grid point.
    private struct WeatherPoint: Sendable {
        var windMps: Double
        var pressureHPa: Double
        var chlUgL: Double
        var tempOffsetC: Double
    }

    static let standardPressureHPa = 1013.25
    /// Spacing of the weather grid, s.
    static let gridSeconds = 60.0
    /// Largest internal integration step, s.
    static let maxSubstep = 60.0
    /// mg of O₂ per mmol (photosynthetic and respiratory quotients taken as 1).
    static let oxygenMgPerMmol = 32.0
    /// CO₂ transfers across the surface and at aerators at this share of the oxygen coefficient (√ of the ratio of
    /// their diffusivities).
    static let co2TransferRatio = 0.9

    /// A water body at time 0 (the local hour `startHourOfDay`): DO at `initialDOSaturation` of saturation,
    /// inorganic carbon at `initialPH`, TAN at `initialTANMgL`, salinity at `salinityPpt`, weather at its means.
    public init(parameters: Parameters, seed: UInt64, startHourOfDay: Double = 0) {
        self.parameters = parameters
        let p = parameters
        inflowDIC = Carbonate(tempC: p.inflowTempC, salinityPpt: p.inflowSalinityPpt)
            .dic(pH: p.inflowPH, alkalinity: p.alkalinityMeqL)
        let start = startHourOfDay.isFinite ? startHourOfDay.truncatingRemainder(dividingBy: 24) : 0
        self.startHourOfDay = start < 0 ? start + 24 : start
        time = 0
        var seeder = SeededRandom(seed: seed)
        weatherRng = SeededRandom(seed: seeder.next())
        daySeed = seeder.next()
        windOU = OrnsteinUhlenbeck(sigma: p.windSigmaMps, tau: p.windTauHours * 3600)
        pressureOU = OrnsteinUhlenbeck(sigma: p.pressureSigmaHPa, tau: p.pressureTauHours * 3600)
        chlOU = OrnsteinUhlenbeck(sigma: p.chlLogSigma, tau: p.chlTauHours * 3600)
        tempOU = OrnsteinUhlenbeck(sigma: p.waterTempSigmaC, tau: p.waterTempTauHours * 3600)
        showerLeftMm = 0
        showerMmPerS = 0
        cellRainMmPerS = 0
        gridIndex = 0
        let first = WeatherPoint(windMps: 0, pressureHPa: p.pressureMeanHPa, chlUgL: p.chlMeanUgL, tempOffsetC: 0)
        gridPrevious = first
        gridNext = first
        heatOffsetC = 0
        rainMm = 0
        aeratorEnergyKWh = 0
        aeratorsRunning = 0
        undigestedFeedKg = 0
        photosynthesisMgLPerHour = 0
        respirationMgLPerHour = 0
        salinityPpt = p.salinityPpt
        tanMgL = p.initialTANMgL
        // Placeholders until the weather and temperature are known below.
        windMps = 0
        pressureHPa = p.pressureMeanHPa
        chlUgL = p.chlMeanUgL
        waterTempC = p.waterTempMeanC
        sunToday = 1
        currentMps = 0
        waveM = 0
        doMgL = 0
        pH = p.initialPH
        dicMmolL = 0
        co2MgL = 0
        gridPrevious.windMps = windBase(atSeconds: 0)
        gridNext = nextGridPoint()

        let weather = weatherAt(0)
        windMps = weather.windMps
        pressureHPa = weather.pressureHPa
        chlUgL = weather.chlUgL
        waterTempC = temperatureCurve(atSeconds: 0, offsetC: weather.tempOffsetC)
        sunToday = sun(day: day(atSeconds: 0))
        doMgL = max(0, p.initialDOSaturation) * localSaturationMgL
        let carbon = Carbonate(tempC: waterTempC, salinityPpt: salinityPpt)
        dicMmolL = carbon.dic(pH: p.initialPH, alkalinity: p.alkalinityMeqL)
        updateCarbonDerived()
        updateHydraulics(weather: weather)
    }

    /// Advances by `dt` seconds with the relays as `inputs`. A non-positive or non-finite `dt` changes nothing.
    ///
    /// Internally split into equal sub-steps of at most a minute. Each sub-step freezes the rates' coefficients at
    /// its midpoint and integrates the linear balances of DO, inorganic carbon, TAN and undigested feed exactly
    /// (exponential update), so it is stable for any aeration rate and accurate for dt from 0.1 s to 60 s.
    public mutating func step(dt: Double, inputs: Inputs) {
        guard dt > 0, dt.isFinite else { return }
        let running = min(max(inputs.aeratorsOn, 0), max(parameters.aerators, 0))
        aeratorsRunning = running
        aeratorEnergyKWh += Double(running) * parameters.aeratorKW * dt / 3600
        let substeps = dt > Self.maxSubstep ? Int((dt / Self.maxSubstep).rounded(.up)) : 1
        let h = dt / Double(substeps)
        var weather = gridPrevious
        for _ in 0..<substeps {
            weather = substep(h, aerators: running, exchange: inputs.exchange, feeding: inputs.feeding,
                              heater: inputs.heater, light: inputs.light)
        }
        updateHydraulics(weather: weather)
    }

    /// Zeroes the rain count (the sonde does this at local midnight).
    public mutating func resetRain() {
        rainMm = 0
    }

    /// The sonde's readings of the present state, with sensor noise drawn from `rng` (always ten normal deviates,
    /// so the caller's stream stays aligned). DO % saturation is derived from the measured DO at the water's
    /// temperature and salinity, and NH₃ from the measured TAN, pH and temperature, as the sonde computes them.
    public func reading(rng: inout SeededRandom) -> Reading {
        let n = parameters.noise
        let measuredDO = max(0, doMgL + n.doMgL * rng.gaussian())
        let measuredT = waterTempC + n.tempC * rng.gaussian()
        let measuredPH = pH + n.pH * rng.gaussian()
        let measuredS = max(0, salinityPpt + n.salinityPpt * rng.gaussian())
        let measuredTAN = max(0, tanMgL + n.tanMgL * rng.gaussian())
        let chl = max(0, chlUgL + n.chlUgL * rng.gaussian())
        let current = max(0, currentMps + n.currentMps * rng.gaussian())
        let wave = max(0, waveM + n.waveM * rng.gaussian())
        let wind = max(0, windMps + n.windMps * rng.gaussian())
        let pressure = pressureHPa + n.pressureHPa * rng.gaussian()
        let tip = n.rainResolutionMm
        let rain = tip > 0 ? (rainMm / tip + 1e-9).rounded(.down) * tip : rainMm
        return Reading(
            doMgL: measuredDO, doSatPct: 100 * measuredDO / saturationMgL, waterTempC: measuredT, pH: measuredPH,
            salinityPpt: measuredS, tanMgL: measuredTAN,
            nh3MgL: measuredTAN * AquaChemistry.unionisedAmmoniaFraction(pH: measuredPH, tempC: measuredT),
            chlUgL: chl, currentMps: current, waveM: wave, windMps: wind, pressureHPa: pressure, rainMm: rain)
    }

    // MARK: - Integration

    /// One sub-step of `h` seconds; returns the weather at its end.
    private mutating func substep(_ h: Double, aerators: Int, exchange: Bool, feeding: Bool, heater: Bool,
                                  light lampOn: Bool) -> WeatherPoint {
        let p = parameters
        let hours = h / 3600
        let mid = time + h / 2
        advanceGrid(to: mid)
        let weather = weatherAt(mid)

        // Temperature and saturation at the midpoint.
        let ex = exchange ? max(0, p.exchangePerHour) : 0
        let tempCurve = temperatureCurve(atSeconds: mid, offsetC: weather.tempOffsetC)
        let relax = p.heatRelaxHours > 0 ? 1 / p.heatRelaxHours : 0
        // The water's offset from the ambient curve: exchange mixes in inflow water, the heater adds heat, and both
        // relax back at the exchange rate plus 1/heatRelaxHours.
        let heating = heater && p.volumeM3 > 0 ? max(0, p.heaterKW) * 3600 / (p.volumeM3 * 1000 * 4.186) : 0
        heatOffsetC = Self.relax(heatOffsetC, source: ex * (p.inflowTempC - tempCurve) + heating,
                                 rate: ex + relax, hours: hours)
        let temp = tempCurve + heatOffsetC
        let saturation = AquaChemistry.oxygenSaturationMgL(tempC: temp, salinityPpt: salinityPpt)
            * weather.pressureHPa / Self.standardPressureHPa

        // Light: a half-sine between sunrise and sunset, scaled by the day's cloudiness.
        let absoluteHour = startHourOfDay + mid / 3600
        let today = Int((absoluteHour / 24).rounded(.down))
        sunToday = sun(day: today)
        let hour = absoluteHour - 24 * Double(today)
        let dayLength = p.sunsetHour - p.sunriseHour
        var light = 0.0
        if dayLength > 0, hour > p.sunriseHour, hour < p.sunsetHour {
            light = sunToday * Foundation.sin(Double.pi * (hour - p.sunriseHour) / dayLength)
        }
        let chlRatio = p.chlMeanUgL > 0 ? weather.chlUgL / p.chlMeanUgL : 0
        if lampOn { light += max(0, p.lampSun) }
        let production = max(0, p.photosynthesisNoonMgLPerHour) * light * chlRatio

        // Feed: thrown into a pool that digests first-order, releasing oxygen demand and TAN.
        let feedIn = feeding ? max(0, p.feedKgPerHour) : 0
        let poolBefore = undigestedFeedKg
        let digestion = p.feedDigestionHours > 0 ? 1 / p.feedDigestionHours : 1 / hours
        undigestedFeedKg = Self.relax(poolBefore, source: feedIn, rate: digestion, hours: hours)
        let digestedKg = max(0, poolBefore + feedIn * hours - undigestedFeedKg)
        // kg per m³ = g/L; × 1000 → mg/L, per hour of this sub-step.
        let perMgLPerHour = p.volumeM3 > 0 ? 1000 / (p.volumeM3 * hours) : 0
        let feedOxygenDemand = digestedKg * max(0, p.feedOxygenYield) * perMgLPerHour
        let feedTAN = digestedKg * max(0, p.feedTANYield) * perMgLPerHour

        // Dissolved oxygen: dC/dt = source − rate·C, integrated exactly with the rates frozen.
        let metabolic = Foundation.pow(p.q10, (temp - 20) / 10)
        let share = min(max(p.planktonRespirationShare, 0), 1)
        let respirationAmple = max(0, p.respirationAt20MgLPerHour) * (1 - share + share * chlRatio) * metabolic
            + feedOxygenDemand
        let c0 = doMgL
        let halfSat = max(1e-6, p.respirationHalfSaturationMgL)
        // Respiration × C/(C + K) as a rate on C evaluated with the sub-step's starting DO (never negative DO).
        let respirationRate = respirationAmple / (c0 + halfSat)
        let windOnWater = weather.windMps * max(0, p.exposure)
        let depth = max(p.depthM, 0.01)
        let surfaceK = (max(0, p.surfaceKLMPerHour) + max(0, p.surfaceKLWindMPerHour) * windOnWater * windOnWater)
            / depth
        let aerationK = Double(aerators) * max(0, p.aeratorKLaPerHour) * p.aeratorAlpha
            * Foundation.pow(1.024, temp - 20)
        let bubbleLimit = p.ebullitionThreshold * saturation
        let bubbleK = c0 > bubbleLimit ? max(0, p.ebullitionPerHour) : 0
        let gasK = surfaceK + aerationK
        let c1 = max(0, Self.relax(
            c0, source: production + gasK * saturation + ex * p.inflowDOMgL + bubbleK * bubbleLimit,
            rate: gasK + ex + respirationRate + bubbleK, hours: hours))
        doMgL = c1
        let respiration = respirationRate * 0.5 * (c0 + c1)
        photosynthesisMgLPerHour = production
        respirationMgLPerHour = respiration

        // Inorganic carbon: respiration adds CO₂, photosynthesis takes it, the surface and aerators strip or
        // absorb free CO₂ towards air equilibrium, exchange mixes in inflow water.
        let carbon = Carbonate(tempC: temp, salinityPpt: salinityPpt)
        let co2Fraction = carbon.co2Fraction(dic: dicMmolL, alkalinity: p.alkalinityMeqL)
        let co2Air = carbon.co2SolubilityMmolLPerAtm * p.co2AtmosphereUatm * 1e-6
        let co2K = Self.co2TransferRatio * gasK
        let buffer = max(0, p.carbonBufferPerHour)
        let airDIC = carbon.dic(co2: co2Air, alkalinity: p.alkalinityMeqL)
        dicMmolL = Self.relax(
            dicMmolL,
            source: (respiration - production) / Self.oxygenMgPerMmol + co2K * co2Air + ex * inflowDIC
                + buffer * airDIC,
            rate: co2K * co2Fraction + ex + buffer, hours: hours)
        // Below half the alkalinity no carbonate system can hold it: the pond would be at pH > 10.
        dicMmolL = max(dicMmolL, 0.51 * p.alkalinityMeqL)

        // Ammonia: excretion and digested feed in, nitrification/uptake and exchange out.
        let removal = max(0, p.ammoniaRemovalAt20PerHour) * Foundation.pow(p.ammoniaRemovalTheta, temp - 20)
        tanMgL = max(0, Self.relax(
            tanMgL, source: max(0, p.excretionAt20MgLPerHour) * metabolic + feedTAN + ex * p.inflowTANMgL,
            rate: removal + ex, hours: hours))

        // Salinity: exchange towards the inflow; rain dilutes and evaporation concentrates the layer of `depth`.
        let rain = cellRainMmPerS * h
        rainMm += rain
        let exposure = max(0, p.exposure)
        let evaporationMm = max(0, p.evaporationMmPerDay) * exposure * hours / 24
        let waterChange = (evaporationMm - rain * exposure) / 1000 / depth
        salinityPpt = Self.relax(salinityPpt, source: ex * p.inflowSalinityPpt, rate: ex, hours: hours)
        salinityPpt = max(0, salinityPpt / max(0.5, 1 - waterChange))

        time += h
        // State at the end of the sub-step.
        let end = weatherAt(time)
        chlUgL = end.chlUgL
        windMps = end.windMps
        pressureHPa = end.pressureHPa
        waterTempC = temperatureCurve(atSeconds: time, offsetC: end.tempOffsetC) + heatOffsetC
        updateCarbonDerived()
        return end
    }

    /// x after `hours` of dx/dt = source − rate·x with both held constant (exact; Euler when rate·hours is tiny).
    private static func relax(_ x: Double, source: Double, rate: Double, hours: Double) -> Double {
        let k = rate * hours
        if k < 1e-9 { return x + (source - rate * x) * hours }
        let decay = Foundation.exp(-k)
        return x * decay + source / rate * (1 - decay)
    }

    /// pH and free CO₂ from the inorganic carbon at the present temperature and salinity.
    private mutating func updateCarbonDerived() {
        let carbon = Carbonate(tempC: waterTempC, salinityPpt: salinityPpt)
        let hydrogen = carbon.hydrogenIon(dic: dicMmolL, alkalinity: parameters.alkalinityMeqL)
        pH = min(max(-Foundation.log10(hydrogen), 4), 11)
        co2MgL = dicMmolL * carbon.co2Fraction(hydrogen: hydrogen) * 44.01
    }

    /// Current and waves at the sonde from the wind reaching the water and the running aerators.
    private mutating func updateHydraulics(weather: WeatherPoint) {
        let p = parameters
        let wind = weather.windMps * max(0, p.exposure)
        let aerators = Double(aeratorsRunning)
        currentMps = max(0, p.currentPerWind) * wind + max(0, p.currentPerAeratorMps) * aerators
        // Fetch-limited significant wave height (SMB, shallow fetch): H ≈ 0.0016·U·√(F/g).
        waveM = 0.0016 * wind * (max(0, p.fetchM) / 9.81).squareRoot() + max(0, p.wavePerAeratorM) * aerators
    }

    // MARK: - Drivers

    /// Water temperature on the daily curve plus the slow wander `offsetC`, at plant time `seconds`.
    ///
    /// Each cycle runs from one coolest hour to the next: a half-cosine up to the warmest hour and a longer one
    /// back down, of twice the cycle's amplitude. The amplitude is the clear-day one scaled by 0.6 + 0.4 × the
    /// day's sun, and every cycle starts at the same minimum, so the curve is continuous.
    private func temperatureCurve(atSeconds seconds: Double, offsetC: Double) -> Double {
        let p = parameters
        let absoluteHour = startHourOfDay + seconds / 3600
        let sinceCoolest = absoluteHour - p.coolestHour
        let cycle = Int((sinceCoolest / 24).rounded(.down))
        let phase = sinceCoolest - 24 * Double(cycle)
        var rise = (p.warmestHour - p.coolestHour).truncatingRemainder(dividingBy: 24)
        if rise <= 0 { rise += 24 }
        let shape = phase < rise
            ? 0.5 * (1 - Foundation.cos(Double.pi * phase / rise))
            : 0.5 * (1 + Foundation.cos(Double.pi * (phase - rise) / (24 - rise)))
        let amplitude = p.waterTempAmplitudeC * (0.6 + 0.4 * sun(day: cycle))
        return p.waterTempMeanC - p.waterTempAmplitudeC + 2 * amplitude * shape + offsetC
    }

    /// The plant-time day number (0 is the day the plant started in) at `seconds`.
    private func day(atSeconds seconds: Double) -> Int {
        Int(((startHourOfDay + seconds / 3600) / 24).rounded(.down))
    }

    /// Daylight of day `day` as a fraction of full clear-sky sun: a function of the seed and the day alone.
    private func sun(day: Int) -> Double {
        let p = parameters
        var rng = SeededRandom(seed: daySeed &+ UInt64(bitPattern: Int64(day)) &* 0xD1B5_4A32_D192_ED03)
        let dull = rng.uniform() < p.dullDayChance
        let range = dull ? p.dullDaySun : p.clearDaySun
        return range.lowerBound + (range.upperBound - range.lowerBound) * rng.uniform()
    }

    /// Mean wind (without its random part) at plant time `seconds`: stronger in the afternoon.
    private func windBase(atSeconds seconds: Double) -> Double {
        let p = parameters
        let hour = (startHourOfDay + seconds / 3600).truncatingRemainder(dividingBy: 24)
        let daytime = hour > 8 && hour < 20 ? Foundation.sin(Double.pi * (hour - 8) / 12) : 0
        return p.windMeanMps + p.windDaytimeExtraMps * daytime
    }

    /// Moves the weather grid on until its current cell holds `seconds`.
    private mutating func advanceGrid(to seconds: Double) {
        while seconds >= Double(gridIndex + 1) * Self.gridSeconds {
            gridIndex += 1
            gridPrevious = gridNext
            gridNext = nextGridPoint()
        }
    }

    /// Draws the weather at grid point `gridIndex + 1` and the rain over the cell that ends there.
    /// Always draws six random numbers, so the stream never depends on the parameters.
    private mutating func nextGridPoint() -> WeatherPoint {
        let p = parameters
        let dt = Self.gridSeconds
        let at = Double(gridIndex + 1) * dt
        let wind = max(0, windBase(atSeconds: at) + windOU.step(dt: dt, rng: &weatherRng))
        let pressure = p.pressureMeanHPa + pressureOU.step(dt: dt, rng: &weatherRng)
        let chl = p.chlMeanUgL * Foundation.exp(chlOU.step(dt: dt, rng: &weatherRng))
        let temp = tempOU.step(dt: dt, rng: &weatherRng)
        // Showers arrive as a Poisson process; each falls at a steady rate for `rainEventHours`.
        let arrival = weatherRng.uniform()
        let depth = weatherRng.uniform()
        if showerLeftMm <= 0, arrival < max(0, p.rainEventsPerDay) * dt / 86400 {
            showerLeftMm = -max(0, p.rainMeanEventMm) * Foundation.log(1 - depth)
            showerMmPerS = showerLeftMm / max(p.rainEventHours * 3600, dt)
        }
        let fall = min(showerLeftMm, showerMmPerS * dt)
        showerLeftMm -= fall
        cellRainMmPerS = fall / dt
        return WeatherPoint(windMps: wind, pressureHPa: pressure, chlUgL: chl, tempOffsetC: temp)
    }

    /// The weather at `seconds`, which must lie in the grid's current cell (or at its end), by linear interpolation.
    private func weatherAt(_ seconds: Double) -> WeatherPoint {
        let f = min(max(seconds / Self.gridSeconds - Double(gridIndex), 0), 1)
        let a = gridPrevious
        let b = gridNext
        return WeatherPoint(
            windMps: a.windMps + (b.windMps - a.windMps) * f,
            pressureHPa: a.pressureHPa + (b.pressureHPa - a.pressureHPa) * f,
            chlUgL: a.chlUgL + (b.chlUgL - a.chlUgL) * f,
            tempOffsetC: a.tempOffsetC + (b.tempOffsetC - a.tempOffsetC) * f)
    }
}

extension PondPlant {
    /// The carbonate system of the water at one temperature and salinity (alkalinity from bicarbonate and carbonate
    /// only; hydroxide, borate and H⁺ are negligible between pH 6 and 9.5).
    ///
    /// K₁ and K₂ are Plummer and Busenberg's (1982) fresh-water constants, lowered by 0.0845·√S and 0.23·√S
    /// (a square-root interpolation to their seawater values at 25 °C); CO₂ solubility is Weiss (1974).
    struct Carbonate {
        let k1: Double
        let k2: Double
        /// Solubility of CO₂, mmol/L per atm.
        let co2SolubilityMmolLPerAtm: Double

        init(tempC: Double, salinityPpt: Double) {
            let t = tempC + 273.15
            let log10T = Foundation.log10(t)
            let rootS = max(0, salinityPpt).squareRoot()
            let log10K1 = -356.3094 - 0.06091964 * t + 21834.37 / t + 126.8339 * log10T - 1_684_915 / (t * t)
            let log10K2 = -107.8871 - 0.03252849 * t + 5151.79 / t + 38.92561 * log10T - 563_713.9 / (t * t)
            k1 = Foundation.pow(10, log10K1 + 0.0845 * rootS)
            k2 = Foundation.pow(10, log10K2 + 0.23 * rootS)
            let t100 = t / 100
            let lnK0 = -60.2409 + 93.4517 / t100 + 23.3585 * Foundation.log(t100)
                + max(0, salinityPpt) * (0.023517 - 0.023656 * t100 + 0.0047036 * t100 * t100)
            co2SolubilityMmolLPerAtm = 1000 * Foundation.exp(lnK0)
        }

        /// [H⁺], mol/L, that holds `alkalinity` (meq/L) with `dic` (mmol/L): the positive root of
        /// A·h² + (A − D)·K₁·h + (A − 2D)·K₁K₂ = 0.
        func hydrogenIon(dic: Double, alkalinity: Double) -> Double {
            let a = max(alkalinity, 1e-9)
            let d = max(dic, 0.5 * a + 1e-12)
            let b = (a - d) * k1
            let c = (2 * d - a) * k1 * k2  // the constant term is −c, with c > 0
            let root = (b * b + 4 * a * c).squareRoot()
            // Two forms of the same root, each free of cancellation on its side of b = 0.
            return b < 0 ? (root - b) / (2 * a) : 2 * c / (b + root)
        }

        /// Share of the inorganic carbon that is free CO₂ at [H⁺] = `hydrogen`.
        func co2Fraction(hydrogen h: Double) -> Double {
            h * h / (h * h + k1 * h + k1 * k2)
        }

        /// Share of `dic` that is free CO₂ at this alkalinity.
        func co2Fraction(dic: Double, alkalinity: Double) -> Double {
            co2Fraction(hydrogen: hydrogenIon(dic: dic, alkalinity: alkalinity))
        }

        /// Inorganic carbon, mmol/L, in which `co2` mmol/L of free CO₂ holds `alkalinity` (meq/L): the positive root
    /// of A·h² − K₁·c·h − 2K₁K₂·c = 0 for [H⁺] (with A = alkalinity, c = CO₂), then c·(1 + K₁/h + K₁K₂/h²).
    func dic(co2: Double, alkalinity: Double) -> Double {
        let a = max(alkalinity, 1e-9)
        let c = max(co2, 1e-12)
        let b = k1 * c
        let h = (b + (b * b + 8 * a * k1 * k2 * c).squareRoot()) / (2 * a)
        return c * (1 + k1 / h + k1 * k2 / (h * h))
    }

    /// Inorganic carbon, mmol/L, that gives `pH` at `alkalinity` (meq/L).
        func dic(pH: Double, alkalinity: Double) -> Double {
            let h = Foundation.pow(10, -pH)
            let denominator = h * h + k1 * h + k1 * k2
            let bicarbonate = k1 * h / denominator
            let carbonate = k1 * k2 / denominator
            return alkalinity / (bicarbonate + 2 * carbonate)
        }
    }
}
