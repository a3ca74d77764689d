#if canImport(Glibc)
import Glibc
#endif

/// The link failed: the connection was refused, lost or timed out. The station closes the link, drives its safe
/// state and reconnects with backoff.
public struct ModbusLinkError: Error, Sendable, CustomStringConvertible {
    public let endpoint: String
    public let operation: String
    /// The errno libmodbus or the socket reported (ECONNREFUSED, ETIMEDOUT, ECONNRESET, …).
    public let errno: Int32
    /// What the errno means; the transport's own wording (libmodbus's `modbus_strerror`) when it gave one.
    public let message: String

    public init(endpoint: String, operation: String, errno: Int32, message: String? = nil) {
        self.endpoint = endpoint
        self.operation = operation
        self.errno = errno
        self.message = message ?? String(cString: strerror(errno))
    }

    public var description: String {
        "\(endpoint): \(operation): \(message) (errno \(errno))"
    }
}

/// Modbus exception codes (docs/register-contract.md §0 uses 01, 02, 03, 04 and 06).
public enum ModbusException: UInt8, Error, Sendable, CustomStringConvertible {
    case illegalFunction = 0x01
    case illegalDataAddress = 0x02
    case illegalDataValue = 0x03
    case serverDeviceFailure = 0x04
    case acknowledge = 0x05
    case serverBusy = 0x06
    case negativeAcknowledge = 0x07
    case memoryParityError = 0x08
    case gatewayPathUnavailable = 0x0A
    case gatewayTargetFailed = 0x0B

    public var description: String {
        let name = switch self {
        case .illegalFunction: "illegal function"
        case .illegalDataAddress: "illegal data address"
        case .illegalDataValue: "illegal data value"
        case .serverDeviceFailure: "server device failure"
        case .acknowledge: "acknowledge"
        case .serverBusy: "server busy"
        case .negativeAcknowledge: "negative acknowledge"
        case .memoryParityError: "memory parity error"
        case .gatewayPathUnavailable: "gateway path unavailable"
        case .gatewayTargetFailed: "gateway target failed to respond"
        }
        return "exception \(String(format2: rawValue)) (\(name))"
    }
}

/// One transaction failed but the link is fine: an exception reply, a bad CRC, a malformed or mismatched response.
/// The station counts it and keeps the link.
public struct ModbusTransactionError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case exception(ModbusException)
        /// An exception code outside the known set.
        case unknownException
        case badCRC
        case badData
        case badSlave
        /// The device did not become ready: an acquisition sequence (docs/maps.md, "Acquisition") timed out or was
        /// refused the wait it asked for.
        case notReady
        case other
    }

    public let endpoint: String
    public let operation: String
    public let kind: Kind
    /// The errno libmodbus set (MODBUS_ENOBASE + exception code for exceptions), 0 for in-memory transports.
    public let errno: Int32
    /// What went wrong, in the transport's words (libmodbus's `modbus_strerror`) or, without them, the kind's.
    public let message: String

    public init(endpoint: String, operation: String, kind: Kind, errno: Int32 = 0, message: String? = nil) {
        self.endpoint = endpoint
        self.operation = operation
        self.kind = kind
        self.errno = errno
        self.message = message ?? Self.describe(kind)
    }

    private static func describe(_ kind: Kind) -> String {
        switch kind {
        case .exception(let code): "\(code)"
        case .unknownException: "unknown exception"
        case .badCRC: "invalid CRC"
        case .badData: "invalid data"
        case .badSlave: "response not from the requested unit"
        case .notReady: "the device did not become ready"
        case .other: "transaction failed"
        }
    }

    /// The exception code, when the device answered with one.
    public var exception: ModbusException? {
        if case .exception(let code) = kind { return code }
        return nil
    }

    public var description: String {
        switch kind {
        case .exception(let code): "\(endpoint): \(operation): \(code)"
        default: "\(endpoint): \(operation): \(message)"
        }
    }
}

extension String {
    /// "0x03"-style hex for exception codes.
    init(format2 value: UInt8) {
        let hex = String(value, radix: 16, uppercase: true)
        self = "0x" + (hex.count < 2 ? "0" + hex : hex)
    }
}
