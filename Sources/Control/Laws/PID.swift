import Foundation

/// Gains and limits of a PID law. Units are the caller's (e.g. % output per kelvin).
public struct PIDParameters: Sendable, Equatable, Codable {
    /// Proportional gain.
    public var kp: Double
    /// Integral gain, per second (not Ti).
    public var ki: Double
    /// Derivative gain, seconds.
    public var kd: Double
    /// Lowest output the law commands.
    public var outputMin: Double
    /// Highest output the law commands.
    public var outputMax: Double
    /// Derivative filter time constant as a fraction of kd/kp (textbook N = 1/derivativeFilter): first-order
    /// low-pass on the derivative term. 0 turns the filter off.
    public var derivativeFilter: Double
    /// Setpoint weight b of the proportional term: P acts on b·r − y. 1 is classic; < 1 softens setpoint kicks.
    public var setpointWeight: Double

    /// Gains and limits; `outputMin` must not exceed `outputMax`.
    public init(kp: Double, ki: Double = 0, kd: Double = 0, outputMin: Double, outputMax: Double,
                derivativeFilter: Double = 0.1, setpointWeight: Double = 1) {
        precondition(outputMin <= outputMax, "PID output range is empty")
        self.kp = kp
        self.ki = ki
        self.kd = kd
        self.outputMin = outputMin
        self.outputMax = outputMax
        self.derivativeFilter = derivativeFilter
        self.setpointWeight = setpointWeight
    }
}

/// A discrete PID law as a pure value: time is passed in, it never reads a clock (in the style of Klipper's
/// ControlPID and LinuxCNC's pid component).
///
/// output = clamp(kp·(b·r − y) + I + D), where I integrates ki·(r − y) and D is the filtered −kd·dy/dt.
///
/// - Derivative acts on the measurement, so setpoint changes cause no derivative kick.
/// - Anti-windup by conditional integration and clamping: the integral does not move in the direction that would
///   push a saturated output further past its limit, and integration never takes the integral beyond the output
///   range. The bumpless operations (`reset`, `changeSetpoint`) may place it outside that range to keep the
///   output steady; from there integration can only bring it back towards the range, never further out.
public struct PID: Sendable, Equatable {
    /// Gains and limits; may be changed between updates (the integral is kept in output units, so a new ki does not
    /// make the output jump).
    public var parameters: PIDParameters
    /// The integral term's contribution, in output units.
    public private(set) var integral = 0.0
    /// The filtered derivative term's contribution, in output units (diagnostics).
    public private(set) var derivative = 0.0
    /// The last output returned.
    public private(set) var output = 0.0
    /// The measurement of the last accepted update, if any.
    public private(set) var lastMeasurement: Double?
    /// The time of the last accepted update, if any.
    public private(set) var lastTime: Double?

    /// A law with no history: the first update is proportional only.
    public init(_ parameters: PIDParameters) {
        self.parameters = parameters
    }

    private func clamp(_ v: Double) -> Double { min(max(v, parameters.outputMin), parameters.outputMax) }

    private func proportional(measurement: Double, setpoint: Double) -> Double {
        parameters.kp * (parameters.setpointWeight * setpoint - measurement)
    }

    /// One update at `now` (seconds on the caller's clock); dt = now − lastTime.
    ///
    /// The first call, and any call with dt ≤ 0, has no I or D update (the output is P plus the held I and D).
    /// A time earlier than the last one re-anchors the history there, so a caller clock that steps back does not
    /// freeze integral and derivative action until it catches up.
    /// A non-finite measurement, setpoint or time returns the last output and leaves the state unchanged.
    public mutating func update(now: Double, measurement: Double, setpoint: Double) -> Double {
        guard measurement.isFinite, setpoint.isFinite, now.isFinite else { return output }
        let p = parameters
        let proportional = proportional(measurement: measurement, setpoint: setpoint)
        if let previousTime = lastTime, let previous = lastMeasurement, now > previousTime {
            let dt = now - previousTime
            derivative = filteredDerivative(raw: -p.kd * (measurement - previous) / dt, dt: dt)
            integrate(step: p.ki * (setpoint - measurement) * dt, proportional: proportional)
        }
        lastTime = now
        lastMeasurement = measurement
        output = clamp(proportional + integral + derivative)
        return output
    }

    /// First-order low-pass (backward Euler) of the raw derivative term. Tf = derivativeFilter·kd/kp, the textbook
    /// Td/N; with kp = 0 there is no Td, so kd itself stands in for it.
    private func filteredDerivative(raw: Double, dt: Double) -> Double {
        let p = parameters
        // A zero kd must give zero D at once, not let a stale filtered value linger.
        guard p.kd != 0 else { return 0 }
        let td = p.kp != 0 ? abs(p.kd / p.kp) : abs(p.kd)
        let tf = max(p.derivativeFilter, 0) * td
        let alpha = dt / (tf + dt)
        return derivative + alpha * (raw - derivative)
    }

    /// Conditional integration with the integral held inside the output range (or, after a bumpless compensation
    /// left it outside, not moved further out).
    private mutating func integrate(step: Double, proportional: Double) {
        let p = parameters
        let candidate = integral + step
        let unsaturated = proportional + candidate + derivative
        // The sign of the step, not of the error, says which way integration pushes: that way it also holds for
        // reverse-acting (negative) gains.
        let windingUp = (unsaturated > p.outputMax && step > 0) || (unsaturated < p.outputMin && step < 0)
        guard !windingUp else { return }
        let low = min(p.outputMin, integral)
        let high = max(p.outputMax, integral)
        integral = min(max(candidate, low), high)
    }

    /// Bumpless transfer: start (or resume) automatic control so that the next update at the same time, measurement
    /// and setpoint returns `output` (clamped to the output range), by back-calculating the integral from the
    /// current P term. The derivative filter restarts from zero.
    public mutating func reset(output value: Double, measurement: Double, setpoint: Double, now: Double) {
        guard value.isFinite, measurement.isFinite, setpoint.isFinite, now.isFinite else { return }
        let target = clamp(value)
        integral = target - proportional(measurement: measurement, setpoint: setpoint)
        derivative = 0
        lastMeasurement = measurement
        lastTime = now
        output = target
    }

    /// Bumpless setpoint change: offsets the integral by the proportional step kp·b·(new − old) so the output does
    /// not jump when the setpoint moves from `old` to `new`; integral action then carries the output to the new
    /// setpoint. Does nothing without history (the first update is P only anyway) or with ki = 0, where the
    /// offset would never decay and would cancel the setpoint change for good.
    public mutating func changeSetpoint(from old: Double, to new: Double) {
        guard old.isFinite, new.isFinite, lastTime != nil, parameters.ki != 0 else { return }
        integral -= parameters.kp * parameters.setpointWeight * (new - old)
    }

    /// Forgets history (integral, derivative and output 0, no last measurement or time), e.g. after a fault.
    public mutating func clear() {
        integral = 0
        derivative = 0
        output = 0
        lastMeasurement = nil
        lastTime = nil
    }
}
