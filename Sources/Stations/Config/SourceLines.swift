/// Finds the line of a key in a TOML file, for messages only (TOMLKit gives lines for syntax errors, not for keys).
/// It follows `[table]` and `[[array]]` headers and `key =` lines; a key it cannot place gets the line of the nearest
/// enclosing one, and one with none gets no line.
package struct SourceLines: Sendable {
    /// "station[0].control.setpoint_c" → 7; "station[0]" → the header's line.
    private var lines: [String: Int] = [:]

    package init(_ text: String) {
        var counters: [String: Int] = [:]
        var table = ""
        for (offset, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = offset + 1
            let line = raw.trimmingCharacters(in: " \t\r")
            if line.hasPrefix("[[") {
                let name = Self.unquote(line.dropFirst(2).prefix { $0 != "]" })
                let index = counters[name, default: -1] + 1
                counters[name] = index
                table = "\(name)[\(index)]"
                lines[table] = lines[table] ?? number
            } else if line.hasPrefix("[") {
                let name = Self.unquote(line.dropFirst().prefix { $0 != "]" })
                // [station.control] belongs to the latest [[station]].
                let parts = name.split(separator: ".", maxSplits: 1).map(String.init)
                if parts.count == 2, let index = counters[parts[0]] {
                    table = "\(parts[0])[\(index)].\(parts[1])"
                } else {
                    table = name
                }
                lines[table] = lines[table] ?? number
            } else if let equals = line.firstIndex(of: "="), !line.hasPrefix("#") {
                let key = Self.unquote(line[..<equals])
                let path = table.isEmpty ? key : "\(table).\(key)"
                lines[path] = lines[path] ?? number
            }
        }
    }

    /// The line of `path`, or of the nearest enclosing key or table that has one: a key inside an inline table
    /// (`quality = { good = … }`) gets the line of `quality =`.
    package func line(_ path: String) -> Int? {
        var p = Substring(path)
        while true {
            if let n = lines[String(p)] { return n }
            guard let dot = p.lastIndex(of: ".") else { return nil }
            p = p[..<dot]
        }
    }

    private static func unquote(_ s: Substring) -> String {
        s.trimmingCharacters(in: " \t").split(separator: ".").map {
            $0.trimmingCharacters(in: " \t\"'")
        }.joined(separator: ".")
    }
}

extension Substring {
    package func trimmingCharacters(in set: String) -> String {
        String(drop { set.contains($0) }.reversed().drop { set.contains($0) }.reversed())
    }
}

extension String {
    package func trimmingCharacters(in set: String) -> String { self[...].trimmingCharacters(in: set) }
}
