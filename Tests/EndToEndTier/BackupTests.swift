import Daemon
import Foundation
import GRDB
import Glibc
import RigdTestKit
import Stations
import Testing

/// Issue 23 item 5: `rigd backup` of a running daemon under load and `rigd restore` into an empty directory; archives
/// that are truncated, damaged or from a newer rigd are refused before anything is overwritten.
@Suite("Backup and restore")
struct BackupTests {
    /// Three simulated stations recording 20 samples a second each, so the data log grows during the backup.
    static let config = """
        [daemon]
        record_interval_s = 0.05

        [[station]]
        name = "rig"
        kind = "heat-rig"
        address = "sim://"

        [[station]]
        name = "mill"
        kind = "cnc-mill"
        address = "sim://"

        [[station]]
        name = "msd"
        kind = "msd-rig"
        address = "sim://"
        """

    struct Snapshot {
        var samples: Set<String>
        var events: Set<Int64>
        var runs: Set<Int64>
    }

    static func snapshot(_ path: String) throws -> Snapshot {
        let log = try DataLog.openForReading(path: path)
        defer { try? log.close() }
        return try log.read { db in
            let samples = try Row.fetchAll(db, sql: "SELECT channel_id, t FROM sample").map { row -> String in
                let id: Int64 = row[0]
                let t: Double = row[1]
                return "\(id)@\(t.bitPattern)"
            }
            return Snapshot(samples: Set(samples), events: Set(try Int64.fetchAll(db, sql: "SELECT id FROM event")),
                            runs: Set(try Int64.fetchAll(db, sql: "SELECT id FROM run")))
        }
    }

