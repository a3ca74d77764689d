import Foundation
import Testing
@testable import Sim
import SimServe
import DeviceTransports
import Locking

/// Physics, events and determinism of the CNC mill plant (docs/register-contract.md §C1).
@Suite struct MillPlantTests {
    static let dt = 0.001
    static let cut = MillPlant.Inputs(spindleEnabled: true)

    /// The given preset without random parts (force variation, run-out, sensor noise): only the ripple remains.
    static func quiet(_ base: MillPlant.Parameters = .aluminium) -> MillPlant.Parameters {
        var p = base
        p.cuttingNoiseFraction = 0
        p.runoutFraction = 0
        p.sensorNoiseSigmaNm = 0
        return p
    }

    /// Steps `plant` for `steps` steps of `dt` with constant inputs.
    static func run(_ plant: inout MillPlant, _ inputs: MillPlant.Inputs, steps: Int, dt: Double = dt) {
        for _ in 0..<steps { plant.step(dt: dt, inputs: inputs) }
    }

    /// A plant that has run up to speed and cut for 2 s at 8000 rpm.
    static func steadyCut(_ p: MillPlant.Parameters = .aluminium, seed: UInt64 = 1) -> MillPlant {
        var plant = MillPlant(parameters: p, seed: seed)
        run(&plant, cut, steps: 2000)
        return plant
    }

    /// The true torque of the next `steps` steps.
    static func torques(_ plant: inout MillPlant, _ inputs: MillPlant.Inputs = cut, steps: Int) -> [Double] {
        (0..<steps).map { _ in
            plant.step(dt: dt, inputs: inputs)
            return plant.trueTorqueNm
        }
    }

    static func mean(_ xs: [Double]) -> Double { xs.reduce(0, +) / Double(xs.count) }

    static func standardDeviation(_ xs: [Double]) -> Double {
        let m = mean(xs)
        return (xs.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(xs.count)).squareRoot()
    }

    /// Every observable state value as raw bit patterns, so comparisons are bit-exact.
    static func snapshot(_ plant: MillPlant) -> [UInt64] {
        let values: [Double] = [
            plant.time, plant.spindleRPM, plant.feedMmMin, plant.motorTempC, plant.toolBroken ? 1 : 0,
            plant.trueTorqueNm, plant.cuttingTorqueNm, plant.measuredTorqueNm(), plant.feedPermitted ? 1 : 0,
        ]
        return values.map(\.bitPattern)
    }

    // MARK: - docs/register-contract.md examples

    @Test func presetsMatchTheSheetsFormulaAtNominalFeed() {
        // Ø10 mm, 3 flutes, f_z 0.05 mm, 8000 rpm → 1200 mm/min.
        let al = MillPlant.Parameters.aluminium
        #expect(abs(al.nominalFeedMmMin(rpm: 8000) - 1200) < 1e-9)
        #expect(MillPlant.Inputs().programmedFeedMmMin == 1200)
        #expect(abs(al.cuttingTorqueNm(feedMmMin: 1200, rpm: 8000) - 0.17) < 0.01)
        #expect(abs(MillPlant.Parameters.steel.cuttingTorqueNm(feedMmMin: 1200, rpm: 8000) - 0.7) < 0.02)
        // T = 9550·P/n with P = a_p·a_e·v_f·K_c/(60·10⁶) kW, written out.
        let expected = 9550 * (2 * 5 * 1200 * 700 / 60e6) / 8000
        #expect(abs(al.cuttingTorqueNm(feedMmMin: 1200, rpm: 8000) - expected) < 1e-12)
    }

    @Test func aluminiumSteadyCutCarriesAbout017Nm() {
        var plant = Self.steadyCut(.aluminium)
        #expect(plant.isCutting)
        #expect(plant.feedMmMin == 1200)
        #expect(plant.spindleRPM > 7900 && plant.spindleRPM <= 8000)
        let window = Self.torques(&plant, steps: 200)
        let m = Self.mean(window)
        #expect(abs(m - 0.17) <= 0.03)
        // The mean cutting torque is the sheet's formula with the actual feed and speed.
        let formula = plant.parameters.cuttingTorqueNm(feedMmMin: plant.feedMmMin, rpm: plant.spindleRPM)
        #expect(abs(plant.cuttingTorqueNm - formula) < 1e-12)
        #expect(abs(m - (plant.cuttingTorqueNm + plant.frictionTorqueNm)) < 0.1 * plant.cuttingTorqueNm)
    }

