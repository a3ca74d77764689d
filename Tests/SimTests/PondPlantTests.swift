import Devices
import Testing
@testable import Sim
import SimServe
import DeviceTransports
import Locking

/// Physics, calibration and determinism of the pond / nursery-tank plant behind the aquaculture sonde
/// (docs/register-contract.md §B).
@Suite struct PondPlantTests {
    typealias Plant = PondPlant
    typealias Inputs = PondPlant.Inputs

    /// Seeds the calibration runs must hold for.
    static let seeds: [UInt64] = [1, 2, 3, 4, 5]
    /// Step of the week-long runs, s (the host samples every 10 s; results match 1 s steps, see the stability test).
    static let weekDt = 10.0

    /// The host's aeration rule (docs/register-contract.md §B): all aerators on when the measured DO is below 4.0 mg/L,
    /// off above
    /// 5.5 mg/L, but never before they have run 15 minutes.
    struct AerationRule {
        let onBelow = 4.0
        let offAbove = 5.5
        let minimumRun = 900.0
        private(set) var on = false
        private(set) var onSince = 0.0
        /// Lengths of the completed runs, s.
        private(set) var runs: [Double] = []

        mutating func decide(measuredDO: Double, now: Double) -> Bool {
            if !on, measuredDO < onBelow {
                on = true
                onSince = now
            } else if on, measuredDO > offAbove, now - onSince >= minimumRun {
                on = false
                runs.append(now - onSince)
            }
            return on
        }
    }

    /// One week of a plant sampled after every step.
    struct Trace {
        var time: [Double] = []
        var hour: [Double] = []
        var doMgL: [Double] = []
        var saturation: [Double] = []
        var tempC: [Double] = []
        var pH: [Double] = []
        var nh3: [Double] = []
        var sun: [Double] = []

        mutating func record(_ plant: Plant) {
            time.append(plant.time)
            hour.append(plant.hourOfDay)
            doMgL.append(plant.doMgL)
            saturation.append(plant.saturationMgL)
            tempC.append(plant.waterTempC)
            pH.append(plant.pH)
            nh3.append(plant.nh3MgL)
            sun.append(plant.sunToday)
        }

        /// Sample indices with plant time in [from, to) hours (sample i is taken at (i + 1)·weekDt).
        func indices(fromHour from: Double, toHour to: Double) -> Range<Int> {
            let dt = PondPlantTests.weekDt
            let lower = min(max(Int((from * 3600 / dt).rounded(.up)) - 1, 0), time.count)
            let upper = min(max(Int((to * 3600 / dt).rounded(.up)) - 1, lower), time.count)
            return lower..<upper
        }

        /// Index of the sample nearest plant time `hours`.
        func index(atHour hours: Double) -> Int {
            min(max(Int((hours * 3600 / PondPlantTests.weekDt).rounded()) - 1, 0), time.count - 1)
        }
    }

    /// Seven days of the pond from midnight with constant relays, recorded every step.
    static func week(seed: UInt64, inputs: Inputs = Inputs(), parameters: Plant.Parameters = .pond) -> Trace {
        var plant = Plant(parameters: parameters, seed: seed, startHourOfDay: 0)
        var trace = Trace()
        for _ in 0..<Int(7 * 86400 / weekDt) {
            plant.step(dt: weekDt, inputs: inputs)
            trace.record(plant)
        }
        return trace
    }

    /// Steps `plant` for `hours` with constant relays.
    static func run(_ plant: inout Plant, hours: Double, dt: Double, inputs: Inputs = Inputs()) {
        for _ in 0..<Int((hours * 3600 / dt).rounded()) { plant.step(dt: dt, inputs: inputs) }
    }

    /// Every observable true value as raw bit patterns, so comparisons are bit-exact.
    static func snapshot(_ plant: Plant) -> [UInt64] {
        let values: [Double] = [
            plant.time, plant.doMgL, plant.waterTempC, plant.pH, plant.dicMmolL, plant.co2MgL, plant.salinityPpt,
            plant.tanMgL, plant.chlUgL, plant.windMps, plant.pressureHPa, plant.rainMm, plant.currentMps, plant.waveM,
            plant.sunToday, plant.undigestedFeedKg, plant.aeratorEnergyKWh,
        ]
        return values.map(\.bitPattern)
    }

    // MARK: - Calibration (docs/register-contract.md §B acceptance)

