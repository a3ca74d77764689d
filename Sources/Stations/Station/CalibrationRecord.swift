import Control
import Devices
import Foundation

/// A request the station takes for a probe calibration (`Station+Calibration.swift`).
package enum CalibrationRequest: Sendable, Equatable, CustomStringConvertible {
    /// Starts calibrating `channel` by `method` with `points` standards (nil: the method's usual number).
    case start(channel: String, method: CalibrationMethod, points: Int?, why: String?)
    /// The probe is in the next standard: wait until its reading is stable, then record it. `standard` may be left
    /// out for a DO saturation point (rigd computes it from the temperature, salinity and air pressure).
    case point(standard: Double?, tempC: Double?, lot: String?)
    /// Computes the calibration from the recorded points, checks it and (with `apply`) applies it when accepted.
    case finish(apply: Bool)
    /// Ends the calibration without a result (a point that is settling is abandoned).
    case cancel

    package var description: String {
        switch self {
        case .start(let channel, let method, let points, let why):
            "calibrate \(channel) (\(method.rawValue)\(points.map { ", \($0) point(s)" } ?? ""))"
                + (why.map { ": \($0)" } ?? "")
        case .point(let standard, let tempC, let lot):
            "calibration point " + (standard.map { "at \(RunRecord.format($0))" } ?? "at saturation")
                + (tempC.map { ", \(RunRecord.format($0)) °C" } ?? "") + (lot.map { ", lot \($0)" } ?? "")
        case .finish(let apply): apply ? "finish the calibration" : "finish the calibration without applying it"
        case .cancel: "cancel the calibration"
        }
    }
}

/// One finished calibration, as the data log keeps it and `rigd export --what calibrations` writes it: who, when,
/// the standards and readings, the fit, whether it was accepted and applied, and when it is due again.
package struct CalibrationRecord: Sendable, Codable, Equatable {
    package var station: String
    package var channel: String
    package var method: String
    /// Unix seconds.
    package var at: Double
    package var by: String?
    package var why: String?
    package var points: [CalibrationPoint]
    /// corrected = slope · raw + offset.
    package var correctionSlope: Double
    package var correctionOffset: Double
    /// pH: the electrode's slope in % of Nernstian; DO and conductivity: the probe's gain in %.
    package var slopePct: Double?
    /// pH: mV at pH 7; DO: the zero reading in mg/L.
    package var offset: Double?
    package var offsetUnit: String?
    package var accepted: Bool
    package var applied: Bool
    package var failures: [String]
    /// Unix seconds: when the next calibration is due (applied calibrations only).
    package var dueAt: Double?
    /// `slope 97.2 % of Nernstian, offset +8.1 mV at pH 7`, `gain 93.5 %`, `corrected = 1.02 · raw − 0.31`.
    package var summary: String
    /// Set when the correction went into the device's own calibration registers (`[[map.calibration]]`, docs/maps.md
    /// "Calibration registers") instead of being applied on the host: what they held before and were given.
    package var device: DeviceCalibration?

    /// A calibration written to the device: the registers, and the slope and offset they held before and hold now
    /// (the device serves slope × measured + offset; the new ones are the correction composed with the old).
    package struct DeviceCalibration: Sendable, Codable, Equatable {
        package var registers: String
        package var slopeBefore: Double
        package var offsetBefore: Double
        package var slope: Double
        package var offset: Double

        package init(registers: String, slopeBefore: Double, offsetBefore: Double, slope: Double, offset: Double) {
            self.registers = registers
            self.slopeBefore = slopeBefore
            self.offsetBefore = offsetBefore
            self.slope = slope
            self.offset = offset
        }
    }

    package var correction: ChannelCorrection { ChannelCorrection(slope: correctionSlope, offset: correctionOffset) }

    package init(station: String, channel: String, method: String, at: Double, by: String?, why: String?,
                 points: [CalibrationPoint], fit: CalibrationFit, applied: Bool, dueAt: Double?,
                 device: DeviceCalibration? = nil) {
        self.station = station
        self.channel = channel
        self.method = method
        self.at = at
        self.by = by
        self.why = why
        self.points = points
        correctionSlope = fit.correction.slope
        correctionOffset = fit.correction.offset
        slopePct = fit.slopePct
        offset = fit.offset
        offsetUnit = fit.offsetUnit
        accepted = fit.accepted
        self.applied = applied
        failures = fit.failures
        self.dueAt = dueAt
        self.device = device
        summary = Self.summary(method: method, fit: fit)
    }

    static func summary(method: String, fit: CalibrationFit) -> String {
        let f = { (v: Double) in RunRecord.format((v * 100).rounded() / 100) }
        var parts: [String] = []
        if let slopePct = fit.slopePct {
            parts.append(method == "ph" ? "slope \(f(slopePct)) % of Nernstian" : "gain \(f(slopePct)) %")
        }
        if let offset = fit.offset, let offsetUnit = fit.offsetUnit {
            let signed = (offset >= 0 ? "+" : "") + f(offset)
            parts.append(method == "ph" ? "offset \(signed) mV at pH 7" : "zero \(signed) \(offsetUnit)")
        }
        if parts.isEmpty {
            let c = fit.correction
            parts.append("corrected = \(f(c.slope)) · raw \(c.offset >= 0 ? "+" : "−") \(f(abs(c.offset)))")
        }
        return parts.joined(separator: ", ")
    }
}

