import Foundation
import Testing
@testable import Control
@testable import Sim
import SimServe
import DeviceTransports
import Locking

/// Hydrology, calibration against the Rock Creek paper, and determinism of the stream plant behind the water-quality
/// station (docs/register-contract.md §D).
@Suite struct StreamPlantTests {
    typealias Plant = StreamPlant

    /// Seeds the calibration runs must hold for.
    static let seeds: [UInt64] = [1, 2, 3]
    /// Step of the two-year runs, s (the firmware steps every 1–60 s; results match other steps, see below).
    static let dt = 60.0
    static let stepsPerHour = 60
    static let stepsPerYear = 365 * 24 * 60

    /// Figures of one year of a run.
    struct Year: Sendable {
        var rainMm = 0.0
        var storms = 0
        /// Storm hydrographs above 4 m³/s: upcrossings of 4 m³/s, counted again only after falling below 3 m³/s.
        var peaksAbove4 = 0
        var minDischarge = Double.infinity
        var maxDischarge = 0.0
        var minSlowFlow = Double.infinity
        /// Arithmetic means over every step (no3, srp, tp), mg/L.
        var mean: [Double] = [0, 0, 0]
        /// Flow-weighted means Σ C·Q / Σ Q over every step (no3, srp, tp), mg/L.
        var fwmc: [Double] = [0, 0, 0]
    }

    /// Figures of a two-year run at one-minute steps from 1 January.
    struct Run: Sendable {
        var years: [Year] = []
        /// Pearson r of log C on log Q over hourly samples of both years (no3, srp, tp).
        var logR: [Double] = [0, 0, 0]
        /// Steps without any rain (after one without rain), and how many of them saw discharge rise.
        var recessionSteps = 0
        var recessionRises = 0
        /// Largest relative fall of discharge in one rainless step.
        var largestRecessionFall = 0.0
        /// Largest relative mismatch of Q = a(h − h₀)^b over the hourly samples.
        var ratingError = 0.0
        /// Σ rainMmH·dt/3600 against the plant's own rain count, mm.
        var rainFromIntensities = 0.0
        var rainTotal = 0.0
        /// Means by the paper's seasons (calendar quarters) over both years: discharge, nitrate, water temperature.
        var seasonalDischarge: [Season: Double] = [:]
        var seasonalNo3: [Season: Double] = [:]
        var seasonalTemp: [Season: Double] = [:]
        /// Standard deviation of the one-minute change of log₁₀ TP in rainless steps, and the one-hour lag
        /// autocorrelation of log TP's residual about its C–Q line.
        var minuteChangeSD = 0.0
        var hourLagAutocorrelation = 0.0
    }

    static func pearson(_ x: [Double], _ y: [Double]) -> Double {
        let n = Double(x.count)
        let mx = x.reduce(0, +) / n
        let my = y.reduce(0, +) / n
        var sxy = 0.0
        var sxx = 0.0
        var syy = 0.0
        for i in x.indices {
            sxy += (x[i] - mx) * (y[i] - my)
            sxx += (x[i] - mx) * (x[i] - mx)
            syy += (y[i] - my) * (y[i] - my)
        }
        return sxy / (sxx * syy).squareRoot()
    }