    @Test(arguments: seeds) func hostAerationRuleKeepsThePondAboveThreeMgL(seed: UInt64) {
        let p = Plant.Parameters.pond
        var plant = Plant(parameters: p, seed: seed, startHourOfDay: 0)
        var sensors = SeededRandom(seed: seed ^ 0x50DE)
        var rule = AerationRule()
        var lowest = Double.infinity
        var aeratedSeconds = 0.0
        for _ in 0..<Int(7 * 86400 / Self.weekDt) {
            let on = rule.decide(measuredDO: plant.reading(rng: &sensors).doMgL, now: plant.time)
            plant.step(dt: Self.weekDt, inputs: Inputs(aeratorsOn: on ? p.aerators : 0))
            lowest = min(lowest, plant.doMgL)
            if on { aeratedSeconds += Self.weekDt }
        }
        #expect(lowest > 3.0, "seed \(seed): true DO fell to \(lowest) mg/L")
        // The rule had work to do every night, and never cut a run short of its 15 minutes.
        #expect(aeratedSeconds > 7 * 3 * 3600)
        #expect(rule.runs.count >= 7)
        #expect(rule.runs.allSatisfy { $0 >= 900 })
        let expectedKWh = aeratedSeconds / 3600 * Double(p.aerators) * p.aeratorKW
        #expect(abs(plant.aeratorEnergyKWh - expectedKWh) < 1e-6 * expectedKWh)
    }

    @Test(arguments: seeds) func unaeratedNightsFallBelowThreeMgLBeforeDawn(seed: UInt64) {
        let p = Plant.Parameters.pond
        let trace = Self.week(seed: seed)
        var crashedNights = 0
        for night in 0..<7 {
            // Before dawn: from midnight to an hour after sunrise.
            let dawn = trace.indices(fromHour: Double(night) * 24, toHour: Double(night) * 24 + p.sunriseHour + 1)
            if dawn.contains(where: { trace.doMgL[$0] < 3.0 }) { crashedNights += 1 }
            // The night's minimum (noon to noon) comes after midnight and by two hours after sunrise.
            let window = trace.indices(fromHour: Double(night) * 24 - 12, toHour: Double(night) * 24 + 12)
            let lowest = window.min { trace.doMgL[$0] < trace.doMgL[$1] }!
            let hour = trace.hour[lowest]
            #expect(hour >= 0 && hour <= p.sunriseHour + 2, "seed \(seed) night \(night): minimum at \(hour) h")
            #expect(trace.time[lowest] >= Double(night) * 86400)
        }
        #expect(crashedNights >= 3, "seed \(seed): only \(crashedNights) nights below 3 mg/L")
    }

    @Test(arguments: seeds) func dailyCyclesOfOxygenTemperatureAndPH(seed: UInt64) {
        let p = Plant.Parameters.pond
        let trace = Self.week(seed: seed)
        var clearDays = 0
        var pHRisesOverTheDay = 0
        var ammoniaAfternoons = 0
        for day in 0..<7 {
            let base = Double(day) * 24
            let whole = trace.indices(fromHour: base, toHour: base + 24)
            let afternoon = trace.indices(fromHour: base + 12, toHour: base + 18)
            // Clear afternoons supersaturate.
            let sun = trace.sun[trace.index(atHour: base + 12)]
            if sun >= p.clearDaySun.lowerBound {
                clearDays += 1
                let peak = afternoon.map { trace.doMgL[$0] / trace.saturation[$0] }.max()!
                #expect(peak > 1.0, "seed \(seed) day \(day) (sun \(sun)): afternoon peak \(100 * peak) %")
            }
            // Water temperature: 2.4 ± 0.8 °C a day, coolest around dawn, warmest in the afternoon.
            let coolest = whole.min { trace.tempC[$0] < trace.tempC[$1] }!
            let warmest = whole.max { trace.tempC[$0] < trace.tempC[$1] }!
            let swing = trace.tempC[warmest] - trace.tempC[coolest]
            #expect(swing >= 1.6 && swing <= 3.2, "seed \(seed) day \(day): swing \(swing) °C")
            #expect(trace.hour[coolest] >= 4 && trace.hour[coolest] <= 9)
            #expect(trace.hour[warmest] >= 13 && trace.hour[warmest] <= 19)
            if trace.pH[trace.index(atHour: base + 5)] < trace.pH[trace.index(atHour: base + 17)] {
                pHRisesOverTheDay += 1
            }
            if afternoon.contains(where: { trace.nh3[$0] > 0.05 }) { ammoniaAfternoons += 1 }
        }
        #expect(clearDays >= 1)
        #expect(pHRisesOverTheDay >= 5, "seed \(seed): pH higher at 17:00 than 05:00 on \(pHRisesOverTheDay) days")
        // NH₃ crosses the host's exchange limit on some afternoons, so the exchange rule has something to do.
        #expect(ammoniaAfternoons >= 1)
        // Physical ranges: the pond's pH band, and DO never near the host's 1.5 × saturation plausibility limit.
        #expect(trace.pH.min()! > 7.0 && trace.pH.max()! < 9.3)
        #expect(zip(trace.doMgL, trace.saturation).allSatisfy { $0 < 1.45 * $1 })
        #expect(trace.doMgL.allSatisfy { $0 >= 0 })
    }

