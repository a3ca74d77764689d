import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `rigd historian` on a database of its own in the test run's PostgreSQL server, subscribed to group `site-t` of a
/// test broker, serving its overview on a free port. Killed when released.
public final class HistorianProcess: @unchecked Sendable {
    public let server: PostgresServer
    public let database: String
    public let process: ChildProcess
    /// http://127.0.0.1:PORT
    public let base: String

    public init(brokerPort: Int, hostID: String? = nil, extra: [String] = []) throws {
        server = try PostgresServer.shared()
        database = try server.newDatabase()
        var arguments = ["historian", "--mqtt", "mqtt://127.0.0.1:\(brokerPort)", "--postgres", server.url(database),
                         "--group", "site-t", "--http", "127.0.0.1:0"]
        if let hostID { arguments += ["--host-id", hostID] }
        process = try ChildProcess(try rigdBinary(), arguments + extra)
        var found: String?
        _ = process.wait(for: 60) { _, err in
            guard let range = err.range(of: "fleet overview on ") else { return false }
            found = err[range.upperBound...].split(whereSeparator: { $0 == "\n" || $0 == " " }).first
                .map { String($0.hasSuffix("/") ? $0.dropLast() : $0) }
            return found != nil && err.contains("connected to")
        }
        guard let found else {
            process.signal(SIGKILL)
            throw TestFailure("rigd historian did not start: \(process.stderr.suffix(3000))")
        }
        base = found
    }

    deinit {
        process.signal(SIGKILL)
        _ = process.waitForExit(timeout: 10, drain: false)
    }

    /// How many times it has connected to the broker.
    public var connections: Int { process.stderr.components(separatedBy: "connected to mqtt://").count - 1 }

    /// `/api/status`, parsed.
    public func status() throws -> [String: Any] {
        let data = try Data(contentsOf: URL(string: base + "/api/status")!)
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw TestFailure("/api/status is not a JSON object")
        }
        return object
    }

    /// One of `/api/status`'s counters.
    public func counter(_ name: String) -> Int {
        ((try? status())?["counters"] as? [String: Any])?[name] as? Int ?? -1
    }

    public func query(_ sql: String) throws -> [[String]] { try server.query(sql, database: database) }
    public func value(_ sql: String) throws -> String? { try server.value(sql, database: database) }
}