    static func run(seed: UInt64) -> Run {
        var plant = Plant(parameters: .standard, seed: seed)
        let p = plant.parameters
        var result = Run()
        var logQ: [Double] = []
        var logC: [[Double]] = [[], [], []]
        var seasonSums: [Season: (q: Double, no3: Double, temp: Double, n: Int)] = [:]
        var changeSum = 0.0
        var changeSquares = 0.0
        var changes = 0
        var previousRain = 1.0
        for _ in 0..<2 {
            var year = Year()
            var sums = [0.0, 0, 0]
            var loads = [0.0, 0, 0]
            var flow = 0.0
            var above = false
            let rain0 = plant.rainTotalMm
            let storms0 = plant.stormsStarted
            for i in 0..<stepsPerYear {
                let before = plant.dischargeM3s
                let tpBefore = plant.tpMgL
                plant.step(dt: dt)
                let q = plant.dischargeM3s
                let c = [plant.no3MgL, plant.srpMgL, plant.tpMgL]
                for k in 0..<3 {
                    sums[k] += c[k]
                    loads[k] += c[k] * q
                }
                flow += q
                year.minDischarge = min(year.minDischarge, q)
                year.maxDischarge = max(year.maxDischarge, q)
                year.minSlowFlow = min(year.minSlowFlow, plant.slowFlowM3s)
                if !above, q > 4 {
                    above = true
                    year.peaksAbove4 += 1
                } else if above, q < 3 {
                    above = false
                }
                result.rainFromIntensities += plant.rainMmH * dt / 3600
                if plant.rainMmH == 0, previousRain == 0 {
                    result.recessionSteps += 1
                    if q > before { result.recessionRises += 1 }
                    result.largestRecessionFall = max(result.largestRecessionFall, (before - q) / before)
                    let change = Foundation.log10(plant.tpMgL / tpBefore)
                    changeSum += change
                    changeSquares += change * change
                    changes += 1
                }
                previousRain = plant.rainMmH
                if (i + 1) % stepsPerHour == 0 {
                    logQ.append(Foundation.log10(q))
                    for k in 0..<3 { logC[k].append(Foundation.log10(c[k])) }
                    let rated = p.ratingA * Foundation.pow(plant.stageM - p.ratingH0M, p.ratingB)
                    result.ratingError = max(result.ratingError, abs(rated - q) / q)
                    let season = Season.of(dayOfYear: plant.dayOfYear, convention: .quarters)
                    var s = seasonSums[season] ?? (0, 0, 0, 0)
                    s.q += q
                    s.no3 += plant.no3MgL
                    s.temp += plant.waterTempC
                    s.n += 1
                    seasonSums[season] = s
                }
            }
            let n = Double(stepsPerYear)
            year.mean = sums.map { $0 / n }
            year.fwmc = loads.map { $0 / flow }
            year.rainMm = plant.rainTotalMm - rain0
            year.storms = plant.stormsStarted - storms0
            result.years.append(year)
        }
        result.logR = logC.map { pearson(logQ, $0) }
        result.rainTotal = plant.rainTotalMm
        for (season, s) in seasonSums {
            result.seasonalDischarge[season] = s.q / Double(s.n)
            result.seasonalNo3[season] = s.no3 / Double(s.n)
            result.seasonalTemp[season] = s.temp / Double(s.n)
        }
        let m = changeSum / Double(changes)
        result.minuteChangeSD = (changeSquares / Double(changes) - m * m).squareRoot()
        // Residual of log TP about its own regression on log Q, lag one hour.
        let tp = logC[2]
        let mx = logQ.reduce(0, +) / Double(logQ.count)
        let my = tp.reduce(0, +) / Double(tp.count)
        var sxy = 0.0
        var sxx = 0.0
        for i in logQ.indices {
            sxy += (logQ[i] - mx) * (tp[i] - my)
            sxx += (logQ[i] - mx) * (logQ[i] - mx)
        }
        let slope = sxy / sxx
        let residual = logQ.indices.map { tp[$0] - my - slope * (logQ[$0] - mx) }
        result.hourLagAutocorrelation = pearson(Array(residual.dropLast()), Array(residual.dropFirst()))
        return result
    }

    /// The two-year runs, computed once and shared by the calibration tests.
    static let runs: [UInt64: Run] = Dictionary(uniqueKeysWithValues: seeds.map { ($0, run(seed: $0)) })

    // MARK: - Hydrology

