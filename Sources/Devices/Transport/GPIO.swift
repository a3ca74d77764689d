#if canImport(Glibc)
import Glibc
#endif

/// Where a host GPIO line is: `{ chip = "gpiochip0", line = 17, active_low = true }` in configuration.
public struct GPIOLineAddress: Sendable, Hashable, CustomStringConvertible {
    /// The chip as libgpiod looks it up: its name ("gpiochip0"), its number ("0") or its label ("pinctrl-bcm2711").
    public var chip: String
    /// The line's offset on the chip.
    public var line: Int
    /// The line is asserted when the wire is low (an E-stop wired to ground with a pull-up).
    public var activeLow: Bool

    /// A line on `chip`; values read and written through it are logical when `activeLow` is set.
    public init(chip: String, line: Int, activeLow: Bool = false) {
        self.chip = chip
        self.line = line
        self.activeLow = activeLow
    }

    /// "gpiochip0 line 17 (active low)", or "gpiochip0 line 17" when active high.
    public var description: String {
        "\(chip) line \(line)" + (activeLow ? " (active low)" : "")
    }
}

/// How a line is requested.
public enum GPIODirection: Sendable {
    /// Read only; `write` throws `GPIOError.Kind.notAnOutput`.
    case input
    /// Driven by the requester, starting at the logical value `initial` (true = asserted).
    case output(initial: Bool)
}

/// A requested line. Values are logical (active_low already applied): true = asserted.
///
/// A line is not `Sendable`: use it from the thread or task that requested it. It is released by `release()` or
/// when the last reference goes.
public protocol GPIOLine: AnyObject {
    /// Where the line is, as requested.
    var address: GPIOLineAddress { get }
    /// The line's logical value: for an input what the wire shows, for an output what the line drives.
    func read() throws -> Bool
    /// Drives the line to a logical value; throws `GPIOError` with kind `.notAnOutput` on an input line.
    func write(_ value: Bool) throws
    /// Gives the line back so another consumer may request it. Further reads and writes throw; releasing twice is
    /// harmless.
    func release()
}

/// Something that hands out lines: the libgpiod backend or, in Sim, a simulated chip.
public protocol GPIOProvider: AnyObject, Sendable {
    /// Requests a line; `consumer` is the label shown by gpioinfo (e.g. "rigd:extractor-1:estop").
    func request(_ address: GPIOLineAddress, direction: GPIODirection, consumer: String) throws -> any GPIOLine
}

/// A GPIO request, read or write failed.
public struct GPIOError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, sorted for the station (a missing chip is a configuration error, a busy line a conflict).
    public enum Kind: Sendable, Equatable {
        /// No chip answers to the address's chip name, number or label.
        case chipNotFound
        /// The chip has no line with that offset.
        case lineNotFound
        /// Another consumer holds the line.
        case busy
        /// A write on a line requested as input.
        case notAnOutput
        /// Anything else the kernel or libgpiod reported (permissions, a released line, I/O).
        case io
    }

    public let kind: Kind
    public let address: GPIOLineAddress
    /// The errno behind the error (ENOENT for a missing chip, EINVAL for a missing line, EBUSY, EPERM, …).
    public let errno: Int32
    /// What was being done: "open chip", "request line", "read", "write".
    public let operation: String

    /// An error of `kind` at `address`.
    public init(kind: Kind, address: GPIOLineAddress, errno: Int32, operation: String) {
        self.kind = kind
        self.address = address
        self.errno = errno
        self.operation = operation
    }

    /// e.g. "gpiochip0 line 17 (active low): open chip: no such GPIO chip gpiochip0 (ENOENT) — is the board's GPIO
    /// enabled and is this the right chip name? `gpiodetect` lists chips"
    public var description: String {
        let chip = address.chip
        let code = Self.errnoName(errno)
        let detail = switch kind {
        case .chipNotFound:
            "no such GPIO chip \(chip) (\(code)) — is the board's GPIO enabled and is this the right chip name? "
                + "`gpiodetect` lists chips"
        case .lineNotFound:
            "\(chip) has no line \(address.line) (\(code)) — `gpioinfo \(chip)` lists its lines"
        case .busy:
            "line is busy (\(code)) — another consumer holds it; `gpioinfo \(chip)` shows which"
        case .notAnOutput:
            "line was requested as an input, not an output (\(code))"
        case .io where errno == EACCES:
            "\(Self.message(errno)) (\(code)) — may rigd's user open the chip's /dev/gpiochipN? "
                + "(the gpio group or a udev rule)"
        case .io:
            "\(Self.message(errno)) (\(code))"
        }
        return "\(address): \(operation): \(detail)"
    }

    /// The errno's symbolic name for the codes GPIO work meets, "errno N" for others.
    static func errnoName(_ code: Int32) -> String {
        switch code {
        case ENOENT: "ENOENT"
        case ENODEV: "ENODEV"
        case ENXIO: "ENXIO"
        case EINVAL: "EINVAL"
        case EBUSY: "EBUSY"
        case EPERM: "EPERM"
        case EACCES: "EACCES"
        case EIO: "EIO"
        case EBADF: "EBADF"
        case ENOMEM: "ENOMEM"
        case ENOTTY: "ENOTTY"
        case EAGAIN: "EAGAIN"
        case EINTR: "EINTR"
        case EMFILE: "EMFILE"
        default: "errno \(code)"
        }
    }

    /// strerror's text for `code`.
    static func message(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "errno \(code)" }
        return String(cString: text)
    }
}
