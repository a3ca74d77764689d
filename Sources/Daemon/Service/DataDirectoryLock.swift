import Foundation
import Stations
import DeviceTransports
import SimServe
import Locking

/// One rigd per data directory: two daemons writing one log would each take the other's running runs for an unclean
/// stop. Held with flock(2) on `rigd.lock` for the life of the process (the kernel drops it when the process dies, so
/// a kill -9 leaves no stale lock).
package final class DataDirectoryLock: Sendable {
    package let path: String
    private let fd: Int32

    package struct Held: Error, CustomStringConvertible {
        package let directory: String
        package let holder: String
        package var description: String {
            "another rigd (\(holder)) is using the data directory \(directory); stop it or give this one "
                + "another data_dir ([daemon] data_dir or --data-dir)"
        }

        package init(directory: String, holder: String) {
            self.directory = directory
            self.holder = holder
        }
    }

    package struct Failed: Error, CustomStringConvertible {
        package let description: String

        package init(description: String) {
            self.description = description
        }
    }

    /// Creates the data directory if missing, mode 0750: the data log and the API token live there, so other users
    /// get nothing (the group may read exports). An existing directory keeps the mode it has.
    package static func createDirectory(_ directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o750])
    }

    package init(directory: String) throws {
        do {
            try Self.createDirectory(directory)
        } catch {
            throw Failed(description: "cannot create the data directory \(directory): \(ConfigLoader.reason(error))")
        }
        path = (directory as NSString).appendingPathComponent("rigd.lock")
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw Failed(description: "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines)
            close(fd)
            throw Held(directory: directory, holder: holder.map { "pid \($0)" } ?? "pid unknown")
        }
        ftruncate(fd, 0)
        let pid = Array("\(getpid())\n".utf8)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    }

    deinit { close(fd) }
}
