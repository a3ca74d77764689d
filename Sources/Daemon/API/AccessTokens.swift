import Crypto
import Foundation
import Locking
import Logging
import Stations

/// What a token may do. Each role may do what the ones before it may.
package enum Role: String, CaseIterable, Comparable, Sendable, Codable {
    /// Reads (where reads need a token at all: a listener reachable from the network).
    case viewer
    /// Setpoints, runs, alarm acknowledgements.
    case `operator`
    /// Everything.
    case admin

    private var rank: Int { Role.allCases.firstIndex(of: self)! }
    package static func < (a: Role, b: Role) -> Bool { a.rank < b.rank }

    package static var choices: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

/// Who made a request: a named token's name and role, or the API token file's token (`admin`).
package struct Identity: Sendable, Equatable {
    package let name: String
    package let role: Role

    /// The name audits record for the single token of the API token file (today's and earlier rigd's token).
    package static let tokenFileName = "admin"

    package init(name: String, role: Role) {
        self.name = name
        self.role = role
    }
}

/// One named token as the tokens file keeps it: its SHA-256, never the token.
package struct NamedToken: Sendable, Equatable {
    package var name: String
    package var role: Role
    /// Lowercase hex SHA-256 of the token's UTF-8 bytes.
    package var sha256: String
    /// When `rigd token add` made it (ISO 8601, UTC).
    package var createdAt: String

    package init(name: String, role: Role, sha256: String, createdAt: String) {
        self.name = name
        self.role = role
        self.sha256 = sha256
        self.createdAt = createdAt
    }
}

/// The tokens file (`[daemon] tokens_file`, default `tokens.json` in the data directory): named tokens with roles,
/// stored as SHA-256 hashes (a token is 32 random bytes, so a plain hash is as good as a slow one), written by
/// `rigd token` atomically with mode 0600, read by the running daemon whenever it changes.
///
/// ```json
/// {"rigd_tokens": 1, "tokens": [{"name": "ana", "role": "operator", "sha256": "…", "created_at": "…"}]}
/// ```
package struct TokensFile: Sendable, Equatable {
    package static let format = 1
    package static let defaultName = "tokens.json"
    /// Past this size the file is refused unread (it is a few hundred bytes per token).
    package static let maximumBytes = 1 << 20

    package var tokens: [NamedToken] = []

    package init(tokens: [NamedToken] = []) {
        self.tokens = tokens
    }

    package struct Problem: Error, CustomStringConvertible, Equatable {
        package let file: String
        package let message: String
        /// The file (or its directory, lock or temporary file) could not be written, as opposed to read or parsed.
        package var cannotWrite = false
        package var description: String { "tokens file \(file): \(message)" }

        package init(file: String, message: String, cannotWrite: Bool = false) {
            self.file = file
            self.message = message
            self.cannotWrite = cannotWrite
        }
    }

    /// A token name: 1–64 of letters, digits, `.`, `_`, `-`, starting with a letter or digit. It is what audits
    /// record, so it stays readable in a log line and a CSV cell.
    package static func nameProblem(_ name: String) -> String? {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        guard !name.isEmpty, name.count <= 64 else { return "a token name has 1 to 64 characters" }
        guard name.allSatisfy(allowed.contains), name.first!.isLetter || name.first!.isNumber else {
            return "a token name is letters, digits, '.', '_' and '-', starting with a letter or digit (got \"\(name)\")"
        }
        if name == Identity.tokenFileName {
            return "\"\(name)\" is the name of the API token file's token; choose another"
        }
        return nil
    }

    /// Parses the file's bytes; every problem names the key (`tokens[2].role`).
    package static func parse(_ data: Data, file: String) throws(Problem) -> TokensFile {
        func fail(_ message: String) -> Problem { Problem(file: file, message: message) }
        guard data.count <= maximumBytes else { throw fail("larger than \(maximumBytes) bytes; not read") }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            // Foundation's own words say only "not in the correct format"; its debug description says where.
            let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
            throw fail("not JSON" + (detail.map { " (\($0))" } ?? ""))
        }
        guard let top = object as? [String: Any] else { throw fail("must be a JSON object") }
        if let unknown = Set(top.keys).subtracting(["rigd_tokens", "tokens"]).sorted().first {
            throw fail("unknown key \"\(unknown)\" (rigd_tokens, tokens)")
        }
        guard let format = top["rigd_tokens"] as? Int else {
            throw fail("rigd_tokens: must be the format number \(self.format)")
        }
        guard format <= self.format else {
            throw fail("rigd_tokens = \(format) is a newer format than this rigd reads (\(self.format))")
        }
        guard format == self.format else { throw fail("rigd_tokens: must be \(self.format) (got \(format))") }
        guard let entries = top["tokens"] as? [Any] else { throw fail("tokens: must be an array") }
        var result = TokensFile()
        var names = Set<String>()
        var hashes = Set<String>()
        for (i, entry) in entries.enumerated() {
            let at = "tokens[\(i)]"
            guard let fields = entry as? [String: Any] else { throw fail("\(at): must be an object") }
            let keys = ["name", "role", "sha256", "created_at"]
            if let unknown = Set(fields.keys).subtracting(keys).sorted().first {
                throw fail("\(at): unknown key \"\(unknown)\" (\(keys.joined(separator: ", ")))")
            }
            func string(_ key: String) throws(Problem) -> String {
                guard let value = fields[key] as? String else { throw fail("\(at).\(key): must be a string") }
                return value
            }
            let name = try string("name")
            if let problem = nameProblem(name) { throw fail("\(at).name: \(problem)") }
            guard names.insert(name).inserted else { throw fail("\(at).name: \"\(name)\" appears twice") }
            let roleText = try string("role")
            guard let role = Role(rawValue: roleText) else {
                throw fail("\(at).role: must be one of \(Role.choices) (got \"\(roleText)\")")
            }
            let hash = try string("sha256")
            guard hash.count == 64, hash.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
                throw fail("\(at).sha256: must be 64 lowercase hex digits")
            }
            guard hashes.insert(hash).inserted else { throw fail("\(at).sha256: the same token as another entry") }
            let created = try string("created_at")
            result.tokens.append(NamedToken(name: name, role: role, sha256: hash, createdAt: created))
        }
        return result
    }

    /// Reads the file; a missing file is an empty one.
    package static func load(file: String) throws(Problem) -> TokensFile {
        guard FileManager.default.fileExists(atPath: file) else { return TokensFile() }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: file))
        } catch {
            throw Problem(file: file, message: ConfigLoader.reason(error))
        }
        return try parse(data, file: file)
    }

    package func encoded() -> Data {
        let entries = tokens.map { t in
            ["name": t.name, "role": t.role.rawValue, "sha256": t.sha256, "created_at": t.createdAt]
        }
        let object: [String: Any] = ["rigd_tokens": Self.format, "tokens": entries]
        // Sorted keys and one entry per line: a diff of two versions reads as what changed.
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])) ?? Data()
        return data + Data("\n".utf8)
    }

    /// Writes the file atomically (a temporary file with mode 0600 from its first byte, fsync, rename): a reader
    /// sees the old file or the new one, never half of one.
    package func save(file: String) throws(Problem) {
        let directory = (file as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: directory.isEmpty ? "." : directory,
                                                    withIntermediateDirectories: true)
        } catch {
            throw Problem(file: file, message: "cannot create its directory: \(ConfigLoader.reason(error))", cannotWrite: true)
        }
        let temporary = file + ".\(getpid()).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Problem(file: file, message: "cannot write \(temporary): \(errnoText())", cannotWrite: true) }
        let bytes = [UInt8](encoded())
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = written == bytes.count && fsync(fd) == 0
        let reason = errnoText()
        close(fd)
        guard synced, rename(temporary, file) == 0 else {
            let failure = synced ? errnoText() : reason
            unlink(temporary)
            throw Problem(file: file, message: "cannot write it: \(failure)", cannotWrite: true)
        }
        // The directory entry too, so that a crash right after `rigd token add` does not lose the new token.
        let dfd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            fsync(dfd)
            close(dfd)
        }
    }

    /// Updates the file under an exclusive lock (`flock` on FILE.lock), so that two `rigd token` commands at once
    /// do not lose each other's change. Writes only if `change` changed something.
    package static func update<T>(file: String, _ change: (inout TokensFile) throws(Problem) -> T) throws(Problem) -> T {
        let directory = (file as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: directory.isEmpty ? "." : directory,
                                                 withIntermediateDirectories: true)
        let lockFD = open(file + ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lockFD >= 0 else { throw Problem(file: file, message: "cannot open \(file).lock: \(errnoText())", cannotWrite: true) }
        defer { close(lockFD) }
        guard flock(lockFD, LOCK_EX) == 0 else {
            throw Problem(file: file, message: "cannot lock \(file).lock: \(errnoText())", cannotWrite: true)
        }
        let before = try load(file: file)
        var tokens = before
        let result = try change(&tokens)
        if tokens != before { try tokens.save(file: file) }
        return result
    }

    /// A new token: 32 random bytes from the system (getrandom(2)) as 64 hex digits (the API token file's too).
    package static func newToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: .min ... .max, using: &generator)) }.joined()
    }

    package static func hash(_ token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}

