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
    /// While the identity reads after a connect run (`withinProbeTimeout`): when the probe must be over.
    private var probeDeadline: ContinuousClock.Instant?
    /// When the last `connect()` started; the probe's budget counts from there.
    var connectStartedAt: ContinuousClock.Instant?
    /// The unit id `addressing(unit:)` asks for now instead of the transport's own; nil: its own.
    var addressed: Int?
    /// While `waking` runs: the retries and the response timeout of each transaction.
    private var wake: (retries: Int, timeout: Duration?)?

    init() {}

    /// Runs one libmodbus call on the transport's context; every subclass supplies it.
    func transact(_ operation: String, _ body: (OpaquePointer) -> Int32) throws {
        preconditionFailure("\(type(of: self)) must supply transact")
    }

    /// How long a connect and the reads that identify the device may take together; every subclass supplies it.
    var probeTimeout: Duration {
        preconditionFailure("\(type(of: self)) must supply probeTimeout")
    }

    /// Runs `body` (the reads that identify a device just connected) so that the connect and every transaction in
    /// `body` together take at most `probeTimeout`: each transaction's response timeout is cut to what is left of it
    /// (at least 1 ms). A device that accepts a connection and then answers slowly or not at all holds the
    /// station's thread, and on a serial line the line, for one probe timeout, not one response timeout per read.
    public func withinProbeTimeout<T>(_ body: () throws -> T) throws -> T {
        probeDeadline = (connectStartedAt ?? .now) + probeTimeout
        defer { probeDeadline = nil }
        return try body()
    }

    /// Runs `body`'s transactions addressed to `unit` (nil: the transport's own unit).
    public func addressing<T>(unit: Int?, _ body: () throws -> T) throws -> T {
        let before = addressed
        addressed = unit
        defer { addressed = before }
        return try body()
    }

    /// Runs `body`'s transactions as the first to a device that may be asleep: each with `timeout` (nil: the
    /// configured one; the probe's deadline does not cut it) and sent again up to `retries` more times after a
    /// timeout, within one `transact` (an RTU line stays locked, a TCP connection open).
    public func waking<T>(retries: Int, timeout: Duration?, _ body: () throws -> T) throws -> T {
        let before = wake
        wake = (max(0, retries), timeout)
        defer { wake = before }
        return try body()
    }

    /// One transaction through `transact`: with the response timeout cut to the probe's deadline while one runs, or
    /// with the wake-up's timeout and retries while `waking` runs.
    private func run(_ operation: String, _ body: (OpaquePointer) -> Int32) throws {
        let deadline = wake == nil ? probeDeadline : nil
        guard deadline != nil || wake != nil else { return try transact(operation, body) }
        let retries = wake?.retries ?? 0
        let wakeTimeout = wake?.timeout
        try transact(operation) { pointer in
            var seconds: UInt32 = 0
            var microseconds: UInt32 = 0
            _ = modbus_get_response_timeout(pointer, &seconds, &microseconds)
            let configured = Duration.seconds(Int64(seconds)) + .microseconds(Int64(microseconds))
            var timeout = wakeTimeout ?? configured
            if let deadline { timeout = min(timeout, max(deadline - .now, .milliseconds(1))) }
            if timeout != configured { ModbusContext.setTimeout(pointer, timeout, modbus_set_response_timeout) }
            var result = body(pointer)
            var tries = 0
            while result < 0, errno == ETIMEDOUT, tries < retries {
                tries += 1
                _ = modbus_flush(pointer)
                result = body(pointer)
            }
            let code = errno
            if timeout != configured { _ = modbus_set_response_timeout(pointer, seconds, microseconds) }
            errno = code
            return result
        }
    }

    public func readInputRegisters(at address: Int, count: Int) throws -> [UInt16] {
        var out = [UInt16](repeating: 0, count: count)
        try run("read input registers \(address)+\(count)") {
            modbus_read_input_registers($0, Int32(address), Int32(count), &out)
        }
        return out
    }

    public func readHoldingRegisters(at address: Int, count: Int) throws -> [UInt16] {
        var out = [UInt16](repeating: 0, count: count)
        try run("read holding registers \(address)+\(count)") {
            modbus_read_registers($0, Int32(address), Int32(count), &out)
        }
        return out
    }

    public func readCoils(at address: Int, count: Int) throws -> [Bool] {
        var out = [UInt8](repeating: 0, count: count)
        try run("read coils \(address)+\(count)") { modbus_read_bits($0, Int32(address), Int32(count), &out) }
        return out.map { $0 != 0 }
    }

    public func readDiscreteInputs(at address: Int, count: Int) throws -> [Bool] {
        var out = [UInt8](repeating: 0, count: count)
        try run("read discrete inputs \(address)+\(count)") {
            modbus_read_input_bits($0, Int32(address), Int32(count), &out)
        }
        return out.map { $0 != 0 }
    }

    public func writeRegister(at address: Int, value: UInt16) throws {
        try run("write register \(address)") { modbus_write_register($0, Int32(address), value) }
    }

    public func writeRegisters(at address: Int, values: [UInt16]) throws {
        try run("write registers \(address)+\(values.count)") {
            modbus_write_registers($0, Int32(address), Int32(values.count), values)
        }
    }

    public func writeAndReadRegisters(writeAt writeAddress: Int, values: [UInt16], readAt readAddress: Int,
                                      count: Int) throws -> [UInt16] {
        var out = [UInt16](repeating: 0, count: count)
        try run("write registers \(writeAddress)+\(values.count) and read \(readAddress)+\(count)") {
            modbus_write_and_read_registers($0, Int32(writeAddress), Int32(values.count), values, Int32(readAddress),
                                            Int32(count), &out)
        }
        return out
    }

    public func writeCoil(at address: Int, value: Bool) throws {
        try run("write coil \(address)") { modbus_write_bit($0, Int32(address), value ? 1 : 0) }
    }

    public func writeCoils(at address: Int, values: [Bool]) throws {
        let bytes = values.map { UInt8($0 ? 1 : 0) }
        try run("write coils \(address)+\(values.count)") {
            modbus_write_bits($0, Int32(address), Int32(values.count), bytes)
        }
    }
}