    @Test func steelSteadyCutCarriesAbout07Nm() {
        var plant = Self.steadyCut(.steel)
        let m = Self.mean(Self.torques(&plant, steps: 200))
        #expect(abs(m - 0.7) <= 0.1)
    }

    @Test func idleSpindleCarriesOnlyFriction() {
        var plant = MillPlant(parameters: Self.quiet(), seed: 1)
        let spinning = MillPlant.Inputs(spindleEnabled: true, feedHold: true)
        Self.run(&plant, spinning, steps: 2000)
        // Only the friction's speed droop (2 % × 0.015/1.2 ≈ 2 rpm) is left of the setpoint.
        #expect(plant.spindleRPM > 7985 && plant.spindleRPM < 8000)
        #expect(plant.feedMmMin == 0)
        #expect(!plant.isCutting)
        #expect(plant.cuttingTorqueNm == 0)
        #expect(plant.trueTorqueNm == plant.parameters.frictionTorqueNm)
        #expect(plant.trueTorqueNm >= 0.01 && plant.trueTorqueNm <= 0.02)
        // Stopped: no torque at all.
        Self.run(&plant, MillPlant.Inputs(), steps: 5000)
        #expect(plant.spindleRPM == 0)
        #expect(plant.trueTorqueNm == 0)
    }

