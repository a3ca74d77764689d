// libFuzzer target: the simulator's Modbus TCP server (libmodbus framing, unit ids, `ModbusRequest`, a device of
// every kind, replies through libmodbus) fed arbitrary bytes over a real socket.
//
// One server per device kind is started once per process on 127.0.0.1, port 0. For each input: the first byte
// picks the server (and how far the devices' clock moves), the rest is written to a fresh connection as is, the
// write side is shut, and whatever comes back is read until the server closes the connection. Every 64 inputs a
// libmodbus client must still read each device's header (an exception is an answer; a dead link traps).
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

/// The devices' clock: moves only when an input says so, so runs do not depend on how fast the machine is.
let fuzzClock = Atomic<UInt64>(0)  // microseconds

func fuzzSeconds() -> Double { Double(fuzzClock.load(ordering: .relaxed)) / 1e6 }

let servers: [ModbusTCPServer] = KindRegistry.builtIn.kinds.map { $0.kind }.map { kind in
    do {
        let device = try KindRegistry.builtIn.simulatedDevice(kind, seed: 1)
        let server = try ModbusTCPServer(device: device, host: "127.0.0.1", port: 0) { fuzzSeconds() }
        server.start()
        return server
    } catch {
        fatalError("cannot start the \(kind) server: \(error)")
    }
}

nonisolated(unsafe) var inputsSinceCheck = 0

/// Connects to the server. libFuzzer's timeout timer (SIGALRM, not restartable) can interrupt `connect`: then it
/// is tried again on a new socket.
func connectTo(_ port: Int) -> Int32 {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    for _ in 0..<10 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        fuzzCheck(fd >= 0, "socket: errno \(errno)")
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if rc == 0 { return fd }
        let error = errno
        close(fd)
        fuzzCheck(error == EINTR, "the server on port \(port) refused a connection: errno \(error)")
    }
    fuzzCheck(false, "connect to port \(port) interrupted ten times")
    return -1
}

/// Writes `bytes`, shuts the write side, reads until the server closes. Returns what came back.
func exchange(_ bytes: [UInt8], port: Int) -> [UInt8] {
    let fd = connectTo(port)
    defer { close(fd) }
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    var written = 0
    var shut = false
    let deadline = Date().addingTimeInterval(4)
    while Date() < deadline {
        if written == bytes.count && !shut {
            shutdown(fd, Int32(SHUT_WR))
            shut = true
        }
        var p = pollfd(fd: fd, events: Int16(POLLIN) | (shut ? 0 : Int16(POLLOUT)), revents: 0)
        guard poll(&p, 1, 100) >= 0 else { continue }
        if p.revents & Int16(POLLOUT) != 0 && written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                written += n
            } else if n < 0 && errno != EAGAIN && errno != EINTR {
                shutdown(fd, Int32(SHUT_WR))
                shut = true
            }
        }
        if p.revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n > 0 {
                received += buffer[..<n]
            } else if n == 0 || (errno != EAGAIN && errno != EINTR) {
                return received  // the server closed the connection: it is done with this input
            }
        }
    }
    fuzzCheck(false, "the server on port \(port) kept a half-closed connection open for 4 s")
    return received
}

/// Every server must still answer a valid request.
func checkServersAnswer() {
    for server in servers {
        let client = ModbusTCPClient(host: "127.0.0.1", port: server.port, unit: 255)
        do {
            try client.connect()
            _ = try client.readHeader()
        } catch is ModbusTransactionError {
            // An exception is an answer.
        } catch {
            fuzzCheck(false, "the \(server.device.kind) server no longer answers: \(error)")
        }
        client.close()
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let selector = Int(data[0])
    let server = servers[selector % servers.count]
    fuzzClock.add(UInt64(selector / servers.count) * 1000, ordering: .relaxed)
    let reply = exchange(Array(UnsafeBufferPointer(start: data + 1, count: size - 1)), port: server.port)
    // Every reply is framed by libmodbus: an MBAP header whose length covers the rest of its frame.
    var offset = 0
    while offset + 7 <= reply.count {
        let length = Int(reply[offset + 4]) << 8 | Int(reply[offset + 5])
        fuzzCheck(length >= 2 && length <= 254, "reply frame with MBAP length \(length)")
        offset += 6 + length
    }
    fuzzCheck(offset == reply.count, "a partial reply frame: \(reply.count) bytes, frames end at \(offset)")
    inputsSinceCheck += 1
    if inputsSinceCheck >= 64 {
        inputsSinceCheck = 0
        checkServersAnswer()
    }
    return 0
}
