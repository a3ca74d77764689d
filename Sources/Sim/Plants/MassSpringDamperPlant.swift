import Foundation

/// The mass-spring-damper rig's physics (docs/register-contract.md §C3): one mass on a spring with viscous damping,
/// driven by an
/// electrodynamic shaker, m·ẍ + c·ẋ + k·x = F(t) + F_stop(x, ẋ), between two end stops.
///
/// - Integration: velocity Verlet (kick–drift–kick, symplectic and second order) for the spring, shaker and end
///   stops, Strang-split with the viscous damper's exact decay over half a sub-step on either side, on an internal
///   step of at most `maxSubstep` (0.25 ms), so a 1 ms firmware tick is four sub-steps. Undamped, the energy stays
///   bounded for ever (no numerical damping or growth); damped, the decay is exact and the frequency error is of
///   order (ωh)² ≈ 2.5e-5 relative or less, far below anything a test or a student can see. The short step also
///   resolves the stiff end-stop contact (ω·h ≈ 0.25 there), whose damping acts in the kicks.
/// - Excitation: F = A·sin φ with dφ/dt = 2π·f, so the phase runs on continuously when the frequency changes and
///   the force never jumps because of a frequency change. Enabling the shaker restarts φ at 0 (the force rises from
///   zero); while disabled the force is 0. A new amplitude applies at once (a force step of the change times sin φ).
///   At 0 Hz the force holds A·sin φ (a steady push), as a signal generator stopped at that phase would.
/// - End stops: a stiff, damped, push-only contact (a penalty spring of `endStopStiffnessNPerM` with
///   `endStopDampingNsPerM`) beyond ±`endStopMm`. The contact never pulls the mass towards the stop, so the mass
///   leaves it freely. The mass penetrates the stop a little: about v/√(k_stop/m) for an impact at v, i.e. ≈ 1 mm at
///   1 m/s with the standard preset (measured: under 0.8 mm with the shaker at its full 20 N, at resonance or
///   anywhere from 1 to 10 Hz). Impacts decelerate the mass at up to ~1000 m/s², beyond the accelerometer
///   channel's ±200 m/s² range, so the firmware reports those readings over-range.
///
/// A pure value type stepped by its caller: no clocks, no globals. The motion itself is deterministic; sensor noise
/// comes from the generator handed to `reading(rng:)`, so the same seed, the same `step` calls and the same reading
/// generator give bit-identical results.
public struct MassSpringDamperPlant: Sendable {
    /// Physical constants of one rig.
    public struct Parameters: Sendable, Equatable {
        /// Moving mass, kg.
        public var massKg: Double
        /// Spring stiffness, N/m.
        public var stiffnessNPerM: Double
        /// Damping ratio ζ of the viscous damper (c = 2ζ·√(k·m)).
        public var dampingRatio: Double
        /// Travel from the rest position to either end stop, mm.
        public var endStopMm: Double
        /// Contact stiffness of an end stop, N/m.
        public var endStopStiffnessNPerM: Double
        /// Contact damping of an end stop, N·s/m (acts only while in contact, and only pushing the mass out).
        public var endStopDampingNsPerM: Double
        /// Largest force amplitude the shaker delivers, N; larger commands are clamped.
        public var shakerMaxN: Double
        /// Highest excitation frequency the shaker follows, Hz; higher commands are clamped.
        public var shakerMaxHz: Double
        /// Standard deviation of the position sensor's white noise, mm.
        public var positionNoiseMm: Double
        /// Standard deviation of the velocity sensor's white noise, mm/s.
        public var velocityNoiseMms: Double
        /// Standard deviation of the accelerometer's white noise, m/s².
        public var accelNoiseMs2: Double
        /// Standard deviation of the force sensor's white noise, N.
        public var forceNoiseN: Double

        /// Constants as given (defaults: the standard rig).
        public init(massKg: Double = 1, stiffnessNPerM: Double = 400, dampingRatio: Double = 0.05,
                    endStopMm: Double = 25, endStopStiffnessNPerM: Double = 1e6, endStopDampingNsPerM: Double = 600,
                    shakerMaxN: Double = 20, shakerMaxHz: Double = 50,
                    positionNoiseMm: Double = 0.02, velocityNoiseMms: Double = 0.5, accelNoiseMs2: Double = 0.01,
                    forceNoiseN: Double = 0.01) {
            self.massKg = massKg
            self.stiffnessNPerM = stiffnessNPerM
            self.dampingRatio = dampingRatio
            self.endStopMm = endStopMm
            self.endStopStiffnessNPerM = endStopStiffnessNPerM
            self.endStopDampingNsPerM = endStopDampingNsPerM
            self.shakerMaxN = shakerMaxN
            self.shakerMaxHz = shakerMaxHz
            self.positionNoiseMm = positionNoiseMm
            self.velocityNoiseMms = velocityNoiseMms
            self.accelNoiseMs2 = accelNoiseMs2
            self.forceNoiseN = forceNoiseN
        }

