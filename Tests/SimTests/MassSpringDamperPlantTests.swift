import Foundation
import Testing
@testable import Sim
import SimServe
import DeviceTransports
import Locking

/// Physics, determinism and speed of the mass-spring-damper rig plant (docs/register-contract.md §C3).
@Suite struct MassSpringDamperPlantTests {
    static let dt = 0.001
    static let standard = MassSpringDamperPlant.Parameters.standard
    /// ω_n of the standard rig, rad/s (√(400/1) = 20).
    static let omegaN = 20.0

    /// Steps `plant` for `seconds` at 1 ms with constant inputs; `observe` sees the plant after every step.
    static func run(_ plant: inout MassSpringDamperPlant, seconds: Double,
                    inputs: MassSpringDamperPlant.Inputs = .init(),
                    observe: (MassSpringDamperPlant) -> Void = { _ in }) {
        for _ in 0..<Int((seconds / dt).rounded()) {
            plant.step(dt: dt, inputs: inputs)
            observe(plant)
        }
    }

    /// Local extrema of `x` (sample before and after both lower, or both higher, in absolute value): index, value.
    static func extrema(_ x: [Double]) -> [(index: Int, value: Double)] {
        guard x.count >= 3 else { return [] }
        return (1..<(x.count - 1)).compactMap { i in
            let isMax = x[i] > x[i - 1] && x[i] >= x[i + 1]
            let isMin = x[i] < x[i - 1] && x[i] <= x[i + 1]
            return isMax || isMin ? (i, x[i]) : nil
        }
    }

    /// Times of upward zero crossings of `x` sampled every `dt`, by linear interpolation.
    static func upwardCrossings(_ x: [Double], dt: Double) -> [Double] {
        var times: [Double] = []
        for i in 1..<x.count where x[i - 1] < 0 && x[i] >= 0 {
            let fraction = x[i - 1] / (x[i - 1] - x[i])
            times.append((Double(i - 1) + fraction) * dt)
        }
        return times
    }

    /// Least-squares slope of y against x.
    static func slope(_ x: [Double], _ y: [Double]) -> Double {
        let mx = x.reduce(0, +) / Double(x.count)
        let my = y.reduce(0, +) / Double(y.count)
        let sxy = zip(x, y).reduce(0) { $0 + ($1.0 - mx) * ($1.1 - my) }
        let sxx = x.reduce(0) { $0 + ($1 - mx) * ($1 - mx) }
        return sxy / sxx
    }

    /// Free decay of the noise-free plant from `startMm` at rest: positions (mm) after each 1 ms step.
    static func freeDecay(_ parameters: MassSpringDamperPlant.Parameters = standard, from startMm: Double = 15,
                          seconds: Double) -> [Double] {
        var plant = MassSpringDamperPlant(parameters: parameters, seed: 1)
        plant.displace(toMm: startMm)
        var x: [Double] = []
        run(&plant, seconds: seconds) { x.append($0.positionMm) }
        return x
    }

    // MARK: - Parameters

    @Test func standardPresetMatchesTheDataSheet() throws {
        let p = try #require(MassSpringDamperPlant.Parameters.preset(named: "standard"))
        #expect(p == .standard)
        #expect(MassSpringDamperPlant.Parameters.presetNames == ["standard"])
        #expect(MassSpringDamperPlant.Parameters.preset(named: "fast") == nil)
        #expect(p.massKg == 1 && p.stiffnessNPerM == 400 && p.dampingRatio == 0.05)
        #expect(abs(p.naturalFrequencyHz - 3.183_098_86) < 1e-6)
        #expect(abs(p.dampingNsPerM - 2.0) < 1e-12)
        #expect(abs(p.dampedFrequencyHz - 3.183_098_86 * (1 - 0.0025).squareRoot()) < 1e-6)
        #expect(p.endStopMm == 25 && p.shakerMaxN == 20)
    }

    // MARK: - Free decay

