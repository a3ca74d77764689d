/// A Modbus master's view of one device. Implementations: `ModbusTCPClient` (libmodbus) and, in Sim, an in-memory
/// client over a simulated firmware image. Addresses are 0-based PDU offsets.
///
/// - Important: Every call throws `ModbusLinkError` when the link failed (close and reconnect) or
///   `ModbusTransactionError` when this one transaction failed (count it, keep the link). A client is confined to the
///   thread of the station that owns it.
public protocol ModbusClient: AnyObject {
    /// Where the device is, for messages (`tcp://127.0.0.1:15020 unit 1`).
    var endpoint: String { get }
    var isConnected: Bool { get }
    func connect() throws
    func close()
    func readInputRegisters(at address: Int, count: Int) throws -> [UInt16]
    func readHoldingRegisters(at address: Int, count: Int) throws -> [UInt16]
    func readCoils(at address: Int, count: Int) throws -> [Bool]
    func readDiscreteInputs(at address: Int, count: Int) throws -> [Bool]
    func writeRegister(at address: Int, value: UInt16) throws
    func writeRegisters(at address: Int, values: [UInt16]) throws
    func writeCoil(at address: Int, value: Bool) throws
    func writeCoils(at address: Int, values: [Bool]) throws
    /// FC 23: writes `values` from `writeAddress`, then reads `count` holding registers from `readAddress`, in one
    /// transaction (the device applies the write first). Only a transport sends it; other clients refuse it with
    /// exception 01, as a device without it would.
    func writeAndReadRegisters(writeAt writeAddress: Int, values: [UInt16], readAt readAddress: Int,
                               count: Int) throws -> [UInt16]
    /// Runs the reads that identify a device just connected so that the connect and they together take at most the
    /// link's probe timeout (a device that accepts and then stays silent costs one probe timeout, not one response
    /// timeout per read). A client without timeouts (in memory) just runs them.
    func withinProbeTimeout<T>(_ body: () throws -> T) throws -> T
    /// Runs `body`'s requests addressed to unit `unit` of the same line or gateway instead of the client's own (nil:
    /// its own): a station whose map reads channels from several unit ids (docs/maps.md, "Several unit ids"). A
    /// client that cannot address other units refuses with a transaction error (it never asks its own instead).
    func addressing<T>(unit: Int?, _ body: () throws -> T) throws -> T
    /// Runs `body`'s requests as the first to a device that may be asleep or slow to start (docs/maps.md, "Wake-up and
    /// staleness"): each may take `timeout` (nil: the client's own response timeout, even inside
    /// `withinProbeTimeout`) and is sent again, up to `retries` more times, when it gets no answer. A client without
    /// timeouts or retries just runs them.
    func waking<T>(retries: Int, timeout: Duration?, _ body: () throws -> T) throws -> T
}

extension ModbusClient {
    public func withinProbeTimeout<T>(_ body: () throws -> T) throws -> T { try body() }

    public func waking<T>(retries: Int, timeout: Duration?, _ body: () throws -> T) throws -> T { try body() }

    public func addressing<T>(unit: Int?, _ body: () throws -> T) throws -> T {
        guard let unit else { return try body() }
        throw ModbusTransactionError(endpoint: endpoint, operation: "address unit \(unit)", kind: .badSlave,
                                     message: "this client reaches one unit only")
    }

    public func writeAndReadRegisters(writeAt writeAddress: Int, values: [UInt16], readAt readAddress: Int,
                                      count: Int) throws -> [UInt16] {
        throw ModbusTransactionError(endpoint: endpoint, operation: "write and read registers", kind: .exception(.illegalFunction))
    }

    /// Reads and decodes the common header, IR 0…6.
    public func readHeader() throws -> DeviceHeader {
        DeviceHeader(registers: try readInputRegisters(at: 0, count: CommonRegisters.headerCount))
    }

    /// Reads the float word order the device uses (HR 2).
    public func readWordOrder() throws -> WordOrder {
        let raw = try readHoldingRegisters(at: CommonRegisters.wordOrder, count: 1)[0]
        return WordOrder(rawValue: raw) ?? .abcd
    }
}

/// A write a profile asks for, applied in order by the station.
public enum RegisterWrite: Sendable, Equatable {
    case registers(address: Int, values: [UInt16])
    case coils(address: Int, values: [Bool])

    /// Sends the write; a single value uses FC05/FC06 only for plain registers and coils, floats always go as FC16.
    public func apply(to client: any ModbusClient) throws {
        switch self {
        case .registers(let address, let values):
            try client.writeRegisters(at: address, values: values)
        case .coils(let address, let values):
            if values.count == 1 {
                try client.writeCoil(at: address, value: values[0])
            } else {
                try client.writeCoils(at: address, values: values)
            }
        }
    }
}
