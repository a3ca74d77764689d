// libFuzzer target: the simulator's Modbus RTU server (libmodbus RTU framing and CRC, its per-unit validating
// contexts, foreign units, broadcasts, `ModbusRequest`, replies) on a real pseudo-terminal, as `rigd simulate --rtu`
// runs it on a socat pty. Four devices share the line: sondes on units 1 and 2, a stream station on 3, a heat rig
// on 4.
//
// The first byte of an input picks the mode and how far the devices' clock moves:
// - framed (31 inputs in 32): the next byte is the unit, the rest the PDU; the harness cuts or zero-pads the PDU
//   to the length libmodbus will wait for (from the function code and byte count, as libmodbus computes it) and
//   appends the CRC (corrupted when bit 5 of the first byte is set). No input leaves the line mid-frame, so each is
//   answered (or ignored) in milliseconds.
// - raw (1 in 32): the rest goes on the line as is; the harness then resynchronises with a valid request, waiting
//   out libmodbus's byte timeout when the raw bytes left a frame half read.
// Every 64 inputs, and after every raw one, unit 1 must answer a valid request within 3 s, or the harness traps.
#if canImport(Glibc)
import Glibc
#endif
import Daemon
import Stations
import SimServe
import DeviceTransports
import Devices
import Foundation
import Sim
import Synchronization

let fuzzClock = Atomic<UInt64>(0)  // microseconds
func fuzzSeconds() -> Double { Double(fuzzClock.load(ordering: .relaxed)) / 1e6 }

/// The master end of the pty (this harness), the slave's path (the server's serial port), and a second descriptor on
/// the slave to see how many bytes the server has not read yet.
struct Line {
    let master: Int32
    let slavePath: String
    let slaveProbe: Int32
}

let servedUnits: [UInt8] = [1, 2, 3, 4]
/// The server's byte timeout: a frame left half read on the line is dropped after this (libmodbus's 0.5 s default
/// made every raw input cost about 0.75 s; on a pty the bytes of a frame arrive together).
let byteTimeout = 0.02

let line: Line = {
    // posix_openpt/unlockpt/ptsname, spelled as the Linux ioctls (Glibc does not export them to Swift).
    let master = open("/dev/ptmx", O_RDWR | O_NOCTTY)
    var unlock: Int32 = 0
    var number: UInt32 = 0
    let TIOCSPTLCK: UInt = 0x4004_5431, TIOCGPTN: UInt = 0x8004_5430
    fuzzCheck(master >= 0 && ioctl(master, TIOCSPTLCK, &unlock) == 0 && ioctl(master, TIOCGPTN, &number) == 0,
              "no pty: errno \(errno)")
    let path = "/dev/pts/\(number)"
    let probe = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK)
    fuzzCheck(probe >= 0, "cannot open \(path): errno \(errno)")
    // Raw on the slave side before the server opens it too (libmodbus sets the same when it connects).
    var t = termios()
    tcgetattr(probe, &t)
    cfmakeraw(&t)
    tcsetattr(probe, TCSANOW, &t)
    _ = fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK)
    return Line(master: master, slavePath: path, slaveProbe: probe)
}()

let server: ModbusRTUServer = {
    do {
        let kinds: [DeviceKind] = [.aquaSonde, .aquaSonde, .streamStation, .heatRig]
        var devices: [UInt8: any ModbusDevice] = [:]
        for (unit, kind) in zip(servedUnits, kinds) {
            devices[unit] = try KindRegistry.builtIn.simulatedDevice(kind, seed: UInt64(unit), unit: unit)
        }
        let server = try ModbusRTUServer(devices: devices, settings: SerialSettings(path: line.slavePath, baud: 115200),
                                         byteTimeout: byteTimeout, clock: { fuzzSeconds() })
        server.start()
        return server
    } catch {
        fatalError("cannot start the RTU server on \(line.slavePath): \(error)")
    }
}()

func crc16(_ bytes: some Sequence<UInt8>) -> UInt16 {
    var crc: UInt16 = 0xFFFF
    for b in bytes {
        crc ^= UInt16(b)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xA001 : crc >> 1 }
    }
    return crc
}

/// The frame libmodbus 3.1 reads for an indication: unit, function, the function's fixed part, its byte-counted
/// data, CRC (`compute_meta_length_after_function` / `compute_data_length_after_meta`).
func frame(unit: UInt8, pdu: [UInt8], corruptCRC: Bool) -> [UInt8] {
    var pdu = pdu.isEmpty ? [0] : pdu
    let function = pdu[0]
    let meta = switch function {
    case 0x01...0x06: 4
    case 0x0F, 0x10: 5
    case 0x16: 6
    case 0x17: 9
    default: 0
    }
    func byte(_ i: Int) -> Int { i < pdu.count ? Int(pdu[i]) : 0 }
    let data = switch function {
    case 0x0F, 0x10: byte(1 + 4)
    case 0x17: byte(1 + 8)
    default: 0
    }
    let length = 1 + meta + data
    pdu = Array(pdu.prefix(length)) + Array(repeating: 0, count: max(0, length - pdu.count))
    var out = [unit] + pdu
    let crc = crc16(out) ^ (corruptCRC ? 0x5A5A : 0)
    out += [UInt8(crc & 0xFF), UInt8(crc >> 8)]
    return out
}

