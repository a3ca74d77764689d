import Foundation
import Testing
@testable import Control
import Locking

/// y' = (K·u − y)/τ, stepped exactly for an input held over the step.
private struct FirstOrderPlant {
    var y = 0.0
    let gain: Double
    let tau: Double

    mutating func step(_ u: Double, dt: Double) {
        let a = Foundation.exp(-dt / tau)
        y = gain * u + (y - gain * u) * a
    }
}

/// A PI with no anti-windup at all (output clamped, integral free), stepped like `PID` (no I on the first call):
/// the reference the anti-windup is judged against.
private struct NaivePI {
    let kp: Double
    let ki: Double
    let range: ClosedRange<Double>
    var integral = 0.0
    var started = false

    mutating func update(dt: Double, measurement: Double, setpoint: Double) -> Double {
        let error = setpoint - measurement
        if started { integral += ki * error * dt }
        started = true
        return min(max(kp * error + integral, range.lowerBound), range.upperBound)
    }
}

/// Closes the loop `steps` times at `dt` from `t0` with `setpoint(t)`; `observe` sees the time, the output and the
/// plant after the step.
private func run(_ pid: inout PID, _ plant: inout FirstOrderPlant, from t0: Double = 0, steps: Int, dt: Double,
                 setpoint: (Double) -> Double, observe: (Double, Double, Double) -> Void = { _, _, _ in }) {
    for i in 0..<steps {
        let t = t0 + Double(i) * dt
        let u = pid.update(now: t, measurement: plant.y, setpoint: setpoint(t))
        plant.step(u, dt: dt)
        observe(t, u, plant.y)
    }
}

@Suite struct PIDTests {
    // MARK: Closed loop against a first-order plant

    @Test func proportionalOnlyLeavesTheTheoreticalOffset() {
        var pid = PID(PIDParameters(kp: 1, outputMin: -100, outputMax: 100))
        var plant = FirstOrderPlant(gain: 2, tau: 10)
        run(&pid, &plant, steps: 3000, dt: 0.1, setpoint: { _ in 3 })
        // y = K·kp/(1 + K·kp)·r = 2/3 · 3 = 2: an offset of r/(1 + K·kp) = 1 remains.
        #expect(abs(plant.y - 2) < 1e-6)
    }

    @Test func integralActionRemovesTheOffset() {
        var pid = PID(PIDParameters(kp: 1, ki: 0.2, outputMin: -100, outputMax: 100))
        var plant = FirstOrderPlant(gain: 2, tau: 10)
        run(&pid, &plant, steps: 3000, dt: 0.1, setpoint: { _ in 3 })
        #expect(abs(plant.y - 3) < 1e-6)
        // At rest P is 0, so the integral alone holds the output r/K.
        #expect(abs(pid.integral - 1.5) < 1e-6)
    }

    @Test func outputAndIntegralStayWithinLimits() {
        var pid = PID(PIDParameters(kp: 50, ki: 5, kd: 5, outputMin: 0, outputMax: 10))
        var plant = FirstOrderPlant(gain: 1, tau: 5)
        var (lowest, highest) = (Double.infinity, -Double.infinity)
        var (lowestIntegral, highestIntegral) = (Double.infinity, -Double.infinity)
        for i in 0..<4000 {
            let setpoint = i % 400 < 200 ? 9.0 : 1.0
            // Noise on the measurement so the derivative term is busy too.
            let u = pid.update(now: Double(i) * 0.1, measurement: plant.y + 0.3 * sin(Double(i)), setpoint: setpoint)
            (lowest, highest) = (min(lowest, u), max(highest, u))
            lowestIntegral = min(lowestIntegral, pid.integral)
            highestIntegral = max(highestIntegral, pid.integral)
            plant.step(u, dt: 0.1)
        }
        #expect(lowest == 0 && highest == 10)  // both limits reached, never passed
        #expect(lowestIntegral >= 0 && highestIntegral <= 10)
        #expect(highestIntegral > 1)  // the integral did work, so the bound above means something
    }

