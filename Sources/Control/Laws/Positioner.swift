/// Position control of a proportional-valve axis with static friction: P action plus a friction feed-forward that
/// steps over the valve's dead band, so small errors still move the axis. Inside `window` the feed-forward is off
/// and the axis rests, which is what stops a dead-band axis from hunting (a bang-bang law limit-cycles here).
public struct FrictionCompensatedPositioner: Sendable, Equatable {
    /// % valve per mm of error.
    public var kp: Double
    /// % added in the direction of motion, just above the valve's dead band.
    public var frictionFeedForward: Double
    /// mm: inside this error the axis is left at rest (the command is 0: kp × window is below the valve's dead band,
    /// so a smaller command would not move the axis either, and a command that does not change is not written).
    public var window: Double
    public var maxOutput: Double

    public init(kp: Double = 2.5, frictionFeedForward: Double = 3.3, window: Double = 0.25, maxOutput: Double = 100) {
        self.kp = kp
        self.frictionFeedForward = frictionFeedForward
        self.window = window
        self.maxOutput = maxOutput
    }

    /// Valve command (%) for `error` = target − position (mm).
    public func output(error: Double) -> Double {
        guard error.isFinite, abs(error) > window else { return 0 }
        let u = kp * error + (error > 0 ? frictionFeedForward : -frictionFeedForward)
        return min(max(u, -maxOutput), maxOutput)
    }
}

/// "In position": the error has stayed within ±tolerance for `hold` seconds.
public struct InPositionTracker: Sendable, Equatable {
    public var tolerance: Double
    public var hold: Double
    private var since: Double?

    public init(tolerance: Double = 1, hold: Double = 0.2) {
        self.tolerance = tolerance
        self.hold = hold
    }

    /// Feeds one error at `now`; returns whether the axis is in position.
    public mutating func update(error: Double, now: Double) -> Bool {
        guard error.isFinite, abs(error) <= tolerance else {
            since = nil
            return false
        }
        if since == nil { since = now }
        return now - (since ?? now) >= hold - 1e-9
    }

    public mutating func reset() { since = nil }
}

/// First-order low-pass (exponential moving average with a time constant), for noisy slow signals such as an
/// ultrasonic level.
public struct LowPass: Sendable, Equatable {
    public let tau: Double
    public private(set) var value: Double?

    public init(tau: Double) {
        self.tau = tau
    }

    /// Feeds a sample taken `dt` after the previous one; the first sample initialises the filter.
    public mutating func update(_ sample: Double, dt: Double) -> Double {
        guard sample.isFinite else { return value ?? sample }
        guard let current = value, dt > 0 else {
            if value == nil { value = sample }
            return value!
        }
        let next = current + (sample - current) * (dt / (tau + dt))
        value = next
        return next
    }

    public mutating func reset() { value = nil }
}
