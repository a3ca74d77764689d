import Control
import Devices
import Histogram
import DeviceTransports
import Locking

/// Running statistics of one channel over a run: min, max, mean, last, and p05/p95 from HDR histograms (in
/// thousandths of the channel's unit), so memory stays flat however long the run.
///
/// Values are kept as their distance from an origin: 0 when the channel's range reaches 0 or below (negative values in
/// a second histogram, made at the first negative value, so a velocity of −60 mm/s is kept as precisely as +60), else
/// the range's minimum (a pressure of 1013 hPa on an 850–1100 hPa range as 163 hPa above it). The histograms keep two
/// significant digits, and a percentile is the middle of its bucket, so p05 and p95 are within 1/256 of that distance
/// (≈ 0.09 °C at 22 °C), and never outside the recorded min and max. Their counts are 32-bit until a channel has been
/// read 2³² − 2 times (16 months at 100 Hz), then 64-bit, losing nothing (`ChannelCounts`). With three digits above the
/// range's minimum and 64-bit counts, a sonde's thirteen channels took about 800 KB and 1000 sonde stations 880 MB
/// (bench/run, scale).
package struct ChannelStatistics: Sendable {
    package let spec: ChannelSpec
    package private(set) var samples = 0
    package private(set) var faults = 0
    package private(set) var min = Double.infinity
    package private(set) var max = -Double.infinity
    package private(set) var sum = 0.0
    package private(set) var last: Double?
    /// Values at or above the origin, as their distance from it; values below it (only when the origin is 0).
    private var above: ChannelCounts
    private var below: ChannelCounts?
    private let origin: Double
    private let narrowLimit: UInt64
    private static let resolution = 1000.0

    /// `narrowLimit`: readings kept in 32-bit counts before they move to 64 bits (tests lower it).
    package init(spec: ChannelSpec, narrowLimit: UInt64 = UInt64(UInt32.max) - 1) {
        self.spec = spec
        self.narrowLimit = narrowLimit
        origin = spec.range.lowerBound > 0 ? spec.range.lowerBound : 0
        above = ChannelCounts(narrowLimit: narrowLimit)
    }

    /// Whether the histograms' counts have moved to 64 bits.
    package var countsAreWide: Bool { above.isWide || below?.isWide == true }

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
        let distance = ((clamped - origin) * Self.resolution).rounded()
        if distance >= 0 {
            above.record(UInt64(distance))
        } else {
            if below == nil { below = ChannelCounts(narrowLimit: narrowLimit) }
            below!.record(UInt64(-distance))
        }
    }

    /// The value at percentile `p` (0–100), to the histograms' resolution (see above), kept within the recorded min
    /// and max: the k-th smallest reading, k = ⌈p/100 · samples⌉ (at least 1), as `Histogram.valueAtPercentile`.
    package func percentile(_ p: Double) -> Double? {
        guard samples > 0 else { return nil }
        let belowCount = below?.totalCount ?? 0
        let total = above.totalCount + belowCount
        let rank = Swift.min(total, Swift.max(1, UInt64((Swift.min(Swift.max(p, 0), 100) / 100 * Double(total))
                .rounded(.up))))
        let distance: Double
        if rank <= belowCount, let below {
            // The smallest values are the farthest below the origin: the k-th smallest is the (n − k + 1)-th nearest.
            distance = -Double(below.value(atRank: belowCount - rank + 1))
        } else {
            distance = Double(above.value(atRank: rank - belowCount))
        }
        let value = distance / Self.resolution + origin
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

/// A channel's HDR histogram (two significant digits, autosizing) with 32-bit counts that move to 64 bits before any
/// count could overflow: no bucket can pass 2³² − 1 while the total stays below it.
package struct ChannelCounts: Sendable {
    /// Exactly one of the two is set.
    private var narrow: Histogram<UInt32>?
    private var wide: Histogram<UInt64>?
    private let narrowLimit: UInt64

    /// The histogram grows only as far as the largest value seen (`recordGrowing`; the caller bounds the values by
    /// the channel's range): a sonde's channels mostly stay far below their ranges' ends, and sized for the whole range
    /// 1000 sonde stations took about 20 MB more (bench/run, scale; BENCHMARKS.md).
    package init(narrowLimit: UInt64 = UInt64(UInt32.max) - 1) {
        narrow = Histogram(numberOfSignificantValueDigits: .two)
        self.narrowLimit = Swift.max(1, Swift.min(narrowLimit, UInt64(UInt32.max) - 1))
    }

    /// Whether the counts have moved to 64 bits.
    package var isWide: Bool { wide != nil }

    package var totalCount: UInt64 { narrow?.totalCount ?? wide?.totalCount ?? 0 }

    package mutating func record(_ value: UInt64) {
        if let total = narrow?.totalCount {
            if total < narrowLimit {
                narrow!.recordGrowing(value)  // in place
                return
            }
            // Each bucket's count at its value, except that the smallest and the largest reading are recorded as
            // themselves (in their buckets), so that min and max, and with them p0 and p100, stay the same.
            let old = narrow!
            var buckets = old.recordedValues().map { ($0.value, UInt64($0.count)) }
            var widened = Histogram<UInt64>(numberOfSignificantValueDigits: .two)
            widened.recordGrowing(old.min)
            buckets[0].1 -= 1
            if old.totalCount > 1 {
                widened.recordGrowing(old.max)
                buckets[buckets.count - 1].1 -= 1
            }
            for (value, count) in buckets where count > 0 {
                widened.recordGrowing(value, count: count)
            }
            wide = widened
            narrow = nil
        }
        wide!.recordGrowing(value)
    }

    /// The k-th smallest value recorded (1 ≤ k ≤ totalCount): the smallest and the largest as they were recorded, any
    /// other as the middle of its bucket (within half a bucket, 1/256 of the value, either way; HDR's own
    /// `valueAtPercentile` gives the bucket's top, which put many a p95 on the channel's max).
    package func value(atRank k: UInt64) -> UInt64 {
        let total = totalCount
        guard total > 0 else { return 0 }
        func at(_ p: Double) -> UInt64 { narrow?.valueAtPercentile(p) ?? wide?.valueAtPercentile(p) ?? 0 }
        if k <= 1 { return at(0) }
        if k >= total { return at(100) }
        // valueAtPercentile takes the bucket where ⌈p/100 · total⌉ values are reached: k − ½ rounds up to k.
        let top = at((Double(k) - 0.5) / Double(total) * 100)
        return narrow?.medianEquivalentForValue(top) ?? wide?.medianEquivalentForValue(top) ?? top
    }
}