    /// The setpoint 30 is out of reach (output ≤ 10, plant gain 2: y ≤ 20) for 1000 s, then drops to a reachable 15.
    /// Returns the integral just before the drop, how long after it the plant stays more than 1 unit above 15, and
    /// the area ∫(y − 15)⁺ dt.
    private func afterLongSaturation(naive: Bool)
        -> (integralAtDrop: Double, secondsAbove: Double, excessArea: Double) {
        var pid = PID(PIDParameters(kp: 1, ki: 0.2, outputMin: 0, outputMax: 10))
        var reference = NaivePI(kp: 1, ki: 0.2, range: 0...10)
        var plant = FirstOrderPlant(gain: 2, tau: 10)
        var secondsAbove = 0.0
        var excessArea = 0.0
        var integralAtDrop = 0.0
        for i in 0..<30000 {
            let t = Double(i) * 0.1
            let setpoint = t < 1000 ? 30.0 : 15.0
            let u = naive ? reference.update(dt: 0.1, measurement: plant.y, setpoint: setpoint)
                : pid.update(now: t, measurement: plant.y, setpoint: setpoint)
            if i == 9999 { integralAtDrop = naive ? reference.integral : pid.integral }
            plant.step(u, dt: 0.1)
            if t >= 1000 {
                if plant.y > 16 { secondsAbove += 0.1 }
                excessArea += max(plant.y - 15, 0) * 0.1
            }
        }
        return (integralAtDrop, secondsAbove, excessArea)
    }

    @Test func antiWindupRecoversFromLongSaturationWhereANaivePIStaysStuck() {
        let guarded = afterLongSaturation(naive: false)
        let naive = afterLongSaturation(naive: true)
        // Scratch run: guarded 2.2 s above, 7.6 K·s excess; naive integral ≈ 2040 at the drop, so it stays saturated
        // for the whole 2000 s after it (10 000 K·s).
        // P alone saturates the output throughout (30 − y > 10), so conditional integration keeps the integral at 0;
        // clamping alone would let it reach 10.
        #expect(guarded.integralAtDrop == 0)
        #expect(naive.integralAtDrop > 1000)
        #expect(guarded.secondsAbove < 30)
        #expect(naive.secondsAbove > 1000)
        #expect(guarded.excessArea < naive.excessArea / 50)
    }

    @Test func antiWindupLimitsOvershootOfASaturatingStep() {
        func overshoot(naive: Bool) -> Double {
            var pid = PID(PIDParameters(kp: 1, ki: 0.2, outputMin: 0, outputMax: 10))
            var reference = NaivePI(kp: 1, ki: 0.2, range: 0...10)
            var plant = FirstOrderPlant(gain: 2, tau: 10)
            var peak = 0.0
            for i in 0..<6000 {
                let u = naive ? reference.update(dt: 0.1, measurement: plant.y, setpoint: 18)
                    : pid.update(now: Double(i) * 0.1, measurement: plant.y, setpoint: 18)
                plant.step(u, dt: 0.1)
                peak = max(peak, plant.y)
            }
            return peak - 18
        }
        // 0 → 18 saturates the output (y ≤ 20) for most of the rise. Scratch run: 0.15 guarded, 1.98 naive.
        let guarded = overshoot(naive: false)
        let naive = overshoot(naive: true)
        #expect(naive > 1)
        #expect(guarded < naive / 4)
    }

    @Test func integralIsClampedToTheOutputRangeEvenWhileTheOutputIsNotSaturated() {
        // With b = 0 the P term sees only −kp·y = −20 while the integral sees the full error 20: the output stays
        // below the top limit until the integral reaches 30, so conditional integration alone would let it get there.
        var pid = PID(PIDParameters(kp: 1, ki: 1, outputMin: 0, outputMax: 10, setpointWeight: 0))
        for i in 0...100 {
            _ = pid.update(now: Double(i), measurement: 20, setpoint: 40)
        }
        #expect(pid.integral == 10)
        #expect(pid.output == 0)  // −20 + 10, clamped
    }

