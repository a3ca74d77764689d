import Foundation
import Testing
@testable import Control
import Locking

/// SplitMix64 with Box–Muller normals: the tests' own reproducible noise (Control tests do not see Sim).
private struct Noise {
    var state: UInt64

    mutating func uniform() -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Double((z ^ (z >> 31)) >> 11) * 0x1p-53
    }

    mutating func gaussian() -> Double {
        let u1 = 1 - uniform()
        let u2 = uniform()
        return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
    }
}

/// A mode to recover: natural frequency (Hz) and damping ratio.
struct ModeUnderTest: Sendable, CustomTestStringConvertible {
    var hz: Double
    var zeta: Double
    var testDescription: String { "f_n \(hz) Hz, ζ \(zeta)" }
}

/// The free response x(t) = offset + A·e^(−ζω_n·t)·cos(ω_d·t + φ) sampled at 1 kHz from t = 0, plus white noise.
private func dampedSine(_ mode: ModeUnderTest, amplitude: Double = 15, seconds: Double, noise sigma: Double = 0.02,
                        offset: Double = 0.4, phase: Double = 0.7, seed: UInt64 = 1) -> [Double] {
    var noise = Noise(state: seed)
    let wn = 2 * Double.pi * mode.hz
    let wd = wn * (1 - mode.zeta * mode.zeta).squareRoot()
    return (0..<Int((seconds * 1000).rounded())).map { i in
        let t = Double(i) * 0.001
        return offset + amplitude * Foundation.exp(-mode.zeta * wn * t) * Foundation.cos(wd * t + phase)
            + sigma * noise.gaussian()
    }
}

/// Steady-state displacement amplitude of a single-degree-of-freedom oscillator under a constant force amplitude
/// (static deflection `scale` at 0 Hz).
private func response(_ mode: ModeUnderTest, at hz: Double, scale: Double = 0.5) -> Double {
    let r = hz / mode.hz
    return scale / ((1 - r * r) * (1 - r * r) + (2 * mode.zeta * r) * (2 * mode.zeta * r)).squareRoot()
}

private func sweep(_ mode: ModeUnderTest, from: Double, to: Double,
                   steps: Int) -> [(frequencyHz: Double, amplitude: Double)] {
    (0..<steps).map { i in
        let hz = from + (to - from) * Double(i) / Double(steps - 1)
        return (hz, response(mode, at: hz))
    }
}

private func estimate(_ result: Result<ModalEstimate, ModalEstimator.Failure>,
                      sourceLocation: SourceLocation = #_sourceLocation) -> ModalEstimate? {
    switch result {
    case .success(let e):
        return e
    case .failure(let f):
        Issue.record("estimate failed: \(f)", sourceLocation: sourceLocation)
        return nil
    }
}

private func failure(_ result: Result<ModalEstimate, ModalEstimator.Failure>,
                     sourceLocation: SourceLocation = #_sourceLocation) -> ModalEstimator.Failure? {
    switch result {
    case .success(let e):
        Issue.record("expected a failure, got \(e)", sourceLocation: sourceLocation)
        return nil
    case .failure(let f):
        return f
    }
}

/// The free-decay and sweep estimators of the mass-spring-damper experiment (docs/register-contract.md §C3).
@Suite struct ModalEstimatorTests {
    static let modes = [ModeUnderTest(hz: 3.183, zeta: 0.05), ModeUnderTest(hz: 5, zeta: 0.02),
                        ModeUnderTest(hz: 2, zeta: 0.1)]

    // MARK: - Free decay

