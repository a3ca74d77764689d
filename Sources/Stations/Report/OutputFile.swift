#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Where a command writes a file the user named (`--report`, `--output`).
package enum OutputFile {
    /// Whether `path` may be written atomically (a temporary file renamed over it): it does not exist yet, or is a
    /// regular file. A device or a pipe (`/dev/null`, `/dev/stdout`, a FIFO) must be written in place: renaming over
    /// it would replace it with a regular file, and as root that breaks the machine's `/dev/null`.
    package static func isReplaceable(_ path: String) -> Bool {
        var info = stat()
        guard stat(path, &info) == 0 else { return true }
        return info.st_mode & S_IFMT == S_IFREG
    }

    /// Writes `data` into the existing device or pipe at `path`, in place.
    package static func writeInPlace(_ data: Data, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw OutputFileError(path: path, errno: errno) }
        defer { close(fd) }
        try data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
            var offset = 0
            while offset < buffer.count {
                let n = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw OutputFileError(path: path, errno: errno)
                }
                offset += n
            }
        }
    }
}

/// A file named on the command line could not be written.
package struct OutputFileError: Error, CustomStringConvertible {
    package let path: String
    package let errno: Int32
    package var description: String { "\(path): \(String(cString: strerror(errno)))" }
}