    @Test func reverseActingGainsDoNotWindUp() {
        // Cooling-like: more output lowers y. Negative gains; setpoint −30 is out of reach (y ≥ −20).
        var pid = PID(PIDParameters(kp: -1, ki: -0.2, outputMin: 0, outputMax: 10))
        var plant = FirstOrderPlant(gain: -2, tau: 10)
        run(&pid, &plant, steps: 10000, dt: 0.1, setpoint: { _ in -30 })
        #expect(pid.output == 10)
        // P alone saturates from the start, so conditional integration keeps the integral where it was.
        #expect(pid.integral == 0)
    }

    // MARK: Derivative

    @Test func setpointStepDoesNotKickTheDerivative() {
        // The measurement ramps 0.5 per second so D is non-zero; the setpoint then steps 20 → 25. Derivative on
        // error would add a kick (filtered, ≈ 20 here) with kd on; on measurement the jump is the P change only.
        var jumps: [Double] = []
        for kd in [0.0, 5.0] {
            var pid = PID(PIDParameters(kp: 2, kd: kd, outputMin: -1000, outputMax: 1000))
            var before = 0.0
            for i in 0...40 {
                before = pid.update(now: Double(i), measurement: 10 + 0.5 * Double(i), setpoint: 20)
            }
            let after = pid.update(now: 41, measurement: 30.5, setpoint: 25)
            jumps.append(after - before)
        }
        // kp·(Δr − Δy) = 2·(5 − 0.5) = 9.
        #expect(abs(jumps[0] - 9) < 1e-9)
        #expect(abs(jumps[1] - 9) < 1e-9)
    }

    @Test func derivativeFilterSoftensASingleSampleSpike() {
        /// The largest |D| (output − P) while the measurement spikes to 1 for one 0.1 s sample.
        func worstDerivative(filter: Double) -> Double {
            var pid = PID(PIDParameters(kp: 1, kd: 2, outputMin: -1000, outputMax: 1000, derivativeFilter: filter))
            var worst = 0.0
            for (i, y) in [0.0, 0, 0, 1, 0, 0, 0].enumerated() {
                let u = pid.update(now: Double(i) * 0.1, measurement: y, setpoint: 0)
                worst = max(worst, abs(u - (0 - y)))
            }
            return worst
        }
        let unfiltered = 2 * 1 / 0.1  // kd·Δy/dt
        // Scratch run: 20 unfiltered, 6.67 at the default 0.1 (Tf = 0.2 s), 1.82 at 0.5 (Tf = 1 s).
        #expect(abs(worstDerivative(filter: 0) - unfiltered) < 1e-9)
        #expect(worstDerivative(filter: 0.1) < unfiltered * 0.6)
        #expect(worstDerivative(filter: 0.5) < worstDerivative(filter: 0.1))
    }

    @Test func derivativeOpposesAMeasurementChange() {
        var pid = PID(PIDParameters(kp: 1, kd: 2, outputMin: -1000, outputMax: 1000, derivativeFilter: 0))
        _ = pid.update(now: 0, measurement: 0, setpoint: 0)
        _ = pid.update(now: 0.5, measurement: 1, setpoint: 0)
        #expect(abs(pid.derivative - -4) < 1e-12)  // −kd·Δy/dt = −2·1/0.5
        #expect(abs(pid.output - -5) < 1e-12)  // P −1 plus D −4
    }

