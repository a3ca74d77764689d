import Histogram

extension Histogram {
    /// Records `value`, first growing the histogram to cover it if it does not yet: to the top of the power-of-two
    /// bucket that holds it, as far as HDR's own autosizing would grow it, no further.
    ///
    /// HDR's autosizing (`autoResize`) appends the new zero counts one at a time through generic code that is not
    /// specialized for its count type (about 0.15 ms a channel at a station's first readings, and a worker with 500
    /// stations starting at once fell a second behind). Growing makes a histogram of the new size, whose counts are
    /// allocated in one piece, and adds the old one into it, which is inlined here: the same counts, min, max and
    /// total, for a fraction of the time.
    @inlinable
    package mutating func recordGrowing(_ value: UInt64, count: Count = 1) {
        if value > highestTrackableValue {
            let top = UInt64.max >> value.leadingZeroBitCount  // 2^bits(value) − 1
            var grown = Histogram(highestTrackableValue: Swift.max(top, 2),
                                  numberOfSignificantValueDigits: numberOfSignificantValueDigits)
            grown.autoResize = autoResize
            grown.add(self)
            self = grown
        }
        record(value, count: count)
    }
}
