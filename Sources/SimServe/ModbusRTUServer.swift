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

/// Serves several simulated devices, one per unit id, on one serial line with libmodbus RTU: what a line of sondes
/// looks like from the master's side.
///
/// libmodbus 3.1.6 drops a frame for a unit other than the context's own before checking its CRC, and then reads the
/// next frame as that unit's *answer*, which swallows it (docs/rtu-notes.md). One server per unit on a shared line
/// therefore loses frames, and one context cannot be told to accept every unit. So the line is read by one context
/// set to some served unit:
///
/// - a frame for that unit (or a broadcast) arrives framed and CRC-checked, and is answered;
/// - a frame for another unit arrives framed but unchecked (`modbus_receive` returns 0). The reading context, now
///   expecting to swallow a frame, is replaced by a fresh one on the same port. If a served unit was asked, the frame
///   is handed to a per-unit validating context through a socket pair, so libmodbus still checks its length and CRC,
///   and the answer goes out on the line.
///
/// A device that is offline answers nothing, exactly as a dead sonde on the bus: the master times out.
public final class ModbusRTUServer: Sendable {
    public let settings: SerialSettings
    /// Served devices by unit id.
    public let devices: [UInt8: any ModbusDevice]
    private let clock: @Sendable () -> Double
    private let stopping = Atomic<Bool>(false)
    private let finished = Locked<Bool>(false)
    private let done = DispatchSemaphore(value: 0)
    private let counters = Locked(Counters())
    /// Owns the port: opened it, restores its settings on close.
    private nonisolated(unsafe) let owner: ModbusContext
    private nonisolated(unsafe) let mapping: UnsafeMutablePointer<modbus_mapping_t>
    private let descriptor: Int32

    /// What the server saw, for tests and the log.
    public struct Counters: Sendable, Equatable {
        /// Frames answered (or silently ignored because the unit is offline), per unit.
        public var requests: [UInt8: Int] = [:]
        /// Frames for units not served here.
        public var foreign = 0
        /// Frames that failed framing or CRC.
        public var rejected = 0
    }

    /// How long libmodbus waits for the next byte of a frame begun before it drops the frame (its default, 0.5 s,
    /// unless set). The fuzz harness shortens it: a frame cut short on the line otherwise costs half a second.
    private let byteTimeout: Double

    public init(devices: [UInt8: any ModbusDevice], settings: SerialSettings, byteTimeout: Double = 0.5,
                clock: @escaping @Sendable () -> Double) throws {
        precondition(!devices.isEmpty, "an RTU server needs at least one device")
        precondition(byteTimeout > 0 && byteTimeout < 60, "byte timeout \(byteTimeout) s out of range")
        let endpoint = "rtu://\(settings.path)"
        let parity = CChar(UInt8(ascii: settings.parity.rawValue.unicodeScalars.first!))
        guard let pointer = modbus_new_rtu(settings.path, Int32(settings.baud), parity, Int32(settings.dataBits),
                                           Int32(settings.stopBits)) else {
            throw ModbusServerError(endpoint: endpoint, operation: "create RTU context", errno: errno)
        }
        let owner = ModbusContext(pointer)
        if modbus_connect(pointer) != 0 {
            throw ModbusServerError(endpoint: endpoint, operation: "open \(settings.path)", errno: errno)
        }
        guard let mapping = modbus_mapping_new(65536, 65536, 65536, 65536) else {
            throw ModbusServerError(endpoint: endpoint, operation: "allocate mapping", errno: ENOMEM)
        }
        self.settings = settings
        self.devices = devices
        self.byteTimeout = byteTimeout
        self.clock = clock
        self.owner = owner
        self.mapping = mapping
        self.descriptor = modbus_get_socket(pointer)
    }

    deinit {
        modbus_mapping_free(mapping)
    }

    public var counts: Counters { counters.withLock { $0 } }

    public func start() {
        startThread(name: "sim-rtu") { [self] in run() }
    }

    public func stop() {
        stopping.store(true, ordering: .relaxed)
        let alreadyDone = finished.withLock { $0 }
        if !alreadyDone { done.wait() }
    }

    /// A context that reads or validates frames on a descriptor it does not own.
    private func borrowedContext(descriptor: Int32, unit: UInt8) -> ModbusContext? {
        let parity = CChar(UInt8(ascii: settings.parity.rawValue.unicodeScalars.first!))
        guard let pointer = modbus_new_rtu(settings.path, Int32(settings.baud), parity, Int32(settings.dataBits),
                                           Int32(settings.stopBits)) else { return nil }
        _ = modbus_set_slave(pointer, Int32(unit))
        _ = modbus_set_socket(pointer, descriptor)
        _ = modbus_set_indication_timeout(pointer, 1, 0)
        let microseconds = Int((byteTimeout * 1e6).rounded())
        _ = modbus_set_byte_timeout(pointer, UInt32(microseconds / 1_000_000), UInt32(microseconds % 1_000_000))
        return ModbusContext(pointer, ownsLink: false)
    }