    @Test(arguments: seeds) func stormsTopFourCubicMetresSeveralTimesAYear(seed: UInt64) throws {
        let run = try #require(Self.runs[seed])
        for (i, year) in run.years.enumerated() {
            // Several storm hydrographs above 4 m³/s a year (the paper's storm flows), not constant flooding.
            #expect(year.peaksAbove4 >= 3 && year.peaksAbove4 <= 30, "seed \(seed) year \(i + 1): \(year.peaksAbove4)")
            #expect(year.maxDischarge > 6 && year.maxDischarge < 60, "seed \(seed) year \(i + 1): \(year.maxDischarge)")
            // Storms about weekly, rain like north-western Ohio's.
            #expect(year.storms >= 30 && year.storms <= 80)
            #expect(year.rainMm > 600 && year.rainMm < 1500, "seed \(seed) year \(i + 1): \(year.rainMm)")
        }
    }

    @Test(arguments: seeds) func baseflowStaysPositiveAndRecessionsAreSmooth(seed: UInt64) throws {
        let run = try #require(Self.runs[seed])
        for year in run.years {
            // The stream never dries up, yet summer low flow is well below the mean of about 1 m³/s.
            #expect(year.minDischarge > 0.01 && year.minDischarge < 0.3, "seed \(seed): \(year.minDischarge)")
            #expect(year.minSlowFlow > 0.01)
        }
        // Without rain the two reservoirs only drain: discharge never rises, and it falls no faster than the quick
        // reservoir empties (Q·dt/k per step, k = 1 d).
        #expect(run.recessionSteps > 200_000)
        #expect(run.recessionRises == 0)
        #expect(run.largestRecessionFall > 0)
        #expect(run.largestRecessionFall <= Self.dt / 86400 * 1.0001, "\(run.largestRecessionFall)")
        // The rain gauge's intensities add up to the rain that fell.
        #expect(abs(run.rainFromIntensities - run.rainTotal) < 1e-6 * run.rainTotal)
    }

    @Test(arguments: seeds) func seasonsFollowTheWatershed(seed: UInt64) throws {
        let run = try #require(Self.runs[seed])
        func value(_ table: [Season: Double], _ season: Season) -> Double { table[season] ?? .nan }
        let q = run.seasonalDischarge
        let wetHalf: Double = value(q, .winter) + value(q, .spring)
        let dryHalf: Double = value(q, .summer) + value(q, .autumn)
        // The paper's quarters: wet winter and spring, dry summer and autumn (evapotranspiration); nitrate's spring
        // flush; warm summers.
        #expect(wetHalf > 2 * dryHalf, "\(q)")
        #expect(value(run.seasonalNo3, .spring) > 1.3 * value(run.seasonalNo3, .summer), "\(run.seasonalNo3)")
        #expect(value(run.seasonalTemp, .summer) > value(run.seasonalTemp, .winter) + 12, "\(run.seasonalTemp)")
    }

    // MARK: - Water quality against the paper

    @Test(arguments: seeds) func annualMeansNearThePapersRanges(seed: UInt64) throws {
        let run = try #require(Self.runs[seed])
        for (i, year) in run.years.enumerated() {
            let label = "seed \(seed) year \(i + 1): \(year.mean)"
            // Paper: NO₃ 1.8–2.3, SRP 0.049–0.057, TP 0.165–0.211 mg/L.
            #expect(year.mean[0] > 1.4 && year.mean[0] < 2.7, "\(label)")
            #expect(year.mean[1] > 0.035 && year.mean[1] < 0.075, "\(label)")
            #expect(year.mean[2] > 0.12 && year.mean[2] < 0.26, "\(label)")
        }
    }

    @Test(arguments: seeds) func logTPCorrelatesWithLogQLikeThePaper(seed: UInt64) throws {
        let run = try #require(Self.runs[seed])
        // Paper: r = 0.687 for TP on log Q; SRP 0.517 and NO₃ 0.478 weaker.
        #expect(run.logR[2] > 0.5 && run.logR[2] < 0.85, "\(run.logR)")
        #expect(run.logR[2] > run.logR[1] && run.logR[2] > run.logR[0], "\(run.logR)")
        #expect(run.logR[0] > 0.2 && run.logR[1] > 0.2, "\(run.logR)")
    }

