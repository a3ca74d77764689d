#if canImport(Glibc)
import Glibc
#endif
import CModbus
import Devices
import DeviceTransports
import Sim
import Locking

/// Sends a device's answer to a framed request through libmodbus: an exception reply, or the values placed in a
/// scratch mapping that covers the whole address space, from which `modbus_reply` builds the frame (writes are echoed
/// by libmodbus). Shared by the TCP and RTU servers: the device decides, libmodbus frames.
func replyThroughLibmodbus(_ pointer: OpaquePointer, query: [UInt8], length: Int, request: ModbusRequest,
                           response: ModbusResponse, mapping: UnsafeMutablePointer<modbus_mapping_t>) {
    switch (request, response) {
    case (_, .exception(let code)):
        _ = modbus_reply_exception(pointer, query, UInt32(code.rawValue))
        return
    case (.readInputRegisters(let address, _), .registers(let values)):
        for (i, v) in values.enumerated() { mapping.pointee.tab_input_registers[address + i] = v }
    case (.readHoldingRegisters(let address, _), .registers(let values)):
        for (i, v) in values.enumerated() { mapping.pointee.tab_registers[address + i] = v }
    case (.writeAndReadRegisters(_, _, let address, _), .registers(let values)):
        // libmodbus writes the request's values into the mapping, then answers from the read range; where the two
        // overlap it answers what was written, as the device would have (its write came first).
        for (i, v) in values.enumerated() { mapping.pointee.tab_registers[address + i] = v }
    case (.readCoils(let address, _), .bits(let values)):
        for (i, v) in values.enumerated() { mapping.pointee.tab_bits[address + i] = v ? 1 : 0 }
    case (.readDiscreteInputs(let address, _), .bits(let values)):
        for (i, v) in values.enumerated() { mapping.pointee.tab_input_bits[address + i] = v ? 1 : 0 }
    default:
        break  // writes: libmodbus echoes them into the scratch mapping
    }
    _ = modbus_reply(pointer, query, Int32(length), mapping)
}
