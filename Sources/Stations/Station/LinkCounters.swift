import Control
import Devices
import DeviceTransports
import Foundation
import Sim

/// Link health of a station, readable from any thread.
package struct LinkCounters: Sendable, Equatable {
    package var linkErrors: UInt64 = 0
    package var transactionErrors: UInt64 = 0
    package var reconnects: UInt64 = 0
    package var linkUp = false
    package var lastError: String?
    /// Failures by kind (`timeout`, `connection`, `exception_02`, `crc`, …), link and transaction errors together.
    package var errorsByKind: [String: UInt64] = [:]

    package mutating func count(_ error: any Error) {
        errorsByKind[Self.kind(of: error), default: 0] += 1
    }

    /// A short, stable name for the kind of a failure (metrics labels, the API).
    package static func kind(of error: any Error) -> String {
        switch error {
        case let link as ModbusLinkError:
            switch link.errno {
            case ETIMEDOUT: return "timeout"
            case ECONNREFUSED: return "connection_refused"
            case ECONNRESET, EPIPE, ENOTCONN: return "connection_lost"
            default: return "link_other"
            }
        case let transaction as ModbusTransactionError:
            switch transaction.kind {
            case .exception(let code): return String(format: "exception_%02x", code.rawValue)
            case .unknownException: return "unknown_exception"
            case .badCRC: return "crc"
            case .badData: return "bad_data"
            case .badSlave: return "bad_unit"
            case .notReady: return "not_ready"
            case .other: return "transaction_other"
            }
        case is WrongDeviceError: return "wrong_device"
        default: return "other"
        }
    }

    package init(linkErrors: UInt64 = 0, transactionErrors: UInt64 = 0, reconnects: UInt64 = 0, linkUp: Bool = false, lastError: String? = nil, errorsByKind: [String: UInt64] = [:]) {
        self.linkErrors = linkErrors
        self.transactionErrors = transactionErrors
        self.reconnects = reconnects
        self.linkUp = linkUp
        self.lastError = lastError
        self.errorsByKind = errorsByKind
    }
}

/// The device at the address is not of the configured kind.
package struct WrongDeviceError: Error, CustomStringConvertible {
    package let expected: DeviceKind
    package let found: String
    package let endpoint: String
    package var description: String { "\(endpoint) is a \(found) device, not \(expected) (IR 0)" }

    package init(expected: DeviceKind, found: String, endpoint: String) {
        self.expected = expected
        self.found = found
        self.endpoint = endpoint
    }
}
