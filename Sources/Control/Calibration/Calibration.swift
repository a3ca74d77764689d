#if canImport(Glibc)
import Glibc
#endif

/// How a probe is calibrated (issue 23 part 2). Each method says which standards it takes and what it accepts; the fit
/// (`CalibrationFit`) turns the recorded points into a correction the host applies: corrected = slope · raw + offset.
public enum CalibrationMethod: String, Sendable, Codable, CaseIterable {
    /// pH against 1, 2 or 3 buffers. One buffer moves the offset only (the slope is taken as Nernstian); two or three
    /// fit the electrode's slope (as a percentage of Nernstian) and its offset (as mV at pH 7), by least squares.
    case ph
    /// Dissolved oxygen: 100 % air-saturated water (the standard is the saturation concentration at the water's
    /// temperature, salinity and air pressure), and optionally a zero (oxygen-free water) first.
    case dissolvedOxygen = "do"
    /// Conductivity or salinity: one standard solution; the cell constant's error is a gain through zero.
    case conductivity
    /// Any channel: two standards, a straight line through them.
    case linear

    /// How many points the method takes: at least, at most.
    public var pointRange: ClosedRange<Int> {
        switch self {
        case .ph: 1...3
        case .dissolvedOxygen: 1...2
        case .conductivity: 1...1
        case .linear: 2...2
        }
    }

    /// `pH (1, 2 or 3 buffers)`, for messages.
    public var title: String {
        switch self {
        case .ph: "pH (1, 2 or 3 buffers)"
        case .dissolvedOxygen: "dissolved oxygen (100 % air saturation, optionally a zero first)"
        case .conductivity: "conductivity/salinity (1 standard)"
        case .linear: "two-point linear"
        }
    }
}

/// One recorded point: the standard's true value and what the probe read in it once stable (the mean of the stable
/// window), with the standard's temperature and lot where given.
public struct CalibrationPoint: Sendable, Codable, Equatable {
    public var standard: Double
    public var raw: Double
    public var tempC: Double?
    public var lot: String?

    public init(standard: Double, raw: Double, tempC: Double? = nil, lot: String? = nil) {
        self.standard = standard
        self.raw = raw
        self.tempC = tempC
        self.lot = lot
    }
}

/// What a calibration must meet to be applied (`[calibration]` of the configuration).
public struct CalibrationAcceptance: Sendable, Equatable {
    /// pH electrode slope, % of Nernstian.
    public var phSlopePct: ClosedRange<Double> = 95...105
    /// pH offset at pH 7, mV (either sign).
    public var phOffsetMaxMV = 30.0
    /// DO probe gain (reading / standard at saturation).
    public var doGain: ClosedRange<Double> = 0.8...1.2
    /// DO zero reading, mg/L (either sign).
    public var doZeroMaxMgL = 0.5
    /// Conductivity cell constant error: the gain may be off by this much, %.
    public var conductivityGainPct = 10.0
    /// Two-point linear: the correction's slope.
    public var linearSlope: ClosedRange<Double> = 0.5...2

    public init() {}
}

/// A correction the host applies to one channel's readings: corrected = slope · raw + offset.
public struct ChannelCorrection: Sendable, Codable, Equatable {
    public var slope: Double
    public var offset: Double

    public init(slope: Double, offset: Double) {
        self.slope = slope
        self.offset = offset
    }

    public static let identity = ChannelCorrection(slope: 1, offset: 0)

    public func apply(_ raw: Double) -> Double { slope * raw + offset }
}

/// The outcome of fitting a calibration's points.
public struct CalibrationFit: Sendable, Equatable {
    /// The correction that maps the probe's readings onto the standards.
    public var correction: ChannelCorrection
    /// pH: the electrode's slope, % of Nernstian; DO and conductivity: the probe's gain, %; linear: nil.
    public var slopePct: Double?
    /// pH: the offset at pH 7, mV; DO: the zero reading, mg/L; otherwise nil.
    public var offset: Double?
    /// What the offset is in: "mV" or "mg/L".
    public var offsetUnit: String?
    /// Why the calibration is not accepted; empty when it is.
    public var failures: [String]