private func errnoText() -> String { String(cString: strerror(errno)) }

/// Who may do what through the API: the API token file's token (an admin, named `admin`) and the tokens file's
/// named tokens. The tokens file is read again whenever it changes (its size, inode or modification time), so a token
/// added or revoked with `rigd token` counts at once in a running rigd. A tokens file that turns invalid is logged
/// and the tokens last read stay in force.
package final class AccessControl: Sendable {
    package let tokenFile: APIToken?
    package let tokensFile: String?
    private let logger: Logger
    private struct Loaded {
        var signature: [Int] = []
        var tokens: [NamedToken] = []
        var problem: String?
    }
    private let loaded = Locked(Loaded())

    /// Reads the tokens file once (a problem here is thrown: rigd does not start on a tokens file it cannot read).
    package init(tokenFile: APIToken?, tokensFile: String?, logger: Logger) throws(TokensFile.Problem) {
        self.tokenFile = tokenFile
        self.tokensFile = tokensFile
        self.logger = logger
        if let tokensFile {
            let signature = Self.signature(tokensFile)
            let tokens = try TokensFile.load(file: tokensFile).tokens
            loaded.withLock { $0 = Loaded(signature: signature, tokens: tokens) }
        }
    }

    /// The named tokens in force.
    package var named: [NamedToken] {
        refresh()
        return loaded.withLock { $0.tokens }
    }

    /// The identity an `Authorization: Bearer TOKEN` header proves, or nil.
    package func identity(authorization header: String?) -> Identity? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        if let tokenFile, tokenFile.accepts(authorization: header) {
            return Identity(name: Identity.tokenFileName, role: .admin)
        }
        guard tokensFile != nil else { return nil }
        refresh()
        // Hashes compared in constant time: the time taken does not tell how much of a stored hash matched.
        let presented = Array(TokensFile.hash(String(parts[1])).utf8)
        let tokens = loaded.withLock { $0.tokens }
        var found: NamedToken?
        for token in tokens where APIToken.constantTimeEqual(presented, Array(token.sha256.utf8)) {
            found = token
        }
        return found.map { Identity(name: $0.name, role: $0.role) }
    }

    /// Reads the tokens file again if it changed since it was last read.
    private func refresh() {
        guard let tokensFile else { return }
        let signature = Self.signature(tokensFile)
        guard loaded.withLock({ $0.signature != signature }) else { return }
        do {
            let tokens = try TokensFile.load(file: tokensFile).tokens
            let before = loaded.withLock { state in
                defer { state = Loaded(signature: signature, tokens: tokens) }
                return state.tokens
            }
            let added = Set(tokens.map(\.name)).subtracting(before.map(\.name)).sorted()
            let removed = Set(before.map(\.name)).subtracting(tokens.map(\.name)).sorted()
            logger.notice("""
                tokens file \(tokensFile) read again: \(tokens.count) token(s)\
                \(added.isEmpty ? "" : "; added \(added.joined(separator: ", "))")\
                \(removed.isEmpty ? "" : "; revoked \(removed.joined(separator: ", "))")
                """)
        } catch {
            let message = error.description
            let first = loaded.withLock { state in
                defer { state.signature = signature; state.problem = message }
                return state.problem != message
            }
            if first { logger.error("\(message); the tokens read before stay in force until it is fixed") }
        }
    }

    /// What changes when the file is replaced or written: inode, size, modification time (ns). Empty: no file.
    private static func signature(_ file: String) -> [Int] {
        var info = stat()
        guard stat(file, &info) == 0 else { return [] }
        return [Int(info.st_ino), Int(info.st_size), Int(info.st_mtim.tv_sec), Int(info.st_mtim.tv_nsec)]
    }
}
