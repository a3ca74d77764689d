import CModbus
import Devices
import Locking

/// Sorts a libmodbus errno into a link or a transaction error.
public func modbusError(errno code: Int32, endpoint: String, operation: String) -> any Error {
    let base = Int32(MODBUS_ENOBASE)
    let exceptionRange = (base + 1)...(base + Int32(MODBUS_EXCEPTION_GATEWAY_TARGET))
    if exceptionRange.contains(code) {
        let raw = UInt8(code - base)
        let kind: ModbusTransactionError.Kind = ModbusException(rawValue: raw).map { .exception($0) }
            ?? .unknownException
        return ModbusTransactionError(endpoint: endpoint, operation: operation, kind: kind, errno: code,
                                          message: String(cString: modbus_strerror(code)))
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
        return ModbusTransactionError(endpoint: endpoint, operation: operation, kind: kind, errno: code,
                                          message: String(cString: modbus_strerror(code)))
    }
    return ModbusLinkError(endpoint: endpoint, operation: operation, errno: code,
                           message: String(cString: modbus_strerror(code)))
}
