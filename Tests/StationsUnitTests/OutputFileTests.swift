#if canImport(Glibc)
import Glibc
#endif
import Control
import Foundation
import Stations
import Testing

/// Files named on the command line (`rigd run --report`, `rigd export --output`): a regular file is replaced
/// atomically, a device or a pipe is written in place. `--report /dev/null` as root used to rename a regular file over
/// the machine's /dev/null (found when CI's test run broke it for every later test).
struct OutputFileTests {
    @Test func aReportToAPipeIsWrittenIntoThePipeAndLeavesItAPipe() throws {
        let dir = NSTemporaryDirectory() + "rigd-output-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let pipe = dir + "/report"
        #expect(mkfifo(pipe, 0o600) == 0)
        // Held open for reading (and writing, so that opening it never blocks); the report must arrive here.
        let fd = open(pipe, O_RDWR | O_NONBLOCK)
        #expect(fd >= 0)
        defer { close(fd) }
        #expect(!OutputFile.isReplaceable(pipe))
        try RunReport.write(.object(["seed": .number(7)]), to: pipe)
        var info = stat()
        #expect(stat(pipe, &info) == 0 && info.st_mode & S_IFMT == S_IFIFO, "the pipe was replaced by a file")
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = read(fd, &buffer, buffer.count)
        let text = n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : ""
        #expect(text.contains("\"seed\" : 7"), "read \(n) bytes: \(text)")
    }

    @Test func aRegularFileOrANewPathIsReplaceable() throws {
        let path = NSTemporaryDirectory() + "rigd-output-\(UUID().uuidString).json"
        #expect(OutputFile.isReplaceable(path))
        try RunReport.write(.object(["seed": .number(7)]), to: path)
        defer { unlink(path) }
        #expect(OutputFile.isReplaceable(path))
        #expect(try String(contentsOfFile: path, encoding: .utf8).contains("\"seed\" : 7"))
        #expect(!OutputFile.isReplaceable("/dev/null"))
    }
}