    @Test func aBackupOfARunningDaemonRestoresEveryCommittedRow() async throws {
        let root = NSTemporaryDirectory() + "rigd-backup-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let config = root + "/rigd.toml"
        try Self.config.write(toFile: config, atomically: true, encoding: .utf8)
        let data = root + "/data"
        let rigd = try ChildProcess(try rigdBinary(), ["run", "--config", config, "--data-dir", data, "--http", "127.0.0.1:0",
                                                       "--status-every", "0"])
        defer { rigd.signal(SIGTERM); _ = rigd.waitForExit(timeout: 15) }
        _ = try rigd.apiBase()
        let token = try runToCompletion(try rigdBinary(), ["token", "add", "ana", "--role", "operator", "--data-dir", data])
        #expect(token.status == 0, "\(token.stderr)")
        try await Task.sleep(for: .seconds(3))

        // Everything committed before the backup begins...
        let before = try Self.snapshot(DataLog.path(in: data))
        #expect(before.samples.count > 100, "the daemon recorded \(before.samples.count) samples in 3 s")
        let archive = root + "/backup.zip"
        let backup = try runToCompletion(try rigdBinary(), ["backup", "-o", archive, "--config", config, "--data-dir", data])
        #expect(backup.status == 0, "\(backup.stderr)")
        #expect(backup.stderr.contains("backup: data log: 100 %"), "progress: \(backup.stderr)")
        #expect(backup.stdout.contains("files (data/rigd.sqlite"), "\(backup.stdout)")
        try await Task.sleep(for: .seconds(1))
        #expect(rigd.waitForExit(timeout: 0) == nil, "rigd stopped during the backup: \(rigd.stderr.suffix(2000))")

        // ... is in the restored data log, and so is the rest of the installation.
        let restored = root + "/restored"
        let restore = try runToCompletion(try rigdBinary(), ["restore", archive, "--data-dir", restored])
        #expect(restore.status == 0, "\(restore.stderr)")
        let after = try Self.snapshot(DataLog.path(in: restored))
        #expect(before.samples.subtracting(after.samples).isEmpty,
                "\(before.samples.subtracting(after.samples).count) of \(before.samples.count) committed samples missing")
        #expect(before.events.isSubset(of: after.events) && before.runs.isSubset(of: after.runs))
        #expect(after.samples.count >= before.samples.count)
        #expect(try String(contentsOfFile: restored + "/restored-config/rigd.toml", encoding: .utf8) == Self.config)
        #expect(try Data(contentsOf: URL(fileURLWithPath: restored + "/tokens.json"))
                == Data(contentsOf: URL(fileURLWithPath: data + "/tokens.json")))
        var info = stat()
        #expect(stat(restored + "/tokens.json", &info) == 0 && info.st_mode & 0o777 == 0o600)
        #expect(!FileManager.default.fileExists(atPath: restored + "/api-token"), "the API token is a secret: not backed up")

        // The restored directory runs: rigd starts on it and serves the restored history.
        let again = try ChildProcess(try rigdBinary(), ["run", "--config", config, "--data-dir", restored,
                                                        "--http", "127.0.0.1:0", "--status-every", "0"])
        defer { again.signal(SIGTERM); _ = again.waitForExit(timeout: 15) }
        let base = try again.apiBase()
        let runs = try await http("GET", base + "/api/runs?from=-1h").json?["runs"] as? [[String: Any]] ?? []
        #expect(runs.count >= before.runs.count, "\(runs)")

        // A restore into a data directory in use is refused: rigd holds its lock.
        let busy = try runToCompletion(try rigdBinary(), ["restore", archive, "--data-dir", restored, "--force"])
        #expect(busy.status == 69 && busy.stderr.contains("stop it before restoring"), "\(busy.stderr)")
    }

    @Test func damagedTruncatedAndNewerArchivesChangeNothing() throws {
        let root = NSTemporaryDirectory() + "rigd-restore-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let config = root + "/rigd.toml"
        try Self.config.write(toFile: config, atomically: true, encoding: .utf8)
        let data = root + "/data"
        let run = try runToCompletion(try rigdBinary(), ["run", "--config", config, "--data-dir", data, "--http", "off",
                                                         "--status-every", "0", "--for", "2s"], timeout: 60)
        #expect(run.status == 0, "\(run.stderr.suffix(2000))")
        let archive = root + "/good.zip"
        let backup = try runToCompletion(try rigdBinary(), ["backup", "-o", archive, "--data-dir", data])
        try #require(backup.status == 0, "\(backup.stderr)")
        let good = try Data(contentsOf: URL(fileURLWithPath: archive))

        // The target already holds a data log; each refusal must leave it byte for byte.
        let target = root + "/target"
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        let existing = Data("an existing data log".utf8)
        try existing.write(to: URL(fileURLWithPath: DataLog.path(in: target)))
        func refused(_ bytes: Data, _ name: String, saying expected: String) throws {
            let file = root + "/" + name
            try bytes.write(to: URL(fileURLWithPath: file))
            let restore = try runToCompletion(try rigdBinary(), ["restore", file, "--data-dir", target, "--force"])
            #expect(restore.status == 65, "\(name): exit \(restore.status): \(restore.stderr)")
            #expect(restore.stderr.contains(expected) && restore.stderr.contains("nothing was changed"),
                    "\(name): \(restore.stderr)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: DataLog.path(in: target))) == existing, "\(name) changed the data log")
            let left = try FileManager.default.contentsOfDirectory(atPath: target).sorted()
            #expect(left == ["rigd.lock", "rigd.sqlite"], "\(name) left \(left)")
        }
        try refused(good.prefix(good.count - 40), "truncated.zip", saying: "not a readable ZIP archive (truncated or damaged?)")
        try refused(good.prefix(good.count / 2), "half.zip", saying: "not a readable ZIP archive")
        // One byte changed inside the data log's compressed bytes: ZIP's CRC-32 (or the manifest's SHA-256) catches it.
        var damaged = good
        let offset = try #require(good.range(of: Data("data/rigd.sqlite".utf8))).upperBound + 200
        damaged[offset] ^= 0xFF
        try refused(damaged, "damaged.zip", saying: "data/rigd.sqlite")

        // A data log with a migration this rigd does not know: a newer rigd made it.
        let newer = root + "/newer"
        try FileManager.default.copyItem(atPath: data, toPath: newer)
        let queue = try DatabaseQueue(path: DataLog.path(in: newer))
        try queue.write { db in
            try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99: from a later rigd')")
        }
        try queue.close()
        let newerArchive = root + "/newer.zip"
        let newerBackup = try runToCompletion(try rigdBinary(), ["backup", "-o", newerArchive, "--data-dir", newer])
        try #require(newerBackup.status == 0, "\(newerBackup.stderr)")
        try refused(try Data(contentsOf: URL(fileURLWithPath: newerArchive)), "newer.zip",
                    saying: "\"v99: from a later rigd\", which this rigd does not know: it was made by a newer rigd")

        // Without --force, a data directory with a data log is not overwritten even by a good archive.
        let plain = try runToCompletion(try rigdBinary(), ["restore", archive, "--data-dir", target])
        #expect(plain.status == 64 && plain.stderr.contains("pass --force"), "\(plain.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: DataLog.path(in: target))) == existing)
        // With --force it is, and the file replaced is kept beside it.
        let forced = try runToCompletion(try rigdBinary(), ["restore", archive, "--data-dir", target, "--force"])
        #expect(forced.status == 0, "\(forced.stderr)")
        let kept = try FileManager.default.contentsOfDirectory(atPath: target).filter { $0.hasPrefix("rigd.sqlite.before-restore-") }
        #expect(kept.count == 1 && (try? Data(contentsOf: URL(fileURLWithPath: target + "/" + kept[0]))) == existing, "\(kept)")
    }
}
