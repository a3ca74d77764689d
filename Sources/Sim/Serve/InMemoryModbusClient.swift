#if canImport(Glibc)
import Glibc
#endif
import Devices

/// A `ModbusClient` that talks straight to a simulated device in the same process: the in-process fallback and
/// the virtual clock's transport. Every request advances the device to `now()` first, so the plant is current.
///
/// Errors are the same types a wire gives: an offline device is a `ModbusLinkError` (ETIMEDOUT), an exception
/// reply a `ModbusTransactionError`.
public final class InMemoryModbusClient: ModbusClient {
    public let device: any ModbusDevice
    public let endpoint: String
    private let now: @Sendable () -> Double
    /// An injected answer delay longer than this is a timeout (no time passes in the call: it may run on the
    /// virtual clock); a shorter one is not felt.
    public let responseTimeout: Double
    public private(set) var isConnected = false
    /// Other units on the same simulated line, by unit id (a mapped device with several unit ids); a unit not here is
    /// silent, as on a wire.
    public let units: [Int: any ModbusDevice]
    /// The unit `addressing(unit:)` asks for now; nil: `device`.
    private var addressed: Int?
    /// While `waking` runs: how often a request that gets no answer is sent again, and the timeout an answer delay
    /// is held against.
    private var wake: (retries: Int, timeout: Double?)?

    /// - Parameters:
    ///   - now: the device's clock, seconds (the station's loop clock).
    ///   - units: other units reachable through `addressing(unit:)`.
    public init(device: any ModbusDevice, endpoint: String? = nil, responseTimeout: Double = 0.5,
                units: [Int: any ModbusDevice] = [:], now: @escaping @Sendable () -> Double) {
        self.device = device
        self.endpoint = endpoint ?? "sim://\(device.kind)"
        self.responseTimeout = responseTimeout
        self.units = units
        self.now = now
    }

    public func waking<T>(retries: Int, timeout: Duration?, _ body: () throws -> T) throws -> T {
        let before = wake
        wake = (max(0, retries), timeout.map { Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18 })
        defer { wake = before }
        return try body()
    }

    public func addressing<T>(unit: Int?, _ body: () throws -> T) throws -> T {
        let before = addressed
        addressed = unit
        defer { addressed = before }
        return try body()
    }

    public func connect() throws {
        // An offline device refuses the link as a dead TCP peer would (a sleeping one does not: a connect wakes
        // nothing, it sends no request).
        if !device.isListening(now: now()) {
            throw ModbusLinkError(endpoint: endpoint, operation: "connect", errno: ETIMEDOUT)
        }
        isConnected = true
    }

    public func close() { isConnected = false }

    private func call(_ request: ModbusRequest, _ operation: @autoclosure () -> String) throws -> ModbusResponse {
        guard isConnected else { throw ModbusLinkError(endpoint: endpoint, operation: operation(), errno: ENOTCONN) }
        let device: (any ModbusDevice)? = if let addressed { units[addressed] } else { self.device }
        let endpoint = addressed.map { "\(self.endpoint) unit \($0)" } ?? self.endpoint
        // A device that gets no answer through is asked again while waking it (a sleeping device drops the first).
        var response = device?.handle(request, now: now())
        var tries = 0
        while response == nil, let device, tries < wake?.retries ?? 0 {
            tries += 1
            response = device.handle(request, now: now())
        }
        guard let device, let response, device.answerDelay <= wake?.timeout ?? responseTimeout else {
            isConnected = false
            throw ModbusLinkError(endpoint: endpoint, operation: operation(), errno: ETIMEDOUT)
        }
        if case .exception(let code) = response {
            throw ModbusTransactionError(endpoint: endpoint, operation: operation(), kind: .exception(code))
        }
        return response
    }

    // The operation's name is built only for an error: a virtual run makes millions of these calls.
    private func registers(_ request: ModbusRequest, _ operation: @autoclosure () -> String) throws -> [UInt16] {
        guard case .registers(let values) = try call(request, operation()) else {
            throw ModbusTransactionError(endpoint: endpoint, operation: operation(), kind: .badData)
        }
        return values
    }

    private func bits(_ request: ModbusRequest, _ operation: @autoclosure () -> String) throws -> [Bool] {
        guard case .bits(let values) = try call(request, operation()) else {
            throw ModbusTransactionError(endpoint: endpoint, operation: operation(), kind: .badData)
        }
        return values
    }

    public func readInputRegisters(at address: Int, count: Int) throws -> [UInt16] {
        try registers(.readInputRegisters(address: address, count: count), "read input registers \(address)+\(count)")
    }

    public func readHoldingRegisters(at address: Int, count: Int) throws -> [UInt16] {
        try registers(.readHoldingRegisters(address: address, count: count),
                      "read holding registers \(address)+\(count)")
    }

    public func writeAndReadRegisters(writeAt writeAddress: Int, values: [UInt16], readAt readAddress: Int,
                                      count: Int) throws -> [UInt16] {
        try registers(.writeAndReadRegisters(writeAddress: writeAddress, values: values, readAddress: readAddress,
                                             readCount: count),
                      "write registers \(writeAddress)+\(values.count) and read \(readAddress)+\(count)")
    }

    public func readCoils(at address: Int, count: Int) throws -> [Bool] {
        try bits(.readCoils(address: address, count: count), "read coils \(address)+\(count)")
    }

    public func readDiscreteInputs(at address: Int, count: Int) throws -> [Bool] {
        try bits(.readDiscreteInputs(address: address, count: count), "read discrete inputs \(address)+\(count)")
    }

    public func writeRegister(at address: Int, value: UInt16) throws {
        _ = try call(.writeRegister(address: address, value: value), "write register \(address)")
    }

    public func writeRegisters(at address: Int, values: [UInt16]) throws {
        _ = try call(.writeRegisters(address: address, values: values), "write registers \(address)+\(values.count)")
    }

    public func writeCoil(at address: Int, value: Bool) throws {
        _ = try call(.writeCoil(address: address, value: value), "write coil \(address)")
    }

    public func writeCoils(at address: Int, values: [Bool]) throws {
        _ = try call(.writeCoils(address: address, values: values), "write coils \(address)+\(values.count)")
    }
}
