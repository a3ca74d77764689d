import Daemon
import Foundation
import GRDB
import RigdTestKit
import Stations
import Testing

/// Issue 10's secure defaults, as SECURITY.md states them: listeners on loopback unless configured, bounded request
/// bodies, a warning for configuration and token files other users can write (or, for the token, read), and no
/// secret in the log or the data log.
@Suite("Secure defaults")
struct SecureDefaultsTests {
    @Test func theDefaultListenerIsLoopback() throws {
        let daemon = DaemonConfig()
        #expect(daemon.http?.isLoopback == true, "default http \(daemon.http?.description ?? "off")")
        #expect(daemon.http?.description == "127.0.0.1:8080")
    }

    @Test func aNewDataDirectoryIsClosedToOtherUsers() throws {
        let parent = NSTemporaryDirectory() + "rigd-dir-\(UUID().uuidString)"
        let directory = parent + "/state/rigd"
        _ = try DataDirectoryLock(directory: directory)
        var info = stat()
        #expect(stat(directory, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o750, "mode \(String(info.st_mode & 0o777, radix: 8))")
        try? FileManager.default.removeItem(atPath: parent)
    }

    @Test func checkWarnsOfAConfigurationOtherUsersCanWrite() throws {
        let config = try temporaryFile(OperationsTests.heatRigConfig)
        defer { unlink(config) }
        chmod(config, 0o644)
        let quiet = try runToCompletion(try rigdBinary(), ["check", "--config", config])
        #expect(quiet.status == 0)
        #expect(!quiet.stderr.contains("warning"), "\(quiet.stderr)")
        chmod(config, 0o666)
        let open = try runToCompletion(try rigdBinary(), ["check", "--config", config])
        #expect(open.status == 0, "a warning only: \(open.stderr)")
        #expect(open.stderr.contains("\(config) is writable by other users (mode 0666)"), "\(open.stderr)")
    }

    /// One daemon with a group-writable configuration and a world-readable token: both warned about by name and
    /// mode; an oversized body refused with 413 before it is parsed; after reads and writes with the token, the token
    /// appears nowhere in the log or the data log.
    @Test func warningsBodyLimitAndNoSecretInTheLogs() async throws {
        let config = try temporaryFile(OperationsTests.heatRigConfig)
        defer { unlink(config) }
        chmod(config, 0o664)
        let dataDir = NSTemporaryDirectory() + "rigd-secure-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        let token = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        let tokenFile = dataDir + "/api-token"
        try (token + "\n").write(toFile: tokenFile, atomically: false, encoding: .utf8)
        chmod(tokenFile, 0o644)
        let rigd = try ChildProcess(try rigdBinary(), ["run", "--config", config, "--data-dir", dataDir,
                                                       "--status-every", "0", "--log-level", "debug"])
        let base = try rigd.apiBase()
        #expect(rigd.stderr.contains("\(config) is writable by other users (mode 0664)"), "\(rigd.stderr.suffix(3000))")
        #expect(rigd.stderr.contains("\(tokenFile) is open to other users (mode 0644)"), "\(rigd.stderr.suffix(3000))")

        let setpoints = base + "/api/stations/rig-ops/setpoints"
        let huge = #"{"name": "setpoint_c", "value": 55, "pad": ""# + String(repeating: "x", count: 200_000) + #""}"#
        let tooLarge = try await http("POST", setpoints, body: huge, token: token)
        #expect(tooLarge.status == 413, "\(tooLarge.status) \(tooLarge.text.prefix(200))")
        #expect(try await http("POST", setpoints, body: #"{"name": "setpoint_c", "value": 55}"#, token: token).status == 200)
        #expect(try await http("POST", setpoints, body: #"{"name": "setpoint_c", "value": 999}"#, token: token).status == 422)
        #expect(try await http("POST", setpoints, body: #"{"name": "setpoint_c", "value": 50}"#,
                               token: String(token.reversed())).status == 401)
        #expect(try await http("GET", base + "/api/stations").status == 200)
        rigd.signal(SIGTERM)
        #expect(rigd.waitForExit(timeout: 30) == 0, "\(rigd.stderr.suffix(2000))")

        #expect(!rigd.stderr.contains(token) && !rigd.stdout.contains(token), "the token is in rigd's log")
        #expect(!rigd.stderr.contains(String(token.reversed())), "a rejected token is in rigd's log")
        // The data log: every table's text, events (who wrote what) included.
        let queue = try DatabaseQueue(path: dataDir + "/rigd.sqlite")
        let texts = try await queue.read { db in
            try String.fetchAll(db, sql: "SELECT message FROM event") + String.fetchAll(db, sql: "SELECT kind FROM event")
        }
        #expect(texts.contains { $0.contains("setpoint_c") }, "the accepted write is in the event log: \(texts)")
        #expect(!texts.contains { $0.contains(token) || $0.contains(String(token.reversed())) })
        for suffix in ["", "-wal"] where FileManager.default.fileExists(atPath: dataDir + "/rigd.sqlite" + suffix) {
            let raw = try Data(contentsOf: URL(fileURLWithPath: dataDir + "/rigd.sqlite" + suffix))
            #expect(raw.range(of: Data(token.utf8)) == nil, "the token's bytes are in rigd.sqlite\(suffix)")
        }
    }
}
