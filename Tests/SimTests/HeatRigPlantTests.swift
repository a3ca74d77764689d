import Testing
@testable import Sim
import SimServe
import DeviceTransports
import Locking

/// Physics and determinism of the heat-transfer rig plant (docs/register-contract.md §C2).
@Suite struct HeatRigPlantTests {
    /// The given preset with the ambient held at its mean and noise-free thermocouples, so numbers are exact.
    static func quiet(_ base: HeatRigPlant.Parameters = .standard) -> HeatRigPlant.Parameters {
        var p = base
        p.ambientSigma = 0
        p.noiseSigma = 0
        return p
    }

    /// Steps `plant` for `seconds` of plant time with constant inputs.
    static func run(_ plant: inout HeatRigPlant, heater: Double, fan: Double, seconds: Double, dt: Double = 0.1) {
        let steps = Int((seconds / dt).rounded())
        let inputs = HeatRigPlant.Inputs(heaterFraction: heater, fanFraction: fan)
        for _ in 0..<steps { plant.step(dt: dt, inputs: inputs) }
    }

    /// Every observable state value, the thermostat as 0/1, as raw bit patterns so comparisons are bit-exact.
    static func snapshot(_ plant: HeatRigPlant) -> [UInt64] {
        let values: [Double] = [
            plant.blockC, plant.midC, plant.endC, plant.ambientNowC, plant.fanAirMps, plant.heaterPowerW,
            plant.thermostatTripped ? 1 : 0,
            plant.measuredBlockC, plant.measuredMidC, plant.measuredEndC, plant.measuredAmbientC,
        ]
        return values.map(\.bitPattern)
    }

    /// Seconds for the true block temperature to first reach `targetC`, or nil within `limit` seconds.
    static func timeToReach(_ targetC: Double, parameters: HeatRigPlant.Parameters, heater: Double, fan: Double,
                            dt: Double, limit: Double) -> Double? {
        var plant = HeatRigPlant(parameters: parameters, seed: 1)
        let inputs = HeatRigPlant.Inputs(heaterFraction: heater, fanFraction: fan)
        var t = 0.0
        while t < limit {
            plant.step(dt: dt, inputs: inputs)
            t += dt
            if plant.blockC >= targetC { return t }
        }
        return nil
    }

    // MARK: - Physics

    @Test func steadyStateNear60AtThirtyTwoPercentHeater() {
        var plant = HeatRigPlant(parameters: Self.quiet(), seed: 1)
        Self.run(&plant, heater: 0.32, fan: 0, seconds: 3 * 3600)
        #expect(plant.blockC > 59 && plant.blockC < 61)
        // Heat flows down the bar, so the temperatures fall along it but stay above ambient.
        #expect(plant.blockC > plant.midC)
        #expect(plant.midC > plant.endC)
        #expect(plant.endC > 22)
        #expect(abs(plant.heaterPowerW - 32) < 1e-9)
        #expect(!plant.thermostatTripped)
        // At rest the lagged, noise-free thermocouples agree with the true temperatures.
        #expect(abs(plant.measuredBlockC - plant.blockC) < 1e-3)
        #expect(abs(plant.measuredEndC - plant.endC) < 1e-3)
        #expect(plant.measuredAmbientC == 22)
    }

    @Test func fanLowersTheSteadyState() {
        var still = HeatRigPlant(parameters: Self.quiet(), seed: 1)
        var blown = HeatRigPlant(parameters: Self.quiet(), seed: 1)
        Self.run(&still, heater: 0.32, fan: 0, seconds: 3 * 3600)
        Self.run(&blown, heater: 0.32, fan: 1, seconds: 3 * 3600)
        #expect(blown.fanAirMps > 3.99 && blown.fanAirMps <= 4.0)
        #expect(blown.blockC < still.blockC - 10)
        #expect(blown.endC < still.endC)
        #expect(blown.blockC > 22)
    }

    @Test func blockTimeConstantWithinTheSheetsRange() throws {
        let p = Self.quiet()
        var settled = HeatRigPlant(parameters: p, seed: 1)
        Self.run(&settled, heater: 0.32, fan: 0, seconds: 3 * 3600)
        let target = p.ambientC + 0.632 * (settled.blockC - p.ambientC)
        let t63 = try #require(Self.timeToReach(target, parameters: p, heater: 0.32, fan: 0, dt: 0.1, limit: 3600))
        #expect(t63 >= 180 && t63 <= 900)
    }