        /// The bench rig as built: 1 kg on 400 N/m with ζ = 0.05 (f_n ≈ 3.183 Hz, c = 2 N·s/m), rubber-faced end
        /// stops at ±25 mm (1e6 N/m, 600 N·s/m: contact damping ratio 0.3, coefficient of restitution ≈ 0.37), a
        /// 20 N shaker up to 50 Hz; sensor noise 0.02 mm, 0.5 mm/s, 0.01 m/s², 0.01 N.
        public static let standard = Parameters()

        /// Names `preset(named:)` accepts.
        public static let presetNames: [String] = ["standard"]

        /// The preset called `named` ("standard"), or nil for an unknown name.
        public static func preset(named name: String) -> Parameters? {
            switch name {
            case "standard": standard
            default: nil
            }
        }

        /// Undamped natural frequency √(k/m)/2π, Hz.
        public var naturalFrequencyHz: Double { (stiffnessNPerM / massKg).squareRoot() / (2 * Double.pi) }

        /// Damped natural frequency f_n·√(1 − ζ²), Hz (0 at or above critical damping).
        public var dampedFrequencyHz: Double {
            naturalFrequencyHz * max(0, 1 - dampingRatio * dampingRatio).squareRoot()
        }

        /// Viscous damping coefficient c = 2ζ·√(k·m), N·s/m.
        public var dampingNsPerM: Double { 2 * dampingRatio * (stiffnessNPerM * massKg).squareRoot() }
    }

    /// What the firmware drives this step.
    public struct Inputs: Sendable, Equatable {
        /// Excitation force amplitude, N (HR 100). Clamped to 0…shakerMaxN; NaN counts as 0.
        public var amplitudeN: Double
        /// Excitation frequency, Hz (HR 102). Clamped to 0…shakerMaxHz; NaN counts as 0.
        public var frequencyHz: Double
        /// Shaker enable (coil 0); off means no force at all.
        public var shakerEnabled: Bool

        public init(amplitudeN: Double = 0, frequencyHz: Double = 0, shakerEnabled: Bool = false) {
            self.amplitudeN = amplitudeN
            self.frequencyHz = frequencyHz
            self.shakerEnabled = shakerEnabled
        }
    }

    /// One set of sensor readings, with noise.
    public struct Reading: Sendable, Equatable {
        public var positionMm: Double
        public var velocityMms: Double
        public var accelMs2: Double
        public var forceN: Double

        public init(positionMm: Double, velocityMms: Double, accelMs2: Double, forceN: Double) {
            self.positionMm = positionMm
            self.velocityMms = velocityMms
            self.accelMs2 = accelMs2
            self.forceN = forceN
        }
    }

    /// Largest internal integration step, s.
    public static let maxSubstep = 0.000_25

    /// The rig's constants.
    public let parameters: Parameters
    /// The seed this plant was made with. The motion draws no random numbers; it is kept so every plant is built the
    /// same way and a run can be recorded with it.
    public let seed: UInt64
    /// Plant time, s: the sum of every accepted `dt`.
    public private(set) var time: Double = 0
    /// Position of the mass from its rest position, m.
    public private(set) var positionM: Double = 0
    /// Velocity of the mass, m/s.
    public private(set) var velocityMps: Double = 0
    /// Acceleration of the mass at the current state and force, m/s².
    public private(set) var accelMs2: Double = 0
    /// The shaker force now acting on the mass, N.
    public private(set) var forceN: Double = 0
    /// Whether the mass is in contact with an end stop (beyond ±endStopMm).
    public private(set) var atEndStop = false
    /// Phase of the excitation, rad, kept in [0, 2π).
    public private(set) var excitationPhase: Double = 0

    private var shakerWasEnabled = false
    private var amplitude = 0.0

    /// Position of the mass from its rest position, mm.
    public var positionMm: Double { positionM * 1000 }
    /// Velocity of the mass, mm/s.
    public var velocityMms: Double { velocityMps * 1000 }

    /// A rig at rest at its centre, shaker off.
    public init(parameters: Parameters = .standard, seed: UInt64) {
        self.parameters = parameters
        self.seed = seed
    }