func writeAll(_ bytes: [UInt8]) {
    var written = 0
    let deadline = Date().addingTimeInterval(3)
    while written < bytes.count {
        let n = bytes[written...].withUnsafeBytes { write(line.master, $0.baseAddress, $0.count) }
        if n > 0 {
            written += n
        } else {
            fuzzCheck((errno == EAGAIN || errno == EINTR) && Date() < deadline, "writing to the pty: errno \(errno)")
            usleep(200)
        }
    }
}

/// Whether `bytes` hold a whole RTU reply (exception, read, or write echo), so reading can stop at once.
func isWholeReply(_ bytes: [UInt8]) -> Bool {
    guard bytes.count >= 5 else { return false }
    if bytes[1] & 0x80 != 0 { return true }
    switch bytes[1] {
    case 0x01...0x04: return bytes.count >= 5 + Int(bytes[2])
    case 0x05, 0x06, 0x0F, 0x10: return bytes.count >= 8
    default: return false
    }
}

/// Reads until a whole reply is in, the line has been quiet for `quietMs` after the first byte, or `firstMs`
/// passed without any byte.
func readReply(firstMs: Int32, quietMs: Int32 = 5) -> [UInt8] {
    var out: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 512)
    var wait = firstMs
    while true {
        var p = pollfd(fd: line.master, events: Int16(POLLIN), revents: 0)
        let ready = poll(&p, 1, wait)
        if ready < 0 && errno == EINTR { continue }  // libFuzzer's timeout timer (SIGALRM)
        guard ready > 0 else { return out }
        let n = read(line.master, &buffer, buffer.count)
        if n > 0 { out += buffer[..<n] } else if n < 0 && errno == EINTR { continue } else { return out }
        if isWholeReply(out) { return out }
        wait = quietMs
    }
}

/// Bytes written to the line that the server has not read yet.
func unread() -> Int32 {
    var n: Int32 = 0
    _ = ioctl(line.slaveProbe, UInt(FIONREAD), &n)
    return n
}

/// Waits until the server has read everything sent, and a little more for it to act on it.
func waitConsumed() {
    let deadline = Date().addingTimeInterval(3)
    while unread() > 0 {
        fuzzCheck(Date() < deadline, "the RTU server stopped reading its line (\(unread()) bytes unread for 3 s)")
        usleep(100)
    }
}

/// Unit 1 must answer FC04 IR 0…6 (its header). Retries while the line resynchronises after raw bytes.
func checkServerAnswers() {
    let request = frame(unit: 1, pdu: [0x04, 0x00, 0x00, 0x00, 0x07], corruptCRC: false)
    let deadline = Date().addingTimeInterval(3)
    while Date() < deadline {
        _ = readReply(firstMs: 0)  // drop stale bytes
        writeAll(request)
        let reply = readReply(firstMs: 150)
        if reply.count == 5 + 14, reply[0] == 1, reply[1] == 0x04, reply[2] == 14,
           crc16(reply[..<17]) == UInt16(reply[17]) | UInt16(reply[18]) << 8 {
            return
        }
        // Half a frame may be pending: libmodbus drops it after its byte timeout.
        usleep(UInt32(byteTimeout * 1.5e6))
    }
    fuzzCheck(false, "the RTU server no longer answers unit 1 (counters \(server.counts))")
}

nonisolated(unsafe) var inputsSinceCheck = 0

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = server
    guard size > 1 else { return 0 }
    let mode = data[0]
    fuzzClock.add(UInt64(mode >> 6) * 20_000, ordering: .relaxed)
    let rest = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    _ = readReply(firstMs: 0)
    if mode & 0x1F == 0x1F {
        writeAll(rest)
        waitConsumed()
        _ = readReply(firstMs: 2)
        usleep(UInt32(byteTimeout * 1.5e6))  // a frame left half read is dropped by now
        checkServerAnswers()
        inputsSinceCheck = 0
        return 0
    }
    let unit = rest[0]
    let corrupt = mode & 0x20 != 0
    let request = frame(unit: unit, pdu: Array(rest.dropFirst()), corruptCRC: corrupt)
    writeAll(request)
    waitConsumed()
    let expectReply = !corrupt && servedUnits.contains(unit) && request.count <= 256
    let reply = readReply(firstMs: expectReply ? 200 : 1)
    if !reply.isEmpty {
        // What comes back is one RTU frame from the unit asked, with a good CRC.
        fuzzCheck(reply.count >= 5 && reply[0] == unit, "reply \(reply) to unit \(unit)")
        let crc = crc16(reply.dropLast(2))
        fuzzCheck(crc == UInt16(reply[reply.count - 2]) | UInt16(reply[reply.count - 1]) << 8, "reply CRC \(reply)")
        // An exception reply carries function + 0x80, which libmodbus computes in a byte: a request with a
        // function code of 0x80 or more (itself invalid) is answered with the code wrapped (0xFC → 0x7C).
        fuzzCheck(reply[1] == request[1] || reply[1] == request[1] &+ 0x80,
                  "reply function \(reply[1]) to \(request[1])")
    }
    inputsSinceCheck += 1
    if inputsSinceCheck >= 64 {
        inputsSinceCheck = 0
        checkServerAnswers()
    }
    return 0
}