    @Test func fastPresetHeatsAboutTenTimesFaster() throws {
        let standard = try #require(Self.timeToReach(32, parameters: Self.quiet(.standard), heater: 0.5, fan: 0,
                                                     dt: 0.01, limit: 3600))
        let fast = try #require(Self.timeToReach(32, parameters: Self.quiet(.fast), heater: 0.5, fan: 0,
                                                 dt: 0.01, limit: 3600))
        let ratio = standard / fast
        #expect(ratio > 9 && ratio < 11)
    }

    @Test func thermostatTripsAtNinetyAndResetsBelowEighty() {
        var plant = HeatRigPlant(parameters: Self.quiet(), seed: 1)
        let full = HeatRigPlant.Inputs(heaterFraction: 1, fanFraction: 0)
        var t = 0.0
        // Heat at full power until the thermostat trips.
        while !plant.thermostatTripped && t < 7200 {
            #expect(plant.blockC < 90)
            plant.step(dt: 0.1, inputs: full)
            t += 0.1
            if !plant.thermostatTripped { #expect(plant.heaterPowerW == 100) }
        }
        #expect(plant.thermostatTripped)
        #expect(plant.blockC >= 90)
        #expect(plant.heaterPowerW == 0)
        // Still commanded to full power: the heater stays cut, and the block cools, until it falls below 80.
        let tripTime = t
        var peak = plant.blockC
        while plant.thermostatTripped && t < tripTime + 7200 {
            #expect(plant.heaterPowerW == 0)
            #expect(plant.blockC >= 80)
            plant.step(dt: 0.1, inputs: full)
            t += 0.1
            peak = max(peak, plant.blockC)
        }
        #expect(!plant.thermostatTripped)
        #expect(plant.blockC < 80)
        #expect(plant.heaterPowerW == 100)
        #expect(peak < 91)
    }

    @Test func thermostatStartsTrippedWhenTheRigStartsHot() {
        let plant = HeatRigPlant(parameters: Self.quiet(), seed: 1, initialC: 95)
        #expect(plant.thermostatTripped)
        #expect(plant.heaterPowerW == 0)
        #expect(plant.measuredBlockC == 95)
    }

    @Test func thermocouplesLagDuringARampAndConverge() {
        let p = Self.quiet()
        var plant = HeatRigPlant(parameters: p, seed: 1)
        Self.run(&plant, heater: 1, fan: 0, seconds: 119.9)
        let before = plant.blockC
        plant.step(dt: 0.1, inputs: HeatRigPlant.Inputs(heaterFraction: 1, fanFraction: 0))
        let slope = (plant.blockC - before) / 0.1
        let lag = plant.blockC - plant.measuredBlockC
        #expect(slope > 0.05)
        #expect(lag > 0)
        // A first-order lag following a ramp trails it by slope × tau once its own transient has died out.
        #expect(lag > 0.8 * slope * p.thermocoupleTau && lag < 1.2 * slope * p.thermocoupleTau)
        #expect(plant.measuredMidC < plant.midC)

        // Heater off, fan on: the rig settles back to ambient and the readings catch up with the truth.
        Self.run(&plant, heater: 0, fan: 1, seconds: 2 * 3600)
        #expect(abs(plant.measuredBlockC - plant.blockC) < 1e-3)
        #expect(abs(plant.measuredMidC - plant.midC) < 1e-3)
        #expect(abs(plant.measuredEndC - plant.endC) < 1e-3)
        #expect(abs(plant.blockC - 22) < 0.5)
    }

    @Test func fanAirSpeedLagsItsCommand() {
        var plant = HeatRigPlant(parameters: Self.quiet(), seed: 1)
        Self.run(&plant, heater: 0, fan: 1, seconds: 2.0, dt: 0.05)
        // One time constant (2 s) after the step: 1 − 1/e of full speed.
        #expect(abs(plant.fanAirMps - 4.0 * (1 - 1 / 2.718281828459045)) < 0.01)
        Self.run(&plant, heater: 0, fan: 0.5, seconds: 60, dt: 0.05)
        #expect(abs(plant.fanAirMps - 2.0) < 1e-6)
    }

    // MARK: - Inputs

    @Test func nanInputsAreTreatedAsZero() {
        var withNaN = HeatRigPlant(parameters: .standard, seed: 7, initialC: 40)
        var withZero = HeatRigPlant(parameters: .standard, seed: 7, initialC: 40)
        let nan = HeatRigPlant.Inputs(heaterFraction: .nan, fanFraction: .nan)
        let zero = HeatRigPlant.Inputs(heaterFraction: 0, fanFraction: 0)
        for _ in 0..<2000 {
            withNaN.step(dt: 0.05, inputs: nan)
            withZero.step(dt: 0.05, inputs: zero)
        }
        #expect(Self.snapshot(withNaN) == Self.snapshot(withZero))
        #expect(withNaN.heaterPowerW == 0)
        #expect(withNaN.fanAirMps == 0)
        #expect(withNaN.blockC.isFinite && withNaN.measuredBlockC.isFinite)
    }

    @Test func inputsAreClampedToTheUnitRange() {
        var plant = HeatRigPlant(parameters: Self.quiet(), seed: 1)
        plant.step(dt: 0.05, inputs: HeatRigPlant.Inputs(heaterFraction: 3, fanFraction: 3))
        #expect(plant.heaterPowerW == 100)
        Self.run(&plant, heater: 0, fan: 5, seconds: 60, dt: 0.05)
        #expect(plant.fanAirMps <= 4.0 && plant.fanAirMps > 3.99)
        plant.step(dt: 0.05, inputs: HeatRigPlant.Inputs(heaterFraction: -1, fanFraction: -1))
        #expect(plant.heaterPowerW == 0)
        #expect(plant.fanAirMps > 0)
    }

    @Test func nonPositiveDtChangesNothing() {
        var plant = HeatRigPlant(parameters: .standard, seed: 3)
        Self.run(&plant, heater: 0.5, fan: 0.5, seconds: 10, dt: 0.05)
        let before = Self.snapshot(plant)
        plant.step(dt: 0, inputs: HeatRigPlant.Inputs(heaterFraction: 1, fanFraction: 1))
        plant.step(dt: -1, inputs: HeatRigPlant.Inputs(heaterFraction: 1, fanFraction: 1))
        plant.step(dt: .nan, inputs: HeatRigPlant.Inputs(heaterFraction: 1, fanFraction: 1))
        #expect(Self.snapshot(plant) == before)
    }

    // MARK: - Determinism

    /// Varying inputs, so the comparison covers the fan lag, the heater and (at 100 %) the thermostat.
    static func drive(_ plant: inout HeatRigPlant, steps: Int) {
        for i in 0..<steps {
            let heater = i % 40_000 < 30_000 ? 1.0 : Double(i % 700) / 700
            let fan = i % 3000 < 1500 ? 0.3 : 0.9
            plant.step(dt: 0.05, inputs: HeatRigPlant.Inputs(heaterFraction: heater, fanFraction: fan))
        }
    }

    @Test func sameSeedGivesBitIdenticalState() {
        var a = HeatRigPlant(parameters: .fast, seed: 42)
        var b = HeatRigPlant(parameters: .fast, seed: 42)
        Self.drive(&a, steps: 20_000)
        Self.drive(&b, steps: 20_000)
        #expect(Self.snapshot(a) == Self.snapshot(b))
        // A copy carries its generator with it, so it replays the original's future exactly.
        var copy = a
        Self.drive(&a, steps: 5000)
        Self.drive(&copy, steps: 5000)
        #expect(Self.snapshot(a) == Self.snapshot(copy))
    }

    @Test func differentSeedGivesDifferentMeasurements() {
        var a = HeatRigPlant(parameters: .standard, seed: 1)
        var b = HeatRigPlant(parameters: .standard, seed: 2)
        Self.drive(&a, steps: 100)
        Self.drive(&b, steps: 100)
        #expect(a.measuredBlockC != b.measuredBlockC)
        #expect(a.measuredAmbientC != b.measuredAmbientC)
        // The inputs are the same, so the fan, unaffected by noise, matches exactly.
        #expect(a.fanAirMps == b.fanAirMps)
    }

    @Test func measurementNoiseHasTheConfiguredSpread() {
        var p = HeatRigPlant.Parameters.standard
        p.ambientSigma = 0
        var plant = HeatRigPlant(parameters: p, seed: 11)
        var sum = 0.0
        var sumSquares = 0.0
        let n = 20_000
        for _ in 0..<n {
            plant.step(dt: 0.05, inputs: HeatRigPlant.Inputs(heaterFraction: 0, fanFraction: 0))
            let error = plant.measuredAmbientC - plant.ambientNowC
            sum += error
            sumSquares += error * error
        }
        let mean = sum / Double(n)
        let sd = (sumSquares / Double(n) - mean * mean).squareRoot()
        #expect(abs(mean) < 0.005)
        #expect(sd > 0.045 && sd < 0.055)
    }

    // MARK: - Presets

    @Test func presetsByName() throws {
        #expect(HeatRigPlant.Parameters.presetNames == ["standard", "fast"])
        #expect(HeatRigPlant.Parameters.preset(named: "standard") == .standard)
        #expect(HeatRigPlant.Parameters.preset(named: "fast") == .fast)
        #expect(HeatRigPlant.Parameters.preset(named: "turbo") == nil)
        let fast = HeatRigPlant.Parameters.fast
        let standard = HeatRigPlant.Parameters.standard
        #expect(fast.blockCapacity == 45 && fast.midCapacity == 20 && fast.endCapacity == 20)
        #expect(fast.fanTau == 0.5 && fast.thermocoupleTau == 0.5 && fast.ambientTau == 120)
        #expect(fast.heaterMaxW == standard.heaterMaxW && fast.blockLossFan == standard.blockLossFan)
        #expect(standard.blockLossNatural + standard.blockLossFan == 2.5)
    }

    // MARK: - Random sources

    @Test func gaussianIsStandardNormal() {
        var rng = SeededRandom(seed: 2024)
        let n = 100_000
        var sum = 0.0
        var sumSquares = 0.0
        for _ in 0..<n {
            let x = rng.gaussian()
            sum += x
            sumSquares += x * x
        }
        let mean = sum / Double(n)
        let sd = (sumSquares / Double(n) - mean * mean).squareRoot()
        #expect(abs(mean) < 0.02)
        #expect(sd > 0.98 && sd < 1.02)
    }

    @Test func uniformStaysInTheHalfOpenUnitInterval() {
        var rng = SeededRandom(seed: 5)
        var sum = 0.0
        var outside = 0
        for _ in 0..<100_000 {
            let u = rng.uniform()
            if u < 0 || u >= 1 { outside += 1 }
            sum += u
        }
        #expect(outside == 0)
        #expect(abs(sum / 100_000 - 0.5) < 0.01)
    }

    @Test func seededRandomRepeatsFromItsSeed() {
        var a = SeededRandom(seed: 99)
        var b = SeededRandom(seed: 99)
        var c = SeededRandom(seed: 100)
        let first = (0..<8).map { _ in a.next() }
        #expect(first == (0..<8).map { _ in b.next() })
        #expect(first != (0..<8).map { _ in c.next() })
    }

    @Test func ornsteinUhlenbeckStationarySpreadIsSigma() {
        var rng = SeededRandom(seed: 77)
        var process = OrnsteinUhlenbeck(sigma: 2, tau: 10)
        #expect(process.value == 0)
        // Let it forget its start, then sample a long run (about 25 000 correlation times' worth of data).
        for _ in 0..<100 { _ = process.step(dt: 5, rng: &rng) }
        let n = 100_000
        var sum = 0.0
        var sumSquares = 0.0
        for _ in 0..<n {
            let x = process.step(dt: 5, rng: &rng)
            sum += x
            sumSquares += x * x
        }
        let mean = sum / Double(n)
        let sd = (sumSquares / Double(n) - mean * mean).squareRoot()
        #expect(abs(mean) < 0.1)
        #expect(sd > 1.9 && sd < 2.1)
    }
}