    /// Test 1: the damped frequency (zero crossings) within 0.5 % of √(k/m)·√(1−ζ²)/2π, and the decay envelope
    /// (log of the peaks against time) giving ζ within 5 %.
    @Test func freeDecayHasTheDampedFrequencyAndDecrement() {
        let x = Self.freeDecay(seconds: 10)
        let crossings = Self.upwardCrossings(x, dt: Self.dt)
        #expect(crossings.count >= 25)
        let measuredHz = Double(crossings.count - 1) / (crossings[crossings.count - 1] - crossings[0])
        let expectedHz = Self.omegaN * (1 - 0.05 * 0.05).squareRoot() / (2 * Double.pi)
        #expect(abs(measuredHz / expectedHz - 1) < 0.005, "f_d \(measuredHz) Hz against \(expectedHz) Hz")

        // Maxima only (peaks above zero), while they are well clear of rounding.
        let peaks = Self.extrema(x).filter { $0.value > 0.05 }
        #expect(peaks.count >= 15)
        let times = peaks.map { Double($0.index + 1) * Self.dt }
        let decayRate = -Self.slope(times, peaks.map { Foundation.log($0.value) })
        let zeta = decayRate / Self.omegaN
        #expect(abs(zeta / 0.05 - 1) < 0.05, "ζ from the envelope \(zeta)")
    }

    /// The extrema of m·ẍ + c·ẋ + k·x = 0 from x₀ at rest lie exactly on x₀·e^(−ζω_n·t): every sampled peak and
    /// trough of the plant agrees with that envelope, and the whole record with the analytic solution.
    @Test func freeDecayFollowsTheAnalyticSolution() {
        let x = Self.freeDecay(seconds: 10)
        let a = 0.05 * Self.omegaN
        let wd = Self.omegaN * (1 - 0.05 * 0.05).squareRoot()
        var worst = 0.0
        for (i, v) in x.enumerated() {
            let t = Double(i + 1) * Self.dt
            let exact = 15 * Foundation.exp(-a * t) * (Foundation.cos(wd * t) + a / wd * Foundation.sin(wd * t))
            worst = max(worst, abs(v - exact))
        }
        #expect(worst < 0.001, "largest departure from the analytic solution \(worst) mm")

        let extrema = Self.extrema(x)
        #expect(extrema.count >= 60)
        for e in extrema {
            let envelope = 15 * Foundation.exp(-a * Double(e.index + 1) * Self.dt)
            // The sample is up to 0.5 ms from the true extremum: that lowers it by (ω·0.5 ms)²/2 ≈ 5e-5 of it and
            // moves the envelope by ζω·0.5 ms = 5e-4 of it; the integrator's own error is ~1e-5 mm.
            #expect(abs(abs(e.value) - envelope) <= 6e-4 * envelope + 2e-5, "extremum \(e) against \(envelope) mm")
        }
    }

    /// An impulse of J starts the free response x = (J/m)/ω_d · e^(−ζω_n·t)·sin ω_d·t.
    @Test func pluckGivesTheImpulseResponse() {
        var plant = MassSpringDamperPlant(parameters: Self.standard, seed: 1)
        plant.pluck(impulseNs: 0.3)
        #expect(abs(plant.velocityMms - 300) < 1e-9)
        let a = 0.05 * Self.omegaN
        let wd = Self.omegaN * (1 - 0.05 * 0.05).squareRoot()
        var worst = 0.0
        var t = 0.0
        Self.run(&plant, seconds: 5) { p in
            t += Self.dt
            let exact = 300 / wd * Foundation.exp(-a * t) * Foundation.sin(wd * t)
            worst = max(worst, abs(p.positionMm - exact))
        }
        #expect(worst < 0.001, "largest departure \(worst) mm")
    }

