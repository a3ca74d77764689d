#if canImport(Glibc)
import Glibc
#endif
import CModbus

/// The link failed: the connection was refused, lost or timed out. The station closes the link, drives its safe
/// state and reconnects with backoff.
public struct ModbusLinkError: Error, Sendable, CustomStringConvertible {
    public let endpoint: String
    public let operation: String
    /// The errno libmodbus or the socket reported (ECONNREFUSED, ETIMEDOUT, ECONNRESET, …).
    public let errno: Int32

    public init(endpoint: String, operation: String, errno: Int32) {
        self.endpoint = endpoint
        self.operation = operation
        self.errno = errno
    }

    public var description: String {
        "\(endpoint): \(operation): \(String(cString: modbus_strerror(errno))) (errno \(errno))"
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
        case other
    }

    public let endpoint: String
    public let operation: String
    public let kind: Kind
    /// The errno libmodbus set (MODBUS_ENOBASE + exception code for exceptions), 0 for in-memory transports.
    public let errno: Int32

    public init(endpoint: String, operation: String, kind: Kind, errno: Int32 = 0) {
        self.endpoint = endpoint
        self.operation = operation
        self.kind = kind
        self.errno = errno
    }

    /// The exception code, when the device answered with one.
    public var exception: ModbusException? {
        if case .exception(let code) = kind { return code }
        return nil
    }

    public var description: String {
        switch kind {
        case .exception(let code): "\(endpoint): \(operation): \(code)"
        default: "\(endpoint): \(operation): \(String(cString: modbus_strerror(errno)))"
        }
    }
}

/// Sorts a libmodbus errno into a link or a transaction error.
public func modbusError(errno code: Int32, endpoint: String, operation: String) -> any Error {
    let base = Int32(MODBUS_ENOBASE)
    let exceptionRange = (base + 1)...(base + Int32(MODBUS_EXCEPTION_GATEWAY_TARGET))
    if exceptionRange.contains(code) {
        let raw = UInt8(code - base)
        let kind: ModbusTransactionError.Kind = ModbusException(rawValue: raw).map { .exception($0) }
            ?? .unknownException
        return ModbusTransactionError(endpoint: endpoint, operation: operation, kind: kind, errno: code)
    }
    let gatewayTarget = base + Int32(MODBUS_EXCEPTION_GATEWAY_TARGET)
    let kind: ModbusTransactionError.Kind? = switch code - gatewayTarget {
    case 1: .badCRC
    case 2, 5: .badData      // EMBBADDATA, EMBMDATA
    case 3, 4: .unknownException  // EMBBADEXC, EMBUNKEXC
    case 6: .badSlave
    default: nil
    }
    if let kind {
        return ModbusTransactionError(endpoint: endpoint, operation: operation, kind: kind, errno: code)
    }
    return ModbusLinkError(endpoint: endpoint, operation: operation, errno: code)
}

extension String {
    /// "0x03"-style hex for exception codes.
    init(format2 value: UInt8) {
        let hex = String(value, radix: 16, uppercase: true)
        self = "0x" + (hex.count < 2 ? "0" + hex : hex)
    }
}
