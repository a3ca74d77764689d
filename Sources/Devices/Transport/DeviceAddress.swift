/// Where a station's device is, parsed from the configuration's `address`.
///
/// Forms: `tcp://HOST:PORT[?unit=N]` (Modbus TCP, unit 1 by default) and `sim://` (always the in-process simulator,
/// never probed). RTU addresses come with the RTU transport.
public enum DeviceAddress: Sendable, Equatable, CustomStringConvertible {
    case tcp(host: String, port: Int, unit: Int)
    case simulated

    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public let address: String
        public let reason: String
        public var description: String { "bad address \"\(address)\": \(reason)" }
    }

    public static let defaultTCPPort = 502

    public init(parsing text: String) throws {
        func fail(_ reason: String) -> ParseError { ParseError(address: text, reason: reason) }
        if text == "sim://" || text == "sim" {
            self = .simulated
            return
        }
        guard text.hasPrefix("tcp://") else {
            throw fail("expected tcp://HOST:PORT[?unit=N] or sim://")
        }
        var rest = Substring(text.dropFirst("tcp://".count))
        var unit = 1
        if let q = rest.firstIndex(of: "?") {
            let query = rest[rest.index(after: q)...]
            rest = rest[..<q]
            for item in query.split(separator: "&") {
                let pair = item.split(separator: "=", maxSplits: 1).map(String.init)
                guard pair.count == 2, pair[0] == "unit" else { throw fail("unknown query \"\(item)\"; only unit=N") }
                guard let u = Int(pair[1]), (0...255).contains(u) else { throw fail("unit must be 0…255") }
                unit = u
            }
        }
        var host: Substring
        var portText: Substring?
        if rest.hasPrefix("[") {  // [::1]:502
            guard let close = rest.firstIndex(of: "]") else { throw fail("unclosed [ in IPv6 host") }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() } else if !after.isEmpty { throw fail("junk after ]") }
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        } else {
            host = rest
        }
        guard !host.isEmpty else { throw fail("missing host") }
        guard host.allSatisfy({ $0.isLetter || $0.isNumber || "-._:".contains($0) }) else {
            throw fail("host has characters a host name cannot have")
        }
        var port = Self.defaultTCPPort
        if let portText {
            guard let p = Int(portText), (1...65535).contains(p) else { throw fail("port must be 1…65535") }
            port = p
        }
        self = .tcp(host: String(host), port: port, unit: unit)
    }

    public var description: String {
        switch self {
        case .tcp(let host, let port, let unit):
            let h = host.contains(":") ? "[\(host)]" : host
            return "tcp://\(h):\(port)" + (unit == 1 ? "" : "?unit=\(unit)")
        case .simulated:
            return "sim://"
        }
    }
}
