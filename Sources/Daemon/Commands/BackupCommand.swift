import ArgumentParser
import Foundation
import GRDB
import Stations

/// Where `rigd backup` and `rigd restore` find the installation: --config (its [daemon] and the maps its stations
/// name), --data-dir.
struct InstallationOptions: ParsableArguments {
    @Option(name: .long, help: "The configuration file: backed up, with the device maps its stations name; its [daemon] data_dir and tokens_file are used.")
    var config: String?

    @Option(name: .long, help: "The data directory (overrides [daemon] data_dir).")
    var dataDir: String?

    func load() throws -> (daemon: DaemonConfig, configuration: Stations.Configuration?) {
        var configuration: Stations.Configuration?
        if let config {
            do throws(ConfigError) {
                configuration = try ConfigLoader.load(path: config)
            } catch {
                throw failConfiguration(error)
            }
        }
        var daemon = configuration?.daemon ?? DaemonConfig()
        if let dataDir { daemon.dataDirectory = dataDir }
        return (daemon, configuration)
    }
}

/// `rigd backup -o FILE`: one archive of the installation, taken while rigd runs.
struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Write one archive with the data log, configuration, maps, recipes and tokens file (rigd may run).",
        discussion: """
        The archive is a ZIP file. It holds a consistent copy of the data log: SQLite's online backup of one read \
        transaction, so every row committed before the backup began is in it while rigd goes on writing. It also \
        holds the configuration file (--config) with the device maps its stations name, any --recipe files, the \
        tokens file, and manifest.json listing every entry with its size and SHA-256 and the data log's schema \
        version. The API token file is left out: it is a secret, and rigd makes a new one on its first start \
        (on loopback). The archive is written to FILE.partial and renamed when complete.

        Exit status: 0 done; 64 usage error (FILE exists without --force); 73 the backup could not be made (no data \
        log, a file unreadable, no space); 78 configuration error.
        """
    )

    @Option(name: .shortAndLong, help: "The archive to write (e.g. rigd-2026-12-07.zip).")
    var output: String

    @OptionGroup var installation: InstallationOptions

    @Option(name: .long, help: "A recipe file to include (repeat for several).")
    var recipe: [String] = []

    @Flag(name: .long, help: "Replace FILE if it exists.")
    var force = false

    func run() throws {
        let (daemon, configuration) = try installation.load()
        if FileManager.default.fileExists(atPath: output) && !force {
            warn("\(output) exists; choose another name or pass --force to replace it")
            throw ExitCode(ExitStatus.usage)
        }
        var maps: [String] = []
        for station in configuration?.stations ?? [] {
            if let source = station.map?.source, FileManager.default.fileExists(atPath: source), !maps.contains(source) {
                maps.append(source)
            }
        }
        let sources = BackupArchive.Sources(dataDirectory: daemon.resolvedDataDirectory,
                                            configuration: installation.config, maps: maps, recipes: recipe,
                                            tokensFile: daemon.resolvedTokensFile)
        let manifest: BackupArchive.Manifest
        do throws(BackupArchive.Problem) {
            manifest = try BackupArchive.create(sources, output: output,
                                                rigdVersion: BuildInfo.version) { line in
                warn("backup: \(line)")
            }
        } catch {
            warn(error.description + "; no archive was written")
            throw ExitCode(ExitStatus.cannotCreate)
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
        say("backup \(output): \(size) bytes, \(manifest.entries.count) files ("
            + manifest.entries.map { "\($0.path) \($0.bytes) B" }.joined(separator: ", ")
            + "); data log schema \(manifest.dataLogMigrations.last ?? "none")")
    }
}