    /// Test 1: a damped sine sampled at 1 kHz with σ = 0.02 mm noise on 15 mm (and a static offset) gives f_n within
    /// 1 % and ζ within 10 %, for three seeds each; the error stays within 5 standard uncertainties.
    @Test(arguments: modes)
    func freeDecayRecoversTheMode(_ mode: ModeUnderTest) {
        for seed in 1...3 as ClosedRange<UInt64> {
            let samples = dampedSine(mode, seconds: 12, seed: seed)
            guard let e = estimate(ModalEstimator.freeDecay(samples, samplePeriod: 0.001)) else { continue }
            #expect(abs(e.naturalFrequencyHz / mode.hz - 1) < 0.01, "\(e)")
            #expect(abs(e.dampingRatio / mode.zeta - 1) < 0.10, "\(e)")
            #expect(abs(e.naturalFrequencyHz - mode.hz) < 5 * e.frequencyUncertaintyHz, "\(e)")
            #expect(abs(e.dampingRatio - mode.zeta) < 5 * e.dampingUncertainty, "\(e)")
            #expect(e.frequencyUncertaintyHz > 0 && e.dampingUncertainty > 0)
            #expect(e.cyclesUsed >= 5)
        }
    }

    /// Test 2 (end to end, with the rig's own physics written out): the standard rig (1 kg, 400 N/m, ζ 0.05) driven
    /// to steady state at 3.2 Hz by 0.4 N, then released, as the controller records it from the 1 kHz ring —
    /// float32 samples in 64-sample chunks, noise σ 0.02 mm, 12 s. The estimate is within 1 % and 10 % of the
    /// rig's f_n = √(k/m)/2π and ζ.
    @Test func freeDecayOfTheStandardRigAfterTheShakerStops() {
        let m = 1.0, k = 400.0, zeta = 0.05
        let wn = (k / m).squareRoot()
        let c = 2 * zeta * (k * m).squareRoot()
        // Steady state under F·sin(ωt): x = X·sin(ωt − θ), released at a phase that is not a peak.
        let force = 0.4, w = 2 * Double.pi * 3.2
        let X = force / ((k - m * w * w) * (k - m * w * w) + (c * w) * (c * w)).squareRoot()
        let theta = Foundation.atan2(c * w, k - m * w * w)
        let releasePhase = 1.1
        let x0 = X * Foundation.sin(releasePhase - theta)
        let v0 = X * w * Foundation.cos(releasePhase - theta)
        let a = zeta * wn
        let wd = wn * (1 - zeta * zeta).squareRoot()
        var noise = Noise(state: 11)
        var ring: [Float] = []
        var recording: [Double] = []
        for i in 1...12_000 {
            let t = Double(i) * 0.001
            let x = Foundation.exp(-a * t) * (x0 * Foundation.cos(wd * t) + (v0 + a * x0) / wd * Foundation.sin(wd * t))
            ring.append(Float(x * 1000 + 0.02 * noise.gaussian()))
            if ring.count == 64 {
                recording.append(contentsOf: ring.map(Double.init))
                ring.removeAll()
            }
        }
        #expect(X * 1000 > 8 && X * 1000 < 12, "about 10 mm of motion at release")
        guard let e = estimate(ModalEstimator.freeDecay(recording, samplePeriod: 0.001)) else { return }
        let fn = wn / (2 * Double.pi)
        #expect(abs(e.naturalFrequencyHz / fn - 1) < 0.01, "\(e)")
        #expect(abs(e.dampingRatio / zeta - 1) < 0.10, "\(e)")
        #expect(e.cyclesUsed >= 8)
    }

    /// Noise-free records are recovered to numerical precision, including an undamped one (ζ ≈ 0, within its
    /// uncertainty, not a failure).
    @Test func noiseFreeRecordsAreExact() {
        for mode in Self.modes + [ModeUnderTest(hz: 3.183, zeta: 0)] {
            let samples = dampedSine(mode, seconds: 10, noise: 0)
            guard let e = estimate(ModalEstimator.freeDecay(samples, samplePeriod: 0.001)) else { continue }
            #expect(abs(e.naturalFrequencyHz / mode.hz - 1) < 1e-5, "\(e)")
            #expect(abs(e.dampingRatio - mode.zeta) < 1e-5, "\(e)")
        }
    }

