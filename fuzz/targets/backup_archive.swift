// libFuzzer target: what `rigd restore` checks before it replaces anything (`BackupArchive.verify`: the ZIP through
// ZIPFoundation, the manifest, each entry's size and SHA-256, the data log's integrity and schema). Any bytes must be
// refused with a `Problem` or verified — never a crash — and nothing may be written outside the staging folder.
import Daemon
import Foundation

let scratch = NSTemporaryDirectory() + "rigd-fuzz-backup-\(getpid())"
let archive = scratch + "/archive.zip"
let staging = scratch + "/staging"
let created: Void = {
    try? FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = created
    let bytes = Data(UnsafeBufferPointer(start: data, count: size))
    guard (try? bytes.write(to: URL(fileURLWithPath: archive))) != nil else { return 0 }
    do {
        let manifest = try BackupArchive.verify(archive: archive, staging: staging)
        fuzzCheck(manifest.entries.contains { $0.path == BackupArchive.dataLogEntry }, "verified without a data log")
    } catch {
        fuzzCheck(error.message.contains(archive) || error.message.contains(staging), "a problem naming neither: \(error)")
    }
    try? FileManager.default.removeItem(atPath: staging)
    let left = (try? FileManager.default.contentsOfDirectory(atPath: scratch)) ?? []
    fuzzCheck(left == ["archive.zip"], "something written outside the staging folder: \(left)")
    return 0
}
