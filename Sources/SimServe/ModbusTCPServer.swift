#if canImport(Glibc)
import Glibc
#endif
import CModbus
import Devices
import Foundation
import Synchronization
import DeviceTransports
import Sim
import Locking

/// Why a server could not start.
public struct ModbusServerError: Error, Sendable, CustomStringConvertible {
    public let endpoint: String
    public let operation: String
    public let errno: Int32
    public var description: String {
        "\(endpoint): \(operation): \(String(cString: modbus_strerror(errno))) (errno \(errno))"
    }
}

/// Serves one simulated device over Modbus TCP with libmodbus, to several clients at once.
///
/// libmodbus does the framing (MBAP header, lengths) and the replies; the device decides every answer. One thread
/// polls the listening socket and every client, and advances the device each tick even when nobody asks, so the
/// heartbeat and the device watchdog run on time.
public final class ModbusTCPServer: Sendable {
    public let device: any ModbusDevice
    /// Other units behind the same address (a gateway to a line of instruments), by unit id.
    public let units: [UInt8: any ModbusDevice]
    public let host: String
    /// The bound port (the real one when 0 was asked for).
    public let port: Int
    private let clock: @Sendable () -> Double
    private let listenSocket: Int32
    private let stopping = Atomic<Bool>(false)
    private let finished = Locked<Bool>(false)
    private let done = DispatchSemaphore(value: 0)
    private nonisolated(unsafe) let context: ModbusContext
    private nonisolated(unsafe) let mapping: UnsafeMutablePointer<modbus_mapping_t>

    /// Binds and listens; the caller then runs `run()` on a thread of its own or calls `start()`.
    /// - Parameters:
    ///   - clock: the device's clock in seconds.
    ///   - units: other units served behind the same address, as a gateway to a line (a mapped instrument with
    ///     several unit ids); `device` answers its own unit id, 0 and 255.
    public init(device: any ModbusDevice, units: [UInt8: any ModbusDevice] = [:], host: String, port: Int,
                clock: @escaping @Sendable () -> Double) throws {
        let endpoint = "tcp://\(host):\(port)"
        guard let pointer = modbus_new_tcp_pi(host, String(port)) else {
            throw ModbusServerError(endpoint: endpoint, operation: "create context", errno: errno)
        }
        let context = ModbusContext(pointer)
        let socket = modbus_tcp_pi_listen(pointer, 32)
        guard socket >= 0 else {
            throw ModbusServerError(endpoint: endpoint, operation: "listen", errno: errno)
        }
        // Replies are built from a scratch mapping covering the whole address space, so libmodbus never refuses an
        // address the device accepted; what is mapped is the device's decision, made before the reply.
        guard let mapping = modbus_mapping_new(65536, 65536, 65536, 65536) else {
            Glibc.close(socket)
            throw ModbusServerError(endpoint: endpoint, operation: "allocate mapping", errno: ENOMEM)
        }
        var address = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
        }
        var boundPort = port
        if bound == 0 {
            boundPort = withUnsafePointer(to: &address) { raw in
                if Int32(raw.pointee.ss_family) == AF_INET6 {
                    return raw.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                        Int(UInt16(bigEndian: $0.pointee.sin6_port))
                    }
                }
                return raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                    Int(UInt16(bigEndian: $0.pointee.sin_port))
                }
            }
        }
        _ = modbus_set_indication_timeout(pointer, 1, 0)
        self.device = device
        self.units = units
        self.host = host
        self.port = boundPort
        self.clock = clock
        self.context = context
        self.listenSocket = socket
        self.mapping = mapping
    }

    deinit {
        modbus_mapping_free(mapping)
    }

    /// Runs `run()` on a new thread named after the device.
    public func start() {
        startThread(name: "sim-\(device.kind)") { [self] in run() }
    }

    /// Asks the loop to stop and waits until it has closed every socket.
    public func stop() {
        stopping.store(true, ordering: .relaxed)
        let alreadyDone = finished.withLock { $0 }
        if !alreadyDone { done.wait() }
    }

    /// The poll loop: accepts clients, answers requests, ticks the device. Returns after `stop()`.
    public func run() {
        var clients: [Int32] = []
        var query = [UInt8](repeating: 0, count: Int(MODBUS_TCP_MAX_ADU_LENGTH))
        // At most 100 ms, so a stop is noticed promptly even for a device that ticks once a minute.
        let timeoutMs = Int32(min(100, max(1, (device.tickPeriod * 1000).rounded())))
        defer {
            for client in clients { Glibc.close(client) }
            Glibc.close(listenSocket)
            _ = modbus_set_socket(context.pointer, -1)
            finished.withLock { $0 = true }
            done.signal()
        }
        // The poll set: the listening socket, then every client. Kept between rounds and changed only when a client
        // comes or goes (rebuilding it every round cost allocations on every request).
        var fds = [pollfd(fd: listenSocket, events: Int16(POLLIN), revents: 0)]
        while !stopping.load(ordering: .relaxed) {
            let ready = poll(&fds, nfds_t(fds.count), timeoutMs)
            device.advance(to: clock())
            guard ready > 0 else { continue }
            var changed = false
            for i in 1..<fds.count where fds[i].revents != 0 {
                let fd = fds[i].fd
                _ = modbus_set_socket(context.pointer, fd)
                let length = modbus_receive(context.pointer, &query)
                if length < 0 {
                    // EOF, reset or a frame that never completed: drop that client only.
                    Glibc.close(fd)
                    clients.removeAll { $0 == fd }
                    changed = true
                } else if length > 0 {
                    serve(&query, length: Int(length))
                }
            }
            if fds[0].revents & Int16(POLLIN) != 0 {
                let client = accept(listenSocket, nil, nil)
                if client >= 0 {
                    _ = fcntl(client, F_SETFD, FD_CLOEXEC)
                    // Answers leave at once (no Nagle wait for an ACK), as libmodbus's own clients ask of their side.
                    var on: Int32 = 1
                    _ = setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
                    clients.append(client)
                    changed = true
                }
            }
            if changed {
                fds = [pollfd(fd: listenSocket, events: Int16(POLLIN), revents: 0)]
                    + clients.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            }
        }
    }

    /// Answers one framed request. Unit ids other than the device's (and 0/255, "whoever is here" on TCP) and the
    /// other `units` get exception 0B, as a gateway would.
    private func serve(_ query: inout [UInt8], length: Int) {
        let pointer = context.pointer
        let header = Int(modbus_get_header_length(pointer))
        let unit = query[header - 1]
        let device: any ModbusDevice
        if unit == self.device.unitId || unit == 0 || unit == 0xFF {
            device = self.device
        } else if let other = units[unit] {
            device = other
        } else {
            _ = modbus_reply_exception(pointer, query, UInt32(ModbusException.gatewayTargetFailed.rawValue))
            return
        }
        let request: ModbusRequest
        switch ModbusRequest.decode(pdu: query[header..<length]) {
        case .failure(let code):
            _ = modbus_reply_exception(pointer, query, UInt32(code.rawValue))
            return
        case .success(let decoded):
            request = decoded
        }
        guard let response = device.handle(request, now: clock()) else { return }  // offline: silence
        // An injected slow device: the answer leaves late (the server's other clients wait too, as on a real one).
        if device.answerDelay > 0 { usleep(UInt32(min(device.answerDelay, 60) * 1_000_000)) }
        replyThroughLibmodbus(pointer, query: query, length: length, request: request, response: response,
                              mapping: mapping)
    }
}
