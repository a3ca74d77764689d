import Foundation
import Glibc

/// Finds the built `rigd` next to the test bundle (.build/debug/rigd).
public func rigdBinary() throws -> String {
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = dir.appendingPathComponent("rigd").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        dir.deleteLastPathComponent()
    }
    let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    var up = exe
    for _ in 0..<4 {
        let candidate = up.appendingPathComponent("rigd").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        up.deleteLastPathComponent()
    }
    throw TestFailure("rigd binary not found near \(CommandLine.arguments[0]); build it first (scripts/test does)")
}

public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A child process with its output collected; killed when released if still running.
public final class ChildProcess: @unchecked Sendable {
    public let process = Process()
    private let outPipe = Pipe()
    private let errPipe = Pipe()
    private let lock = NSLock()
    private var outData = Data()
    private var errData = Data()
    /// The pipes reached their end (the handlers saw it).
    private var outClosed = false
    private var errClosed = false

    /// The data directory given to a real-clock `rigd run` (see `init`).
    public private(set) var dataDirectory: String?

    /// A real-clock `rigd run` gets a data directory of its own and an HTTP port the kernel picks, unless the
    /// arguments say otherwise: tests run in parallel and must not share the default data directory or port 8080.
    /// `NOTIFY_SOCKET` and `WATCHDOG_*` are not inherited; pass them in `environment` to test systemd integration.
    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        var arguments = arguments
        if arguments.first == "run", !arguments.contains("--virtual") {
            if !arguments.contains("--http") { arguments += ["--http", "127.0.0.1:0"] }
            if !arguments.contains("--data-dir") {
                let dir = NSTemporaryDirectory() + "rigd-data-\(UUID().uuidString)"
                arguments += ["--data-dir", dir]
                dataDirectory = dir
            } else if let i = arguments.firstIndex(of: "--data-dir"), i + 1 < arguments.count {
                dataDirectory = arguments[i + 1]
            }
        }
        var env = ProcessInfo.processInfo.environment
        for key in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] { env[key] = nil }
        env.merge(environment) { _, new in new }
        process.environment = env
        process.arguments = arguments
        process.standardOutput = outPipe
        process.standardError = errPipe
        process.standardInput = FileHandle.nullDevice
        outPipe.fileHandleForReading.readabilityHandler = { [weak self] h in
            let d = h.availableData
            guard let self else { return }
            self.lock.withLock {
                self.outData.append(d)
                if d.isEmpty { self.outClosed = true }
            }
            if d.isEmpty { h.readabilityHandler = nil }
        }
        errPipe.fileHandleForReading.readabilityHandler = { [weak self] h in
            let d = h.availableData
            guard let self else { return }
            self.lock.withLock {
                self.errData.append(d)
                if d.isEmpty { self.errClosed = true }
            }
            if d.isEmpty { h.readabilityHandler = nil }
        }
        try process.run()
    }

    deinit {
        // Bounded: Foundation's waitUntilExit can block forever inside the test runner. No draining of the pipes:
        // their handlers hold `self` weakly and stop seeing it once deinit has begun, so they would never report the
        // end, and nobody reads the output any more.
        guard process.isRunning else { return }
        process.terminate()
        if waitForExit(timeout: 5, drain: false) == nil {
            kill(process.processIdentifier, SIGKILL)
            _ = waitForExit(timeout: 5, drain: false)
        }
    }

    public var stdout: String { lock.withLock { String(decoding: outData, as: UTF8.self) } }
    public var stderr: String { lock.withLock { String(decoding: errData, as: UTF8.self) } }

    /// Waits up to `timeout` s for `predicate` over (stdout, stderr).
    public func wait(for timeout: Double, until predicate: (String, String) -> Bool) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if predicate(stdout, stderr) { return true }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return predicate(stdout, stderr)
    }

    /// Waits for exit up to `timeout` s; returns the status, or nil if still running. `drain`: also wait (up to 30 s)
    /// until the pipes have given all the output.
    public func waitForExit(timeout: Double, drain: Bool = true) -> Int32? {
        let end = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < end { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning { return nil }
        guard drain else { return process.terminationStatus }
        // Let the readability handlers drain the pipes to their end: a loaded machine (the sanitizer runs) may run
        // them seconds late, and a cut-off last line fails a test for nothing. Only a grandchild that kept the pipe
        // open makes this wait the whole 30 s.
        let drained = Date().addingTimeInterval(30)
        while !lock.withLock({ outClosed && errClosed }) && Date() < drained { Thread.sleep(forTimeInterval: 0.01) }
        return process.terminationStatus
    }

    public func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }

    /// The API's base URL from rigd's "HTTP API listening on http://HOST:PORT" line, waiting up to `timeout` s.
    public func apiBase(timeout: Double = 30) throws -> String {
        var base: String?
        _ = wait(for: timeout) { _, err in
            guard let range = err.range(of: "HTTP API listening on ") else { return false }
            base = err[range.upperBound...].split(whereSeparator: { $0 == " " || $0 == "\n" }).first.map(String.init)
            return base != nil
        }
        guard let base else { throw TestFailure("rigd's API did not start listening: \(stderr.suffix(3000))") }
        return base
    }
}

