// libFuzzer target: the tokens file (`TokensFile.parse`: JSON through Foundation, then the strict reader of names,
// roles and hashes). Any bytes must give a `TokensFile` or a `Problem` naming the file — never a crash — and a file
// that parses must come back the same from what `rigd token` would write of it.
import Daemon
import Foundation

let source = "/nonexistent/fuzz/tokens.json"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(UnsafeBufferPointer(start: data, count: size))
    do {
        let file = try TokensFile.parse(bytes, file: source)
        let again = try? TokensFile.parse(file.encoded(), file: source)
        fuzzCheck(again == file, "a tokens file that does not survive its own encoding: \(file)")
        for token in file.tokens {
            fuzzCheck(TokensFile.nameProblem(token.name) == nil, "an accepted bad name \(token.name)")
            fuzzCheck(token.sha256.count == 64, "an accepted hash of \(token.sha256.count) characters")
        }
    } catch {
        fuzzCheck(error.file == source && !error.message.isEmpty, "a problem without the file or a message: \(error)")
    }
    return 0
}
