import Foundation
import Glibc

/// A pseudo-terminal pair made by socat: two linked paths that behave as the two ends of a serial line. libmodbus
/// RTU runs over it (RS-485 ioctls answer ENOTTY, which the transport tolerates).
public final class PtyPair {
    public let a: String
    public let b: String
    private let child: ChildProcess

    public init() throws {
        let dir = NSTemporaryDirectory() + "rigd-pty-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        a = dir + "/A"
        b = dir + "/B"
        child = try ChildProcess("/usr/bin/socat", ["-d", "-d", "pty,raw,echo=0,link=\(a)",
                                                    "pty,raw,echo=0,link=\(b)"])
        let end = Date().addingTimeInterval(5)
        while Date() < end {
            if FileManager.default.fileExists(atPath: a), FileManager.default.fileExists(atPath: b) { return }
            Thread.sleep(forTimeInterval: 0.02)
        }
        throw TestFailure("socat made no pty pair: \(child.stderr)")
    }

    deinit {
        // SIGKILL: socat inherits the test runner's signal mask, in which SIGTERM may be blocked (it then sat out
        // every timeout of the teardown, 40 s per pair); it holds nothing that needs a graceful exit.
        child.signal(SIGKILL)
        _ = child.waitForExit(timeout: 5)
    }
}