/// What the dashboard and the API show of a station's calibrations (`StationStatus.calibration`).
package struct CalibrationStatus: Sendable, Codable, Equatable {
    /// A channel that may be calibrated, with the methods that fit it.
    package struct Channel: Sendable, Codable, Equatable {
        package var name: String
        package var unit: String
        package var methods: [String]
    }

    /// The correction applied to a channel now.
    package struct Applied: Sendable, Codable, Equatable {
        package var channel: String
        package var method: String
        package var slope: Double
        package var offset: Double
        /// Unix seconds.
        package var at: Double
        package var by: String?
        package var dueAt: Double?
        /// Past its due date.
        package var overdue: Bool
        package var summary: String
        /// Set when the device holds the correction in its own calibration registers (the host applies none).
        package var device: CalibrationRecord.DeviceCalibration?
    }

    /// The point being recorded now.
    package struct Current: Sendable, Codable, Equatable {
        /// The standard's true value; nil for a DO saturation point until it is recorded.
        package var standard: Double?
        package var tempC: Double?
        package var lot: String?
        /// The probe's latest reading (uncorrected).
        package var reading: Double?
        /// The largest distance of a reading in the window from the window's mean.
        package var spread: Double?
        /// Seconds of readings the window holds, of `windowS`.
        package var coveredS: Double
        package var windowS: Double
        package var band: Double
        package var stable: Bool
        /// Seconds since the point was asked for, and when it fails.
        package var elapsedS: Double
        package var timeoutS: Double
    }

    package struct Session: Sendable, Codable, Equatable {
        package var channel: String
        package var unit: String
        package var method: String
        package var pointsWanted: Int
        package var points: [CalibrationPoint]
        /// Unix seconds.
        package var startedAt: Double
        package var by: String?
        package var why: String?
        /// `waiting` (put the probe in the next standard and ask for a point), `settling` (a point is being
        /// recorded), `ready` (every point recorded: finish), `finished` (see `result`).
        package var state: String
        package var current: Current?
        package var result: CalibrationRecord?
        /// What to do next, in words.
        package var message: String
    }

    package var session: Session?
    package var applied: [Applied] = []
    package var channels: [Channel] = []

    package init(session: Session? = nil, applied: [Applied] = [], channels: [Channel] = []) {
        self.session = session
        self.applied = applied
        self.channels = channels
    }
}
