import Foundation

/// SplitMix64: a small, fast, seedable generator so simulated runs are bit-for-bit repeatable from their seed.
///
/// Not cryptographic. Its whole state is one `UInt64` (plus a cached normal deviate), so copying a plant copies its
/// random stream too, which is what makes a copied simulation replay exactly.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64
    /// The second value of the last Box–Muller pair, handed out by the next `gaussian()` call.
    private var spareGaussian: Double?

    /// A generator whose sequence is fully determined by `seed` (any value, including 0, is fine).
    public init(seed: UInt64) {
        state = seed
        spareGaussian = nil
    }

    /// The next 64 random bits (SplitMix64, Steele, Lea and Flood 2014).
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    public mutating func uniform() -> Double {
        // The top 53 bits fill a double's mantissa exactly, so every value is equally likely and 1 is never reached.
        Double(next() >> 11) * 0x1p-53
    }

    /// Standard normal (Box–Muller; the second value of each pair is cached so two calls use one pair).
    public mutating func gaussian() -> Double {
        if let spare = spareGaussian {
            spareGaussian = nil
            return spare
        }
        // 1 − u lies in (0, 1], so the logarithm is always finite.
        let u1 = 1 - uniform()
        let u2 = uniform()
        let radius = (-2 * Foundation.log(u1)).squareRoot()
        let angle = 2 * Double.pi * u2
        spareGaussian = radius * Foundation.sin(angle)
        return radius * Foundation.cos(angle)
    }
}

/// Ornstein–Uhlenbeck process with exact discretisation: a slow random disturbance with standard deviation `sigma`
/// and correlation time `tau` (s).
///
/// The exact update keeps the stationary standard deviation at `sigma` for any step size, unlike an Euler step,
/// so a simulation's disturbance does not depend on how finely it is ticked.
public struct OrnsteinUhlenbeck: Sendable {
    /// Deviation from the mean; starts at 0.
    public var value: Double
    /// Stationary standard deviation.
    public let sigma: Double
    /// Correlation time in seconds (≤ 0 makes the process white noise).
    public let tau: Double

    /// A process at its mean (value 0).
    public init(sigma: Double, tau: Double) {
        self.value = 0
        self.sigma = sigma
        self.tau = tau
    }

    /// Advances by `dt` seconds and returns the new value:
    /// x ← x·e^(−dt/τ) + σ·sqrt(1 − e^(−2dt/τ))·N(0,1).
    ///
    /// Always draws exactly one normal deviate (even when σ is 0), so the caller's random stream stays aligned.
    public mutating func step(dt: Double, rng: inout SeededRandom) -> Double {
        let noise = rng.gaussian()
        let decay = tau > 0 ? Foundation.exp(-dt / tau) : 0
        value = value * decay + sigma * max(0, 1 - decay * decay).squareRoot() * noise
        return value
    }
}