    public var accepted: Bool { failures.isEmpty }

    public init(correction: ChannelCorrection, slopePct: Double?, offset: Double?, offsetUnit: String?,
                failures: [String]) {
        self.correction = correction
        self.slopePct = slopePct
        self.offset = offset
        self.offsetUnit = offsetUnit
        self.failures = failures
    }

    /// Nernst's slope at `tempC`: RT·ln10/F, 59.16 mV per pH unit at 25 °C.
    public static func nernstMVPerPH(tempC: Double) -> Double {
        0.198_416 * (tempC + 273.15)
    }

    /// Fits `points` by `method` and checks the result against `acceptance`. Throws for points the method cannot fit
    /// (too few, too many, two at the same standard).
    public static func fit(_ method: CalibrationMethod, points: [CalibrationPoint],
                           acceptance: CalibrationAcceptance) throws(CalibrationError) -> CalibrationFit {
        guard method.pointRange.contains(points.count) else {
            throw CalibrationError("\(method.title) takes \(range(method.pointRange)) point(s), got \(points.count)")
        }
        for point in points where !point.raw.isFinite || !point.standard.isFinite {
            throw CalibrationError("a point is not a number (standard \(point.standard), reading \(point.raw))")
        }
        let standards = points.map(\.standard)
        for (i, a) in standards.enumerated() {
            for b in standards[(i + 1)...] where abs(a - b) < 1e-9 {
                throw CalibrationError("two points at the same standard \(format(a)): each point needs its own")
            }
        }
        var failures: [String] = []
        switch method {
        case .ph:
            // The probe reads raw = k · standard + c (k = 1 for a single buffer); the correction inverts that.
            let (k, c) = points.count == 1 ? (1.0, points[0].raw - points[0].standard) : line(points)
            let temp = points.compactMap(\.tempC).average ?? 25
            let slopePct = 100 * k
            // The reading at pH 7 is 7k + c; its distance from 7 in mV at the buffers' temperature.
            let offsetMV = (7 * k + c - 7) * nernstMVPerPH(tempC: temp)
            if points.count > 1, !acceptance.phSlopePct.contains(slopePct) {
                failures.append("slope \(format(slopePct)) % of Nernstian is outside \(format(acceptance.phSlopePct)) %")
            }
            if abs(offsetMV) > acceptance.phOffsetMaxMV {
                failures.append("offset \(format(offsetMV)) mV at pH 7 is beyond ±\(format(acceptance.phOffsetMaxMV)) mV")
            }
            guard k > 0 else { return reject("the buffers read in the wrong order (a negative slope)") }
            return CalibrationFit(correction: ChannelCorrection(slope: 1 / k, offset: -c / k), slopePct: slopePct,
                                  offset: offsetMV, offsetUnit: "mV", failures: failures)
        case .dissolvedOxygen:
            // Zero (optional) and saturation: raw = k · standard + c, with c = 0 without a zero point.
            let sorted = points.sorted { $0.standard < $1.standard }
            guard let saturation = sorted.last, saturation.standard > 0 else {
                return reject("the saturation point's standard must be above 0 mg/L")
            }
            let zero = sorted.count == 2 ? sorted[0] : nil
            if let zero, abs(zero.standard) > 1e-9 {
                return reject("the first of two DO points is the zero: its standard must be 0 mg/L")
            }
            let c = zero?.raw ?? 0
            let k = (saturation.raw - c) / saturation.standard
            if !acceptance.doGain.contains(k) {
                failures.append("gain \(format(100 * k)) % is outside \(format(acceptance.doGain.lowerBound * 100))…"
                                + "\(format(acceptance.doGain.upperBound * 100)) %")
            }
            if abs(c) > acceptance.doZeroMaxMgL {
                failures.append("zero reads \(format(c)) mg/L, beyond ±\(format(acceptance.doZeroMaxMgL)) mg/L")
            }
            guard k > 0 else { return reject("the saturation point reads below the zero") }
            return CalibrationFit(correction: ChannelCorrection(slope: 1 / k, offset: -c / k), slopePct: 100 * k,
                                  offset: zero == nil ? nil : c, offsetUnit: zero == nil ? nil : "mg/L",
                                  failures: failures)
        case .conductivity:
            let point = points[0]
            guard point.standard > 0, point.raw > 0 else {
                return reject("the standard and its reading must be above 0")
            }
            let k = point.raw / point.standard
            if abs(k - 1) * 100 > acceptance.conductivityGainPct {
                failures.append("gain \(format(100 * k)) % is off by more than \(format(acceptance.conductivityGainPct)) %")
            }
            return CalibrationFit(correction: ChannelCorrection(slope: 1 / k, offset: 0), slopePct: 100 * k,
                                  offset: nil, offsetUnit: nil, failures: failures)
        case .linear:
            let (k, c) = line(points)
            guard k != 0 else { return reject("both standards read the same: no line through them") }
            let correction = ChannelCorrection(slope: 1 / k, offset: -c / k)
            if !acceptance.linearSlope.contains(correction.slope) {
                failures.append("the correction's slope \(format(correction.slope)) is outside "
                                + "\(format(acceptance.linearSlope))")
            }
            return CalibrationFit(correction: correction, slopePct: nil, offset: nil, offsetUnit: nil,
                                  failures: failures)
        }

        func reject(_ why: String) -> CalibrationFit {
            CalibrationFit(correction: .identity, slopePct: nil, offset: nil, offsetUnit: nil, failures: [why])
        }
    }

