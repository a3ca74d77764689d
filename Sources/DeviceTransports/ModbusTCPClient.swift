#if canImport(Glibc)
import Glibc
#endif
import CModbus
import Devices
import Locking

/// Timeouts of a Modbus link. The connect timeout bounds the TCP handshake (and the fallback probe); the response
/// timeout bounds each transaction.
public struct ModbusTimeouts: Sendable, Equatable {
    public var connect: Duration
    public var response: Duration

    public init(connect: Duration = .milliseconds(1000), response: Duration = .milliseconds(500)) {
        self.connect = connect
        self.response = response
    }
}

/// Owns a libmodbus context: `modbus_t*` imports as an OpaquePointer, which is neither Sendable nor freed for us.
package final class ModbusContext {
    package let pointer: OpaquePointer
    /// Whether freeing the context also closes its socket or serial port. A context that borrows another's file
    /// descriptor (`modbus_set_socket`) must not close it.
    private let ownsLink: Bool

    package init(_ pointer: OpaquePointer, ownsLink: Bool = true) {
        self.pointer = pointer
        self.ownsLink = ownsLink
    }

    deinit {
        if ownsLink { modbus_close(pointer) }
        modbus_free(pointer)
    }

    package func setTimeout(_ duration: Duration,
                    _ setter: (OpaquePointer?, UInt32, UInt32) -> Int32) {
        Self.setTimeout(pointer, duration, setter)
    }

    /// Sets one of a context's timeouts (`modbus_set_response_timeout`, …) from a Duration.
    package static func setTimeout(_ pointer: OpaquePointer, _ duration: Duration,
                                   _ setter: (OpaquePointer?, UInt32, UInt32) -> Int32) {
        let (seconds, attoseconds) = duration.components
        let usec = UInt32(clamping: attoseconds / 1_000_000_000_000)
        _ = setter(pointer, UInt32(clamping: seconds), usec)
    }
}

/// Modbus TCP master over libmodbus.
///
/// - Important: Not thread-safe; confined to the thread of the station that owns it.
public final class ModbusTCPClient: LibmodbusClient, ModbusClient {
    public let host: String
    public let port: Int
    public let unit: Int
    public let timeouts: ModbusTimeouts
    public let endpoint: String
    private var context: ModbusContext?
    public private(set) var isConnected = false

    public init(host: String, port: Int, unit: Int = 1, timeouts: ModbusTimeouts = ModbusTimeouts()) {
        self.host = host
        self.port = port
        self.unit = unit
        self.timeouts = timeouts
        self.endpoint = DeviceAddress.tcp(host: host, port: port, unit: unit).description
        super.init()
    }

    /// The connect timeout: the handshake and the identity reads after it share it (`withinProbeTimeout`).
    override var probeTimeout: Duration { timeouts.connect }

    public func connect() throws {
        close()
        connectStartedAt = .now
        guard let pointer = modbus_new_tcp_pi(host, String(port)) else {
            throw ModbusLinkError(endpoint: endpoint, operation: "create context", errno: errno)
        }
        let context = ModbusContext(pointer)
        _ = modbus_set_slave(pointer, Int32(unit))
        _ = modbus_set_error_recovery(pointer, MODBUS_ERROR_RECOVERY_PROTOCOL)
        // libmodbus bounds the non-blocking connect by the response timeout: set the connect timeout first.
        context.setTimeout(timeouts.connect, modbus_set_response_timeout)
        if modbus_connect(pointer) != 0 {
            throw ModbusLinkError(endpoint: endpoint, operation: "connect", errno: errno)
        }
        context.setTimeout(timeouts.response, modbus_set_response_timeout)
        self.context = context
        isConnected = true
    }

    public func close() {
        context = nil
        isConnected = false
    }

    private func live(_ operation: String) throws -> OpaquePointer {
        guard let context, isConnected else {
            throw ModbusLinkError(endpoint: endpoint, operation: operation, errno: ENOTCONN)
        }
        return context.pointer
    }

    /// Runs one libmodbus call; a negative result becomes a link or transaction error.
    override func transact(_ operation: String, _ body: (OpaquePointer) -> Int32) throws {
        let pointer = try live(operation)
        // Another unit behind the same gateway (`addressing(unit:)`) for this transaction only.
        _ = modbus_set_slave(pointer, Int32(addressed ?? unit))
        if body(pointer) < 0 {
            let code = errno
            let endpoint = addressed.map { DeviceAddress.tcp(host: host, port: port, unit: $0).description }
                ?? endpoint
            let error = modbusError(errno: code, endpoint: endpoint, operation: operation)
            if error is ModbusLinkError { close() }
            throw error
        }
    }
}
