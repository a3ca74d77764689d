import Foundation
import Stations
import DeviceTransports
import SimServe
import Locking

/// The bearer token that write requests must carry. It lives in a file of its own (mode 0600), created with 32
/// random bytes on first start when absent — but only for a loopback listener: a server reachable from the network
/// must not invent a secret nobody has read yet, so there the file must exist already.
package struct APIToken: Sendable {
    package let value: String
    package let file: String

    /// The shortest token accepted from a file (hex digits or other printable characters).
    package static let minimumLength = 16

    package enum LoadError: Error, CustomStringConvertible {
        case missingForNetwork(file: String, address: String)
        case unreadable(file: String, reason: String)
        case tooShort(file: String)
        case cannotCreate(file: String, reason: String)

        package var description: String {
            switch self {
            case .missingForNetwork(let file, let address):
                "http = \(address) is reachable from other machines, and the API token file \(file) does not exist; "
                    + "rigd will not serve a network address without a token. Create it (e.g. `umask 077; "
                    + "head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n' > \(file)`) or listen on 127.0.0.1"
            case .unreadable(let file, let reason): "cannot read the API token file \(file): \(reason)"
            case .tooShort(let file): "the API token in \(file) is shorter than \(APIToken.minimumLength) characters"
            case .cannotCreate(let file, let reason): "cannot create the API token file \(file): \(reason)"
            }
        }
    }

    /// Reads the token file, creating it when absent and `mayCreate`. Returns whether it was created.
    package static func load(file: String, mayCreate: Bool, address: String) throws(LoadError) -> (APIToken, created: Bool) {
        if !FileManager.default.fileExists(atPath: file) {
            guard mayCreate else { throw .missingForNetwork(file: file, address: address) }
            return (try create(file: file), true)
        }
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw .unreadable(file: file, reason: ConfigLoader.reason(error))
        }
        let value = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard value.count >= minimumLength else { throw .tooShort(file: file) }
        return (APIToken(value: value, file: file), false)
    }

    private static func create(file: String) throws(LoadError) -> APIToken {
        let directory = (file as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: directory.isEmpty ? "." : directory,
                                                    withIntermediateDirectories: true)
        } catch {
            throw .cannotCreate(file: file, reason: ConfigLoader.reason(error))
        }
        let value = TokensFile.newToken()
        // O_EXCL: never overwrite a token another process just wrote; 0600 from the first byte on.
        let fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .cannotCreate(file: file, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        let bytes = Array((value + "\n").utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(fd) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(file)
            throw .cannotCreate(file: file, reason: reason)
        }
        return APIToken(value: value, file: file)
    }

    /// Whether an `Authorization` header value carries this token. Compares in constant time (for tokens of the
    /// same length): the time taken does not reveal how many leading characters matched.
    package func accepts(authorization header: String?) -> Bool {
        guard let header else { return false }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return false }
        return Self.constantTimeEqual(Array(parts[1].utf8), Array(value.utf8))
    }

    package static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt64(a.count ^ b.count)
        for i in 0..<b.count {
            difference |= UInt64((i < a.count ? a[i] : 0) ^ b[i])
        }
        return difference == 0
    }

    package init(value: String, file: String) {
        self.value = value
        self.file = file
    }
}
