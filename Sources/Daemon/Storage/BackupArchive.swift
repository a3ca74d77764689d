import Crypto
import Foundation
import GRDB
import Stations
import ZIPFoundation

/// A backup of one rigd installation: one ZIP archive (ZIPFoundation) holding a consistent copy of the data log
/// (SQLite's online backup, through GRDB, while rigd runs), the configuration, the device maps it names, recipe files,
/// the tokens file, and `manifest.json`, which lists every other entry with its size and SHA-256.
///
/// Entries are stored uncompressed, and a restore refuses compressed ones: ZIPFoundation 0.9.20's inflate loop reads
/// past the entry until the deflate stream ends, so a damaged stream makes it loop forever at the end of the file
/// (the `backup_archive` fuzz target found it). A stored entry is read for exactly its size.
///
/// The API token file is left out on purpose: it is a secret that a copied archive would carry, and rigd creates a new
/// one on its first start (on loopback). The tokens file holds only hashes.
package enum BackupArchive {
    package static let format = 1
    package static let manifestName = "manifest.json"
    package static let dataLogEntry = "data/" + DataLog.fileName
    /// Past this size a manifest is refused unread.
    static let maximumManifestBytes = 1 << 20

    package struct Problem: Error, CustomStringConvertible {
        package let message: String
        package var description: String { message }
        package init(_ message: String) { self.message = message }
    }

    /// One file of the archive, as the manifest lists it.
    package struct Entry: Codable, Equatable, Sendable {
        /// Where it is in the archive: `data/rigd.sqlite`, `config/NAME`, `maps/NAME`, `recipes/NAME`, `tokens.json`.
        package var path: String
        /// Where it was taken from (an absolute path), for the restore's report.
        package var original: String
        package var bytes: Int
        package var sha256: String
    }

    package struct Manifest: Codable, Equatable, Sendable {
        package var rigdBackup: Int
        package var createdAt: String
        package var rigdVersion: String
        /// The data log's applied migrations (GRDB identifiers), oldest first.
        package var dataLogMigrations: [String]
        package var entries: [Entry]

        enum CodingKeys: String, CodingKey {
            case rigdBackup = "rigd_backup", createdAt = "created_at", rigdVersion = "rigd_version"
            case dataLogMigrations = "data_log_migrations", entries
        }
    }

    /// What goes in besides the data log.
    package struct Sources: Sendable {
        package var dataDirectory: String
        package var configuration: String?
        package var maps: [String] = []
        package var recipes: [String] = []
        package var tokensFile: String?

        package init(dataDirectory: String, configuration: String? = nil, maps: [String] = [], recipes: [String] = [],
                     tokensFile: String? = nil) {
            self.dataDirectory = dataDirectory
            self.configuration = configuration
            self.maps = maps
            self.recipes = recipes
            self.tokensFile = tokensFile
        }
    }

    // MARK: Backup

    /// Writes the archive to `output` (through `output.partial`, renamed when complete: a failed backup leaves no
    /// archive that looks whole). `progress` gets the data log's copy as a fraction, and each file added.
    @discardableResult
    package static func create(_ sources: Sources, output: String, rigdVersion: String,
                               progress: @escaping (String) -> Void) throws(Problem) -> Manifest {
        let logPath = DataLog.path(in: sources.dataDirectory)
        guard FileManager.default.fileExists(atPath: logPath) else {
            throw Problem("no data log at \(logPath): nothing to back up (is the data directory right?)")
        }
        let staging = output + ".staging-\(getpid())"
        let partial = output + ".partial"
        defer {
            try? FileManager.default.removeItem(atPath: staging)
            try? FileManager.default.removeItem(atPath: partial)
        }
        do {
            try FileManager.default.createDirectory(atPath: staging + "/data", withIntermediateDirectories: true)
        } catch {
            throw Problem("cannot create \(staging): \(ConfigLoader.reason(error))")
        }
        // The data log: SQLite's backup of a read transaction, so a consistent snapshot of everything committed
        // before it began, while rigd goes on writing (WAL: the writer is not blocked).
        let copy = staging + "/" + dataLogEntry
        let migrations: [String]
        do {
            let source = try DataLog.openForReading(path: logPath)
            let destination = try DatabaseQueue(path: copy)
            var lastShown = -1
            try source.backup(to: destination, pagesPerStep: 4096) { step in
                let percent = step.totalPageCount > 0 ? step.completedPageCount * 100 / step.totalPageCount : 100
                if percent / 10 != lastShown / 10 || step.isCompleted {
                    lastShown = percent
                    progress("data log: \(percent) % of \(step.totalPageCount) pages")
                }
            }
            migrations = try destination.read { db in try DataLog.migrator.appliedIdentifiers(db) }
                .sorted()
            try destination.close()
        } catch let problem as Problem {
            throw problem
        } catch {
            throw Problem("cannot copy the data log \(logPath): \(error)")
        }
        var files: [(entry: String, source: String)] = [(dataLogEntry, copy)]
        var taken = Set([dataLogEntry])
        func add(_ folder: String?, _ path: String) throws(Problem) {
            let name = (path as NSString).lastPathComponent
            var entry = folder.map { "\($0)/\(name)" } ?? name
            var n = 2
            while taken.contains(entry) {  // two maps of one name in different folders
                entry = (folder.map { "\($0)/" } ?? "") + "\(n)-\(name)"
                n += 1
            }
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw Problem("cannot read \(path): \(String(cString: strerror(FileManager.default.fileExists(atPath: path) ? EACCES : ENOENT)))")
            }
            taken.insert(entry)
            files.append((entry, path))
        }
        if let configuration = sources.configuration { try add("config", configuration) }
        for map in sources.maps { try add("maps", map) }
        for recipe in sources.recipes { try add("recipes", recipe) }
        if let tokens = sources.tokensFile, FileManager.default.fileExists(atPath: tokens) { try add(nil, tokens) }

        var entries: [Entry] = []
        for (entry, path) in files {
            let (bytes, hash) = try digest(path)
            let original = URL(fileURLWithPath: path == copy ? logPath : path).standardizedFileURL.path
            entries.append(Entry(path: entry, original: original, bytes: bytes, sha256: hash))
        }
        let manifest = Manifest(rigdBackup: format, createdAt: ISO8601DateFormatter().string(from: Date()),
                                rigdVersion: rigdVersion, dataLogMigrations: migrations, entries: entries)
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(manifest).write(to: URL(fileURLWithPath: staging + "/" + manifestName))
            try? FileManager.default.removeItem(atPath: partial)
            let archive = try Archive(url: URL(fileURLWithPath: partial), accessMode: .create)
            try archive.addEntry(with: manifestName, fileURL: URL(fileURLWithPath: staging + "/" + manifestName),
                                 compressionMethod: .none)
            for (entry, path) in files {
                try archive.addEntry(with: entry, fileURL: URL(fileURLWithPath: path), compressionMethod: .none)
                progress("added \(entry)")
            }
        } catch {
            throw Problem("cannot write \(partial): \(ConfigLoader.reason(error))")
        }
        let fd = open(partial, O_RDONLY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
        guard rename(partial, output) == 0 else {
            throw Problem("cannot rename \(partial) to \(output): \(String(cString: strerror(errno)))")
        }
        return manifest
    }

    /// Size and SHA-256 of a file, read in 1 MiB pieces.
    static func digest(_ path: String) throws(Problem) -> (Int, String) {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw Problem("cannot read \(path): \(String(cString: strerror(errno)))")
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        var bytes = 0
        while true {
            let chunk: Data
            do {
                chunk = try handle.read(upToCount: 1 << 20) ?? Data()
            } catch {
                throw Problem("cannot read \(path): \(ConfigLoader.reason(error))")
            }
            if chunk.isEmpty { break }
            bytes += chunk.count
            hasher.update(data: chunk)
        }
        return (bytes, hasher.finalize().map { String(format: "%02x", $0) }.joined())
    }

    // MARK: Restore

    /// Checks an archive and extracts it into `staging` (which must not exist): the ZIP's structure and CRC-32s, the
    /// manifest's format, every entry's size and SHA-256, nothing in the archive the manifest does not list, and
    /// the data log's integrity (`PRAGMA integrity_check`) and schema (no migration this rigd does not know).
    /// Nothing outside `staging` is written. Any problem throws, naming the archive and what is wrong.
    package static func verify(archive path: String, staging: String) throws(Problem) -> Manifest {
        func fail(_ message: String) -> Problem { Problem("backup \(path): \(message)") }
        let archive: Archive
        do {
            archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read)
        } catch {
            let exists = FileManager.default.fileExists(atPath: path)
            throw fail(exists ? "not a readable ZIP archive (truncated or damaged?): \(error)"
                              : String(cString: strerror(ENOENT)))
        }
        guard let manifestEntry = archive[manifestName] else {
            throw fail("no \(manifestName): not a rigd backup (or truncated)")
        }
        let fileSize = UInt64((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0)
        /// A stored entry no longer than the file: what ZIPFoundation reads in bounded time.
        func readable(_ entry: ZIPFoundation.Entry) throws(Problem) {
            guard !entry.isCompressed else {
                throw fail("\(entry.path) is compressed; rigd backups store their entries uncompressed (not made by "
                           + "rigd backup, or altered)")
            }
            guard entry.compressedSize <= fileSize, entry.uncompressedSize == entry.compressedSize else {
                throw fail("\(entry.path) claims \(entry.uncompressedSize) bytes, more than the archive holds (truncated?)")
            }
        }
        try readable(manifestEntry)
        guard manifestEntry.uncompressedSize <= UInt64(maximumManifestBytes) else {
            throw fail("\(manifestName) is larger than \(maximumManifestBytes) bytes")
        }
        var manifestData = Data()
        do {
            _ = try archive.extract(manifestEntry) { manifestData.append($0) }
        } catch {
            throw fail("\(manifestName) cannot be read (truncated or damaged?): \(error)")
        }
        let manifest: Manifest
        do {
            let object = try JSONSerialization.jsonObject(with: manifestData) as? [String: Any]
            if let format = object?["rigd_backup"] as? Int, format > self.format {
                throw fail("made by a newer rigd (backup format \(format); this rigd reads \(self.format)); "
                           + "nothing was restored")
            }
            manifest = try JSONDecoder().decode(Manifest.self, from: manifestData)
        } catch let problem as Problem {
            throw problem
        } catch {
            throw fail("\(manifestName) is not a rigd backup manifest: \(error)")
        }
        guard manifest.rigdBackup == format else { throw fail("backup format \(manifest.rigdBackup) is not \(format)") }
        let known = Set(DataLog.migrator.migrations)
        if let unknown = manifest.dataLogMigrations.first(where: { !known.contains($0) }) {
            throw fail("its data log has the migration \"\(unknown)\", which this rigd does not know: it was made by a "
                       + "newer rigd; restore it with that version or newer")
        }
        guard manifest.entries.contains(where: { $0.path == dataLogEntry }) else {
            throw fail("the manifest lists no \(dataLogEntry)")
        }
        let listed = Set(manifest.entries.map(\.path))
        guard listed.count == manifest.entries.count else { throw fail("the manifest lists an entry twice") }
        for entry in archive where entry.path != manifestName && !listed.contains(entry.path) {
            throw fail("\(entry.path) is in the archive but not in the manifest")
        }
        do {
            try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: false)
        } catch {
            throw Problem("cannot create \(staging): \(ConfigLoader.reason(error))")
        }
        for entry in manifest.entries {
            // Only plain relative names in known folders: an entry cannot write outside the staging directory.
            let parts = entry.path.split(separator: "/", omittingEmptySubsequences: false)
            guard (parts.count == 1 || (parts.count == 2 && ["data", "config", "maps", "recipes"].contains(parts[0]))),
                  let name = parts.last, !name.isEmpty, name != ".", name != "..", !name.hasPrefix(".") else {
                throw fail("the manifest entry \"\(entry.path)\" is not a name rigd writes")
            }
            guard let zipEntry = archive[entry.path], zipEntry.type == .file else {
                throw fail("\(entry.path) is listed in the manifest but missing from the archive (truncated?)")
            }
            try readable(zipEntry)
            guard zipEntry.uncompressedSize == UInt64(max(0, entry.bytes)) else {
                throw fail("\(entry.path) has \(zipEntry.uncompressedSize) bytes; the manifest says \(entry.bytes)")
            }
            let target = staging + "/" + entry.path
            do {
                try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent,
                                                        withIntermediateDirectories: true)
                _ = try archive.extract(zipEntry, to: URL(fileURLWithPath: target))
            } catch {
                throw fail("\(entry.path) cannot be extracted (truncated or damaged?): \(error)")
            }
            let (bytes, hash) = try digest(target)
            guard bytes == entry.bytes, hash == entry.sha256 else {
                throw fail("\(entry.path) does not match the manifest (\(bytes) bytes, SHA-256 \(hash.prefix(12))…; "
                           + "expected \(entry.bytes) bytes, \(entry.sha256.prefix(12))…)")
            }
        }
        do {
            let log = try DatabaseQueue(path: staging + "/" + dataLogEntry,
                                        configuration: { var c = GRDB.Configuration(); c.readonly = true; return c }())
            try log.read { db in
                let result = try String.fetchAll(db, sql: "PRAGMA integrity_check")
                guard result == ["ok"] else {
                    throw fail("its data log fails SQLite's integrity check: \(result.prefix(3).joined(separator: "; "))")
                }
                if try DataLog.migrator.hasBeenSuperseded(db) {
                    throw fail("its data log has migrations this rigd does not know: it was made by a newer rigd")
                }
            }
            try log.close()
        } catch let problem as Problem {
            throw problem
        } catch {
            throw fail("its data log cannot be opened: \(error)")
        }
        return manifest
    }
}
