import Foundation
import Glibc
import Stations
import DeviceTransports
import SimServe
import Locking

/// sd_notify(3) over $NOTIFY_SOCKET: one datagram per message, "KEY=VALUE" lines joined with "\n".
///
/// Implemented directly on the socket (no libsystemd): each `send` opens a fresh SOCK_DGRAM|SOCK_CLOEXEC unix socket,
/// sends one datagram and closes it, so a notifier can be shared freely between threads and tasks.
package struct SystemdNotifier: Sendable {
    /// The socket path as given ("@name" = abstract namespace, else a filesystem path).
    package let socketPath: String
    /// Seconds between watchdog pets systemd expects at most (WATCHDOG_USEC / 1e6), nil when the watchdog is off,
    /// when WATCHDOG_USEC is absent/invalid, or when WATCHDOG_PID is set and is not this process's pid.
    package let watchdogTimeout: Double?

    /// How long one `send` may block on a full receive queue before it fails with EAGAIN (systemd never keeps us
    /// waiting this long unless it is wedged; a stuck watchdog pet must not stall the caller forever).
    package static let sendTimeout: Double = 1.0

    /// nil when NOTIFY_SOCKET is unset or empty (not started by systemd): callers then skip notifying.
    package init?(environment: [String: String] = ProcessInfo.processInfo.environment) {
        guard let path = environment["NOTIFY_SOCKET"], !path.isEmpty else { return nil }
        socketPath = path
        watchdogTimeout = Self.watchdogTimeout(environment: environment, pid: getpid())
    }

    /// sd_watchdog_enabled(3): WATCHDOG_USEC a positive integer; WATCHDOG_PID, when present, must be `pid`.
    package static func watchdogTimeout(environment: [String: String], pid: pid_t) -> Double? {
        guard let text = environment["WATCHDOG_USEC"], let usec = UInt64(text), usec > 0 else { return nil }
        if let pidText = environment["WATCHDOG_PID"] {
            guard let watchdogPID = pid_t(pidText), watchdogPID == pid else { return nil }
        }
        return Double(usec) / 1_000_000
    }

    /// The datagram payload: newlines inside a line become spaces (each line is one KEY=VALUE assignment).
    package static func payload(_ lines: [String]) -> String {
        lines.map { $0.replacingOccurrences(of: "\n", with: " ") }.joined(separator: "\n")
    }

    package func send(_ line: String) throws {
        try send([line])
    }

    /// Sends the lines (e.g. ["READY=1", "STATUS=3 stations running"]) as one datagram. Throws NotifyError with
    /// errno text on failure. An empty list sends nothing.
    package func send(_ lines: [String]) throws {
        guard !lines.isEmpty else { return }
        var (address, length) = try Self.address(socketPath)

        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw NotifyError(socketPath: socketPath, operation: "socket", code: errno) }
        defer { Glibc.close(fd) }

        var timeout = timeval(tv_sec: Int(Self.sendTimeout),
                              tv_usec: Int((Self.sendTimeout - Double(Int(Self.sendTimeout))) * 1_000_000))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))

        let bytes = Array(Self.payload(lines).utf8)
        while true {
            let sent = bytes.withUnsafeBytes { buffer in
                withUnsafePointer(to: &address) { pointer in
                    pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(fd, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL), $0, length)
                    }
                }
            }
            if sent >= 0 {
                // A datagram goes whole or not at all; a short count would mean a broken kernel contract.
                guard sent == bytes.count else {
                    throw NotifyError(socketPath: socketPath, operation: "sendto (short write)", code: EIO)
                }
                return
            }
            let code = errno
            if code == EINTR { continue }
            throw NotifyError(socketPath: socketPath, operation: "sendto", code: code)
        }
    }

    /// The socket address for `path` and its length: "@name" is abstract (sun_path[0] = 0, then the name, no
    /// terminator, length counts only the used bytes); anything else is a NUL-terminated filesystem path.
    package static func address(_ path: String) throws -> (sockaddr_un, socklen_t) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        let offset = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)!

        let abstract = path.hasPrefix("@")
        // Abstract: a leading NUL replaces "@". Path: the bytes, then a NUL terminator.
        let name = Array((abstract ? String(path.dropFirst()) : path).utf8)
        let used = name.count + 1
        guard used <= capacity else {
            throw NotifyError(socketPath: path, operation: "address (longer than \(capacity - 1) bytes)",
                              code: ENAMETOOLONG)
        }
        if !abstract && name.contains(0) {
            throw NotifyError(socketPath: path, operation: "address (NUL in path)", code: EINVAL)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.initializeMemory(as: UInt8.self, repeating: 0)
            let start = abstract ? 1 : 0
            for (index, byte) in name.enumerated() { raw[start + index] = byte }
        }
        return (address, socklen_t(offset + used))
    }
}

/// A failed sd_notify: names the socket path, the step that failed and the errno text.
package struct NotifyError: Error, CustomStringConvertible {
    package let socketPath: String
    package let operation: String
    /// The errno value.
    package let code: Int32

    package var description: String {
        "sd_notify to NOTIFY_SOCKET \(socketPath) failed: \(operation): \(String(cString: strerror(code))) "
            + "(errno \(code))"
    }

    package init(socketPath: String, operation: String, code: Int32) {
        self.socketPath = socketPath
        self.operation = operation
        self.code = code
    }
}
