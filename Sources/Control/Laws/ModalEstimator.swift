import Foundation

/// Natural frequency and damping ratio of a single-degree-of-freedom oscillator, with standard uncertainties, as
/// `ModalEstimator` measures them.
public struct ModalEstimate: Sendable, Equatable {
    /// Undamped natural frequency f_n, Hz.
    public var naturalFrequencyHz: Double
    /// Damping ratio ζ (dimensionless).
    public var dampingRatio: Double
    /// Standard uncertainty of f_n, Hz.
    public var frequencyUncertaintyHz: Double
    /// Standard uncertainty of ζ.
    public var dampingUncertainty: Double
    /// Free decay: whole cycles spanned by the peaks used. Sweep: the number of sweep points fitted.
    public var cyclesUsed: Int

    public init(naturalFrequencyHz: Double, dampingRatio: Double, frequencyUncertaintyHz: Double,
                dampingUncertainty: Double, cyclesUsed: Int) {
        self.naturalFrequencyHz = naturalFrequencyHz
        self.dampingRatio = dampingRatio
        self.frequencyUncertaintyHz = frequencyUncertaintyHz
        self.dampingUncertainty = dampingUncertainty
        self.cyclesUsed = cyclesUsed
    }
}

/// The mass-spring-damper experiment's estimates (docs/register-contract.md §C3), as students make them: pure functions
/// of the data
/// handed in, no clock, no state.
///
/// Both estimators return a `Result`: `.success` with the estimate, or `.failure` with a `Failure` saying why the
/// data cannot give one (its `kind` for code, its `reason` for people).
public enum ModalEstimator {
    /// Why an estimate could not be made.
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public enum Kind: String, Sendable, Equatable {
            /// Empty, too short, non-finite or otherwise unusable input.
            case invalidInput
            /// No oscillation stands clear of the noise.
            case tooLittleAmplitude
            /// Too few cycles above the noise (a free decay needs about three cycles of record).
            case tooFewCycles
            /// The peaks are not evenly spaced, so this is not a single decaying mode.
            case irregular
            /// The oscillation grows: not a free decay.
            case growing
            /// Sweep: the largest amplitude is at an end of the sweep, or the half-power level is not reached on
            /// both sides of it.
            case peakNotBracketed
            /// Sweep: the points do not fit a single resonance.
            case noResonance
        }

        public let kind: Kind
        public let reason: String

        public init(_ kind: Kind, _ reason: String) {
            self.kind = kind
            self.reason = reason
        }