    /// Per unit: a context reading from one end of a socket pair, and the other end to write frames into.
    private struct Validator {
        let context: ModbusContext
        let input: Int32
        let output: Int32
    }

    public func run() {
        let units = devices.keys.sorted()
        var reader = borrowedContext(descriptor: descriptor, unit: units[0])!
        var validators: [UInt8: Validator] = [:]
        for unit in units {
            var pair: [Int32] = [0, 0]
            guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0,
                  let context = borrowedContext(descriptor: pair[1], unit: unit) else { continue }
            validators[unit] = Validator(context: context, input: pair[0], output: pair[1])
        }
        defer {
            for v in validators.values {
                Glibc.close(v.input)
                Glibc.close(v.output)
            }
            finished.withLock { $0 = true }
            done.signal()
        }
        var frame = [UInt8](repeating: 0, count: Int(MODBUS_RTU_MAX_ADU_LENGTH))
        let tickMs = devices.values.map(\.tickPeriod).min() ?? 0.1
        let timeoutMs = Int32(max(1, min(100, (tickMs * 1000).rounded())))
        while !stopping.load(ordering: .relaxed) {
            var fds = [pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&fds, 1, timeoutMs)
            let now = clock()
            for device in devices.values { device.advance(to: now) }
            guard ready > 0 else { continue }
            if fds[0].revents & Int16(POLLHUP | POLLERR) != 0 && fds[0].revents & Int16(POLLIN) == 0 {
                // The other end of a pty pair is gone; wait for it to come back without spinning.
                usleep(20_000)
                continue
            }
            let length = modbus_receive(reader.pointer, &frame)
            if length > 0 {
                serve(frame, length: Int(length), via: reader.pointer)
            } else if length == 0 {
                let unit = frame[0]
                // The reader now expects to swallow the next frame as that unit's answer: replace it.
                reader = borrowedContext(descriptor: descriptor, unit: devices[unit] == nil ? units[0] : unit)!
                guard let validator = validators[unit] else {
                    counters.withLock { $0.foreign += 1 }
                    continue
                }
                if let checked = validate(frame, with: validator) {
                    serve(checked, length: checked.count, via: reader.pointer)
                } else {
                    counters.withLock { $0.rejected += 1 }
                }
            } else {
                counters.withLock { $0.rejected += 1 }
                _ = modbus_flush(reader.pointer)
            }
        }
    }

    /// Passes a frame read but not checked through the unit's validating context: libmodbus frames it again and checks
    /// its CRC. Returns the checked frame, or nil.
    private func validate(_ frame: [UInt8], with validator: Validator) -> [UInt8]? {
        let written = frame.withUnsafeBytes { write(validator.input, $0.baseAddress, $0.count) }
        guard written == frame.count else { return nil }
        var checked = [UInt8](repeating: 0, count: frame.count)
        let length = modbus_receive(validator.context.pointer, &checked)
        // Whatever followed the frame in the buffer is not part of it.
        var sink = [UInt8](repeating: 0, count: frame.count)
        while recv(validator.output, &sink, sink.count, Int32(MSG_DONTWAIT)) > 0 {}
        guard length > 0 else { return nil }
        return Array(checked[..<Int(length)])
    }

    /// Answers one checked frame. A broadcast (unit 0) is applied to every device and never answered.
    private func serve(_ query: [UInt8], length: Int, via pointer: OpaquePointer) {
        let unit = query[0]
        let request: ModbusRequest
        switch ModbusRequest.decode(pdu: query[1..<(length - 2)]) {
        case .failure(let code):
            if unit != 0 { _ = modbus_reply_exception(pointer, query, UInt32(code.rawValue)) }
            return
        case .success(let decoded):
            request = decoded
        }
        let now = clock()
        if unit == 0 {
            for device in devices.values { _ = device.handle(request, now: now) }
            return
        }
        guard let device = devices[unit] else { return }
        counters.withLock { $0.requests[unit, default: 0] += 1 }
        guard let response = device.handle(request, now: now) else { return }  // offline: a dead sonde is silent
        // An injected slow device: the answer leaves late (the server's other clients wait too, as on a real one).
        if device.answerDelay > 0 { usleep(UInt32(min(device.answerDelay, 60) * 1_000_000)) }
        replyThroughLibmodbus(pointer, query: query, length: length, request: request, response: response,
                              mapping: mapping)
    }
}