    @Test func feedWaitsForTheSpindleToReachSpeed() {
        var plant = MillPlant(parameters: .aluminium, seed: 1)
        var released: Double?
        for i in 1...2000 {
            plant.step(dt: Self.dt, inputs: Self.cut)
            if plant.feedMmMin > 0, released == nil {
                released = Double(i) * Self.dt
                // The interlock released the feed at 90 % of the setpoint, not before.
                #expect(plant.spindleRPM >= 0.9 * 8000)
            }
            if released == nil { #expect(plant.cuttingTorqueNm == 0) }
        }
        // First-order run-up with τ = 0.3 s reaches 90 % after τ·ln 10 ≈ 0.69 s.
        #expect(released.map { $0 > 0.6 && $0 < 0.8 } == true)
    }

    // MARK: - Ripple and chatter

    @Test func rippleIsAMeaningfulFractionAndChatterMultipliesIt() {
        var plant = Self.steadyCut(.aluminium)
        var chattering = plant
        let normal = Self.torques(&plant, steps: 200)
        let normalRatio = Self.standardDeviation(normal) / Self.mean(normal)
        #expect(normalRatio >= 0.05 && normalRatio <= 0.40)

        chattering.inject(.chatter(gain: 5))
        #expect(chattering.chatterGain == 5)
        let loud = Self.torques(&chattering, steps: 200)
        #expect(Self.standardDeviation(loud) >= 3 * Self.standardDeviation(normal))
        // The spindle never pulls: the cutting part stays ≥ 0, so the torque never drops below friction.
        #expect(loud.min()! >= chattering.parameters.frictionTorqueNm - 1e-12)

        // Cleared: the ripple is back to normal.
        chattering.clearEvents()
        let calm = Self.torques(&chattering, steps: 200)
        #expect(Self.standardDeviation(calm) < 1.5 * Self.standardDeviation(normal))
    }

    @Test func rippleSitsAtTheToothPassFrequency() {
        var plant = Self.steadyCut(Self.quiet())
        // Let the speed settle completely (13 τ), so the tooth-pass frequency is constant over the window.
        Self.run(&plant, Self.cut, steps: 2000)
        let f = plant.toothPassFrequencyHz
        #expect(abs(f - 400) < 4)
        let samples = Self.torques(&plant, steps: 1000)
        // Amplitude of a single DFT bin (one second of data, so a 1 Hz resolution).
        func amplitude(_ hz: Double) -> Double {
            var re = 0.0
            var im = 0.0
            for (i, x) in samples.enumerated() {
                let angle = 2 * Double.pi * hz * Double(i) * Self.dt
                re += x * cos(angle)
                im += x * sin(angle)
            }
            return 2 * (re * re + im * im).squareRoot() / Double(samples.count)
        }
        let expected = plant.parameters.rippleFraction * plant.cuttingTorqueNm
        #expect(abs(amplitude(f) - expected) < 0.1 * expected)
        #expect(amplitude(250) < 0.05 * expected)
    }

    // MARK: - Feed hold and spindle stop

    @Test func feedHoldStopsTheCutWithinMilliseconds() {
        var plant = Self.steadyCut(.aluminium)
        let steady = plant.cuttingTorqueNm
        var hold = Self.cut
        hold.feedHold = true
        var fellAfter: Int?
        for i in 1...20 {
            plant.step(dt: Self.dt, inputs: hold)
            if plant.cuttingTorqueNm < 0.1 * steady {
                fellAfter = i
                break
            }
        }
        #expect(fellAfter != nil)
        // The feed decelerates (a lag of a few ms), it does not jump.
        #expect((fellAfter ?? 0) >= 3)
        Self.run(&plant, hold, steps: 100)
        #expect(plant.feedMmMin == 0)
        #expect(!plant.isCutting)
        #expect(abs(plant.trueTorqueNm - plant.parameters.frictionTorqueNm) < 1e-12)
        // Released again: the cut resumes.
        Self.run(&plant, Self.cut, steps: 50)
        #expect(plant.isCutting)
        #expect(abs(plant.cuttingTorqueNm - steady) < 0.02 * steady)
    }

    @Test func spindleDisableRampsTheSpeedDown() {
        var plant = Self.steadyCut(.aluminium)
        let tau = plant.parameters.spindleTau
        let stop = MillPlant.Inputs(spindleEnabled: false)
        // After one time constant about 1/e of the speed remains: a ramp, not a jump.
        Self.run(&plant, stop, steps: Int((tau / Self.dt).rounded()))
        #expect(plant.spindleRPM > 0.3 * 8000 && plant.spindleRPM < 0.4 * 8000)
        // Disabling the spindle withdraws the feed at once, so the tool does not plough while it slows.
        #expect(plant.feedMmMin == 0)
        #expect(plant.cuttingTorqueNm == 0)
        Self.run(&plant, stop, steps: Int((3 * tau / Self.dt).rounded()))
        #expect(plant.spindleRPM < 0.05 * 8000)
    }

    // MARK: - Events

    @Test func overloadMultipliesTheCuttingTorque() {
        var plant = Self.steadyCut(.aluminium)
        let steady = plant.cuttingTorqueNm
        plant.inject(.overload(factor: 4))
        #expect(plant.overloadFactor == 4)
        Self.run(&plant, Self.cut, steps: 2)
        let window = Self.torques(&plant, steps: 20)
        let expected = 4 * steady + plant.parameters.frictionTorqueNm
        #expect(abs(Self.mean(window) - expected) < 0.1 * expected)
        #expect(abs(plant.cuttingTorqueNm - 4 * steady) < 0.05 * steady)
        // Cleared: back to the normal cut.
        plant.clearEvents()
        Self.run(&plant, Self.cut, steps: 1)
        #expect(abs(plant.cuttingTorqueNm - steady) < 0.05 * steady)
    }

    @Test func toolBreakageCollapsesTheTorqueUntilTheToolIsReplaced() {
        var plant = Self.steadyCut(.aluminium)
        let steady = plant.cuttingTorqueNm
        plant.inject(.toolBreakage)
        #expect(plant.toolBroken)
        Self.run(&plant, Self.cut, steps: 2)
        #expect(plant.trueTorqueNm < 0.3 * steady)
        #expect(!plant.isCutting)
        // Still broken half a second later, and clearing the events does not mend it.
        plant.clearEvents()
        for torque in Self.torques(&plant, steps: 500) { #expect(torque < 0.3 * steady) }
        #expect(plant.toolBroken)
        #expect(plant.feedMmMin == 1200)

        plant.replaceTool()
        #expect(!plant.toolBroken)
        let window = Self.torques(&plant, steps: 20)
        #expect(abs(Self.mean(window) - (steady + plant.parameters.frictionTorqueNm)) < 0.15 * steady)
    }

    // MARK: - Motor temperature

    @Test func motorWarmsDuringALongCutAndCoolsWhenStopped() {
        let p = MillPlant.Parameters.steel
        var plant = MillPlant(parameters: p, seed: 3)
        let step = 0.05
        let tau = p.motorThermalTau
        let steps = Int((tau / step).rounded())
        Self.run(&plant, Self.cut, steps: steps, dt: step)
        #expect(plant.isCutting)
        // First order: after one τ the rise is 1 − 1/e of the final rise, K/W × heat from the mean power.
        let mechanicalW = (plant.cuttingTorqueNm + plant.frictionTorqueNm) * plant.spindleRPM * 2 * Double.pi / 60
        let finalRise = p.motorKelvinPerWatt * mechanicalW * (1 / p.motorEfficiency - 1)
        let rise = plant.motorTempC - p.ambientC
        #expect(finalRise > 20)
        #expect(abs(rise - (1 - exp(-1)) * finalRise) < 0.05 * finalRise)

        // Stopped: the excess decays toward ambient, to about 1/e after one τ.
        Self.run(&plant, MillPlant.Inputs(), steps: steps, dt: step)
        let left = plant.motorTempC - p.ambientC
        #expect(left > 0)
        #expect(abs(left - exp(-1) * rise) < 0.05 * rise)
    }

    // MARK: - Sensor

    @Test func sensorNoiseHasTheConfiguredSpreadAndReadingDoesNotDrawNoise() {
        var plant = Self.steadyCut(.aluminium, seed: 11)
        var sum = 0.0
        var sumSquares = 0.0
        let n = 5000
        for _ in 0..<n {
            plant.step(dt: Self.dt, inputs: Self.cut)
            let error = plant.measuredTorqueNm() - plant.trueTorqueNm
            sum += error
            sumSquares += error * error
        }
        let m = sum / Double(n)
        let sd = (sumSquares / Double(n) - m * m).squareRoot()
        #expect(abs(m) < 0.002)
        #expect(abs(sd - plant.parameters.sensorNoiseSigmaNm) < 0.002)
        // One sample per step: reading again gives the same value and leaves the future unchanged.
        var reader = plant
        let first = reader.measuredTorqueNm()
        for _ in 0..<10 { #expect(reader.measuredTorqueNm() == first) }
        Self.run(&reader, Self.cut, steps: 10)
        Self.run(&plant, Self.cut, steps: 10)
        #expect(Self.snapshot(reader) == Self.snapshot(plant))
    }

    // MARK: - Inputs

    @Test func nonPositiveDtChangesNothing() {
        var plant = Self.steadyCut(.aluminium)
        let before = Self.snapshot(plant)
        plant.step(dt: 0, inputs: Self.cut)
        plant.step(dt: -1, inputs: Self.cut)
        plant.step(dt: .nan, inputs: Self.cut)
        plant.step(dt: .infinity, inputs: Self.cut)
        #expect(Self.snapshot(plant) == before)
    }

    @Test func oddInputsStayFinite() {
        var plant = MillPlant(parameters: .steel, seed: 5)
        let nan = MillPlant.Inputs(spindleRPMSetpoint: .nan, feedOverridePercent: .nan, spindleEnabled: true,
                                   programmedFeedMmMin: .nan)
        Self.run(&plant, nan, steps: 100)
        #expect(plant.spindleRPM == 0 && plant.feedMmMin == 0 && plant.trueTorqueNm == 0)
        let huge = MillPlant.Inputs(spindleRPMSetpoint: 1e9, feedOverridePercent: 1e9, spindleEnabled: true,
                                    programmedFeedMmMin: .infinity)
        plant.inject(.chatter(gain: .infinity))
        plant.inject(.overload(factor: .nan))
        Self.run(&plant, huge, steps: 3000)
        #expect(plant.spindleRPM <= plant.parameters.maxSpindleRPM)
        #expect(plant.feedMmMin <= 1.5 * plant.parameters.maxFeedMmMin)
        #expect(plant.trueTorqueNm.isFinite && plant.measuredTorqueNm().isFinite && plant.motorTempC.isFinite)
        // A NaN overload factor counts as 0: the spindle turns and feeds but carries only friction.
        #expect(plant.cuttingTorqueNm == 0)
    }

    // MARK: - Determinism

    /// A scenario with run-up, a cut, feed hold, every event and a spindle stop.
    static func drive(_ plant: inout MillPlant, steps: Int) {
        for i in 0..<steps {
            switch i % 4000 {
            case 1500: plant.inject(.chatter(gain: 5))
            case 2000: plant.inject(.overload(factor: 3))
            case 2500: plant.clearEvents()
            case 2800: plant.inject(.toolBreakage)
            case 3000: plant.replaceTool()
            default: break
            }
            let inputs = MillPlant.Inputs(spindleRPMSetpoint: i % 8000 < 4000 ? 8000 : 6000,
                                          feedOverridePercent: 80 + Double(i % 50),
                                          spindleEnabled: i % 4000 < 3600, feedHold: i % 1000 > 900)
            plant.step(dt: Self.dt, inputs: inputs)
        }
    }

    @Test func sameSeedGivesBitIdenticalState() {
        var a = MillPlant(parameters: .steel, seed: 42)
        var b = MillPlant(parameters: .steel, seed: 42)
        var traceA: [UInt64] = []
        var traceB: [UInt64] = []
        for _ in 0..<100 {
            Self.drive(&a, steps: 100)
            Self.drive(&b, steps: 100)
            traceA += Self.snapshot(a)
            traceB += Self.snapshot(b)
        }
        #expect(traceA == traceB)
        // A copy carries its generator with it, so it replays the original's future exactly.
        var copy = a
        Self.drive(&a, steps: 3000)
        Self.drive(&copy, steps: 3000)
        #expect(Self.snapshot(a) == Self.snapshot(copy))
    }

    @Test func differentSeedsGiveDifferentTorques() {
        var a = MillPlant(parameters: .aluminium, seed: 1)
        var b = MillPlant(parameters: .aluminium, seed: 2)
        Self.run(&a, Self.cut, steps: 1500)
        Self.run(&b, Self.cut, steps: 1500)
        #expect(a.trueTorqueNm != b.trueTorqueNm)
        #expect(a.measuredTorqueNm() != b.measuredTorqueNm())
        // Speed and feed carry no noise, so they agree exactly.
        #expect(a.spindleRPM == b.spindleRPM)
        #expect(a.feedMmMin == b.feedMmMin)
    }

    // MARK: - Presets

    @Test func presetsByName() {
        #expect(MillPlant.Parameters.presetNames == ["aluminium", "steel"])
        #expect(MillPlant.Parameters.preset(named: "aluminium") == .aluminium)
        #expect(MillPlant.Parameters.preset(named: "steel") == .steel)
        #expect(MillPlant.Parameters.preset(named: "titanium") == nil)
        let al = MillPlant.Parameters.aluminium
        let steel = MillPlant.Parameters.steel
        #expect(al.toolDiameterMm == 10 && al.flutes == 3 && al.depthOfCutMm == 2 && al.widthOfCutMm == 5)
        #expect(al.feedPerToothMm == 0.05)
        #expect(al.specificCuttingForce >= 700 && al.specificCuttingForce <= 800)
        #expect(steel.specificCuttingForce >= 2000)
        #expect(al.sensorNoiseSigmaNm >= 0.02 && al.sensorNoiseSigmaNm <= 0.03)
        var sameCut = steel
        sameCut.specificCuttingForce = al.specificCuttingForce
        #expect(sameCut == al)
    }

    // MARK: - Long runs (their speed is measured by bench/run's virtual section, not asserted here)

    @Test func sixtySecondsAtOneMillisecondKeepTheClockAndStayFinite() {
        var plant = MillPlant(parameters: .steel, seed: 8)
        var inputs = Self.cut
        var checksum = 0.0
        for i in 0..<60_000 {
            inputs.feedHold = i % 10_000 > 9000
            plant.step(dt: Self.dt, inputs: inputs)
            checksum += plant.measuredTorqueNm()
        }
        #expect(plant.time > 59.999 && plant.time < 60.001)
        #expect(checksum.isFinite && checksum > 0)
    }
}
