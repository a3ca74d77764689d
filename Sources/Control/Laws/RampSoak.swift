/// A ramp/soak temperature profile: each segment ramps from where the previous one ended to its target at a rate,
/// then holds (soaks) there. Pure: the setpoint is a function of the time since the profile started and the
/// temperature it started from.
public struct RampSoakProfile: Sendable, Equatable {
    public struct Segment: Sendable, Equatable {
        /// Ramp rate, °C/min (> 0; the ramp goes up or down as the target demands).
        public var rateCPerMin: Double
        public var targetC: Double
        /// Hold at the target, s.
        public var soakS: Double

        public init(rateCPerMin: Double, targetC: Double, soakS: Double) {
            self.rateCPerMin = rateCPerMin
            self.targetC = targetC
            self.soakS = soakS
        }
    }

    /// Where the profile stands at a time.
    public struct Point: Sendable, Equatable {
        public var setpointC: Double
        /// Segment index (0-based).
        public var segment: Int
        public var soaking: Bool
        public var done: Bool
    }

    public static let maxSegments = 8
    public static let rateLimits: ClosedRange<Double> = 0.01...100
    public static let soakLimits: ClosedRange<Double> = 0...86400

    public var segments: [Segment]

    public init(segments: [Segment]) {
        self.segments = segments
    }

    /// A profile from recipe parameters `ramp1_c_per_min`, `target1_c`, `soak1_s`, `ramp2_…` (segments numbered from
    /// 1, consecutive, all three keys each), checked against the limits; `targetLimits` is the setpoint range.
    public static func make(from recipe: RunRecipe, targetLimits: ClosedRange<Double>) throws(CommandRejection)
        -> RampSoakProfile {
        var segments: [Segment] = []
        for n in 1...maxSegments {
            let keys = ["ramp\(n)_c_per_min", "target\(n)_c", "soak\(n)_s"]
            let values = keys.map { recipe.parameters[$0] }
            if values.allSatisfy({ $0 == nil }) { break }
            guard let rate = values[0], let target = values[1], let soak = values[2] else {
                let missing = zip(keys, values).filter { $0.1 == nil }.map(\.0)
                throw CommandRejection("segment \(n) needs \(keys.joined(separator: ", ")); missing "
                                       + missing.joined(separator: ", "))
            }
            guard rateLimits.contains(rate) else {
                throw CommandRejection("\(keys[0]) must be within \(rateLimits.lowerBound)…\(rateLimits.upperBound), got \(rate)")
            }
            guard targetLimits.contains(target) else {
                throw CommandRejection("\(keys[1]) must be within \(targetLimits.lowerBound)…\(targetLimits.upperBound) °C, "
                                       + "got \(target)")
            }
            guard soakLimits.contains(soak) else {
                throw CommandRejection("\(keys[2]) must be within 0…86400 s, got \(soak)")
            }
            segments.append(Segment(rateCPerMin: rate, targetC: target, soakS: soak))
        }
        let known = Set((1...maxSegments).flatMap { ["ramp\($0)_c_per_min", "target\($0)_c", "soak\($0)_s"] })
        let used = Set((1...max(1, segments.count)).flatMap { ["ramp\($0)_c_per_min", "target\($0)_c", "soak\($0)_s"] })
        if let stray = recipe.parameters.keys.sorted().first(where: { !known.contains($0) || !used.contains($0) }) {
            throw CommandRejection("\(stray) is not part of a ramp/soak profile (segments must be numbered 1, 2, … "
                                   + "without gaps, at most \(maxSegments))")
        }
        guard !segments.isEmpty else { throw CommandRejection("a ramp/soak recipe needs ramp1_c_per_min, target1_c, soak1_s") }
        return RampSoakProfile(segments: segments)
    }

    /// True when the parameters look like a ramp/soak profile rather than another kind's recipe.
    public static func describes(_ recipe: RunRecipe) -> Bool {
        recipe.parameters.keys.contains { $0.hasPrefix("ramp") || ($0.hasPrefix("target") && $0.hasSuffix("_c")) }
    }

    /// Total duration from a start temperature, s.
    public func duration(from startC: Double) -> Double {
        var previous = startC
        var total = 0.0
        for s in segments {
            total += abs(s.targetC - previous) / (s.rateCPerMin / 60) + s.soakS
            previous = s.targetC
        }
        return total
    }

    /// The setpoint `elapsed` s after the start, from `startC`.
    public func point(at elapsed: Double, from startC: Double) -> Point {
        var previous = startC
        var t = max(0, elapsed)
        for (i, s) in segments.enumerated() {
            let rampTime = abs(s.targetC - previous) / (s.rateCPerMin / 60)
            if t < rampTime {
                let direction: Double = s.targetC >= previous ? 1 : -1
                return Point(setpointC: previous + direction * s.rateCPerMin / 60 * t, segment: i, soaking: false,
                             done: false)
            }
            t -= rampTime
            if t < s.soakS { return Point(setpointC: s.targetC, segment: i, soaking: true, done: false) }
            t -= s.soakS
            previous = s.targetC
        }
        return Point(setpointC: previous, segment: segments.count - 1, soaking: false, done: true)
    }
}
