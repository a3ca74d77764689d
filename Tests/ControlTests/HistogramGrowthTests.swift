import Histogram
import Testing
@testable import Control

/// `recordGrowing` against HDR's own autosizing: the same values give the same histogram, bucket for bucket.
@Suite struct HistogramGrowthTests {
    @Test func growingRecordsWhatAutosizingRecords() {
        var generator = SystemRandomNumberGenerator()
        for digits in [SignificantDigits.two, .three] {
            var grown = Histogram<UInt32>(numberOfSignificantValueDigits: digits)
            var autosized = Histogram<UInt32>(numberOfSignificantValueDigits: digits)
            // Values over nine orders of magnitude, rising now and then (each rise past the top grows the histogram).
            var values: [UInt64] = [0, 1, 2, 3, 255, 256, 257, 1_000_000_000, 512, 7_000]
            values += (0..<2000).map { _ in UInt64.random(in: 0...(1 << UInt64.random(in: 1...33, using: &generator)),
                                                         using: &generator) }
            for (i, value) in values.enumerated() {
                let count = UInt32(i % 3 + 1)
                grown.recordGrowing(value, count: count)
                _ = autosized.record(value, count: count)
            }
            #expect(grown.totalCount == autosized.totalCount)
            #expect(grown.min == autosized.min && grown.max == autosized.max)
            #expect(grown.highestTrackableValue >= grown.max)
            let a = grown.recordedValues().map { [$0.value, UInt64($0.count)] }
            let b = autosized.recordedValues().map { [$0.value, UInt64($0.count)] }
            #expect(a == b)
            for p in [0.0, 5, 50, 95, 99.9, 100] {
                #expect(grown.valueAtPercentile(p) == autosized.valueAtPercentile(p))
            }
        }
    }

    /// Grown to the top of the power-of-two bucket that holds the value, no further: a value just above the top grows
    /// it by one bucket.
    @Test func growsToTheTopOfTheValuesBucket() {
        var histogram = Histogram<UInt64>(numberOfSignificantValueDigits: .two)
        histogram.recordGrowing(1000)
        #expect(histogram.highestTrackableValue == 1023)
        histogram.recordGrowing(1023)
        #expect(histogram.highestTrackableValue == 1023)
        histogram.recordGrowing(1024)
        #expect(histogram.highestTrackableValue == 2047)
        #expect(histogram.totalCount == 3)
    }
}