    @Test(arguments: seeds) func tpFlowWeightedMeanIsTwoToThreeTimesItsMean(seed: UInt64) throws {
        let run = try #require(Self.runs[seed])
        for (i, year) in run.years.enumerated() {
            let ratios = (0..<3).map { year.fwmc[$0] / year.mean[$0] }
            // Paper: FWMC exceeds the arithmetic mean 2–3 times; TP rises most steeply with flow.
            #expect(ratios[2] > 1.5 && ratios[2] < 4, "seed \(seed) year \(i + 1): \(ratios)")
            #expect(ratios[0] > 1 && ratios[1] > 1, "seed \(seed) year \(i + 1): \(ratios)")
            #expect(ratios[2] > ratios[0] && ratios[2] > ratios[1], "seed \(seed) year \(i + 1): \(ratios)")
        }
    }

    @Test(arguments: seeds) func concentrationNoiseIsCorrelatedInTime(seed: UInt64) throws {
        let run = try #require(Self.runs[seed])
        // White noise of the paper's scatter (σ ≈ 0.3 in log₁₀) would change TP by ~0.4 from minute to minute and
        // leave no memory after an hour.
        #expect(run.minuteChangeSD < 0.02, "\(run.minuteChangeSD)")
        #expect(run.hourLagAutocorrelation > 0.6, "\(run.hourLagAutocorrelation)")
    }

    @Test func hysteresisIsClockwise() {
        var p = Plant.Parameters.standard
        p.tp.hysteresis = 0
        var with = Plant(parameters: .standard, seed: 2)
        var without = Plant(parameters: p, seed: 2)
        var rising = (sum: 0.0, n: 0)
        var falling = (sum: 0.0, n: 0)
        for _ in 0..<(120 * 24 * 60) {
            let before = with.dischargeM3s
            with.step(dt: Self.dt)
            without.step(dt: Self.dt)
            // Hysteresis does not touch the flow.
            #expect(with.dischargeM3s == without.dischargeM3s)
            let q = with.dischargeM3s
            guard q > 2, q < 6 else { continue }
            let lift = Foundation.log10(with.tpMgL / without.tpMgL)
            if q > before * 1.0005 {
                rising.sum += lift
                rising.n += 1
            } else if q < before {
                falling.sum += lift
                falling.n += 1
            }
        }
        #expect(rising.n > 100 && falling.n > 1000)
        // Higher on the rising limb than on the falling limb at the same discharge (a clockwise loop); the falls
        // are slow, so their share of the loop is smaller.
        let risingLift = rising.sum / Double(max(rising.n, 1))
        let fallingLift = falling.sum / Double(max(falling.n, 1))
        #expect(risingLift > 0.02, "\(risingLift)")
        #expect(fallingLift < -0.002, "\(fallingLift)")
        #expect(risingLift - fallingLift > 0.03)
    }

    // MARK: - Rating curve and readings

    @Test(arguments: seeds) func stageAndDischargeFollowTheRatingCurve(seed: UInt64) throws {
        let run = try #require(Self.runs[seed])
        #expect(run.ratingError < 1e-9, "\(run.ratingError)")
    }

