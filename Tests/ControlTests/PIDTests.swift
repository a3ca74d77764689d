import Foundation
import Testing
@testable import Control

/// y' = (K·u − y)/τ, stepped exactly.
private struct FirstOrderPlant {
    var y = 0.0
    let gain: Double
    let tau: Double
    mutating func step(_ u: Double, dt: Double) {
        let a = Foundation.exp(-dt / tau)
        y = gain * u + (y - gain * u) * a
    }
}

/// Runs the loop for `seconds` at `dt`; returns the plant.
private func simulate(_ pid: inout PID, plant: inout FirstOrderPlant, setpoint: Double, from t0: Double = 0,
                      seconds: Double, dt: Double = 0.1, peak: inout Double) {
    var t = t0
    while t < t0 + seconds {
        let u = pid.update(now: t, measurement: plant.y, setpoint: setpoint)
        plant.step(u, dt: dt)
        peak = max(peak, plant.y)
        t += dt
    }
}

@Suite struct PIDTests {
    @Test func proportionalOnlyLeavesTheTheoreticalOffset() {
        var pid = PID(PIDParameters(kp: 1, outputMin: -100, outputMax: 100))
        var plant = FirstOrderPlant(gain: 2, tau: 10)
        var peak = 0.0
        simulate(&pid, plant: &plant, setpoint: 3, seconds: 300, peak: &peak)
        // y = K·kp/(1 + K·kp)·r = 2/3·3 = 2.
        #expect(abs(plant.y - 2) < 1e-3)
    }

    @Test func integralRemovesTheOffset() {
        var pid = PID(PIDParameters(kp: 1, ki: 0.2, outputMin: -100, outputMax: 100))
        var plant = FirstOrderPlant(gain: 2, tau: 10)
        var peak = 0.0
        simulate(&pid, plant: &plant, setpoint: 3, seconds: 300, peak: &peak)
        #expect(abs(plant.y - 3) < 1e-3)
    }

    @Test func outputStaysWithinLimits() {
        var pid = PID(PIDParameters(kp: 50, ki: 5, kd: 5, outputMin: 0, outputMax: 10))
        var plant = FirstOrderPlant(gain: 1, tau: 5)
        var t = 0.0
        for i in 0..<2000 {
            let setpoint = i % 400 < 200 ? 50.0 : -50.0
            let u = pid.update(now: t, measurement: plant.y, setpoint: setpoint)
            #expect((0...10).contains(u))
            plant.step(u, dt: 0.1)
            t += 0.1
        }
    }

    @Test func antiWindupUnwindsFarFasterThanANaivePI() {
        // Setpoint 30 is unreachable (max output 10, gain 2 → 20) for 1000 s, then lowered to 15.
        var pid = PID(PIDParameters(kp: 1, ki: 0.2, outputMin: 0, outputMax: 10))
        var plant = FirstOrderPlant(gain: 2, tau: 10)
        var peak = 0.0
        simulate(&pid, plant: &plant, setpoint: 30, seconds: 1000, peak: &peak)
        #expect(pid.integral <= 10)  // clamped to the output range, not wound up
        simulate(&pid, plant: &plant, setpoint: 15, from: 1000, seconds: 200, peak: &peak)
        #expect(abs(plant.y - 15) < 0.01)
        // A naive PI stays saturated until its wound-up integral unwinds, holding the plant far above 15.
        let above = simulateTimeAbove(setpoint: 15)
        #expect(above.naive > 100)
        #expect(above.antiWindup < above.naive / 10)
    }

    /// Seconds after the setpoint drop (30 → 15 at t = 1000) that the plant stays more than 1 unit above 15.
    private func simulateTimeAbove(setpoint: Double) -> (antiWindup: Double, naive: Double) {
        var pid = PID(PIDParameters(kp: 1, ki: 0.2, outputMin: 0, outputMax: 10))
        var a = FirstOrderPlant(gain: 2, tau: 10)
        var b = FirstOrderPlant(gain: 2, tau: 10)
        var integral = 0.0
        var aboveA = 0.0
        var aboveB = 0.0
        var t = 0.0
        while t < 3000 {
            let r = t < 1000 ? 30.0 : setpoint
            let ua = pid.update(now: t, measurement: a.y, setpoint: r)
            let e = r - b.y
            integral += 0.2 * e * 0.1
            let ub = min(max(e + integral, 0), 10)
            a.step(ua, dt: 0.1)
            b.step(ub, dt: 0.1)
            if t >= 1000 {
                if a.y > setpoint + 1 { aboveA += 0.1 }
                if b.y > setpoint + 1 { aboveB += 0.1 }
            }
            t += 0.1
        }
        return (aboveA, aboveB)
    }