    @Test func setpointWeightScalesTheProportionalStep() {
        var pid = PID(PIDParameters(kp: 2, ki: 0.5, outputMin: -1000, outputMax: 1000, setpointWeight: 0.25))
        _ = pid.update(now: 0, measurement: 10, setpoint: 10)
        let before = pid.update(now: 1, measurement: 10, setpoint: 10)
        // Repeated time: no integral action, so the jump is kp·b·Δr = 2·0.25·8 alone.
        #expect(abs(pid.update(now: 1, measurement: 10, setpoint: 18) - before - 4) < 1e-12)
        // The integral still acts on the full error r − y: ki·8·1 a second later.
        let settled = pid.update(now: 2, measurement: 10, setpoint: 18)
        #expect(abs(settled - before - 8) < 1e-12)
        // A bumpless change compensates the weighted step kp·b·Δr, not kp·Δr.
        pid.changeSetpoint(from: 18, to: 30)
        #expect(abs(pid.update(now: 2, measurement: 10, setpoint: 30) - settled) < 1e-12)
    }

    @Test func zeroingKdDropsTheDerivativeAtOnce() {
        var pid = PID(PIDParameters(kp: 1, kd: 1, outputMin: -100, outputMax: 100))
        _ = pid.update(now: 0, measurement: 0, setpoint: 0)
        _ = pid.update(now: 1, measurement: 1, setpoint: 0)
        pid.parameters.kd = 0
        #expect(pid.update(now: 2, measurement: 1, setpoint: 0) == -1)
        #expect(pid.derivative == 0)
    }

    // MARK: Bumpless operation

    @Test func changeSetpointGivesNoOutputJump() {
        var pid = PID(PIDParameters(kp: 2, ki: 0.1, outputMin: -1000, outputMax: 1000))
        _ = pid.update(now: 0, measurement: 10, setpoint: 12)
        let before = pid.update(now: 1, measurement: 10, setpoint: 12)
        pid.changeSetpoint(from: 12, to: 20)
        #expect(abs(pid.update(now: 1, measurement: 10, setpoint: 20) - before) < 1e-12)
        // A second later only integral action has moved it: ki·e·dt = 0.1·10·1.
        #expect(abs(pid.update(now: 2, measurement: 10, setpoint: 20) - (before + 1)) < 1e-12)
    }

    @Test func changeSetpointStaysBumplessWhenTheCompensationLeavesTheOutputRange() {
        // Heater-like loop (the heat rig's default gains) settled at 60 with ≈ 30 % output. Raising the setpoint to
        // 70 moves P by +100, so the compensated integral goes to ≈ −70, below the 0 % limit; clamping it there
        // would throw the heater to 100 % on the next sample.
        var pid = PID(PIDParameters(kp: 10, ki: 0.04, outputMin: 0, outputMax: 100))
        var plant = FirstOrderPlant(gain: 2, tau: 10)
        var last = 0.0
        run(&pid, &plant, steps: 4000, dt: 0.5, setpoint: { _ in 60 }, observe: { _, u, _ in last = u })
        #expect(abs(last - 30) < 0.01)
        pid.changeSetpoint(from: 60, to: 70)
        var largestStep = 0.0
        run(&pid, &plant, from: 2000, steps: 40, dt: 0.5, setpoint: { _ in 70 }, observe: { _, u, _ in
            largestStep = max(largestStep, abs(u - last))
            last = u
        })
        // Scratch run: 0.2 %, i.e. ki·e·dt = 0.04·10·0.5, the integral action alone.
        #expect(largestStep < 1)
        #expect(pid.integral < 0)
        run(&pid, &plant, from: 2020, steps: 8000, dt: 0.5, setpoint: { _ in 70 })
        #expect(abs(plant.y - 70) < 1e-3)
        #expect((0...100).contains(pid.integral))  // back in range once integration has carried the change
    }

    @Test func changeSetpointWithoutIntegralActionLeavesTheSetpointChangeInEffect() {
        // With ki = 0 the compensation would never decay and would cancel the new setpoint for good.
        var pid = PID(PIDParameters(kp: 2, outputMin: -1000, outputMax: 1000))
        _ = pid.update(now: 0, measurement: 10, setpoint: 12)
        pid.changeSetpoint(from: 12, to: 20)
        #expect(pid.update(now: 1, measurement: 10, setpoint: 20) == 20)
        #expect(pid.integral == 0)
    }