    @Test func readingsAreTheStateInChannelOrder() {
        var p = Plant.Parameters.standard
        p.noise = .none
        var plant = Plant(parameters: p, seed: 4)
        var rng = SeededRandom(seed: 9)
        var sawRain = false
        for _ in 0..<(20 * 24 * 60) {
            plant.step(dt: 60)
            let r = plant.reading(rng: &rng)
            #expect(abs(r.dischargeM3s - plant.dischargeM3s) <= 1e-9 * plant.dischargeM3s)
            #expect(r.stageM == plant.stageM && r.waterTempC == plant.waterTempC && r.no3MgL == plant.no3MgL)
            #expect(r.srpMgL == plant.srpMgL && r.tpMgL == plant.tpMgL && r.turbidityNTU == plant.turbidityNTU)
            #expect(r.rainMmH == plant.rainMmH)
            #expect(r.values == [r.stageM, r.dischargeM3s, r.waterTempC, r.no3MgL, r.srpMgL, r.tpMgL,
                                 r.turbidityNTU, r.rainMmH])
            if plant.rainMmH > 0.5 { sawRain = true }
        }
        #expect(sawRain)
        #expect(plant.turbidityNTU > 0 && plant.stageM > p.ratingH0M)
    }

    @Test func sensorNoiseHasTheConfiguredSpread() {
        let plant = Plant(parameters: .standard, seed: 5)
        var rng = SeededRandom(seed: 6)
        let n = 20_000
        var stage = (sum: 0.0, squares: 0.0)
        var tp = (sum: 0.0, squares: 0.0)
        for _ in 0..<n {
            let r = plant.reading(rng: &rng)
            let e = r.stageM - plant.stageM
            stage.sum += e
            stage.squares += e * e
            let f = r.tpMgL - plant.tpMgL
            tp.sum += f
            tp.squares += f * f
            #expect(r.dischargeM3s >= 0 && r.tpMgL >= 0)
            // The station derives discharge from its own stage reading.
            let p = plant.parameters
            #expect(abs(r.dischargeM3s - p.ratingA * Foundation.pow(r.stageM - p.ratingH0M, p.ratingB))
                    <= 1e-12 * r.dischargeM3s)
        }
        let stageSD = (stage.squares / Double(n) - pow(stage.sum / Double(n), 2)).squareRoot()
        let tpSD = (tp.squares / Double(n) - pow(tp.sum / Double(n), 2)).squareRoot()
        #expect(stageSD > 0.0019 && stageSD < 0.0021)
        #expect(tpSD > 0.0047 && tpSD < 0.0053)
    }

    // MARK: - Storm events by the paper's rule

    @Test func detectorFindsThePlantsStorms() {
        var plant = Plant(parameters: .standard, seed: 1)
        var detector = StormEventDetector()
        for _ in 0..<(365 * 24 * 60) {
            plant.step(dt: 60)
            detector.add(now: plant.time, rainMmH: plant.rainMmH, dischargeM3s: plant.dischargeM3s, dt: 60)
        }
        let events = detector.events.count
        // Every storm rains above 0.5 mm/h with breaks under 2 h, so each is one event unless it follows another
        // within 2 h; drizzle never makes one.
        #expect(events <= plant.stormsStarted)
        #expect(Double(events) >= 0.8 * Double(plant.stormsStarted), "\(events) of \(plant.stormsStarted)")
        let eventRain = detector.events.reduce(0) { $0 + $1.totalRainMm }
        #expect(eventRain < plant.rainTotalMm && eventRain > 0.85 * plant.rainTotalMm)
        #expect(detector.events.allSatisfy { ($0.end ?? .infinity) - $0.start >= 2 * 3600 - 1 || $0.end == nil })
    }

    // MARK: - Determinism and step size

    /// Every observable value as raw bit patterns.
    static func snapshot(_ plant: Plant) -> [UInt64] {
        [plant.time, plant.rainMmH, plant.dischargeM3s, plant.stageM, plant.waterTempC, plant.no3MgL, plant.srpMgL,
         plant.tpMgL, plant.turbidityNTU, plant.rainTotalMm, plant.quickStorageMm, plant.slowStorageMm,
         Double(plant.stormsStarted)].map(\.bitPattern)
    }

    @Test func sameSeedGivesBitIdenticalState() {
        var a = Plant(parameters: .standard, seed: 42)
        var b = Plant(parameters: .standard, seed: 42)
        for _ in 0..<(30 * 24 * 60) {
            a.step(dt: 60)
            b.step(dt: 60)
        }
        #expect(Self.snapshot(a) == Self.snapshot(b))
        // A copy carries its generators, so it replays the original's future exactly.
        var copy = a
        for _ in 0..<(5 * 24 * 60) {
            a.step(dt: 60)
            copy.step(dt: 60)
        }
        #expect(Self.snapshot(a) == Self.snapshot(copy))
        var other = Plant(parameters: .standard, seed: 43)
        for _ in 0..<(35 * 24 * 60) { other.step(dt: 60) }
        #expect(other.time == a.time)
        #expect(other.dischargeM3s != a.dischargeM3s)
        #expect(other.tpMgL != a.tpMgL)
    }

    /// Relative difference, with a floor so values near 0 compare absolutely.
    static func close(_ x: Double, _ y: Double, _ tolerance: Double = 1e-9) -> Bool {
        abs(x - y) <= tolerance * max(abs(x), abs(y), 1e-3)
    }

    @Test func oneSecondOneMinuteAndFiveMinuteStepsAgree() {
        var fine = Plant(parameters: .standard, seed: 7, startDayOfYear: 80)
        var minute = Plant(parameters: .standard, seed: 7, startDayOfYear: 80)
        var coarse = Plant(parameters: .standard, seed: 7, startDayOfYear: 80)
        var compared = 0
        var rained = false
        // Five days at 1 s, then fifty-five more at 60 s and 300 s only.
        for block in 0..<(60 * 24 * 12) {
            if block < 5 * 24 * 12 {
                for _ in 0..<300 { fine.step(dt: 1) }
            }
            for _ in 0..<5 { minute.step(dt: 60) }
            coarse.step(dt: 300)
            rained = rained || coarse.rainMmH > 0.5
            var plants = [minute, coarse]
            if block < 5 * 24 * 12 { plants.append(fine) }
            for other in plants.dropFirst() {
                let a = plants[0]
                #expect(a.time == other.time)
                #expect(Self.close(a.dischargeM3s, other.dischargeM3s) && Self.close(a.stageM, other.stageM))
                #expect(Self.close(a.tpMgL, other.tpMgL) && Self.close(a.srpMgL, other.srpMgL))
                #expect(Self.close(a.no3MgL, other.no3MgL) && Self.close(a.turbidityNTU, other.turbidityNTU))
                #expect(Self.close(a.waterTempC, other.waterTempC))
                #expect(Self.close(a.rainTotalMm, other.rainTotalMm))
                compared += 1
            }
        }
        #expect(rained)
        #expect(compared > 17_000)
    }

    @Test func nonPositiveOrNonFiniteDtChangesNothing() {
        var plant = Plant(parameters: .standard, seed: 3)
        for _ in 0..<1000 { plant.step(dt: 60) }
        let before = Self.snapshot(plant)
        plant.step(dt: 0)
        plant.step(dt: -60)
        plant.step(dt: .nan)
        plant.step(dt: .infinity)
        #expect(Self.snapshot(plant) == before)
    }

    @Test func dayOfYearFollowsTheStartDay() {
        var plant = Plant(parameters: .standard, seed: 1, startDayOfYear: 300)
        #expect(plant.dayOfYear == 300)
        for _ in 0..<(65 * 24) { plant.step(dt: 3600) }
        #expect(abs(plant.dayOfYear) < 1e-9 || abs(plant.dayOfYear - 365) < 1e-9)
        for _ in 0..<(10 * 24) { plant.step(dt: 3600) }
        #expect(abs(plant.dayOfYear - 10) < 1e-9)
        #expect(Plant(parameters: .standard, seed: 1, startDayOfYear: -5).dayOfYear == 360)
    }

    @Test func presetsByName() {
        #expect(Plant.Parameters.presetNames == ["standard"])
        #expect(Plant.Parameters.preset(named: "standard") == .standard)
        #expect(Plant.Parameters.preset(named: "flood") == nil)
        let p = Plant.Parameters.standard
        #expect(p.catchmentAreaKm2 == 89)
        #expect(p.quickTauDays == 1 && p.slowTauDays == 40)
    }

    // MARK: - Long runs (their speed is measured by bench/run's virtual section, not asserted here)

    @Test func twoYearsAtOneMinuteStepsKeepTheClockExact() {
        var plant = Plant(parameters: .standard, seed: 1)
        for _ in 0..<(2 * Self.stepsPerYear) { plant.step(dt: 60) }
        #expect(plant.time == 2 * 365 * 86400)
    }
}
