/// The last `capacity` values with their running mean and variance.
struct RingWindow: Sendable {
    private var values: [Double]
    private var head = 0
    private(set) var count = 0
    private var sum = 0.0
    private var sumSquares = 0.0
    let capacity: Int

    init(capacity: Int) {
        self.capacity = max(1, capacity)
        values = Array(repeating: 0, count: self.capacity)
    }

    var isFull: Bool { count == capacity }
    /// The value that the next `add` will push out (only meaningful when full).
    var oldest: Double { values[head] }
    var mean: Double { count == 0 ? .nan : sum / Double(count) }
    var variance: Double {
        guard count > 1 else { return .nan }
        return max(0, (sumSquares - sum * sum / Double(count)) / Double(count - 1))
    }
    var standardDeviation: Double { variance.squareRoot() }

    mutating func add(_ value: Double) {
        if isFull {
            let old = values[head]
            sum -= old
            sumSquares -= old * old
        } else {
            count += 1
        }
        values[head] = value
        sum += value
        sumSquares += value * value
        head = (head + 1) % capacity
    }

    mutating func clear() {
        head = 0
        count = 0
        sum = 0
        sumSquares = 0
    }
}