    /// A long step is sub-stepped: one 10 ms step lands where ten 1 ms steps do.
    @Test func longStepsAreSubStepped() {
        var coarse = MassSpringDamperPlant(parameters: Self.standard, seed: 1)
        var fine = coarse
        coarse.displace(toMm: 15)
        fine.displace(toMm: 15)
        for _ in 0..<200 { coarse.step(dt: 0.01, inputs: .init()) }
        Self.run(&fine, seconds: 2)
        #expect(abs(coarse.positionMm - fine.positionMm) < 1e-9)
        #expect(abs(coarse.time - 2) < 1e-9)
        // One 0.5 s step is 2000 sub-steps, not one unstable Euler jump.
        var jump = MassSpringDamperPlant(parameters: Self.standard, seed: 1)
        jump.displace(toMm: 15)
        jump.step(dt: 0.5, inputs: .init())
        #expect(abs(jump.positionMm) < 15)
    }

    // MARK: - Energy

    /// Test 2: with ζ = 0 the symplectic integrator keeps the amplitude within 1 % over 60 s (no numerical
    /// damping, no growth).
    @Test func undampedAmplitudeHoldsForAMinute() {
        var p = Self.standard
        p.dampingRatio = 0
        let x = Self.freeDecay(p, seconds: 60)
        let extrema = Self.extrema(x)
        #expect(extrema.count >= 380, "60 s at 3.18 Hz has about 382 extrema")
        let amplitudes = extrema.map { abs($0.value) }
        let low = amplitudes.min() ?? 0
        let high = amplitudes.max() ?? .infinity
        #expect(low > 14.85 && high < 15.15, "extrema between \(low) and \(high) mm")
        // The last cycle is as large as the first.
        #expect(abs((amplitudes.last ?? 0) - (amplitudes.first ?? 0)) < 0.15)
    }

    // MARK: - Resonance and end stops

    /// Test 3: driven at f_n the steady amplitude is F/(c·ω_n) (5 mm for 0.2 N), within 10 % (in fact far closer).
    @Test func resonantAmplitudeIsForceOverDampingTimesOmega() {
        var plant = MassSpringDamperPlant(parameters: Self.standard, seed: 1)
        let inputs = MassSpringDamperPlant.Inputs(amplitudeN: 0.2, frequencyHz: Self.standard.naturalFrequencyHz,
                                                  shakerEnabled: true)
        Self.run(&plant, seconds: 13, inputs: inputs)
        var low = Double.infinity
        var high = -Double.infinity
        Self.run(&plant, seconds: 2, inputs: inputs) { p in
            low = min(low, p.positionMm)
            high = max(high, p.positionMm)
        }
        let amplitude = (high - low) / 2
        let expected = 0.2 / (Self.standard.dampingNsPerM * Self.omegaN) * 1000
        #expect(abs(amplitude / expected - 1) < 0.10, "amplitude \(amplitude) mm against \(expected) mm")
        #expect(abs(amplitude / expected - 1) < 0.01, "amplitude \(amplitude) mm against \(expected) mm")
        #expect(!plant.atEndStop)
    }

    /// Test 3 continued: forcing that would drive the mass past ±25 mm is held by the end stops, with a penetration
    /// under 1 mm even at the shaker's full 20 N at resonance; the flag is up exactly while in contact.
    @Test(arguments: [2.0, 20.0, 100.0])
    func endStopsHoldTheMass(amplitudeN: Double) {
        var plant = MassSpringDamperPlant(parameters: Self.standard, seed: 1)
        let inputs = MassSpringDamperPlant.Inputs(amplitudeN: amplitudeN, frequencyHz: Self.standard.naturalFrequencyHz,
                                                  shakerEnabled: true)
        var largest = 0.0
        var contacts = 0
        var flagAgrees = true
        var largestForce = 0.0
        var pulls = 0
        Self.run(&plant, seconds: 20, inputs: inputs) { p in
            largest = max(largest, abs(p.positionMm))
            largestForce = max(largestForce, abs(p.forceN))
            if p.atEndStop { contacts += 1 }
            if p.atEndStop != (abs(p.positionMm) > 25) { flagAgrees = false }
            // The stop's share of the acceleration only ever pushes the mass back inside.
            let free = p.forceN - 400 * p.positionMm / 1000 - 2 * p.velocityMms / 1000
            let stop = p.accelMs2 - free
            if stop * p.positionMm > 1e-9 || (!p.atEndStop && abs(stop) > 1e-9) { pulls += 1 }
        }
        #expect(pulls == 0, "the end stop pulled the mass \(pulls) times")
        #expect(largest > 25, "the forcing reaches the stops")
        #expect(largest < 26, "penetration \(largest - 25) mm")
        #expect(contacts > 0)
        #expect(flagAgrees)
        // The shaker delivers at most its 20 N.
        #expect(largestForce <= 20 + 1e-9 && largestForce > min(amplitudeN, 20) * 0.99)
    }

