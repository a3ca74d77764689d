#if canImport(Glibc)
import Glibc
#endif
import CModbus
import Devices
import Locking

/// The register and coil transactions every libmodbus transport shares: each is one libmodbus call, run by the
/// transport's `transact` (which owns the context, the unit id and how failures map to link or transaction errors).
/// `ModbusTCPClient` and `ModbusRTUClient` inherit these and supply `transact`.
public class LibmodbusClient {
    init() {}

    /// Runs one libmodbus call on the transport's context; every subclass supplies it.
    func transact(_ operation: String, _ body: (OpaquePointer) -> Int32) throws {
        preconditionFailure("\(type(of: self)) must supply transact")
    }

    public func readInputRegisters(at address: Int, count: Int) throws -> [UInt16] {
        var out = [UInt16](repeating: 0, count: count)
        try transact("read input registers \(address)+\(count)") {
            modbus_read_input_registers($0, Int32(address), Int32(count), &out)
        }
        return out
    }

    public func readHoldingRegisters(at address: Int, count: Int) throws -> [UInt16] {
        var out = [UInt16](repeating: 0, count: count)
        try transact("read holding registers \(address)+\(count)") {
            modbus_read_registers($0, Int32(address), Int32(count), &out)
        }
        return out
    }

    public func readCoils(at address: Int, count: Int) throws -> [Bool] {
        var out = [UInt8](repeating: 0, count: count)
        try transact("read coils \(address)+\(count)") { modbus_read_bits($0, Int32(address), Int32(count), &out) }
        return out.map { $0 != 0 }
    }

    public func readDiscreteInputs(at address: Int, count: Int) throws -> [Bool] {
        var out = [UInt8](repeating: 0, count: count)
        try transact("read discrete inputs \(address)+\(count)") {
            modbus_read_input_bits($0, Int32(address), Int32(count), &out)
        }
        return out.map { $0 != 0 }
    }

    public func writeRegister(at address: Int, value: UInt16) throws {
        try transact("write register \(address)") { modbus_write_register($0, Int32(address), value) }
    }

    public func writeRegisters(at address: Int, values: [UInt16]) throws {
        try transact("write registers \(address)+\(values.count)") {
            modbus_write_registers($0, Int32(address), Int32(values.count), values)
        }
    }

    public func writeCoil(at address: Int, value: Bool) throws {
        try transact("write coil \(address)") { modbus_write_bit($0, Int32(address), value ? 1 : 0) }
    }

    public func writeCoils(at address: Int, values: [Bool]) throws {
        let bytes = values.map { UInt8($0 ? 1 : 0) }
        try transact("write coils \(address)+\(values.count)") {
            modbus_write_bits($0, Int32(address), Int32(values.count), bytes)
        }
    }
}
