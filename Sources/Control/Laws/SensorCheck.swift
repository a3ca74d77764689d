import Devices

/// Judges one sensor channel sample by sample, so control can stop trusting a sensor that has gone bad:
///
/// - **fault**: NaN, or a quality the device flags as failed or not available;
/// - **implausible**: outside a band the caller computes for this sample (e.g. DO above 1.5 × saturation);
/// - **stuck**: `stuckSamples` bit-identical values in a row (a live sensor always has some noise);
/// - **drift**: a consistency residual the caller computes (the reading minus what a second, independent path says)
///   beyond `driftTolerance` for at least `driftWindow` seconds.
///
/// Pure: handed `now`, it never reads a clock.
public struct SensorCheck: Sendable, Equatable {
    public enum Verdict: String, Sendable, Equatable {
        case ok, fault, implausible, stuck, drift
    }

    public let stuckSamples: Int
    public let driftTolerance: Double
    public let driftWindow: Double
    public private(set) var verdict = Verdict.ok
    private var lastRaw: UInt32?
    private var identical = 0
    private var driftSince: Double?

    public init(stuckSamples: Int, driftTolerance: Double = .infinity, driftWindow: Double = .infinity) {
        precondition(stuckSamples >= 2, "stuck detection needs at least two samples")
        self.stuckSamples = stuckSamples
        self.driftTolerance = driftTolerance
        self.driftWindow = driftWindow
    }

    /// Judges the next sample. `plausible`: the band a real value must lie in now (nil: no check). `residual`: the
    /// consistency residual now (nil: cannot be computed this sample, e.g. a reference sensor is bad; the drift timer
    /// is then held, neither advanced nor reset).
    @discardableResult
    public mutating func judge(_ reading: ChannelReading, plausible: ClosedRange<Double>? = nil,
                               residual: Double? = nil, now: Double) -> Verdict {
        if reading.raw.bitPattern == lastRaw {
            identical += 1
        } else {
            identical = 1
            lastRaw = reading.raw.bitPattern
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
        } else if identical >= stuckSamples {
            verdict = .stuck
        } else if let since = driftSince, now - since >= driftWindow {
            verdict = .drift
        } else {
            verdict = .ok
        }
        return verdict
    }

    /// The verdict when no sample arrived (link down): nothing new is known, so the last verdict stands.
    public var isTrusted: Bool { verdict == .ok }
}
