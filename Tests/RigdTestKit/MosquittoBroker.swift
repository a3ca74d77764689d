import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A Mosquitto broker (Debian's `mosquitto`) of the test's own, on a free loopback port, with its configuration and
/// log in a temporary directory. Killed when released. `restart()` brings it back on the same
/// port, as a broker outage ends.
public final class MosquittoBroker: @unchecked Sendable {
    public let port: Int
    public let directory: String
    private let executable: String
    private var process: ChildProcess?
    private let extraConfiguration: String
    private let allowAnonymous: Bool

    /// - Parameters:
    ///   - allowAnonymous: false: only the users of a `password_file` (given in `configuration`) may connect.
    ///   - configuration: lines added to the broker's configuration (a password or ACL file, TLS settings).
    public init(allowAnonymous: Bool = true, configuration: String = "") throws {
        guard let executable = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"].first(where: {
            FileManager.default.isExecutableFile(atPath: $0)
        }) else {
            throw TestFailure("mosquitto not found: install Debian's mosquitto package (apt-get install mosquitto)")
        }
        let probe = loopbackSocket(listening: false)
        close(probe.fd)
        port = probe.port
        directory = NSTemporaryDirectory() + "rigd-mosquitto-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        extraConfiguration = configuration
        self.allowAnonymous = allowAnonymous
        self.executable = executable
        try start()
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    public var url: String { "mqtt://127.0.0.1:\(port)" }

    /// Everything the broker logged (connections, subscriptions, wills).
    public var log: String { process?.stderr ?? "" }

    /// Waits up to `timeout` s for the broker's log to satisfy `predicate`.
    public func wait(_ timeout: Double = 10, until predicate: (String) -> Bool) -> Bool {
        eventually(timeout) { predicate(log) }
    }

    private func start() throws {
        let config = directory + "/mosquitto.conf"
        // `user`: run as whoever runs the tests (as root, mosquitto would otherwise switch to its own user).
        let text = """
            listener \(port) 127.0.0.1
            allow_anonymous \(allowAnonymous)
            persistence false
            user \(NSUserName())
            log_dest stderr
            log_type all
            \(extraConfiguration)

            """
        try text.write(toFile: config, atomically: true, encoding: .utf8)
        let broker = try ChildProcess(executable, ["-c", config])
        guard broker.wait(for: 20, until: { _, err in err.contains(" running") }) else {
            broker.signal(SIGKILL)
            throw TestFailure("mosquitto did not start on port \(port): \(broker.stderr.suffix(2000))")
        }
        process = broker
    }

    /// Stops the broker (an outage): its clients lose their connections. SIGKILL: a child of the test runner inherits
    /// its threads' blocked SIGTERM and would wait out any timeout (a broker crash is an outage all the same, and the
    /// broker keeps nothing on disk).
    public func stop() {
        guard let process else { return }
        process.signal(SIGKILL)
        // No waiting for the pipes' end: a child started meanwhile (rigd) may hold a copy of them.
        _ = process.waitForExit(timeout: 10, drain: false)
        self.process = nil
    }

    /// Starts the broker again on the same port.
    public func restart() throws {
        stop()
        try start()
    }
}