    @Test func saturationIsBensonKrauseAndReadingsDeriveFromIt() {
        var plant = Plant(parameters: .pond, seed: 7, startHourOfDay: 14)
        Self.run(&plant, hours: 30, dt: 10)
        let expected = AquaChemistry.oxygenSaturationMgL(tempC: plant.waterTempC, salinityPpt: plant.salinityPpt)
        #expect(plant.saturationMgL == expected)
        #expect(abs(plant.localSaturationMgL - expected * plant.pressureHPa / 1013.25) < 1e-12)
        #expect(abs(plant.doSatPct - 100 * plant.doMgL / plant.saturationMgL) < 1e-9)
        var rng = SeededRandom(seed: 3)
        for _ in 0..<200 {
            let r = plant.reading(rng: &rng)
            // % saturation is the measured DO over Benson–Krause at the water's temperature and salinity …
            #expect(abs(r.doSatPct - 100 * r.doMgL / plant.saturationMgL) < 1e-9)
            // … so it agrees with the true DO within the DO sensor's noise (5 σ = 0.25 mg/L).
            #expect(abs(r.doSatPct - 100 * plant.doMgL / plant.saturationMgL) < 100 * 0.25 / plant.saturationMgL)
            let fraction = AquaChemistry.unionisedAmmoniaFraction(pH: r.pH, tempC: r.waterTempC)
            #expect(abs(r.nh3MgL - r.tanMgL * fraction) < 1e-12)
            #expect(r.values.count == 13)
            #expect(r.values[0] == r.doMgL && r.values[6] == r.nh3MgL && r.values[12] == r.rainMm)
        }
        // Without noise the sonde reads the true state.
        var quiet = Plant.Parameters.pond
        quiet.noise = .none
        var exact = Plant(parameters: quiet, seed: 7, startHourOfDay: 14)
        Self.run(&exact, hours: 30, dt: 10)
        let r = exact.reading(rng: &rng)
        #expect(r.doMgL == exact.doMgL && r.waterTempC == exact.waterTempC && r.pH == exact.pH)
        #expect(abs(r.nh3MgL - exact.nh3MgL) < 1e-15)
        #expect(r.salinityPpt == exact.salinityPpt && r.tanMgL == exact.tanMgL && r.chlUgL == exact.chlUgL)
        #expect(r.windMps == exact.windMps && r.pressureHPa == exact.pressureHPa && r.rainMm == exact.rainMm)
    }

    @Test func sensorNoiseHasTheConfiguredSpread() {
        let plant = Plant(parameters: .pond, seed: 1)
        var rng = SeededRandom(seed: 11)
        let n = 4000
        var sumSq = 0.0
        var sumSqT = 0.0
        for _ in 0..<n {
            let r = plant.reading(rng: &rng)
            sumSq += (r.doMgL - plant.doMgL) * (r.doMgL - plant.doMgL)
            sumSqT += (r.waterTempC - plant.waterTempC) * (r.waterTempC - plant.waterTempC)
        }
        let sigmaDO = (sumSq / Double(n)).squareRoot()
        let sigmaT = (sumSqT / Double(n)).squareRoot()
        #expect(abs(sigmaDO - 0.05) < 0.005)
        #expect(abs(sigmaT - 0.02) < 0.002)
    }

    // MARK: - Determinism and integration