    /// Advances by `dt` seconds with `inputs` held over the step (the firmware calls it every 1 ms).
    /// A non-positive or non-finite `dt` changes nothing.
    public mutating func step(dt: Double, inputs: Inputs) {
        guard dt > 0, dt.isFinite else { return }
        let p = parameters
        let enabled = inputs.shakerEnabled
        if enabled, !shakerWasEnabled { excitationPhase = 0 }
        shakerWasEnabled = enabled
        amplitude = enabled ? Self.clamp(inputs.amplitudeN, 0, max(0, p.shakerMaxN)) : 0
        let omega = enabled ? 2 * Double.pi * Self.clamp(inputs.frequencyHz, 0, max(0, p.shakerMaxHz)) : 0

        let substeps = max(1, Int((dt / Self.maxSubstep).rounded(.up)))
        let h = dt / Double(substeps)
        let m = p.massKg
        // The viscous damper's exact decay over half a sub-step.
        let halfDamping = Foundation.exp(-p.dampingNsPerM / m * h / 2)
        for _ in 0..<substeps {
            velocityMps *= halfDamping
            velocityMps += h / 2 * conservativeForce(phase: excitationPhase) / m
            positionM += h * velocityMps
            excitationPhase += omega * h
            velocityMps += h / 2 * conservativeForce(phase: excitationPhase) / m
            velocityMps *= halfDamping
        }
        if excitationPhase >= 2 * Double.pi {
            excitationPhase = excitationPhase.truncatingRemainder(dividingBy: 2 * Double.pi)
        }
        time += dt
        refreshDerived()
    }

    /// Moves the mass to `toMm` (clamped to the end stops) and holds it still: velocity 0, as for a pluck before a
    /// free-decay test. Time and the shaker state are unchanged.
    public mutating func displace(toMm position: Double) {
        guard position.isFinite else { return }
        let limit = parameters.endStopMm
        positionM = Self.clamp(position, -limit, limit) / 1000
        velocityMps = 0
        refreshDerived()
    }

    /// Strikes the mass with an impulse of `impulseNs` N·s (its velocity changes by impulse/mass), e.g. a hammer tap
    /// for a free-decay test.
    public mutating func pluck(impulseNs: Double) {
        guard impulseNs.isFinite else { return }
        velocityMps += impulseNs / parameters.massKg
        refreshDerived()
    }

    /// The sensors' view of the current state: each true value plus white Gaussian noise. Draws exactly four normal
    /// deviates from `rng` (position, velocity, acceleration, force, in that order), even when a noise level is 0.
    public func reading(rng: inout SeededRandom) -> Reading {
        let p = parameters
        let np = rng.gaussian()
        let nv = rng.gaussian()
        let na = rng.gaussian()
        let nf = rng.gaussian()
        return Reading(positionMm: positionMm + p.positionNoiseMm * np,
                       velocityMms: velocityMms + p.velocityNoiseMms * nv,
                       accelMs2: accelMs2 + p.accelNoiseMs2 * na,
                       forceN: forceN + p.forceNoiseN * nf)
    }

    /// Every force but the viscous damper's, N: shaker (at `phase`), spring and end stop at the current state.
    private func conservativeForce(phase: Double) -> Double {
        amplitude * Foundation.sin(phase) - parameters.stiffnessNPerM * positionM + stopForce(positionM, velocityMps)
    }

    /// The end stop's force on the mass at position `x` (m) and velocity `v` (m/s): zero inside the travel, a
    /// damped spring pushing back beyond it, never pulling.
    private func stopForce(_ x: Double, _ v: Double) -> Double {
        let p = parameters
        let limit = p.endStopMm / 1000
        if x > limit {
            return min(0, -p.endStopStiffnessNPerM * (x - limit) - p.endStopDampingNsPerM * v)
        } else if x < -limit {
            return max(0, -p.endStopStiffnessNPerM * (x + limit) - p.endStopDampingNsPerM * v)
        }
        return 0
    }

    /// Force, acceleration and the end-stop flag for the current state.
    private mutating func refreshDerived() {
        let p = parameters
        forceN = amplitude * Foundation.sin(excitationPhase)
        let total = forceN - p.stiffnessNPerM * positionM - p.dampingNsPerM * velocityMps
            + stopForce(positionM, velocityMps)
        accelMs2 = total / p.massKg
        atEndStop = abs(positionM) > p.endStopMm / 1000
    }

    private static func clamp(_ x: Double, _ low: Double, _ high: Double) -> Double {
        x.isNaN ? 0 : min(max(x, low), high)
    }
}