    /// The estimator reads the sample period it is given: the same record at 2 ms per sample is half the frequency.
    @Test func samplePeriodScalesTheFrequency() {
        let samples = dampedSine(ModeUnderTest(hz: 5, zeta: 0.02), seconds: 8)
        guard let fast = estimate(ModalEstimator.freeDecay(samples, samplePeriod: 0.001)),
              let slow = estimate(ModalEstimator.freeDecay(samples, samplePeriod: 0.002)) else { return }
        #expect(abs(slow.naturalFrequencyHz * 2 / fast.naturalFrequencyHz - 1) < 1e-9)
        #expect(abs(slow.dampingRatio - fast.dampingRatio) < 1e-9)
    }

    /// Test 3: under about three cycles of record, pure noise, a growing oscillation and bad input fail with a
    /// reason.
    @Test func unusableRecordsFailWithAReason() throws {
        let mode = ModeUnderTest(hz: 3.183, zeta: 0.05)
        let twoCycles = try #require(failure(ModalEstimator.freeDecay(dampedSine(mode, seconds: 2 / 3.183),
                                                                      samplePeriod: 0.001)))
        #expect(twoCycles.kind == .tooFewCycles)
        #expect(twoCycles.reason.contains("half-cycles"), "\(twoCycles)")
        // Just over three cycles is enough (the half-cycles cut by the record's ends are not used).
        #expect(estimate(ModalEstimator.freeDecay(dampedSine(mode, seconds: 3.1 / 3.183), samplePeriod: 0.001))
                != nil)

        let pureNoise = try #require(failure(ModalEstimator.freeDecay(dampedSine(mode, amplitude: 0, seconds: 12),
                                                                      samplePeriod: 0.001)))
        #expect(pureNoise.kind == .tooLittleAmplitude)
        #expect(pureNoise.description.contains("noise"), "\(pureNoise)")

        // 0.1 mm is only 5 σ: not enough above the noise for a single usable peak.
        let buried = try #require(failure(ModalEstimator.freeDecay(dampedSine(mode, amplitude: 0.1, seconds: 12),
                                                                   samplePeriod: 0.001)))
        #expect(buried.kind == .tooLittleAmplitude || buried.kind == .tooFewCycles, "\(buried)")

        let growing = try #require(failure(ModalEstimator.freeDecay(
            dampedSine(ModeUnderTest(hz: 3.183, zeta: -0.02), amplitude: 1, seconds: 10), samplePeriod: 0.001)))
        #expect(growing.kind == .growing, "\(growing)")

        let flat = try #require(failure(ModalEstimator.freeDecay([Double](repeating: 3, count: 5000),
                                                                 samplePeriod: 0.001)))
        #expect(flat.kind == .tooLittleAmplitude)
        var broken = dampedSine(mode, seconds: 5)
        broken[100] = .nan
        #expect(failure(ModalEstimator.freeDecay(broken, samplePeriod: 0.001))?.kind == .invalidInput)
        #expect(failure(ModalEstimator.freeDecay(dampedSine(mode, seconds: 5), samplePeriod: 0))?.kind
                == .invalidInput)
        #expect(failure(ModalEstimator.freeDecay([1, 2, 3], samplePeriod: 0.001))?.kind == .invalidInput)
    }

    /// Test 5: the uncertainties are positive and shrink as the record holds more cycles.
    @Test func uncertaintiesShrinkWithMoreCycles() {
        let mode = ModeUnderTest(hz: 5, zeta: 0.02)
        let estimates = [4.0, 8, 16].compactMap { cycles in
            estimate(ModalEstimator.freeDecay(dampedSine(mode, seconds: cycles / 5, seed: 7), samplePeriod: 0.001))
        }
        #expect(estimates.count == 3)
        for e in estimates {
            #expect(e.frequencyUncertaintyHz > 0 && e.dampingUncertainty > 0, "\(e)")
        }
        for (shorter, longer) in zip(estimates, estimates.dropFirst()) {
            #expect(longer.cyclesUsed > shorter.cyclesUsed)
            #expect(longer.frequencyUncertaintyHz < shorter.frequencyUncertaintyHz, "\(shorter) → \(longer)")
            #expect(longer.dampingUncertainty < shorter.dampingUncertainty, "\(shorter) → \(longer)")
        }
        // Four cycles of record use two or three of them.
        #expect((2...3).contains(estimates.first?.cyclesUsed ?? 0))
    }

    // MARK: - Sweep

    /// Test 4: a stepped sine over an analytic frequency response gives f_n within 2 % and ζ within 20 %.
    @Test func sweepPeakRecoversTheMode() {
        let cases: [(ModeUnderTest, ClosedRange<Double>, Int)] = [
            (ModeUnderTest(hz: 3.183, zeta: 0.05), 2.5...4, 16),
            (ModeUnderTest(hz: 5, zeta: 0.02), 4...6, 21),
            (ModeUnderTest(hz: 2, zeta: 0.1), 1...3, 11),
        ]
        for (mode, range, steps) in cases {
            let points = sweep(mode, from: range.lowerBound, to: range.upperBound, steps: steps)
            guard let e = estimate(ModalEstimator.sweepPeak(points)) else { continue }
            #expect(abs(e.naturalFrequencyHz / mode.hz - 1) < 0.02, "\(mode.testDescription): \(e)")
            #expect(abs(e.dampingRatio / mode.zeta - 1) < 0.20, "\(mode.testDescription): \(e)")
            #expect(e.cyclesUsed >= 4 && e.cyclesUsed <= steps)
            #expect(e.frequencyUncertaintyHz >= 0 && e.dampingUncertainty >= 0)
        }
    }

    /// Points with 2 % amplitude noise, in any order, still give the mode, with positive uncertainties that cover
    /// the error.
    @Test func noisySweepStillFindsTheMode() {
        let mode = ModeUnderTest(hz: 3.183, zeta: 0.05)
        var noise = Noise(state: 3)
        let points = sweep(mode, from: 2.5, to: 4, steps: 16).reversed().map {
            (frequencyHz: $0.frequencyHz, amplitude: $0.amplitude * (1 + 0.02 * noise.gaussian()))
        }
        guard let e = estimate(ModalEstimator.sweepPeak(points)) else { return }
        #expect(abs(e.naturalFrequencyHz / mode.hz - 1) < 0.02, "\(e)")
        #expect(abs(e.dampingRatio / mode.zeta - 1) < 0.20, "\(e)")
        #expect(e.frequencyUncertaintyHz > 0 && e.dampingUncertainty > 0)
        #expect(abs(e.naturalFrequencyHz - mode.hz) < 5 * e.frequencyUncertaintyHz, "\(e)")
        #expect(abs(e.dampingRatio - mode.zeta) < 5 * e.dampingUncertainty, "\(e)")
    }

    /// A sweep whose peak is at an end, or that does not fall to the half-power level on both sides, or has too few
    /// points, fails with a reason.
    @Test func unbracketedSweepsFail() {
        let mode = ModeUnderTest(hz: 3.183, zeta: 0.05)
        #expect(failure(ModalEstimator.sweepPeak(sweep(mode, from: 1, to: 3, steps: 11)))?.kind == .peakNotBracketed)
        #expect(failure(ModalEstimator.sweepPeak(sweep(mode, from: 3.1, to: 3.3, steps: 5)))?.kind
                == .peakNotBracketed)
        #expect(failure(ModalEstimator.sweepPeak(sweep(mode, from: 2.5, to: 4, steps: 3)))?.kind == .invalidInput)
        #expect(failure(ModalEstimator.sweepPeak([(1, 0), (2, 0), (3, 0), (4, 0)]))?.kind == .tooLittleAmplitude)
        let reason = failure(ModalEstimator.sweepPeak([(1, 1), (2, .nan), (3, 1), (4, 1)]))?.reason ?? ""
        #expect(!reason.isEmpty)
    }
}
