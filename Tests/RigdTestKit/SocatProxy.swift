import Foundation
import Glibc

/// A loopback TCP proxy made of socat, which the test can cut and restore: the link between rigd and a device
/// breaks while the device itself stays up, so the test can watch the device's own watchdog.
public final class SocatProxy {
    public let upstreamPort: Int
    public let port: Int
    private var child: ChildProcess?

    public init(upstreamPort: Int) throws {
        self.upstreamPort = upstreamPort
        let (fd, free) = loopbackSocket(listening: false)
        close(fd)
        port = free
        try restore()
    }

    deinit { cut() }

    /// Kills socat and every connection it forked: both ends see the link drop.
    public func cut() {
        guard let child else { return }
        let pid = child.process.processIdentifier
        _ = try? runToCompletion("/usr/bin/pkill", ["-KILL", "-P", "\(pid)"], timeout: 5)
        kill(pid, SIGKILL)
        _ = child.waitForExit(timeout: 5)
        self.child = nil
    }

    /// Starts socat listening on `port` again and waits until it accepts.
    public func restore() throws {
        child = try ChildProcess("/usr/bin/socat", [
            "TCP-LISTEN:\(port),bind=127.0.0.1,reuseaddr,fork", "TCP:127.0.0.1:\(upstreamPort)",
        ])
        let end = Date().addingTimeInterval(5)
        while Date() < end {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = UInt16(port).bigEndian
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            close(fd)
            if rc == 0 { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw TestFailure("socat did not listen on \(port): \(child?.stderr ?? "")")
    }
}
