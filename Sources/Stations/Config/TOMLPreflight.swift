/// Finds what toml++ 3 (inside TOMLKit) asserts on instead of reporting — the process aborts, in debug and release
/// builds alike — so it is caught before the text reaches it (both found by fuzzing, fuzz/README.md):
/// - a table header whose key does not start with a key character (`[.station]`, `[=]`, `[ #]`, `[é]`, `[` at the
///   end of a line);
/// - an array element that starts with `}` (`a = [}]`, `a = [1, }]`);
/// - a value of ten characters shaped like a date, a space, then one digit and no second one (`2024-01-01 1`,
///   `at = 2024-01-01 7]`): toml++ reads on for a time and asserts on what ends the value. Never valid TOML (a time
///   after a date has two-digit hours).
///
/// The scan follows just enough TOML to know where those can be: a header is a `[` first on a line that is not
/// inside an array, an inline table or a multi-line string. Returns the first one's 1-based line, or nil.
package enum TOMLPreflight {
    package static let badHeader = "a table header must start with a key"
    package static let badArrayElement = "an array element cannot start with '}'"
    package static let badDateTime = "a date and a time are written YYYY-MM-DD HH:MM:SS (or with T between them)"

    package static func firstProblem(in text: String) -> (line: Int, message: String)? {
        let s = Array(text.utf8)
        var i = s.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0  // toml++ skips a byte order mark
        var line = 1
        var open: [UInt8] = []  // the [ and { open inside a value
        var statementStart = true
        func at(_ k: Int) -> UInt8? { k < s.count ? s[k] : nil }
        func skipToEndOfLine() { while let c = at(i), c != UInt8(ascii: "\n") { i += 1 } }
        while i < s.count {
            let c = s[i]
            if statementStart && open.isEmpty {
                if c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\r") {
                    i += 1
                    continue
                }
                if c == UInt8(ascii: "[") {
                    var k = i + 1
                    if at(k) == UInt8(ascii: "[") { k += 1 }
                    while at(k) == UInt8(ascii: " ") || at(k) == UInt8(ascii: "\t") { k += 1 }
                    guard let first = at(k), isKeyStart(first) || first == UInt8(ascii: "]") else {
                        return (line, badHeader)
                    }
                    skipToEndOfLine()  // a header is one line; what follows it is a comment at most
                    continue
                }
                statementStart = false
            }
            switch c {
            case UInt8(ascii: "\n"):
                line += 1
                if open.isEmpty { statementStart = true }
                i += 1
            case UInt8(ascii: "#"):
                skipToEndOfLine()
            case UInt8(ascii: "["), UInt8(ascii: ","):
                if c == UInt8(ascii: "[") {
                    open.append(c)
                } else if open.last != UInt8(ascii: "[") {
                    i += 1
                    continue
                }
                // An array element (after `[` or `,`, past blanks, line breaks and comments) must not start with `}`.
                var k = i + 1
                var lines = 0
                while let d = at(k) {
                    if d == UInt8(ascii: "#") {
                        while let e = at(k), e != UInt8(ascii: "\n") { k += 1 }
                    } else if d == UInt8(ascii: " ") || d == UInt8(ascii: "\t") || d == UInt8(ascii: "\r") {
                        k += 1
                    } else if d == UInt8(ascii: "\n") {
                        lines += 1
                        k += 1
                    } else {
                        break
                    }
                }
                if at(k) == UInt8(ascii: "}") { return (line + lines, badArrayElement) }
                i += 1
            case UInt8(ascii: "{"):
                open.append(c)
                i += 1
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                if !open.isEmpty { open.removeLast() }
                i += 1
            case UInt8(ascii: "\""), UInt8(ascii: "'"):
                let multiLine = at(i + 1) == c && at(i + 2) == c
                i += multiLine ? 3 : 1
                while let d = at(i) {
                    if d == UInt8(ascii: "\\") && c == UInt8(ascii: "\"") {
                        if at(i + 1) == UInt8(ascii: "\n") { line += 1 }
                        i += 2
                        continue
                    }
                    if d == UInt8(ascii: "\n") {
                        if !multiLine { break }  // an unterminated string; toml++ reports it
                        line += 1
                    }
                    if d == c && (!multiLine || (at(i + 1) == c && at(i + 2) == c)) {
                        i += multiLine ? 3 : 1
                        break
                    }
                    i += 1
                }
            default:
                if isDigit(c), i == 0 || isValueBoundary(s[i - 1]), dateSpaceLoneDigit(s, from: i) {
                    return (line, badDateTime)
                }
                i += 1
            }
        }
        return nil
    }

    /// Whether the value starting at `start` (a digit) is what toml++ takes for a date followed by a space-separated
    /// time — ten characters not counting `_`, the 5th and 8th `-`, then a space and a digit — with no second digit
    /// after that one.
    private static func dateSpaceLoneDigit(_ s: [UInt8], from start: Int) -> Bool {
        // toml++ scans at most 127 code points of a value (4 bytes each at most); a longer one never gets here.
        // Stopping there also keeps the check linear on a line like `=1=1=1…`, every digit of which starts a value.
        var end = start
        while end < s.count, end - start <= 512, !isValueTerminator(s[end]) { end += 1 }
        guard end - start <= 512 else { return false }
        guard end + 2 < s.count, s[end] == UInt8(ascii: " "), isDigit(s[end + 1]), !isDigit(s[end + 2]) else {
            return false
        }
        // toml++ counts code points, not bytes, and skips underscores.
        let characters = String(decoding: s[start..<end], as: UTF8.self).unicodeScalars.filter { $0 != "_" }
        guard characters.count == 10 else { return false }
        let chars = Array(characters)
        return chars[4] == "-" && chars[7] == "-"
    }

    private static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

    /// What ends a value for toml++ (ASCII only: a value that stops at other whitespace cannot be followed by the
    /// space this check looks for).
    private static func isValueTerminator(_ c: UInt8) -> Bool {
        c == UInt8(ascii: " ") || (c >= 0x09 && c <= 0x0D) || c == UInt8(ascii: "]") || c == UInt8(ascii: "}")
            || c == UInt8(ascii: ",") || c == UInt8(ascii: "#")
    }

    /// What may come just before a value: where toml++ starts parsing one.
    private static func isValueBoundary(_ c: UInt8) -> Bool {
        c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\n") || c == UInt8(ascii: "\r")
            || c == UInt8(ascii: "=") || c == UInt8(ascii: "[") || c == UInt8(ascii: "{") || c == UInt8(ascii: ",")
    }

    /// What toml++ accepts as the first character of a key: a bare-key character or a quote.
    private static func isKeyStart(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
            || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
            || c == UInt8(ascii: "\"") || c == UInt8(ascii: "'")
    }
}
