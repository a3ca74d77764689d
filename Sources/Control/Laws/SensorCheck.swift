import Devices

/// Judges one sensor channel sample by sample, so control can stop trusting a sensor that has gone bad:
///
/// - **fault**: NaN, or a quality the device flags as failed or not available;
/// - **implausible**: outside a band the caller computes for this sample (e.g. DO above 1.5 × saturation);
/// - **stuck** (a flat line, as in the QARTOD flat-line test): the value has not moved by more than half the channel's
///   `resolution` for `stuckSamples` samples in a row *and* for `stuckSamples` of the device's own updates
///   (`updatePeriod` s). With resolution 0 "not moved" is bit-identical (a live float sensor always has some noise);
///   a quantised channel (pH to 0.01, temperature to 0.1) repeats its value between steps, and a sonde that refreshes
///   its registers every 30 s repeats it between refreshes, so both only count towards stuck once per update and
///   within one resolution step;
/// - **drift**: a consistency residual the caller computes (the reading minus what a second, independent path says)
///   beyond `driftTolerance` for at least `driftWindow` seconds.
///
/// Pure: handed `now`, it never reads a clock.
public struct SensorCheck: Sendable, Equatable {
    public enum Verdict: String, Sendable, Equatable {
        case ok, fault, implausible, stuck, drift
    }

    /// What the flat-line rule knows of one channel: its output resolution (0: a float with noise) and how often the
    /// device refreshes it (0: on every read).
    public struct Flatline: Sendable, Equatable {
        public var resolution: Double
        public var updatePeriod: Double

        public init(resolution: Double = 0, updatePeriod: Double = 0) {
            self.resolution = resolution
            self.updatePeriod = updatePeriod
        }
    }

    public let stuckSamples: Int
    public let flatline: Flatline
    public let driftTolerance: Double
    public let driftWindow: Double
    public private(set) var verdict = Verdict.ok
    /// The value the current flat run started at, and when.
    private var anchorRaw: UInt32?
    private var anchorValue = Double.nan
    private var anchorTime = 0.0
    private var identical = 0
    private var driftSince: Double?

    public init(stuckSamples: Int, flatline: Flatline = Flatline(), driftTolerance: Double = .infinity,
                driftWindow: Double = .infinity) {
        precondition(stuckSamples >= 2, "stuck detection needs at least two samples")
        self.stuckSamples = stuckSamples
        self.flatline = flatline
        self.driftTolerance = driftTolerance
        self.driftWindow = driftWindow
    }

    /// Seconds a flat line must last before it counts as stuck (beyond the sample count).
    public var stuckSeconds: Double { Double(stuckSamples) * flatline.updatePeriod }

    /// Judges the next sample. `plausible`: the band a real value must lie in now (nil: no check). `residual`: the
    /// consistency residual now (nil: cannot be computed this sample, e.g. a reference sensor is bad; the drift timer
    /// is then held, neither advanced nor reset).
    @discardableResult
    public mutating func judge(_ reading: ChannelReading, plausible: ClosedRange<Double>? = nil,
                               residual: Double? = nil, now: Double) -> Verdict {
        if isFlat(reading) {
            identical += 1
        } else {
            identical = 1
            anchorRaw = reading.raw.bitPattern
            anchorValue = Double(reading.raw)
            anchorTime = now
        }
        if let residual {
            if abs(residual) > driftTolerance {
                if driftSince == nil { driftSince = now }
            } else {
                driftSince = nil
            }
        }
        guard let value = reading.value else {
            verdict = .fault
            return verdict
        }
        if let plausible, !plausible.contains(value) {
            verdict = .implausible
        } else if identical >= stuckSamples, now - anchorTime >= stuckSeconds {
            verdict = .stuck
        } else if let since = driftSince, now - since >= driftWindow {
            verdict = .drift
        } else {
            verdict = .ok
        }
        return verdict
    }

    /// Whether this sample continues the flat run: bit-identical to where it started, or (with a resolution) within
    /// half a step of it.
    private func isFlat(_ reading: ChannelReading) -> Bool {
        guard let anchorRaw else { return false }
        if reading.raw.bitPattern == anchorRaw { return true }
        guard flatline.resolution > 0 else { return false }
        let value = Double(reading.raw)
        return value.isFinite && anchorValue.isFinite && abs(value - anchorValue) < flatline.resolution / 2
    }

    /// The verdict when no sample arrived (link down): nothing new is known, so the last verdict stands.
    public var isTrusted: Bool { verdict == .ok }
}
