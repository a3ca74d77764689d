/// Gains and limits of a PID law. Units are the caller's (e.g. % output per kelvin).
public struct PIDParameters: Sendable, Equatable, Codable {
    public var kp: Double
    /// Integral gain per second (not Ti).
    public var ki: Double
    /// Derivative gain, seconds.
    public var kd: Double
    public var outputMin: Double
    public var outputMax: Double
    /// Derivative filter time constant as a fraction of kd/kp (textbook N = 1/derivativeFilter).
    public var derivativeFilter: Double
    /// Setpoint weight b of the proportional term: P acts on b·r − y. 1 is classic; < 1 softens setpoint kicks.
    public var setpointWeight: Double

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

/// A discrete PID law as a pure value: time is passed in, it never reads a clock.
///
/// Derivative acts on the measurement (no kick on setpoint changes), low-pass filtered. Anti-windup by conditional
/// integration: the integral does not grow while the output is saturated in the direction the error pushes, and the
/// integral term is clamped to the output range.
public struct PID: Sendable, Equatable {
    public var parameters: PIDParameters
    /// The integral term's contribution, in output units.
    public private(set) var integral = 0.0
    /// The filtered derivative term's contribution, in output units.
    public private(set) var derivative = 0.0
    public private(set) var output = 0.0
    public private(set) var lastMeasurement: Double?
    public private(set) var lastTime: Double?

    public init(_ parameters: PIDParameters) {
        self.parameters = parameters
    }

    private func clamp(_ v: Double) -> Double { min(max(v, parameters.outputMin), parameters.outputMax) }

    /// One update at `now` (seconds on the caller's clock). The first call has no I or D action.
    /// A non-finite measurement or setpoint leaves state and output unchanged.
    public mutating func update(now: Double, measurement: Double, setpoint: Double) -> Double {
        guard measurement.isFinite, setpoint.isFinite, now.isFinite else { return output }
        let p = parameters
        let dt = lastTime.map { now - $0 } ?? 0
        let proportional = p.kp * (p.setpointWeight * setpoint - measurement)
        if dt > 0, let previous = lastMeasurement {
            // Filtered derivative on the measurement: Tf = derivativeFilter·kd/kp (or ·kd when kp is 0).
            if p.kd != 0 {
                let tf = p.derivativeFilter * (p.kp != 0 ? p.kd / abs(p.kp) : p.kd)
                let raw = -p.kd * (measurement - previous) / dt
                let alpha = tf > 0 ? dt / (tf + dt) : 1
                derivative += alpha * (raw - derivative)
            }
            let error = setpoint - measurement
            let candidate = integral + p.ki * error * dt
            let unsaturated = proportional + candidate + derivative
            // Conditional integration: integrate only if it does not drive the output further into saturation.
            let windingUp = (unsaturated > p.outputMax && error > 0) || (unsaturated < p.outputMin && error < 0)
            if !windingUp { integral = clamp(candidate) }
        }
        if dt >= 0 {
            lastTime = now
            lastMeasurement = measurement
        }
        output = clamp(proportional + integral + derivative)
        return output
    }

    /// Bumpless transfer: the next update at the same measurement and setpoint returns `output`.
    public mutating func reset(output value: Double, measurement: Double, setpoint: Double, now: Double) {
        let p = parameters
        let proportional = p.kp * (p.setpointWeight * setpoint - measurement)
        integral = clamp(value) - proportional
        derivative = 0
        lastMeasurement = measurement
        lastTime = now
        output = clamp(value)
    }

    /// Bumpless setpoint change: offsets the integral by the proportional step so the output does not jump.
    public mutating func changeSetpoint(from old: Double, to new: Double) {
        guard old.isFinite, new.isFinite, lastTime != nil else { return }
        integral -= parameters.kp * parameters.setpointWeight * (new - old)
    }

    /// Forgets history, e.g. after a fault.
    public mutating func clear() {
        integral = 0
        derivative = 0
        output = 0
        lastMeasurement = nil
        lastTime = nil
    }
}
