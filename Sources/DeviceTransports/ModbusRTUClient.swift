#if canImport(Glibc)
import Glibc
#endif
import CModbus
import Devices
import Locking

/// One serial line (RS-485 bus) shared by every unit on it, over one libmodbus RTU context.
///
/// The bus is half-duplex and serial: a transaction holds the line from request to answer, so every transaction goes
/// through `transact` under the line's lock, and the unit id is set for that transaction only. The line opens when
/// its first unit connects and closes when its last unit closes; a silent unit times out on its own transactions and
/// never closes the line under the others.
public final class SerialLine: Sendable {
    public let settings: SerialSettings
    public let responseTimeout: Duration

    /// The libmodbus context is not Sendable; it is only touched under `state`'s lock, one transaction at a time.
    private struct State: @unchecked Sendable {
        var context: ModbusContext?
        /// Units that hold the line open.
        var users: Set<Int> = []
        /// Whether the adapter accepted RS-485 mode (nil until opened; a pty or an auto-direction USB adapter says no).
        var rs485: Bool?
    }

    private let state = Locked(State())

    public init(settings: SerialSettings, responseTimeout: Duration = .milliseconds(500)) {
        self.settings = settings
        self.responseTimeout = responseTimeout
    }

    public var endpoint: String { "rtu://\(settings.path)?\(settings.query)" }

    /// Opens the port if it is not open and registers `unit` as a user of it.
    public func attach(unit: Int) throws(ModbusLinkError) {
        try state.withLock { (s: inout State) throws(ModbusLinkError) in
            if s.context == nil { try open(&s) }
            s.users.insert(unit)
        }
    }

    /// Unregisters `unit`; the last one out closes the port.
    public func detach(unit: Int) {
        state.withLock { s in
            s.users.remove(unit)
            if s.users.isEmpty { s.context = nil }
        }
    }

    /// Whether the port is open.
    public var isOpen: Bool { state.withLock { $0.context != nil } }

    /// Whether the adapter took RS-485 mode (`MODBUS_RTU_RS485`); nil before the port first opened.
    public var rs485Mode: Bool? { state.withLock { $0.rs485 } }

    private func open(_ s: inout State) throws(ModbusLinkError) {
        let parity = CChar(UInt8(ascii: settings.parity.rawValue.unicodeScalars.first!))
        guard let pointer = modbus_new_rtu(settings.path, Int32(settings.baud), parity, Int32(settings.dataBits),
                                           Int32(settings.stopBits)) else {
            throw ModbusLinkError(endpoint: endpoint, operation: "create RTU context", errno: errno)
        }
        let context = ModbusContext(pointer)
        if modbus_connect(pointer) != 0 {
            throw ModbusLinkError(endpoint: endpoint, operation: "open \(settings.path)", errno: errno)
        }
        context.setTimeout(responseTimeout, modbus_set_response_timeout)
        // RS-485 direction control through the kernel; ptys and most USB adapters (automatic direction) refuse it
        // with ENOTTY, which is fine: they need none.
        s.rs485 = modbus_rtu_set_serial_mode(pointer, MODBUS_RTU_RS485) == 0
        s.context = context
    }

    /// Runs one transaction for the attached `unit`, with `addressing` (another unit of its station, docs/maps.md
    /// "Several unit ids") or `unit` itself addressed. On failure the line is flushed so a late answer cannot be taken
    /// for the next unit's; a failure of the port itself (not a timeout) closes the line for every unit.
    public func transact(unit: Int, addressing: Int? = nil, endpoint: String, _ operation: String,
                         _ body: (OpaquePointer) -> Int32) throws {
        try state.withLock { (s: inout State) throws in
            guard let context = s.context, s.users.contains(unit) else {
                throw ModbusLinkError(endpoint: endpoint, operation: operation, errno: ENOTCONN)
            }
            _ = modbus_set_slave(context.pointer, Int32(addressing ?? unit))
            if body(context.pointer) < 0 {
                let code = errno
                _ = modbus_flush(context.pointer)
                let error = modbusError(errno: code, endpoint: endpoint, operation: operation)
                if error is ModbusLinkError, code != ETIMEDOUT {
                    s.context = nil
                    s.users.removeAll()
                }
                throw error
            }
        }
    }
}

/// Modbus RTU master for one unit on a shared `SerialLine`.
///
/// A timeout means this unit did not answer: it is a link error for this unit's station (which goes safe and retries
/// with backoff), while the line stays open for the other units.
public final class ModbusRTUClient: LibmodbusClient, ModbusClient {
    public let line: SerialLine
    public let unit: Int
    public let endpoint: String
    public private(set) var isConnected = false
    private let probeLimit: Duration?

    /// - Parameter probeTimeout: how long the identity reads after a connect may take together (the station's
    ///   `probe_timeout_ms`); nil: the line's response timeout.
    public init(line: SerialLine, unit: Int, probeTimeout: Duration? = nil) {
        self.line = line
        self.unit = unit
        self.endpoint = DeviceAddress.rtu(line.settings, unit: unit).description
        self.probeLimit = probeTimeout
        super.init()
    }

    override var probeTimeout: Duration { probeLimit ?? line.responseTimeout }

    public func connect() throws {
        close()
        connectStartedAt = .now
        try line.attach(unit: unit)
        isConnected = true
    }

    public func close() {
        guard isConnected else { return }
        line.detach(unit: unit)
        isConnected = false
    }

    override func transact(_ operation: String, _ body: (OpaquePointer) -> Int32) throws {
        guard isConnected else { throw ModbusLinkError(endpoint: endpoint, operation: operation, errno: ENOTCONN) }
        do {
            let endpoint = addressed.map { DeviceAddress.rtu(line.settings, unit: $0).description } ?? endpoint
            try line.transact(unit: unit, addressing: addressed, endpoint: endpoint, operation, body)
        } catch let error as ModbusLinkError {
            close()
            throw error
        }
    }
}
