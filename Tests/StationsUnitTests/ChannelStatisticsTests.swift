import Devices
@testable import Stations
import Testing

/// A channel's report statistics: percentiles from its compact histogram (two significant digits, 32-bit counts
/// that move to 64 bits before they could overflow).
@Suite("Channel statistics")
struct ChannelStatisticsTests {
    static let spec = ChannelSpec(0, "water_temp_c", unit: "°C", range: -5...40)

    /// Readings 20.00, 20.01, … 24.99 °C, each once, then `extra` more at 30 °C.
    static func readings(extra: Int = 0) -> [Double] {
        (0..<500).map { 20 + Double($0) / 100 } + Array(repeating: 30, count: extra)
    }

    @Test("p05 and p95 are within 1/256 of the value, and within min and max")
    func percentilesArePreciseEnough() {
        var stats = ChannelStatistics(spec: Self.spec)
        for value in Self.readings() { stats.record(.ok(Float(value))) }
        let p05 = try! #require(stats.percentile(5)), p95 = try! #require(stats.percentile(95))
        // Exact: p05 is 20.24 and p95 24.74 (500 evenly spaced readings).
        #expect(abs(p05 - 20.245) <= 20.245 / 256)
        #expect(abs(p95 - 24.745) <= 24.745 / 256)
        #expect(p05 >= stats.min && p95 <= stats.max)
        #expect(stats.percentile(100) == stats.max)
    }

    @Test("On a range around 0, negative values are as precise as positive ones")
    func negativeValuesArePrecise() {
        var stats = ChannelStatistics(spec: ChannelSpec(1, "velocity_mms", unit: "mm/s", range: -5000...5000))
        // −70.0 … +69.9 mm/s in steps of 0.1, each once: exact p05 −63.0, p50 about 0, p95 62.9.
        for i in -700..<700 { stats.record(.ok(Float(i) / 10)) }
        let p05 = try! #require(stats.percentile(5)), p95 = try! #require(stats.percentile(95))
        #expect(abs(p05 - -63.0) <= 63.0 / 256 + 0.1, "p05 \(p05)")
        #expect(abs(p95 - 62.9) <= 62.9 / 256 + 0.1, "p95 \(p95)")
        #expect(abs(try! #require(stats.percentile(50))) <= 0.2)
        // p0 and p100 are the min and max, to the thousandth of a unit the histograms keep.
        #expect(abs(try! #require(stats.percentile(0)) - stats.min) <= 0.001)
        #expect(abs(try! #require(stats.percentile(100)) - stats.max) <= 0.001)
    }

    @Test("Counts that reach the 32-bit limit move to 64 bits and every percentile stays the same")
    func countsWidenWithoutLoss() {
        var narrow = ChannelStatistics(spec: Self.spec)
        var widening = ChannelStatistics(spec: Self.spec, narrowLimit: 300)
        for value in Self.readings(extra: 200) {
            narrow.record(.ok(Float(value)))
            widening.record(.ok(Float(value)))
        }
        #expect(widening.countsAreWide)
        #expect(!narrow.countsAreWide)
        for p in [0.0, 5, 25, 50, 60, 95, 100] {
            #expect(widening.percentile(p) == narrow.percentile(p), "p\(p)")
        }
        #expect(abs((widening.percentile(95) ?? 0) - 30) <= 30.0 / 256)
        #expect(widening.samples == 700)
    }
}