    @Test func noDerivativeKickOnSetpointSteps() {
        for kd in [0.0, 5.0] {
            var pid = PID(PIDParameters(kp: 2, ki: 0, kd: kd, outputMin: -1000, outputMax: 1000))
            _ = pid.update(now: 0, measurement: 10, setpoint: 10)
            let before = pid.update(now: 1, measurement: 10, setpoint: 10)
            let after = pid.update(now: 2, measurement: 10, setpoint: 15)
            #expect(after - before == 10)  // the P step kp·Δr only, whatever kd
        }
    }

    @Test func bumplessSetpointChange() {
        var pid = PID(PIDParameters(kp: 2, ki: 0.1, outputMin: -1000, outputMax: 1000))
        _ = pid.update(now: 0, measurement: 10, setpoint: 12)
        let before = pid.update(now: 1, measurement: 10, setpoint: 12)
        pid.changeSetpoint(from: 12, to: 20)
        let after = pid.update(now: 1, measurement: 10, setpoint: 20)  // same time: no I/D contribution
        #expect(abs(after - before) < 1e-12)
    }

    @Test func bumplessTransferFromManual() {
        var pid = PID(PIDParameters(kp: 3, ki: 0.5, kd: 1, outputMin: 0, outputMax: 100))
        pid.reset(output: 37.5, measurement: 41, setpoint: 50, now: 100)
        #expect(pid.update(now: 100, measurement: 41, setpoint: 50) == 37.5)
    }

    @Test func firstCallIsProportionalOnly() {
        var pid = PID(PIDParameters(kp: 2, ki: 100, kd: 100, outputMin: -1000, outputMax: 1000))
        #expect(pid.update(now: 5, measurement: 1, setpoint: 4) == 6)
        #expect(pid.integral == 0)
    }

    @Test func nonFiniteInputsLeaveTheOutputAlone() {
        var pid = PID(PIDParameters(kp: 2, ki: 1, outputMin: -100, outputMax: 100))
        _ = pid.update(now: 0, measurement: 1, setpoint: 4)
        let before = pid.update(now: 1, measurement: 1, setpoint: 4)
        let state = pid
        #expect(pid.update(now: 2, measurement: .nan, setpoint: 4) == before)
        #expect(pid.update(now: 2, measurement: 1, setpoint: .infinity) == before)
        #expect(pid == state)
    }

    @Test func derivativeFilterSoftensASpike() {
        func spikeResponse(filter: Double) -> Double {
            var pid = PID(PIDParameters(kp: 1, kd: 2, outputMin: -1000, outputMax: 1000, derivativeFilter: filter))
            _ = pid.update(now: 0, measurement: 0, setpoint: 0)
            _ = pid.update(now: 0.1, measurement: 0, setpoint: 0)
            _ = pid.update(now: 0.2, measurement: 1, setpoint: 0)  // one-sample spike
            return pid.derivative
        }
        let unfiltered = -2 * 1 / 0.1  // −kd·Δy/dt
        #expect(abs(spikeResponse(filter: 0) - unfiltered) < 1e-9)
        #expect(abs(spikeResponse(filter: 0.5)) < abs(unfiltered) / 2)
    }

    @Test func clearForgetsHistory() {
        var pid = PID(PIDParameters(kp: 1, ki: 1, outputMin: -10, outputMax: 10))
        _ = pid.update(now: 0, measurement: 0, setpoint: 1)
        _ = pid.update(now: 1, measurement: 0, setpoint: 1)
        pid.clear()
        #expect(pid.integral == 0 && pid.lastTime == nil && pid.output == 0)
    }
}