/// `rigd restore FILE`: the archive back into a data directory, checked whole before anything is replaced.
struct RestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore a backup into a data directory (rigd stopped); everything is checked before anything is replaced.",
        discussion: """
        First the whole archive is checked, in a staging folder inside the data directory: the ZIP structure and \
        CRC-32s, the manifest (a backup from a newer rigd, or with a data log schema this rigd does not know, is \
        refused), every file's size and SHA-256, and SQLite's integrity check of the data log. A truncated or \
        damaged archive is refused there, and nothing else is touched.

        Then the data log and the tokens file go into the data directory, and the configuration, maps and recipes \
        into --config-dir (default: restored-config in the data directory): rigd reads its configuration from \
        wherever you start it with, so move them where your service expects them. A data directory that has a \
        data log already is refused unless --force; with --force, each file replaced is kept beside it as \
        NAME.before-restore-TIME.

        The data directory's lock is held throughout: a running rigd (or one that starts meanwhile) makes restore \
        refuse, and restore makes it wait.

        Exit status: 0 done; 64 usage error (the data directory has a data log, without --force); 65 the archive is \
        damaged, truncated, not a rigd backup or from a newer rigd (nothing changed); 69 rigd is running on that \
        data directory; 73 a file could not be written; 78 configuration error.
        """
    )

    @Argument(help: "The archive rigd backup wrote.")
    var archive: String

    @OptionGroup var installation: InstallationOptions

    @Option(name: .long, help: "Where the configuration, maps and recipes go (default: <data dir>/restored-config).")
    var configDir: String?

    @Flag(name: .long, help: "Replace a data log (and other files) already there, keeping each as NAME.before-restore-TIME.")
    var force = false

    func run() throws {
        let (daemon, _) = try installation.load()
        let dataDirectory = daemon.resolvedDataDirectory
        let lock: DataDirectoryLock
        do {
            lock = try DataDirectoryLock(directory: dataDirectory)
        } catch let held as DataDirectoryLock.Held {
            warn("another rigd (\(held.holder)) is using the data directory \(held.directory); stop it before "
                 + "restoring (systemctl stop rigd)")
            throw ExitCode(ExitStatus.unavailable)
        } catch {
            warn("\(error)")
            throw ExitCode(ExitStatus.cannotCreate)
        }
        defer { withExtendedLifetime(lock) {} }

        let staging = (dataDirectory as NSString).appendingPathComponent(".restore-\(getpid())")
        try? FileManager.default.removeItem(atPath: staging)
        defer { try? FileManager.default.removeItem(atPath: staging) }
        let manifest: BackupArchive.Manifest
        do throws(BackupArchive.Problem) {
            manifest = try BackupArchive.verify(archive: archive, staging: staging)
        } catch {
            warn(error.description + "; nothing was changed")
            throw ExitCode(ExitStatus.dataError)
        }
        warn("restore: \(archive) checked: \(manifest.entries.count) files, made \(manifest.createdAt) by rigd "
             + manifest.rigdVersion)

        let configDirectory = configDir ?? (dataDirectory as NSString).appendingPathComponent("restored-config")
        // Where each entry goes.
        let placements: [(entry: BackupArchive.Entry, target: String)] = manifest.entries.map { entry in
            let parts = entry.path.split(separator: "/")
            if entry.path == BackupArchive.dataLogEntry {
                return (entry, DataLog.path(in: dataDirectory))
            } else if parts.count == 1 {
                return (entry, (dataDirectory as NSString).appendingPathComponent(entry.path))
            } else if parts[0] == "config" {
                return (entry, (configDirectory as NSString).appendingPathComponent(String(parts[1])))
            } else {
                return (entry, ((configDirectory as NSString).appendingPathComponent(String(parts[0])) as NSString)
                    .appendingPathComponent(String(parts[1])))
            }
        }
        let present = placements.map(\.target).filter { FileManager.default.fileExists(atPath: $0) }
        if !present.isEmpty && !force {
            warn("\(present.joined(separator: ", ")) exist(s) already; restore into an empty data directory (--data-dir) "
                 + "or pass --force to replace them (each is kept as NAME.before-restore-TIME); nothing was changed")
            throw ExitCode(ExitStatus.usage)
        }
        let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
        do {
            for (entry, target) in placements {
                try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent,
                                                        withIntermediateDirectories: true)
                // The data log's WAL and shared memory belong to the file they sit beside: they go with it.
                let companions = entry.path == BackupArchive.dataLogEntry ? ["", "-wal", "-shm"] : [""]
                for suffix in companions where FileManager.default.fileExists(atPath: target + suffix) {
                    try FileManager.default.moveItem(atPath: target + suffix,
                                                     toPath: target + suffix + ".before-restore-" + stamp)
                }
                try FileManager.default.moveItem(atPath: staging + "/" + entry.path, toPath: target)
                if entry.path == "tokens.json" { chmod(target, 0o600) }
                warn("restore: \(entry.path) → \(target) (was \(entry.original))")
            }
        } catch {
            warn("cannot put the restored files in place: \(ConfigLoader.reason(error)); the archive is intact, "
                 + "and files already replaced are kept as NAME.before-restore-\(stamp)")
            throw ExitCode(ExitStatus.cannotCreate)
        }
        let counts = (try? DataLog.openForReading(path: DataLog.path(in: dataDirectory)).read { db in
            try ["sample", "event", "alarm", "run"].map { table in
                "\(try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table)") ?? 0) \(table)s"
            }
        }) ?? []
        say("restored \(archive) into \(dataDirectory): data log with \(counts.joined(separator: ", "))"
            + (placements.contains { $0.target.hasPrefix(configDirectory) }
               ? "; configuration files in \(configDirectory)" : ""))
    }
}