/// Runs a command to completion and returns (status, stdout, stderr).
@discardableResult
public func runToCompletion(_ executable: String, _ arguments: [String], timeout: Double = 60) throws
    -> (status: Int32, stdout: String, stderr: String) {
    let child = try ChildProcess(executable, arguments)
    guard let status = child.waitForExit(timeout: timeout) else {
        // Stopped, so it does not outlive the test, and its last words kept: whether it hung starting, running or
        // stopping is in them.
        child.signal(SIGTERM)
        if child.waitForExit(timeout: 5) == nil { child.signal(SIGKILL) }
        throw TestFailure("\(executable) \(arguments.joined(separator: " ")) did not finish in \(timeout) s; "
                          + "its stderr ends: \(child.stderr.suffix(3000))")
    }
    return (status, child.stdout, child.stderr)
}

/// Starts `rigd simulate` on a free port and returns it with the port it bound.
/// The fault-control address `rigd simulate --control 127.0.0.1:0` printed.
public func controlAddress(_ sim: ChildProcess) -> String? {
    guard sim.wait(for: 10, until: { out, _ in out.contains("control on http://") }),
          let range = sim.stdout.range(of: "control on http://") else { return nil }
    return String(sim.stdout[range.upperBound...].prefix { !$0.isWhitespace })
}

public func startSimulator(_ extra: [String] = [], kind: String = "heat-rig") throws -> (ChildProcess, Int) {
    let sim = try ChildProcess(try rigdBinary(), ["simulate", "--kind", kind, "--listen", "127.0.0.1:0"] + extra)
    var port: Int?
    _ = sim.wait(for: 15) { out, _ in
        if let line = out.split(separator: "\n").first(where: { $0.hasPrefix("serving") }),
           let portText = line.split(separator: ":").dropFirst().first?.split(separator: " ").first {
            port = Int(portText)
        }
        return port != nil
    }
    guard let port else { throw TestFailure("rigd simulate did not start: \(sim.stderr)") }
    return (sim, port)
}

/// A named token of `role` added to the data directory with `rigd token add`: the token as printed (once).
public func addToken(_ name: String, role: String, dataDir: String) throws -> String {
    let add = try runToCompletion(try rigdBinary(), ["token", "add", name, "--role", role, "--data-dir", dataDir])
    guard add.status == 0 else { throw TestFailure("rigd token add \(name): \(add.stderr)") }
    return add.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
}

/// A temporary file with `contents`.
public func temporaryFile(_ contents: String, suffix: String = ".toml") throws -> String {
    let path = NSTemporaryDirectory() + "rigd-test-\(UUID().uuidString)\(suffix)"
    try contents.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

/// The release build of rigd (long virtual runs are ten times faster there). `scripts/test` builds it.
public func rigdReleaseBinary() throws -> String {
    let debug = URL(fileURLWithPath: try rigdBinary()).resolvingSymlinksInPath().deletingLastPathComponent()
    let release = debug.deletingLastPathComponent().appendingPathComponent("release/rigd").path
    guard FileManager.default.isExecutableFile(atPath: release) else {
        throw TestFailure("no release build at \(release): run `swift build -c release --product rigd` "
                          + "(scripts/test does)")
    }
    return release
}

/// Parses a report file written by `rigd run --report`.
public func readReport(_ path: String) throws -> [String: Any] {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    guard let json = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
        throw TestFailure("report \(path) is not a JSON object")
    }
    return json
}

/// A TCP socket bound to a free loopback port (listening if asked): (descriptor, port). The caller closes it.
public func loopbackSocket(listening: Bool) -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
    if listening { _ = listen(fd, 4) }
    _ = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    return (fd, Int(UInt16(bigEndian: addr.sin_port)))
}

/// Whether a process with this pid exists and is not a zombie.
public func processAlive(_ pid: Int32) -> Bool {
    guard kill(pid, 0) == 0 || errno == EPERM else { return false }
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return false }
    return !stat[stat.index(after: close)...].hasPrefix(" Z")
}

/// The processes a script says it started ("started rigd (pid 1234, …": hil/run and hil/soak both print these).
public func startedProcesses(_ output: String) -> [(role: String, pid: Int32)] {
    let regex = try! NSRegularExpression(pattern: #"started (\S+) \(pid (\d+),"#)
    return regex.matches(in: output, range: NSRange(output.startIndex..., in: output)).map { m in
        (String(output[Range(m.range(at: 1), in: output)!]), Int32(output[Range(m.range(at: 2), in: output)!])!)
    }
}
