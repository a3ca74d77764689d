/// Count, min, max and mean of a value.
struct RunningStatistics: Sendable {
    var count = 0
    var min = Double.infinity
    var max = -Double.infinity
    var sum = 0.0

    mutating func add(_ v: Double) {
        count += 1
        min = Swift.min(min, v)
        max = Swift.max(max, v)
        sum += v
    }

    var report: ReportValue {
        count == 0 ? .null : .object(["min": .number(rounded(min, 3)), "max": .number(rounded(max, 3)),
                                      "mean": .number(rounded(sum / Double(count), 3)),
                                      "samples": .number(Double(count))])
    }
}
