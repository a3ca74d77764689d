#if canImport(Glibc)
import Glibc
#endif
import Devices
import Locking

/// A GPIO chip in memory, behind `GPIOProvider` so a simulated station cannot tell it from a real chip: the same
/// errors (chip not found, line not found, busy, not an output) with the errnos libgpiod gives.
///
/// Each line has one physical level, what the wire shows. Inputs read it with active-low applied; outputs drive it
/// (inverted when active low). Tests and the fault injector set and watch the wire with `setPhysicalLevel` and
/// `physicalLevel`. Every line starts high: an active-low E-stop wired as a pull-up reads "not pressed".
///
/// Thread-safe: the chip may be shared across threads; each line it hands out belongs to its requester's thread.
public final class SimulatedGPIOChip: GPIOProvider {
    /// The name requests must use ("gpiochip0").
    public let name: String
    /// Lines 0..<lineCount exist.
    public let lineCount: Int

    private struct Line {
        var high = true
        /// The consumer holding the line, nil when free.
        var consumer: String?
    }

    private let lines: Locked<[Line]>

    /// A chip called `name` with `lineCount` lines, all free and high.
    public init(name: String = "gpiochip0", lineCount: Int = 32) {
        precondition(lineCount >= 0, "a chip has no negative line count")
        self.name = name
        self.lineCount = lineCount
        lines = Locked([Line](repeating: Line(), count: lineCount))
    }

    /// Requests a line. An output starts driving its `initial` logical value.
    ///
    /// - Throws: `GPIOError` with kind `.chipNotFound` for another chip name, `.lineNotFound` for a line outside
    ///   0..<lineCount, `.busy` while another consumer holds the line.
    public func request(_ address: GPIOLineAddress, direction: GPIODirection, consumer: String) throws -> any GPIOLine {
        guard address.chip == name else {
            throw GPIOError(kind: .chipNotFound, address: address, errno: ENOENT, operation: "open chip")
        }
        guard (0..<lineCount).contains(address.line) else {
            throw GPIOError(kind: .lineNotFound, address: address, errno: EINVAL, operation: "request line")
        }
        // The kernel keeps at most 31 bytes of a consumer label; gpioinfo shows what it kept.
        let label = String(decoding: consumer.utf8.prefix(31), as: UTF8.self)
        var isOutput = false
        try lines.withLock { lines in
            guard lines[address.line].consumer == nil else {
                throw GPIOError(kind: .busy, address: address, errno: EBUSY, operation: "request line")
            }
            lines[address.line].consumer = label
            if case .output(let initial) = direction {
                isOutput = true
                lines[address.line].high = initial != address.activeLow
            }
        }
        return SimulatedGPIOLine(chip: self, address: address, isOutput: isOutput)
    }

    /// Sets what the wire shows on `line`, as a switch, sensor or fault would. On a line requested as output this
    /// overrides the driven level until the next write (a short, for fault injection).
    public func setPhysicalLevel(_ line: Int, high: Bool) {
        precondition((0..<lineCount).contains(line), "\(name) has no line \(line)")
        lines.withLock { $0[line].high = high }
    }

    /// What the wire shows on `line`: for an output, what the line drives after active-low.
    public func physicalLevel(_ line: Int) -> Bool {
        precondition((0..<lineCount).contains(line), "\(name) has no line \(line)")
        return lines.withLock { $0[line].high }
    }

    /// The consumer label holding `line` (as gpioinfo would show it), nil when the line is free.
    public func consumer(of line: Int) -> String? {
        precondition((0..<lineCount).contains(line), "\(name) has no line \(line)")
        return lines.withLock { $0[line].consumer }
    }

    fileprivate func level(_ line: Int) -> Bool {
        lines.withLock { $0[line].high }
    }

    fileprivate func drive(_ line: Int, high: Bool) {
        lines.withLock { $0[line].high = high }
    }

    fileprivate func free(_ line: Int) {
        lines.withLock { $0[line].consumer = nil }
    }
}

/// A line requested from a `SimulatedGPIOChip`; released by `release()` or deinit, as a libgpiod line is.
private final class SimulatedGPIOLine: GPIOLine {
    let address: GPIOLineAddress
    private let chip: SimulatedGPIOChip
    private let isOutput: Bool
    private var isReleased = false

    init(chip: SimulatedGPIOChip, address: GPIOLineAddress, isOutput: Bool) {
        self.chip = chip
        self.address = address
        self.isOutput = isOutput
    }

    deinit { release() }

    func read() throws -> Bool {
        guard !isReleased else { throw GPIOError(kind: .io, address: address, errno: EBADF, operation: "read") }
        return chip.level(address.line) != address.activeLow
    }

    func write(_ value: Bool) throws {
        guard isOutput else {
            throw GPIOError(kind: .notAnOutput, address: address, errno: EPERM, operation: "write")
        }
        guard !isReleased else { throw GPIOError(kind: .io, address: address, errno: EBADF, operation: "write") }
        chip.drive(address.line, high: value != address.activeLow)
    }

    func release() {
        guard !isReleased else { return }
        isReleased = true
        chip.free(address.line)
    }
}
