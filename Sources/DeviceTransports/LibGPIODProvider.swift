#if canImport(Glibc)
import Glibc
#endif
import CGPIOD
import Devices
import Locking

/// Host GPIO lines through libgpiod 1.6 (the character device, /dev/gpiochipN).
///
/// Chips are opened on first use with `gpiod_chip_open_lookup`, so a chip may be named "gpiochip0", "0" or by its
/// label, and stay open (cached under the name asked for and the chip's own name) while the provider or any of its
/// lines lives. A chip that is missing is an error, never a crash; it is not cached, so a chip that appears later
/// (an overlay loaded) is found on the next request.
///
/// Thread safety: `request` may be called from any thread; opening chips, requesting and releasing lines happen
/// under one lock, because libgpiod's chip objects are not thread-safe. Each returned line is confined to its
/// requester's thread (or task): reading and writing it from elsewhere is not allowed.
public final class LibGPIODProvider: GPIOProvider, @unchecked Sendable {
    /// Open chips by the names they were asked for and by their own names. Also the lock for libgpiod calls.
    private let chips = Locked<[String: ChipHandle]>([:])

    /// A provider with no chip open yet.
    public init() {}

    /// Requests a line from the kernel, with the active-low flag when the address asks for it.
    ///
    /// - Throws: `GPIOError` with kind `.chipNotFound` (no chip answers to the name), `.lineNotFound` (offset out
    ///   of range), `.busy` (another consumer, in this process or another, holds the line) or `.io`.
    public func request(_ address: GPIOLineAddress, direction: GPIODirection, consumer: String) throws -> any GPIOLine {
        try chips.withLock { chips in
            let chip = try Self.chip(for: address, in: &chips)
            let count = Int(gpiod_chip_num_lines(chip.pointer))
            guard (0..<count).contains(address.line) else {
                throw GPIOError(kind: .lineNotFound, address: address, errno: EINVAL, operation: "request line")
            }
            guard let line = gpiod_chip_get_line(chip.pointer, UInt32(address.line)) else {
                let code = errno
                let kind: GPIOError.Kind = code == EINVAL ? .lineNotFound : .io
                throw GPIOError(kind: kind, address: address, errno: code, operation: "request line")
            }
            let flags = address.activeLow ? Int32(GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW) : 0
            let isOutput: Bool
            let result: Int32
            switch direction {
            case .input:
                isOutput = false
                result = gpiod_line_request_input_flags(line, consumer, flags)
            case .output(let initial):
                isOutput = true
                result = gpiod_line_request_output_flags(line, consumer, flags, initial ? 1 : 0)
            }
            guard result == 0 else {
                let code = errno
                let kind: GPIOError.Kind = code == EBUSY ? .busy : .io
                throw GPIOError(kind: kind, address: address, errno: code, operation: "request line")
            }
            return LibGPIODLine(address: address, line: line, isOutput: isOutput, chip: chip, provider: self)
        }
    }

    /// The open chip for the address, opening it if needed. Called with the lock held.
    private static func chip(for address: GPIOLineAddress, in chips: inout [String: ChipHandle]) throws
        -> ChipHandle {
        if let open = chips[address.chip] { return open }
        errno = 0
        guard let pointer = gpiod_chip_open_lookup(address.chip) else {
            let code = errno == 0 ? ENOENT : errno
            let kind: GPIOError.Kind = code == ENOENT || code == ENODEV ? .chipNotFound : .io
            throw GPIOError(kind: kind, address: address, errno: code, operation: "open chip")
        }
        // "0" and "gpiochip0" are one chip: keep one handle, so libgpiod sees both requests on the same line.
        let ownName = gpiod_chip_name(pointer).map { String(cString: $0) } ?? address.chip
        if let open = chips[ownName] {
            gpiod_chip_close(pointer)
            chips[address.chip] = open
            return open
        }
        let handle = ChipHandle(pointer)
        chips[address.chip] = handle
        chips[ownName] = handle
        return handle
    }

    /// Releases a line under the lock (libgpiod updates the chip's shared line objects).
    fileprivate func release(_ line: OpaquePointer) {
        chips.withLock { _ in gpiod_line_release(line) }
    }
}

/// An open `gpiod_chip`, closed when the provider and every line requested from it are gone.
private final class ChipHandle {
    let pointer: OpaquePointer

    init(_ pointer: OpaquePointer) { self.pointer = pointer }

    deinit { gpiod_chip_close(pointer) }
}

/// A requested `gpiod_line`. Confined to its requester's thread; released by `release()` or deinit.
private final class LibGPIODLine: GPIOLine {
    let address: GPIOLineAddress
    private let line: OpaquePointer
    private let isOutput: Bool
    /// Keeps the chip open while the line is requested (closing a chip frees its lines).
    private let chip: ChipHandle
    private let provider: LibGPIODProvider
    private var isReleased = false

    init(address: GPIOLineAddress, line: OpaquePointer, isOutput: Bool, chip: ChipHandle,
         provider: LibGPIODProvider) {
        self.address = address
        self.line = line
        self.isOutput = isOutput
        self.chip = chip
        self.provider = provider
    }

    deinit { release() }

    func read() throws -> Bool {
        guard !isReleased else { throw GPIOError(kind: .io, address: address, errno: EBADF, operation: "read") }
        let value = gpiod_line_get_value(line)
        guard value >= 0 else { throw GPIOError(kind: .io, address: address, errno: errno, operation: "read") }
        return value != 0
    }

    func write(_ value: Bool) throws {
        guard isOutput else {
            throw GPIOError(kind: .notAnOutput, address: address, errno: EPERM, operation: "write")
        }
        guard !isReleased else { throw GPIOError(kind: .io, address: address, errno: EBADF, operation: "write") }
        guard gpiod_line_set_value(line, value ? 1 : 0) == 0 else {
            throw GPIOError(kind: .io, address: address, errno: errno, operation: "write")
        }
    }

    func release() {
        guard !isReleased else { return }
        isReleased = true
        provider.release(line)
    }
}