    @Test func sameSeedAndInputsGiveIdenticalState() {
        var a = Plant(parameters: .pond, seed: 42, startHourOfDay: 3)
        var b = Plant(parameters: .pond, seed: 42, startHourOfDay: 3)
        var c = Plant(parameters: .pond, seed: 43, startHourOfDay: 3)
        for i in 0..<8640 {
            let inputs = Inputs(aeratorsOn: (i / 500) % 3, exchange: i % 1000 < 300, feeding: i % 2000 < 60)
            a.step(dt: 10, inputs: inputs)
            b.step(dt: 10, inputs: inputs)
            c.step(dt: 10, inputs: inputs)
        }
        #expect(Self.snapshot(a) == Self.snapshot(b))
        var ra = SeededRandom(seed: 5)
        var rb = SeededRandom(seed: 5)
        #expect(a.reading(rng: &ra) == b.reading(rng: &rb))
        // Another seed gives other weather, cloudiness and so other water.
        #expect(a.windMps != c.windMps)
        #expect(a.pressureHPa != c.pressureHPa)
        #expect(a.doMgL != c.doMgL)
    }

    @Test func largeAndSmallStepsAgree() {
        // Also a tank with absurdly strong blowers (k_La·dt ≈ 5 at 60 s), where an explicit step would blow up.
        var stiff = Plant.Parameters.nursery
        stiff.aeratorKLaPerHour = 300
        let cases: [(Plant.Parameters, Inputs)] = [
            (.pond, Inputs()), (.pond, Inputs(aeratorsOn: 2, exchange: true, feeding: true)),
            (.nursery, Inputs(aeratorsOn: 2)), (.nursery, Inputs(aeratorsOn: 1)), (.nursery, Inputs()),
            (stiff, Inputs(aeratorsOn: 2)),
        ]
        for (parameters, inputs) in cases {
            var coarse = Plant(parameters: parameters, seed: 9)
            var fine = Plant(parameters: parameters, seed: 9)
            var hourly = Plant(parameters: parameters, seed: 9)
            var worst = 0.0
            var bounded = true
            for minute in 0..<(24 * 60) {
                coarse.step(dt: 60, inputs: inputs)
                for _ in 0..<60 { fine.step(dt: 1, inputs: inputs) }
                if minute % 60 == 59 { hourly.step(dt: 3600, inputs: inputs) }
                bounded = bounded && coarse.doMgL.isFinite && coarse.doMgL >= 0
                    && coarse.doMgL < 1.5 * coarse.saturationMgL
                worst = max(worst, abs(coarse.doMgL - fine.doMgL))
            }
            #expect(bounded)
            #expect(worst < 0.3, "\(inputs): DO differs by \(worst) mg/L between 60 s and 1 s steps")
            // An hour-long step is cut into minute sub-steps, so it lands where sixty minute steps do.
            #expect(abs(hourly.doMgL - coarse.doMgL) < 1e-9 && abs(hourly.pH - coarse.pH) < 1e-9)
            #expect(abs(coarse.pH - fine.pH) < 0.05)
            #expect(abs(coarse.tanMgL - fine.tanMgL) < 0.01)
            // The weather does not depend on the step size (rain only by the rounding of its sum).
            #expect(coarse.windMps == fine.windMps && coarse.pressureHPa == fine.pressureHPa)
            #expect(abs(coarse.rainMm - fine.rainMm) < 1e-9)
        }
        // Tenth-of-a-second steps (an hour of them) agree with one-minute steps too.
        var tiny = Plant(parameters: .nursery, seed: 4)
        var big = Plant(parameters: .nursery, seed: 4)
        Self.run(&tiny, hours: 1, dt: 0.1, inputs: Inputs(aeratorsOn: 2))
        Self.run(&big, hours: 1, dt: 60, inputs: Inputs(aeratorsOn: 2))
        #expect(abs(tiny.doMgL - big.doMgL) < 0.05)
        #expect(abs(tiny.time - 3600) < 1e-6)
    }