    /// The mass leaves a stop freely: plucked against it, it comes back out and decays.
    @Test func displaceIsClampedToTheStopsAndTheMassLeavesThem() {
        var plant = MassSpringDamperPlant(parameters: Self.standard, seed: 1)
        plant.displace(toMm: 40)
        #expect(plant.positionMm == 25)
        #expect(plant.velocityMms == 0)
        #expect(!plant.atEndStop)
        Self.run(&plant, seconds: 10)
        #expect(abs(plant.positionMm) < 25 * Foundation.exp(-0.05 * Self.omegaN * 10) * 1.5 + 1e-6)
    }

    // MARK: - Excitation

    /// Test 4: the excitation phase runs on through frequency changes, so the force never jumps: F follows
    /// A·sin(2π∫f dt) exactly, and no step changes it by more than A·2π·f_max·dt.
    @Test func frequencyChangesArePhaseContinuous() {
        var plant = MassSpringDamperPlant(parameters: Self.standard, seed: 1)
        let amplitude = 10.0
        // (seconds, Hz): changes at 1.05 s and 1.83 s, where sin(2π·f·t) of either frequency is far from the
        // running phase, so a phase restart or a phase computed from f·t would jump.
        let schedule: [(Double, Double)] = [(1.05, 3.0), (0.78, 7.0), (1.0, 1.5)]
        var phase = 0.0
        var previous = 0.0
        var largestStep = 0.0
        var worst = 0.0
        var first = true
        for (seconds, hz) in schedule {
            let inputs = MassSpringDamperPlant.Inputs(amplitudeN: amplitude, frequencyHz: hz, shakerEnabled: true)
            Self.run(&plant, seconds: seconds, inputs: inputs) { p in
                phase += 2 * Double.pi * hz * Self.dt
                worst = max(worst, abs(p.forceN - amplitude * Foundation.sin(phase)))
                if !first { largestStep = max(largestStep, abs(p.forceN - previous)) }
                first = false
                previous = p.forceN
            }
        }
        #expect(worst < 1e-6, "force departs from A·sin(2π∫f dt) by \(worst) N")
        #expect(largestStep <= amplitude * 2 * Double.pi * 7 * Self.dt * 1.001, "largest force step \(largestStep) N")
    }

    /// Enabling the shaker starts the force from zero; disabling it removes the force at once.
    @Test func shakerEnableGatesTheForce() {
        var plant = MassSpringDamperPlant(parameters: Self.standard, seed: 1)
        let on = MassSpringDamperPlant.Inputs(amplitudeN: 5, frequencyHz: 3, shakerEnabled: true)
        Self.run(&plant, seconds: 0.1, inputs: .init(amplitudeN: 5, frequencyHz: 3, shakerEnabled: false))
        #expect(plant.forceN == 0)
        #expect(plant.positionMm == 0)
        plant.step(dt: Self.dt, inputs: on)
        #expect(abs(plant.forceN - 5 * Foundation.sin(2 * Double.pi * 3 * Self.dt)) < 1e-9)
        Self.run(&plant, seconds: 0.2, inputs: on)
        #expect(abs(plant.forceN) > 1)
        plant.step(dt: Self.dt, inputs: .init(amplitudeN: 5, frequencyHz: 3, shakerEnabled: false))
        #expect(plant.forceN == 0)
        // Enabled again, the excitation restarts from zero phase rather than where it stopped.
        plant.step(dt: Self.dt, inputs: on)
        #expect(abs(plant.forceN - 5 * Foundation.sin(2 * Double.pi * 3 * Self.dt)) < 1e-9)
        plant.step(dt: Self.dt, inputs: .init(amplitudeN: 5, frequencyHz: 3, shakerEnabled: false))
        // Acceleration is Newton's law of the state.
        let expected = (-400 * plant.positionMm / 1000 - 2 * plant.velocityMms / 1000)
        #expect(abs(plant.accelMs2 - expected) < 1e-9)
    }

