import Stations
import DeviceTransports
import SimServe
import Locking
/// An HTML file with `{{name}}` slots. `render` fills every slot in one pass over the file, so nothing a value
/// brings in is ever taken for a slot; text is escaped for element content and quoted attribute values, markup
/// (built by rigd, its own text escaped) goes in as it is.
package struct HTMLTemplate: Sendable {
    package enum Value {
        /// Escaped (`HTMLTemplate.escape`).
        case text(String)
        /// Inserted as it is.
        case markup(String)
    }

    private enum Part {
        case literal(Substring)
        case slot(String)
    }

    private let parts: [Part]

    /// The template `source`, without its final newline when `dropFinalNewline` (a file that is part of a page).
    package init(_ source: String, dropFinalNewline: Bool = false) {
        var text = Substring(source)
        if dropFinalNewline, text.hasSuffix("\n") { text = text.dropLast() }
        var parts: [Part] = []
        while let open = text.range(of: "{{"), let close = text[open.upperBound...].range(of: "}}") {
            parts.append(.literal(text[..<open.lowerBound]))
            parts.append(.slot(String(text[open.upperBound..<close.lowerBound])))
            text = text[close.upperBound...]
        }
        parts.append(.literal(text))
        self.parts = parts
    }

    package init(bytes: [UInt8], dropFinalNewline: Bool = false) {
        self.init(String(decoding: bytes, as: UTF8.self), dropFinalNewline: dropFinalNewline)
    }

    /// The slots' names, in order of appearance.
    package var slots: [String] {
        parts.compactMap { if case .slot(let name) = $0 { name } else { nil } }
    }

    /// The page. A slot without a value renders as nothing (DashboardTests check that every page fills every slot).
    package func render(_ values: [String: Value]) -> String {
        var out = ""
        for part in parts {
            switch part {
            case .literal(let text): out += text
            case .slot(let name):
                switch values[name] {
                case .text(let text)?: out += Self.escape(text)
                case .markup(let markup)?: out += markup
                case nil: assertionFailure("no value for the template slot {{\(name)}}")
                }
            }
        }
        return out
    }

    /// Text for HTML element content and quoted attribute values.
    package static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }
}