    @Test func resetGivesExactlyTheRequestedOutput() {
        var pid = PID(PIDParameters(kp: 3, ki: 0.5, kd: 1, outputMin: 0, outputMax: 100))
        // Some history first, so the reset has state to override.
        _ = pid.update(now: 0, measurement: 20, setpoint: 80)
        _ = pid.update(now: 1, measurement: 22, setpoint: 80)
        pid.reset(output: 37.5, measurement: 41, setpoint: 50, now: 100)
        #expect(pid.update(now: 100, measurement: 41, setpoint: 50) == 37.5)
        // A second later at the same measurement only integral action has been added: 0.5·9·1.
        #expect(abs(pid.update(now: 101, measurement: 41, setpoint: 50) - 42) < 1e-12)

        var atRest = PID(PIDParameters(kp: 3, ki: 0.5, kd: 1, outputMin: 0, outputMax: 100))
        atRest.reset(output: 12.25, measurement: 50, setpoint: 50, now: 0)
        #expect(atRest.update(now: 1, measurement: 50, setpoint: 50) == 12.25)
    }

    // MARK: Edge cases

    @Test func firstCallHasNoIntegralOrDerivativeAction() {
        var pid = PID(PIDParameters(kp: 2, ki: 100, kd: 100, outputMin: -1000, outputMax: 1000))
        #expect(pid.update(now: 5, measurement: 1, setpoint: 4) == 6)
        #expect(pid.integral == 0)
        #expect(pid.derivative == 0)
    }

    @Test func nonFiniteInputsLeaveOutputAndStateAlone() {
        var pid = PID(PIDParameters(kp: 2, ki: 1, kd: 1, outputMin: -100, outputMax: 100))
        _ = pid.update(now: 0, measurement: 1, setpoint: 4)
        let before = pid.update(now: 1, measurement: 1.5, setpoint: 4)
        let state = pid
        #expect(pid.update(now: 2, measurement: .nan, setpoint: 4) == before)
        #expect(pid.update(now: 2, measurement: 1, setpoint: .infinity) == before)
        #expect(pid.update(now: .nan, measurement: 1, setpoint: 4) == before)
        #expect(pid == state)
    }

    @Test func repeatedTimeHasNoIntegralAction() {
        var pid = PID(PIDParameters(kp: 1, ki: 1, outputMin: -100, outputMax: 100))
        _ = pid.update(now: 0, measurement: 0, setpoint: 1)
        _ = pid.update(now: 1, measurement: 0, setpoint: 1)
        #expect(pid.integral == 1)
        _ = pid.update(now: 1, measurement: 0, setpoint: 1)
        #expect(pid.integral == 1)
    }

    @Test func clockSteppingBackReanchorsTheHistory() {
        var pid = PID(PIDParameters(kp: 1, ki: 1, outputMin: -100, outputMax: 100))
        _ = pid.update(now: 1000, measurement: 0, setpoint: 1)
        _ = pid.update(now: 5, measurement: 0, setpoint: 1)
        #expect(pid.integral == 0)
        #expect(pid.lastTime == 5)
        _ = pid.update(now: 6, measurement: 0, setpoint: 1)
        #expect(pid.integral == 1)  // integrating again, without waiting for t > 1000
    }

    @Test func clearForgetsHistory() {
        var pid = PID(PIDParameters(kp: 1, ki: 1, kd: 1, outputMin: -10, outputMax: 10))
        _ = pid.update(now: 0, measurement: 0, setpoint: 1)
        _ = pid.update(now: 1, measurement: 0.5, setpoint: 1)
        pid.clear()
        #expect(pid.integral == 0 && pid.derivative == 0 && pid.output == 0)
        #expect(pid.lastTime == nil && pid.lastMeasurement == nil)
        #expect(pid.update(now: 7, measurement: 0, setpoint: 1) == 1)  // P only again
    }
}