    /// Least squares raw = k · standard + c.
    private static func line(_ points: [CalibrationPoint]) -> (k: Double, c: Double) {
        let n = Double(points.count)
        let mx = points.map(\.standard).reduce(0, +) / n
        let my = points.map(\.raw).reduce(0, +) / n
        let sxx = points.map { ($0.standard - mx) * ($0.standard - mx) }.reduce(0, +)
        let sxy = points.map { ($0.standard - mx) * ($0.raw - my) }.reduce(0, +)
        let k = sxx > 0 ? sxy / sxx : 0
        return (k, my - k * mx)
    }

    private static func range(_ r: ClosedRange<Int>) -> String {
        r.lowerBound == r.upperBound ? "\(r.lowerBound)" : "\(r.lowerBound) to \(r.upperBound)"
    }

    static func format(_ value: Double) -> String { RunRecord.format((value * 100).rounded() / 100) }

    static func format(_ r: ClosedRange<Double>) -> String { "\(format(r.lowerBound))…\(format(r.upperBound))" }
}

/// Whether a reading has settled: the latest readings, spanning at least `window` seconds and at least
/// `minimumReadings` of them, all within ±`band` of their mean.
public struct StabilityWindow: Sendable {
    public let window: Double
    public let band: Double
    public let minimumReadings: Int
    private(set) var readings: [(t: Double, value: Double)] = []

    public init(window: Double, band: Double, minimumReadings: Int = 3) {
        self.window = window
        self.band = band
        self.minimumReadings = minimumReadings
    }

    /// Adds a reading; the window keeps the latest readings that span `window` seconds (and at least
    /// `minimumReadings`): a slow loop's readings further apart than the window are still compared.
    public mutating func add(_ value: Double, at t: Double) {
        readings.append((t, value))
        while readings.count > minimumReadings, readings[1].t <= t - window + 1e-9 { readings.removeFirst() }
    }

    /// Starts again (a fault reading, a new point).
    public mutating func reset() { readings.removeAll() }

    /// The mean of the window's readings, nil when empty.
    public var mean: Double? { readings.map(\.value).average }

    /// The largest distance of a reading from the window's mean.
    public var spread: Double? {
        guard let mean else { return nil }
        return readings.map { abs($0.value - mean) }.max()
    }

    /// Seconds the window covers.
    public var covered: Double {
        guard let first = readings.first, let last = readings.last else { return 0 }
        return last.t - first.t
    }

    /// Stable: the readings span the window, there are enough of them, and every one is within the band.
    public var isStable: Bool {
        guard readings.count >= minimumReadings, let spread else { return false }
        return covered >= window - 1e-9 && spread <= band
    }
}

public struct CalibrationError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension Array where Element == Double {
    var average: Double? { isEmpty ? nil : reduce(0, +) / Double(count) }
}
