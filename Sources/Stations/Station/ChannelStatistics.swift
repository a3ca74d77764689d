import Control
import Devices
import Histogram
import DeviceTransports
import Locking

/// Running statistics of one channel over a run: min, max, mean, last, and p05/p95 from an HDR histogram over the
/// channel's range (in thousandths of its unit), so memory stays flat however long the run.
package struct ChannelStatistics: Sendable {
    package let spec: ChannelSpec
    package private(set) var samples = 0
    package private(set) var faults = 0
    package private(set) var min = Double.infinity
    package private(set) var max = -Double.infinity
    package private(set) var sum = 0.0
    package private(set) var last: Double?
    private var histogram: Histogram<UInt64>
    private static let resolution = 1000.0

    package init(spec: ChannelSpec) {
        self.spec = spec
        let span = UInt64(((spec.range.upperBound - spec.range.lowerBound) * Self.resolution).rounded()) + 1
        histogram = Histogram(highestTrackableValue: Swift.max(span, 2), numberOfSignificantValueDigits: .three)
    }

    package mutating func record(_ reading: ChannelReading) {
        guard let value = reading.value else {
            faults += 1
            return
        }
        samples += 1
        min = Swift.min(min, value)
        max = Swift.max(max, value)
        sum += value
        last = value
        let clamped = Swift.min(Swift.max(value, spec.range.lowerBound), spec.range.upperBound)
        _ = histogram.record(UInt64(((clamped - spec.range.lowerBound) * Self.resolution).rounded()))
    }

    /// The value at percentile `p`, to the histogram's resolution (3 significant digits of value − range minimum,
    /// e.g. ≈ 0.06 °C at 22 °C on a −50 °C range), kept within the recorded min and max.
    package func percentile(_ p: Double) -> Double? {
        guard samples > 0 else { return nil }
        let value = Double(histogram.valueAtPercentile(p)) / Self.resolution + spec.range.lowerBound
        return Swift.min(Swift.max(value, min), max)
    }

    /// The report's channel entry (docs/design.md "The run report").
    package var summary: [String: ReportValue] {
        func r(_ v: Double?) -> ReportValue { ReportValue(v.map { ($0 * 1e4).rounded() / 1e4 }) }
        return [
            "min": r(samples > 0 ? min : nil), "max": r(samples > 0 ? max : nil),
            "mean": r(samples > 0 ? sum / Double(samples) : nil),
            "p05": r(percentile(5)), "p95": r(percentile(95)), "last": r(last),
            "samples": .number(Double(samples)), "faults": .number(Double(faults)),
            "unit": .string(spec.unit),
        ]
    }
}