    @Test func respirationDoublesWithTenDegreesAndSlowsAtLowOxygen() {
        /// Respiration at midnight (no light, no feed) in a pond held at `tempC` with DO at `saturation`.
        func respiration(tempC: Double, saturation: Double) -> (rate: Double, doMgL: Double) {
            var p = Plant.Parameters.pond
            p.waterTempMeanC = tempC
            p.waterTempAmplitudeC = 0
            p.waterTempSigmaC = 0
            p.chlLogSigma = 0
            p.initialDOSaturation = saturation
            var plant = Plant(parameters: p, seed: 1)
            plant.step(dt: 1, inputs: Inputs())
            return (plant.respirationMgLPerHour, plant.doMgL)
        }
        let k = Plant.Parameters.pond.respirationHalfSaturationMgL
        let cool = respiration(tempC: 20, saturation: 1)
        let warm = respiration(tempC: 30, saturation: 1)
        // Q₁₀ = 2, once the DO limitation C/(C + K) is divided out.
        let ratio = (warm.rate / (warm.doMgL / (warm.doMgL + k))) / (cool.rate / (cool.doMgL / (cool.doMgL + k)))
        #expect(abs(ratio - 2) < 0.01, "Q10 ratio \(ratio)")
        #expect(abs(cool.rate / (cool.doMgL / (cool.doMgL + k)) - Plant.Parameters.pond.respirationAt20MgLPerHour)
            < 0.01)
        // Fish and sediment breathe less in nearly anoxic water.
        let starved = respiration(tempC: 28, saturation: 0.05)
        let ample = respiration(tempC: 28, saturation: 1)
        #expect(starved.rate < 0.5 * ample.rate)
    }

    @Test func nonPositiveOrNonFiniteDtChangesNothing() {
        var plant = Plant(parameters: .pond, seed: 1)
        Self.run(&plant, hours: 1, dt: 10)
        let before = Self.snapshot(plant)
        for dt in [0, -1, Double.nan, Double.infinity] {
            plant.step(dt: dt, inputs: Inputs(aeratorsOn: 2))
        }
        #expect(Self.snapshot(plant) == before)
    }

    // MARK: - Relays

    @Test func exchangeDilutesAmmonia() {
        let p = Plant.Parameters.pond
        var still = Plant(parameters: p, seed: 2)
        Self.run(&still, hours: 12, dt: 10)
        var exchanged = still
        Self.run(&still, hours: 4, dt: 10)
        Self.run(&exchanged, hours: 4, dt: 10, inputs: Inputs(exchange: true))
        #expect(exchanged.tanMgL < still.tanMgL - 0.02)
        #expect(exchanged.nh3MgL < 0.9 * still.nh3MgL)
        // Salinity moves towards the inflow's.
        #expect(abs(exchanged.salinityPpt - p.inflowSalinityPpt) < abs(still.salinityPpt - p.inflowSalinityPpt))
    }

    @Test func feedingRaisesAmmoniaAndOxygenDemand() {
        var plain = Plant(parameters: .pond, seed: 3)
        Self.run(&plain, hours: 7, dt: 10)
        var fed = plain
        Self.run(&fed, hours: 0.5, dt: 10, inputs: Inputs(feeding: true))
        // 50 kg thrown in half an hour, digesting with a 3 h time constant: about 46 kg still undigested.
        #expect(fed.undigestedFeedKg > 40 && fed.undigestedFeedKg < 50)
        Self.run(&plain, hours: 0.5, dt: 10)
        Self.run(&fed, hours: 3, dt: 10)
        Self.run(&plain, hours: 3, dt: 10)
        #expect(fed.tanMgL > plain.tanMgL + 0.02)
        #expect(fed.doMgL < plain.doMgL - 0.1)
        #expect(fed.respirationMgLPerHour > plain.respirationMgLPerHour)
    }

    @Test func aeratorsAreClampedAndMeteredAndStirTheWater() {
        let p = Plant.Parameters.pond
        var many = Plant(parameters: p, seed: 1)
        var two = Plant(parameters: p, seed: 1)
        var none = Plant(parameters: p, seed: 1)
        var negative = Plant(parameters: p, seed: 1)
        Self.run(&many, hours: 3, dt: 10, inputs: Inputs(aeratorsOn: 7))
        Self.run(&two, hours: 3, dt: 10, inputs: Inputs(aeratorsOn: 2))
        Self.run(&none, hours: 3, dt: 10)
        Self.run(&negative, hours: 3, dt: 10, inputs: Inputs(aeratorsOn: -3))
        #expect(Self.snapshot(many) == Self.snapshot(two))
        #expect(Self.snapshot(negative) == Self.snapshot(none))
        #expect(two.aeratorsRunning == 2)
        #expect(abs(two.aeratorEnergyKWh - 3 * 2 * p.aeratorKW) < 1e-9)
        #expect(none.aeratorEnergyKWh == 0)
        #expect(two.doMgL > none.doMgL + 0.3)
        #expect(two.currentMps > none.currentMps + 0.1)
        // Aeration strips CO₂, so the aerated water is the more alkaline.
        #expect(two.pH > none.pH)
    }

    // MARK: - Nursery tank

    @Test func nurseryCrashesWithoutAirAndHoldsWithBothBlowers() {
        for seed in Self.seeds {
            var still = Plant(parameters: .nursery, seed: seed)
            #expect(abs(still.doMgL - still.localSaturationMgL) < 1e-9)
            var crashedAt: Double?
            while still.time < 2 * 3600 && crashedAt == nil {
                still.step(dt: 10, inputs: Inputs())
                if still.doMgL < 3 { crashedAt = still.time }
            }
            #expect(crashedAt != nil, "seed \(seed): DO still \(still.doMgL) mg/L after 2 h without air")

            var blown = Plant(parameters: .nursery, seed: seed)
            var lowest = Double.infinity
            var coolest = Double.infinity
            var warmest = -Double.infinity
            for _ in 0..<8640 {
                blown.step(dt: 10, inputs: Inputs(aeratorsOn: 2))
                lowest = min(lowest, blown.doMgL)
                coolest = min(coolest, blown.waterTempC)
                warmest = max(warmest, blown.waterTempC)
            }
            #expect(lowest > 5.0)
            // A heated hall: 26 °C with a small daily swing; the tank has no photosynthesis to speak of.
            #expect(coolest > 25.3 && warmest < 26.7 && warmest - coolest < 0.8)
            #expect(blown.waveM < 0.01)
        }
    }

    // MARK: - Drivers, clock, presets

    @Test func weatherDriversStayPhysicalAndRainCountsUntilReset() {
        var plant = Plant(parameters: .pond, seed: 1)
        var dayWind = 0.0
        var nightWind = 0.0
        var samples = 0
        var rained = false
        for i in 0..<Int(7 * 86400 / 60) {
            plant.step(dt: 60, inputs: Inputs())
            #expect(plant.windMps >= 0 && plant.pressureHPa > 970 && plant.pressureHPa < 1050)
            #expect(plant.chlUgL > 0 && plant.salinityPpt > 0 && plant.tanMgL >= 0)
            let hour = plant.hourOfDay
            if hour >= 12 && hour < 16 { dayWind += plant.windMps; samples += 1 }
            if hour >= 0 && hour < 4 { nightWind += plant.windMps }
            if i % 1440 == 1439 {
                if plant.rainMm > 0 { rained = true }
                plant.resetRain()
                #expect(plant.rainMm == 0)
            }
        }
        #expect(dayWind > nightWind * 1.2, "afternoons are windier")
        #expect(samples > 0)
        #expect(rained, "showers fall in a week with seed 1")
        var rng = SeededRandom(seed: 1)
        // The gauge reads whole 0.2 mm tips.
        let tips = plant.reading(rng: &rng).rainMm / 0.2
        #expect(abs(tips - tips.rounded()) < 1e-9)
    }

    @Test func hourOfDayFollowsTheStartHour() {
        var plant = Plant(parameters: .pond, seed: 1, startHourOfDay: 18)
        #expect(plant.hourOfDay == 18)
        Self.run(&plant, hours: 8, dt: 60)
        #expect(abs(plant.hourOfDay - 2) < 1e-9)
        // Dark at 02:00: no photosynthesis.
        #expect(plant.photosynthesisMgLPerHour == 0)
        Self.run(&plant, hours: 10, dt: 60)
        #expect(plant.photosynthesisMgLPerHour > 0)
    }

    @Test func presetsByName() throws {
        #expect(Plant.Parameters.presetNames == ["pond", "nursery"])
        for name in Plant.Parameters.presetNames {
            #expect(Plant.Parameters.preset(named: name) != nil)
        }
        #expect(Plant.Parameters.preset(named: "pond") == .pond)
        #expect(Plant.Parameters.preset(named: "nursery") == .nursery)
        #expect(Plant.Parameters.preset(named: "lake") == nil)
        let pond = try #require(Plant.Parameters.preset(named: "pond"))
        #expect(pond.volumeM3 == 10_000 && pond.aerators == 2 && pond.aeratorKW == 4)
        #expect(abs(pond.aeratorKLaPerHour - 0.11) < 1e-12)
    }

    /// A day of 1 s steps ends on time (the speed is bench/run's, not a test's).
    @Test func oneSecondStepsRunADay() {
        var plant = Plant(parameters: .pond, seed: 1)
        for _ in 0..<86400 { plant.step(dt: 1, inputs: Inputs(aeratorsOn: 1)) }
        #expect(plant.time == 86400)
    }
}