    // MARK: - Sensors, determinism, speed

    /// Readings add the documented white noise: at rest the position reads with σ ≈ 0.02 mm and mean ≈ 0, velocity
    /// 0.5 mm/s, acceleration 0.01 m/s², force 0.01 N.
    @Test func readingsCarryTheSensorNoise() {
        let plant = MassSpringDamperPlant(parameters: Self.standard, seed: 1)
        var rng = SeededRandom(seed: 5)
        var positions: [Double] = []
        var velocities: [Double] = []
        var accelerations: [Double] = []
        var forces: [Double] = []
        for _ in 0..<20_000 {
            let r = plant.reading(rng: &rng)
            positions.append(r.positionMm)
            velocities.append(r.velocityMms)
            accelerations.append(r.accelMs2)
            forces.append(r.forceN)
        }
        func sd(_ v: [Double]) -> Double {
            let m = v.reduce(0, +) / Double(v.count)
            return (v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count - 1)).squareRoot()
        }
        #expect(abs(sd(positions) / 0.02 - 1) < 0.05)
        #expect(abs(positions.reduce(0, +) / 20_000) < 0.001)
        #expect(abs(sd(velocities) / 0.5 - 1) < 0.05)
        #expect(abs(sd(accelerations) / 0.01 - 1) < 0.05)
        #expect(abs(sd(forces) / 0.01 - 1) < 0.05)
    }

    /// Test 5: the same seed and the same calls give bit-identical state and readings.
    @Test func sameSeedAndCallsAreBitIdentical() {
        func trace(readingSeed: UInt64) -> [UInt64] {
            var plant = MassSpringDamperPlant(parameters: .standard, seed: 42)
            var rng = SeededRandom(seed: readingSeed)
            var out: [UInt64] = []
            plant.displace(toMm: 12)
            for i in 0..<5000 {
                let hz = 2.5 + Double(i / 500) * 0.2
                plant.step(dt: Self.dt, inputs: .init(amplitudeN: 1.5, frequencyHz: hz, shakerEnabled: i > 1000))
                if i == 3000 { plant.pluck(impulseNs: 0.1) }
                let r = plant.reading(rng: &rng)
                out += [plant.positionMm, plant.velocityMms, plant.accelMs2, plant.forceN, plant.time,
                        r.positionMm, r.velocityMms, r.accelMs2, r.forceN].map(\.bitPattern)
            }
            return out
        }
        #expect(trace(readingSeed: 7) == trace(readingSeed: 7))
        #expect(trace(readingSeed: 7) != trace(readingSeed: 8), "the readings' noise comes from the generator")
    }

    /// Test 6: a minute of plant time at 1 ms steps (with readings) takes well under a second, even in debug.
    /// Sixty seconds of 1 ms steps under a shaker stay finite and on time (the speed is bench/run's, not a test's).
    @Test func sixtySecondsAtOneMillisecondStayFinite() {
        var plant = MassSpringDamperPlant(parameters: .standard, seed: 3)
        var rng = SeededRandom(seed: 3)
        let inputs = MassSpringDamperPlant.Inputs(amplitudeN: 0.4, frequencyHz: 3.2, shakerEnabled: true)
        var checksum = 0.0
        for _ in 0..<60_000 {
            plant.step(dt: Self.dt, inputs: inputs)
            checksum += plant.reading(rng: &rng).positionMm
        }
        #expect(abs(plant.time - 60) < 1e-6)
        #expect(checksum.isFinite)
    }
}