        public var description: String { reason }
    }

    /// Free decay: peaks are used only while their amplitude is at least this many times the noise σ.
    public static let peakSignalToNoise = 10.0
    /// Free decay: the hysteresis that separates half-cycles, in noise σ either side of the mean.
    public static let crossingHysteresisSigmas = 5.0
    /// Free decay: the fewest whole cycles the peaks used must span (about three cycles of record, since the
    /// half-cycles cut by the record's ends are not used).
    public static let minimumCycles = 2
    /// Free decay: largest departure of one peak-to-peak interval from the median, as a fraction of it.
    public static let spacingTolerance = 0.25

    // MARK: - Free decay

    /// Estimates f_n and ζ from a free-decay record: position samples (any unit) taken every `samplePeriod` seconds.
    ///
    /// The method is the students' one, made robust to sensor noise:
    /// 1. The record's mean (static offset) is removed, and the white-noise σ is estimated from the median absolute
    ///    fourth difference of the samples (which barely sees an oscillation sampled ≥ 20 times per cycle).
    /// 2. Half-cycles are separated where the signal passes ±5σ alternately (a hysteresis, so noise cannot split
    ///    one). The half-cycles cut by the ends of the record are dropped.
    /// 3. In each half-cycle the extremum of a lightly smoothed copy (moving average over 1/20 of a period) is
    ///    refined by a least-squares parabola through the raw samples within ±1/8 period, re-centred once.
    /// 4. Only the leading run of extrema that stand ≥ 10σ clear of zero (and are evenly spaced to ±25 %) is used;
    ///    it must span at least `minimumCycles` cycles.
    /// 5. The extremum times, fitted against their index by weighted least squares, give the half period, so the
    ///    damped frequency f_d. Half the difference of neighbouring extrema (a maximum and the next minimum) is
    ///    proportional to the envelope whatever offset is left, and its logarithm against the index gives the
    ///    logarithmic decrement δ per cycle (twice the slope per half-cycle) by weighted least squares;
    ///    ζ = δ/√(4π² + δ²) and f_n = f_d/√(1 − ζ²).
    ///
    /// Uncertainties are the standard errors of the two fits, each weighted by the noise each point carries (from
    /// the parabola fits and σ) and scaled up by the fit's reduced χ² when the scatter exceeds that noise; they grow
    /// smaller with more cycles. A decrement that is negative within its uncertainty is reported as it is (a ζ a
    /// little below zero for an undamped record); one that is clearly negative fails as `.growing`.
    /// The record should hold ≥ 20 samples per cycle; coarser sampling makes the noise estimate count signal as
    /// noise, which keeps fewer peaks.
    public static func freeDecay(_ samples: [Double], samplePeriod: Double) -> Result<ModalEstimate, Failure> {
        guard samplePeriod > 0, samplePeriod.isFinite else {
            return .failure(Failure(.invalidInput, "sample period \(samplePeriod) s is not a positive time"))
        }
        guard samples.count >= 16 else {
            return .failure(Failure(.invalidInput, "only \(samples.count) samples: a free decay needs several cycles"))
        }
        guard samples.allSatisfy(\.isFinite) else {
            return .failure(Failure(.invalidInput, "the record holds non-finite samples"))
        }
        let mean = samples.reduce(0, +) / Double(samples.count)
        let x = samples.map { $0 - mean }
        let largest = x.reduce(0) { max($0, abs($1)) }
        guard largest > 0 else { return .failure(Failure(.tooLittleAmplitude, "the record is flat")) }
        // A floor keeps the weights finite for noise-free (synthetic) records.
        let sigma = max(noiseSigma(x), largest * 1e-9)

        // Half-cycles by hysteresis: a boundary each time the signal reaches the opposite band.
        let band = crossingHysteresisSigmas * sigma
        var boundaries: [Int] = []
        var sign = 0
        for (i, v) in x.enumerated() {
            if v > band, sign != 1 {
                sign = 1
                boundaries.append(i)
            } else if v < -band, sign != -1 {
                sign = -1
                boundaries.append(i)
            }
        }
        let threshold = peakSignalToNoise * sigma
        // Closed half-cycles lie between consecutive boundaries after the first (which is no crossing).
        guard boundaries.count >= 3 else {
            if largest < threshold {
                return .failure(Failure(.tooLittleAmplitude, "no oscillation above the noise: largest excursion "
                                        + "\(format(largest)) against noise σ \(format(sigma))"))
            }
            return .failure(Failure(.tooFewCycles, "fewer than one whole half-cycle in the record"))
        }
        let lengths = (1..<(boundaries.count - 1)).map { boundaries[$0 + 1] - boundaries[$0] }
        let halfPeriodSamples = Double(median(lengths.map(Double.init)))
        let smoothWidth = max(1, Int((halfPeriodSamples / 10).rounded()))
        let smoothed = movingAverage(x, width: smoothWidth)
        let halfWindow = max(1, Int((halfPeriodSamples / 4).rounded()))

        // The leading run of usable extrema.
        var extrema: [Extremum] = []
        var stop: Failure?
        for k in 1..<(boundaries.count - 1) {
            let lobeSign = x[boundaries[k]] > 0 ? 1.0 : -1.0
            let range = boundaries[k]..<boundaries[k + 1]
            var best = range.lowerBound
            for i in range where lobeSign * smoothed[i] > lobeSign * smoothed[best] { best = i }
            guard let e = refineExtremum(x, around: best, halfWindow: halfWindow, sign: lobeSign, sigma: sigma,
                                         samplePeriod: samplePeriod) else {
                stop = Failure(.irregular, "a half-cycle has no clear extremum")
                break
            }
            guard abs(e.value) >= threshold else {
                stop = Failure(.tooLittleAmplitude, "peaks fall under \(format(peakSignalToNoise))× the noise σ "
                               + "\(format(sigma)) after \(extrema.count) half-cycles")
                break
            }
            if let last = extrema.last {
                let nominal = halfPeriodSamples * samplePeriod
                if abs((e.time - last.time) - nominal) > spacingTolerance * nominal {
                    stop = Failure(.irregular, "peak spacing departs from the median half period "
                                   + "(\(format(e.time - last.time)) s against \(format(nominal)) s)")
                    break
                }
            }
            extrema.append(e)
        }
        let cycles = (extrema.count - 1) / 2
        guard extrema.count >= 2 * minimumCycles + 1 else {
            if extrema.isEmpty, largest < threshold {
                return .failure(Failure(.tooLittleAmplitude, "no oscillation above the noise: largest excursion "
                                        + "\(format(largest)) against noise σ \(format(sigma))"))
            }
            let why = stop.map { " (\($0.reason))" } ?? ""
            return .failure(Failure(stop?.kind == .irregular ? .irregular : .tooFewCycles,
                                    "only \(max(0, extrema.count - 1)) usable half-cycles; need "
                                    + "\(2 * minimumCycles), about \(minimumCycles + 1) cycles of record\(why)"))
        }

        // Period from the extremum times.
        let indices = extrema.indices.map(Double.init)
        let timing = weightedLine(x: indices, y: extrema.map(\.time), weights: extrema.map { 1 / $0.timeVariance })
        let halfPeriod = timing.slope
        guard halfPeriod > 0 else { return .failure(Failure(.irregular, "extremum times do not advance")) }
        let dampedHz = 1 / (2 * halfPeriod)
        let dampedHzSigma = timing.slopeSigma / (2 * halfPeriod * halfPeriod)

        // Decrement from half the peak-to-peak of neighbouring extrema.
        var logs: [Double] = []
        var logWeights: [Double] = []
        for k in 0..<(extrema.count - 1) {
            let h = (abs(extrema[k].value) + abs(extrema[k + 1].value)) / 2
            let variance = (extrema[k].valueVariance + extrema[k + 1].valueVariance) / 4
            logs.append(Foundation.log(h))
            logWeights.append(h * h / variance)
        }
        let decay = weightedLine(x: Array(indices.dropLast()), y: logs, weights: logWeights)
        let delta = -2 * decay.slope
        let deltaSigma = 2 * decay.slopeSigma
        if delta < 0, -delta > 3 * deltaSigma {
            return .failure(Failure(.growing, "the oscillation grows (logarithmic decrement \(format(delta)))"))
        }
        let fourPiSquared = 4 * Double.pi * Double.pi
        let zeta = delta / (fourPiSquared + delta * delta).squareRoot()
        let zetaSigma = deltaSigma * fourPiSquared / Foundation.pow(fourPiSquared + delta * delta, 1.5)
        let shrink = (1 - zeta * zeta).squareRoot()
        let naturalHz = dampedHz / shrink
        let dfdz = dampedHz * zeta / ((1 - zeta * zeta) * shrink)
        let naturalSigma = ((dampedHzSigma / shrink) * (dampedHzSigma / shrink)
                            + (dfdz * zetaSigma) * (dfdz * zetaSigma)).squareRoot()
        return .success(ModalEstimate(naturalFrequencyHz: naturalHz, dampingRatio: zeta,
                                      frequencyUncertaintyHz: naturalSigma, dampingUncertainty: zetaSigma,
                                      cyclesUsed: cycles))
    }

    /// One refined extremum: its time (s), signed value, and the variances the noise gives them.
    private struct Extremum {
        var time: Double
        var value: Double
        var timeVariance: Double
        var valueVariance: Double
    }

    /// Least-squares parabola through x[c−w…c+w], re-centred once on its vertex. Nil when the window leaves the
    /// record or the parabola does not open the way an extremum of `sign` needs.
    private static func refineExtremum(_ x: [Double], around start: Int, halfWindow w: Int, sign: Double,
                                       sigma: Double, samplePeriod: Double) -> Extremum? {
        var centre = start
        var result: Extremum?
        for _ in 0..<2 {
            guard centre - w >= 0, centre + w < x.count else { return nil }
            // Symmetric abscissae j = −w…w: odd sums vanish, so b decouples from a and c.
            var s0 = 0.0, s1 = 0.0, s2 = 0.0
            var n = 0.0, j2 = 0.0, j4 = 0.0
            for j in -w...w {
                let v = x[centre + j]
                let dj = Double(j)
                s0 += v
                s1 += dj * v
                s2 += dj * dj * v
                n += 1
                j2 += dj * dj
                j4 += dj * dj * dj * dj
            }
            let det = n * j4 - j2 * j2
            let a = (j4 * s0 - j2 * s2) / det
            let c = (n * s2 - j2 * s0) / det
            let b = s1 / j2
            guard c * sign < 0 else { return nil }
            let vertex = -b / (2 * c)
            guard abs(vertex) <= Double(w) else { return nil }
            result = Extremum(time: (Double(centre) + vertex) * samplePeriod,
                              value: a - b * b / (4 * c),
                              timeVariance: sigma * sigma / (j2 * 4 * c * c) * samplePeriod * samplePeriod,
                              valueVariance: sigma * sigma * j4 / det)
            let shift = Int(vertex.rounded())
            if shift == 0 { break }
            centre += shift
        }
        return result
    }

    /// White-noise σ from the median absolute fourth difference (the filter 1, −4, 6, −4, 1 has gain √70 on white
    /// noise and (2 sin(πf/fs))⁴ on a sinusoid, ≈ 0.01 at 20 samples per cycle).
    private static func noiseSigma(_ x: [Double]) -> Double {
        guard x.count >= 5 else { return 0 }
        var d: [Double] = []
        d.reserveCapacity(x.count - 4)
        for i in 0..<(x.count - 4) {
            d.append(abs(x[i] - 4 * x[i + 1] + 6 * x[i + 2] - 4 * x[i + 3] + x[i + 4]))
        }
        return median(d) / (0.674_489_75 * 70.0.squareRoot())
    }

    /// Centred moving average over `width` samples (made odd), shortened at the record's ends.
    private static func movingAverage(_ x: [Double], width: Int) -> [Double] {
        let half = width / 2
        guard half > 0 else { return x }
        var prefix = [0.0]
        prefix.reserveCapacity(x.count + 1)
        for v in x { prefix.append(prefix[prefix.count - 1] + v) }
        return x.indices.map { i in
            let lo = max(0, i - half)
            let hi = min(x.count - 1, i + half)
            return (prefix[hi + 1] - prefix[lo]) / Double(hi - lo + 1)
        }
    }

    private static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }

    /// Weighted straight-line fit y ≈ a + b·x with weights 1/variance; the slope's standard error is scaled by the
    /// reduced χ² when that exceeds 1 (the scatter is larger than the stated variances explain). Needs ≥ 3 points.
    private static func weightedLine(x: [Double], y: [Double], weights w: [Double])
        -> (intercept: Double, slope: Double, slopeSigma: Double) {
        let sw = w.reduce(0, +)
        let mx = zip(w, x).reduce(0) { $0 + $1.0 * $1.1 } / sw
        let my = zip(w, y).reduce(0) { $0 + $1.0 * $1.1 } / sw
        var sxx = 0.0, sxy = 0.0
        for i in x.indices {
            sxx += w[i] * (x[i] - mx) * (x[i] - mx)
            sxy += w[i] * (x[i] - mx) * (y[i] - my)
        }
        let slope = sxy / sxx
        let intercept = my - slope * mx
        var chi2 = 0.0
        for i in x.indices {
            let r = y[i] - intercept - slope * x[i]
            chi2 += w[i] * r * r
        }
        let scale = max(1, chi2 / Double(max(1, x.count - 2)))
        return (intercept, slope, (scale / sxx).squareRoot())
    }

    // MARK: - Stepped-sine sweep

    /// Estimates f_n and ζ from a stepped-sine sweep: the steady-state amplitude (any unit) at each frequency, with
    /// the same force amplitude at every step.
    ///
    /// The largest amplitude must lie inside the sweep, with points at or below its half-power level (peak/√2) on
    /// both sides, or the sweep fails as `.peakNotBracketed`. The points around the peak (the contiguous run of
    /// amplitudes ≥ 1/10 of the peak, at least four) are fitted with the single-degree-of-freedom response
    /// A(f) = G/√((f_n² − f²)² + (2ζ·f_n·f)²): 1/A² is a quadratic c₀ + c₁u + c₂u² in u = f², solved by least
    /// squares weighted so every point counts by its relative error; then f_n² = √(c₀/c₂) and
    /// ζ² = ½ + c₁/(4√(c₀c₂)). This is the half-power method read off the fitted curve instead of between coarse
    /// sweep steps: the fitted curve's peak is at f_n·√(1 − 2ζ²) and its half-power bandwidth ≈ 2ζ·f_n.
    /// Uncertainties come from the fit's residual scatter (zero for points exactly on such a curve). `cyclesUsed` is
    /// the number of points fitted.
    public static func sweepPeak(_ points: [(frequencyHz: Double, amplitude: Double)])
        -> Result<ModalEstimate, Failure> {
        guard points.allSatisfy({ $0.frequencyHz > 0 && $0.frequencyHz.isFinite && $0.amplitude >= 0
                                    && $0.amplitude.isFinite }) else {
            return .failure(Failure(.invalidInput, "sweep points need positive frequencies and finite amplitudes ≥ 0"))
        }
        guard points.count >= 4 else {
            return .failure(Failure(.invalidInput, "only \(points.count) sweep points; need at least 4"))
        }
        let sorted = points.sorted { $0.frequencyHz < $1.frequencyHz }
        guard let peakIndex = sorted.indices.max(by: { sorted[$0].amplitude < sorted[$1].amplitude }),
              sorted[peakIndex].amplitude > 0 else {
            return .failure(Failure(.tooLittleAmplitude, "every sweep amplitude is zero"))
        }
        let peak = sorted[peakIndex]
        let halfPower = peak.amplitude / 2.0.squareRoot()
        guard sorted[..<peakIndex].contains(where: { $0.amplitude <= halfPower }),
              sorted[(peakIndex + 1)...].contains(where: { $0.amplitude <= halfPower }) else {
            return .failure(Failure(.peakNotBracketed, "the sweep does not fall to the half-power level on both "
                                    + "sides of its peak at \(format(peak.frequencyHz)) Hz: widen it"))
        }
        var lo = peakIndex
        var hi = peakIndex
        while lo > 0, sorted[lo - 1].amplitude >= peak.amplitude / 10 { lo -= 1 }
        while hi < sorted.count - 1, sorted[hi + 1].amplitude >= peak.amplitude / 10 { hi += 1 }
        let used = Array(sorted[lo...hi])
        guard used.count >= 4 else {
            return .failure(Failure(.invalidInput, "only \(used.count) points around the peak; need at least 4"))
        }

        // Weighted normal equations for 1/A² = c0 + c1·u + c2·u², u = (f/f_peak)², weight A⁴.
        var m = [[Double]](repeating: [0, 0, 0], count: 3)
        var r = [0.0, 0.0, 0.0]
        for p in used {
            let u = (p.frequencyHz / peak.frequencyHz) * (p.frequencyHz / peak.frequencyHz)
            let row = [1, u, u * u]
            let a2 = p.amplitude * p.amplitude
            let weight = a2 * a2
            let y = 1 / a2
            for i in 0..<3 {
                r[i] += weight * row[i] * y
                for j in 0..<3 { m[i][j] += weight * row[i] * row[j] }
            }
        }
        guard let inverse = invert3(m) else {
            return .failure(Failure(.noResonance, "the sweep points do not determine a resonance curve"))
        }
        let c = (0..<3).map { i in (0..<3).reduce(0.0) { $0 + inverse[i][$1] * r[$1] } }
        let root = (c[0] * c[2]).squareRoot()
        let zetaSquared = 0.5 + c[1] / (4 * root)
        guard c[0] > 0, c[2] > 0, zetaSquared > 0, zetaSquared < 0.5 else {
            return .failure(Failure(.noResonance, "the sweep points do not fit a single lightly damped resonance"))
        }
        let naturalHz = peak.frequencyHz * Foundation.pow(c[0] / c[2], 0.25)
        let zeta = zetaSquared.squareRoot()

        // Covariance s²·(XᵀWX)⁻¹ propagated through f_n(c) and ζ(c).
        var chi2 = 0.0
        for p in used {
            let u = (p.frequencyHz / peak.frequencyHz) * (p.frequencyHz / peak.frequencyHz)
            let a2 = p.amplitude * p.amplitude
            let residual = 1 - a2 * (c[0] + c[1] * u + c[2] * u * u)
            chi2 += residual * residual
        }
        let s2 = used.count > 3 ? chi2 / Double(used.count - 3) : 0
        let q = c[1] / (4 * root)
        let gradF = [naturalHz / (4 * c[0]), 0, -naturalHz / (4 * c[2])]
        let gradZ = [-q / (2 * c[0]) / (2 * zeta), 1 / (4 * root) / (2 * zeta), -q / (2 * c[2]) / (2 * zeta)]
        func variance(_ g: [Double]) -> Double {
            var v = 0.0
            for i in 0..<3 { for j in 0..<3 { v += g[i] * inverse[i][j] * g[j] } }
            return max(0, s2 * v)
        }
        return .success(ModalEstimate(naturalFrequencyHz: naturalHz, dampingRatio: zeta,
                                      frequencyUncertaintyHz: variance(gradF).squareRoot(),
                                      dampingUncertainty: variance(gradZ).squareRoot(), cyclesUsed: used.count))
    }

    /// Inverse of a 3×3 matrix by cofactors, or nil when it is (numerically) singular.
    private static func invert3(_ m: [[Double]]) -> [[Double]]? {
        let c00 = m[1][1] * m[2][2] - m[1][2] * m[2][1]
        let c01 = m[1][2] * m[2][0] - m[1][0] * m[2][2]
        let c02 = m[1][0] * m[2][1] - m[1][1] * m[2][0]
        let det = m[0][0] * c00 + m[0][1] * c01 + m[0][2] * c02
        let scale = m.flatMap { $0 }.reduce(0) { max($0, abs($1)) }
        guard det.isFinite, abs(det) > 1e-14 * scale * scale * scale else { return nil }
        let inv = 1 / det
        return [
            [c00 * inv, (m[0][2] * m[2][1] - m[0][1] * m[2][2]) * inv, (m[0][1] * m[1][2] - m[0][2] * m[1][1]) * inv],
            [c01 * inv, (m[0][0] * m[2][2] - m[0][2] * m[2][0]) * inv, (m[0][2] * m[1][0] - m[0][0] * m[1][2]) * inv],
            [c02 * inv, (m[0][1] * m[2][0] - m[0][0] * m[2][1]) * inv, (m[0][0] * m[1][1] - m[0][1] * m[1][0]) * inv],
        ]
    }

    /// A number with four significant digits, for reasons.
    private static func format(_ x: Double) -> String { String(format: "%.4g", x) }
}
