import Foundation
import Glibc

/// A stand-in for systemd's notify socket: a SOCK_DGRAM unix socket bound at a fresh path in a temp dir (or a fresh
/// abstract name), read by a background thread that records every datagram with its CLOCK_MONOTONIC arrival time.
/// Put `path` in NOTIFY_SOCKET of the process under test. `close()` (also run on release) stops the thread within
/// about 100 ms (the socket's receive timeout) and removes the socket file.
public final class FakeNotifySocket: @unchecked Sendable {
    /// The value for NOTIFY_SOCKET: a filesystem path, or "@name" for an abstract socket.
    public let path: String

    private let fd: Int32
    private let directory: String?
    private let state = State()
    private let closeLock = NSLock()
    private var closed = false

    /// Seconds on CLOCK_MONOTONIC, the clock `receivedAt` is on (shared by every process on the machine).
    public static func monotonicNow() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    public struct SetupError: Error, CustomStringConvertible {
        public let description: String
    }

    public init(abstract: Bool = false) throws {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SetupError(description: "socket: \(String(cString: strerror(errno)))") }

        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        let offset = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)!
        let name: [UInt8]
        let length: Int
        if abstract {
            directory = nil
            path = "@rigd-notify-test-\(getpid())-\(UUID().uuidString.prefix(12))"
            name = Array(path.utf8.dropFirst())
            length = offset + 1 + name.count
        } else {
            // A fresh private directory; fall back to /tmp when $TMPDIR would make the path too long for sun_path.
            var made: String?
            for base in [NSTemporaryDirectory(), "/tmp/"] {
                let dir = (base.hasSuffix("/") ? base : base + "/") + "rigd-notify-\(UUID().uuidString.prefix(8))"
                guard (dir + "/notify").utf8.count < capacity else { continue }
                do {
                    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true,
                                                            attributes: [.posixPermissions: 0o700])
                } catch { continue }
                made = dir
                break
            }
            guard let made else {
                Glibc.close(fd)
                throw SetupError(description: "no temp directory short enough for a unix socket path")
            }
            directory = made
            path = made + "/notify"
            name = Array(path.utf8)
            length = offset + name.count + 1
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.initializeMemory(as: UInt8.self, repeating: 0)
            for (index, byte) in name.enumerated() { raw[(abstract ? 1 : 0) + index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(length)) }
        }
        guard bound == 0 else {
            let text = String(cString: strerror(errno))
            Glibc.close(fd)
            if let directory { rmdir(directory) }
            throw SetupError(description: "bind \(path): \(text)")
        }
        // The receive timeout bounds how long the reader can sit in recv after close() asked it to stop.
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        // Room for a burst of messages from a process that pets often.
        var bufferSize: Int32 = 1 << 20
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufferSize, socklen_t(MemoryLayout<Int32>.size))
        self.fd = fd

        // The thread holds the state box and the descriptor, never `self`, so releasing the socket runs deinit.
        let state = self.state
        let reader = Thread {
            // Large enough for any sd_notify message (systemd itself reads at most a few KiB per datagram).
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while !state.isStopping {
                let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                let code = errno
                if count >= 0 {
                    state.record(at: FakeNotifySocket.monotonicNow(), data: Array(buffer[0..<count]))
                } else if code != EAGAIN && code != EWOULDBLOCK && code != EINTR {
                    break
                }
            }
            state.finishReader()
        }
        reader.name = "FakeNotifySocket"
        reader.start()
    }

    deinit {
        close()
    }

    /// Every datagram received so far, in arrival order.
    public var messages: [(receivedAt: Double, lines: [String])] { state.messages }

    /// Every received line starting with `prefix` (e.g. "WATCHDOG=1"), with its datagram's arrival time.
    public func lines(withPrefix prefix: String) -> [(receivedAt: Double, line: String)] {
        messages.flatMap { message in
            message.lines.filter { $0.hasPrefix(prefix) }.map { (receivedAt: message.receivedAt, line: $0) }
        }
    }

    /// Waits up to `timeout` seconds until at least `count` lines starting with `prefix` have arrived.
    public func waitFor(prefix: String, count: Int = 1, timeout: Double) -> Bool {
        state.waitFor(prefix: prefix, count: count, deadline: Date().addingTimeInterval(timeout))
    }

    /// Stops the reader (within ~100 ms, its receive timeout), closes the socket and removes its file. Safe to call
    /// more than once; messages received before stay readable.
    public func close() {
        let first = closeLock.withLock { () -> Bool in
            defer { closed = true }
            return !closed
        }
        guard first else { return }
        // Wait for the reader so the descriptor is not closed (and perhaps reused) under its recv.
        if state.stopAndWait(deadline: Date().addingTimeInterval(5)) { Glibc.close(fd) }
        if let directory {
            unlink(path)
            rmdir(directory)
        }
    }

    /// What the reader thread and the test share, under one condition lock.
    private final class State: @unchecked Sendable {
        private let condition = NSCondition()
        private var received: [(receivedAt: Double, lines: [String])] = []
        private var stopping = false
        private var readerDone = false

        var messages: [(receivedAt: Double, lines: [String])] {
            condition.lock()
            defer { condition.unlock() }
            return received
        }

        var isStopping: Bool {
            condition.lock()
            defer { condition.unlock() }
            return stopping
        }

        func record(at: Double, data: [UInt8]) {
            let lines = String(decoding: data, as: UTF8.self)
                .split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
            condition.lock()
            received.append((receivedAt: at, lines: lines))
            condition.broadcast()
            condition.unlock()
        }

        func finishReader() {
            condition.lock()
            readerDone = true
            condition.broadcast()
            condition.unlock()
        }

        func waitFor(prefix: String, count: Int, deadline: Date) -> Bool {
            condition.lock()
            defer { condition.unlock() }
            while true {
                let seen = received.reduce(0) { $0 + $1.lines.filter { $0.hasPrefix(prefix) }.count }
                if seen >= count { return true }
                if readerDone || !condition.wait(until: deadline) {
                    return received.reduce(0) { $0 + $1.lines.filter { $0.hasPrefix(prefix) }.count } >= count
                }
            }
        }

        /// Asks the reader to stop; true once it has (false if it did not by `deadline`).
        func stopAndWait(deadline: Date) -> Bool {
            condition.lock()
            defer { condition.unlock() }
            stopping = true
            while !readerDone && condition.wait(until: deadline) {}
            return readerDone
        }
    }
}
