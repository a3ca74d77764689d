// Shared by every fuzz target (compiled into each one): reads typed values off the fuzzer's bytes. When the bytes
// run out every read returns zero/false, so any input, including the empty one, is a complete test case.

struct FuzzInput {
    let bytes: [UInt8]
    var position = 0

    init(_ data: UnsafePointer<UInt8>, _ size: Int) {
        bytes = Array(UnsafeBufferPointer(start: data, count: size))
    }

    init(bytes: [UInt8]) { self.bytes = bytes }

    var isEmpty: Bool { position >= bytes.count }
    var remaining: Int { max(0, bytes.count - position) }

    mutating func byte() -> UInt8 {
        guard position < bytes.count else { return 0 }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func bool() -> Bool { byte() & 1 == 1 }

    mutating func u16() -> UInt16 { UInt16(byte()) << 8 | UInt16(byte()) }

    mutating func u32() -> UInt32 { UInt32(u16()) << 16 | UInt32(u16()) }

    mutating func u64() -> UInt64 { UInt64(u32()) << 32 | UInt64(u32()) }

    /// Any float, NaNs and infinities included.
    mutating func float() -> Float { Float(bitPattern: u32()) }

    /// An integer in `range` (the range must not be empty).
    mutating func int(in range: ClosedRange<Int>) -> Int {
        let span = UInt64(range.upperBound - range.lowerBound) + 1
        return range.lowerBound + Int(u32() % UInt32(clamping: span))
    }

    mutating func bytes(_ n: Int) -> [UInt8] {
        let n = min(max(0, n), remaining)
        defer { position += n }
        return Array(bytes[position..<position + n])
    }

    /// The rest of the input.
    mutating func rest() -> [UInt8] { bytes(remaining) }

    /// `n` registers (big-endian words, zero when the bytes run out).
    mutating func registers(_ n: Int) -> [UInt16] { (0..<max(0, n)).map { _ in u16() } }
}

/// Stops the fuzzer with a message: the input that got here is a bug (an invariant broke, or a server died).
func fuzzCheck(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
               file: StaticString = #fileID, line: UInt = #line) {
    if !condition() { fatalError("fuzz invariant: \(message())", file: file, line: line) }
}
