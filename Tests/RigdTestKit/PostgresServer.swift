import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A PostgreSQL server (Debian's `postgresql`) of the test run's own: `initdb` in a temporary directory, `pg_ctl start`
/// on a free loopback port, trust authentication for user `rigd`. One per test process (`shared()`), stopped when the
/// process exits; each test takes a database of its own (`newDatabase()`). As root, the server runs as the
/// `postgres` user (PostgreSQL refuses to run as root). Read back through `psql`, not rigd's code.
public final class PostgresServer: @unchecked Sendable {
    public let port: Int
    public let directory: String
    private let bin: String
    private let asUser: [String]
    /// The server (`postgres`, not `pg_ctl start`: a daemon that pg_ctl leaves behind keeps Foundation's watch on
    /// the starter open, so the starter never seems to end).
    private var postmaster: ChildProcess?

    nonisolated(unsafe) private static var started: Result<PostgresServer, TestFailure>?
    private static let lock = NSLock()

    /// The test process's server, started on first use.
    public static func shared() throws -> PostgresServer {
        try lock.withLock {
            if started == nil {
                do {
                    let server = try PostgresServer()
                    started = .success(server)
                    atexit { PostgresServer.stopShared() }
                } catch let error as TestFailure {
                    started = .failure(error)
                } catch {
                    started = .failure(TestFailure("\(error)"))
                }
            }
            return try started!.get()
        }
    }

    private static func stopShared() {
        if case .success(let server)? = started { server.stop() }
    }

    /// PostgreSQL's server programs: on PATH (initdb), else Debian's /usr/lib/postgresql/VERSION/bin, newest first.
    static func binaries() throws -> String {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        where FileManager.default.isExecutableFile(atPath: dir + "/initdb") && FileManager.default.isExecutableFile(atPath: dir + "/pg_ctl") {
            return URL(fileURLWithPath: dir + "/initdb").resolvingSymlinksInPath().deletingLastPathComponent().path
        }
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .sorted { (Int($0) ?? 0) > (Int($1) ?? 0) }
        for version in versions where FileManager.default.isExecutableFile(atPath: "\(root)/\(version)/bin/initdb") {
            return "\(root)/\(version)/bin"
        }
        throw TestFailure("PostgreSQL's initdb not found: install Debian's postgresql package (apt-get install postgresql)")
    }

    private init() throws {
        bin = try Self.binaries()
        directory = NSTemporaryDirectory() + "rigd-postgres-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if getuid() == 0 {
            guard getpwnam("postgres") != nil else {
                throw TestFailure("running as root, and there is no postgres user to run PostgreSQL as (Debian's postgresql package makes it)")
            }
            try FileManager.default.setAttributes([.ownerAccountName: "postgres", .posixPermissions: 0o700],
                                                  ofItemAtPath: directory)
            asUser = ["/usr/sbin/runuser", "-u", "postgres", "--"]
        } else {
            asUser = []
        }
        let probe = loopbackSocket(listening: false)
        close(probe.fd)
        port = probe.port
        try command([bin + "/initdb", "-D", directory + "/data", "-A", "trust", "-U", "rigd", "-E", "UTF8",
                     "--locale=C", "--no-sync"], timeout: 120)
        // fsync off: a test server's data need not survive a power cut, and the tests run faster.
        let argv = asUser + [bin + "/postgres", "-D", directory + "/data", "-p", String(port), "-k", directory,
                             "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=200"]
        let postmaster = try ChildProcess(argv[0], Array(argv.dropFirst()))
        self.postmaster = postmaster
        let ready = postmaster.wait(for: 60) { _, err in err.contains("ready to accept connections") }
        guard ready else {
            stop()
            throw TestFailure("PostgreSQL did not start within 60 s: \(postmaster.stderr.suffix(2000))")
        }
    }

    private func command(_ arguments: [String], timeout: Double) throws {
        let argv = asUser + arguments
        let result = try runToCompletion(argv[0], Array(argv.dropFirst()), timeout: timeout)
        guard result.status == 0 else {
            throw TestFailure("\(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr)\(result.stdout)")
        }
    }

    /// Immediate shutdown (SIGQUIT to the postmaster, whose pid is the first line of postmaster.pid).
    public func stop() {
        if let text = try? String(contentsOfFile: directory + "/data/postmaster.pid", encoding: .utf8),
           let pid = text.split(separator: "\n").first.flatMap({ Int32($0) }) {
            kill(pid, SIGQUIT)
        }
        _ = postmaster?.waitForExit(timeout: 15, drain: false)
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// `postgres://rigd@127.0.0.1:PORT/NAME`.
    public func url(_ database: String) -> String { "postgres://rigd@127.0.0.1:\(port)/\(database)" }

    /// A new, empty database; returns its name.
    public func newDatabase() throws -> String {
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        _ = try query("CREATE DATABASE \(name)", database: "postgres")
        return String(name)
    }

    /// Runs `sql` through `psql` and returns its rows, columns separated by `|` (`psql -At`). Its output goes to files,
    /// not pipes: `ChildProcess` waits for its pipes to close, and psql's were seen to stay open 30 s after it exited.
    public func query(_ sql: String, database: String) throws -> [[String]] {
        let out = directory + "-psql-\(UUID().uuidString)"
        _ = FileManager.default.createFile(atPath: out + ".out", contents: nil)
        _ = FileManager.default.createFile(atPath: out + ".err", contents: nil)
        defer {
            unlink(out + ".out")
            unlink(out + ".err")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Self.psql())
        process.arguments = ["-X", "-q", "-At", "-F", "|", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", String(port),
                             "-U", "rigd", "-d", database, "-c", sql]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle(forWritingAtPath: out + ".out")
        process.standardError = FileHandle(forWritingAtPath: out + ".err")
        try process.run()
        process.waitUntilExit()
        let stdout = (try? String(contentsOfFile: out + ".out", encoding: .utf8)) ?? ""
        guard process.terminationStatus == 0 else {
            throw TestFailure("psql: \(sql): \((try? String(contentsOfFile: out + ".err", encoding: .utf8)) ?? "")")
        }
        return stdout.split(separator: "\n").map { $0.split(separator: "|", omittingEmptySubsequences: false).map(String.init) }
    }

    /// A single value (first row, first column), or nil when there are no rows.
    public func value(_ sql: String, database: String) throws -> String? {
        try query(sql, database: database).first?.first
    }

    static func psql() throws -> String {
        if let bin = try? binaries(), FileManager.default.isExecutableFile(atPath: bin + "/psql") { return bin + "/psql" }
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/psql") { return "/usr/bin/psql" }
        throw TestFailure("psql not found: install Debian's postgresql-client")
    }
}
