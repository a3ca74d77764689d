/// Where a station's device is, parsed from the configuration's `address`.
///
/// Forms: `tcp://HOST:PORT[?unit=N]` (Modbus TCP, unit 1 by default),
/// `rtu:///dev/ttyUSB0[?baud=9600&parity=N&data=8&stop=1&unit=N]` (Modbus RTU on a serial line, 9600 8N1 and unit 1 by
/// default) and `sim://` (always the in-process simulator, never probed).
public enum DeviceAddress: Sendable, Equatable, CustomStringConvertible {
    case tcp(host: String, port: Int, unit: Int)
    case rtu(SerialSettings, unit: Int)
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
        if text.hasPrefix("rtu://") {
            self = try Self.parseRTU(text, fail: fail)
            return
        }
        guard text.hasPrefix("tcp://") else {
            throw fail("expected tcp://HOST:PORT[?unit=N], rtu:///dev/PORT[?baud=9600&parity=N&unit=N] or sim://")
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
        case .rtu(let settings, let unit):
            return "rtu://\(settings.path)?" + settings.query + "&unit=\(unit)"
        case .simulated:
            return "sim://"
        }
    }

    /// The unit id the device answers to.
    public var unit: Int? {
        switch self {
        case .tcp(_, _, let unit), .rtu(_, let unit): unit
        case .simulated: nil
        }
    }

    private static func parseRTU(_ text: String, fail: (String) -> ParseError) throws(ParseError) -> DeviceAddress {
        var rest = Substring(text.dropFirst("rtu://".count))
        var query: Substring = ""
        if let q = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: q)...]
            rest = rest[..<q]
        }
        guard rest.hasPrefix("/"), rest.count > 1 else {
            throw fail("expected an absolute device path after rtu://, e.g. rtu:///dev/ttyUSB0")
        }
        var settings = SerialSettings(path: String(rest))
        var unit = 1
        for item in query.split(separator: "&") {
            let pair = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2 else { throw fail("query item \"\(item)\" is not KEY=VALUE") }
            switch pair[0] {
            case "unit":
                guard let u = Int(pair[1]), (1...247).contains(u) else { throw fail("unit must be 1…247 on RTU") }
                unit = u
            case "baud":
                guard let b = Int(pair[1]), SerialSettings.baudRates.contains(b) else {
                    throw fail("baud must be one of \(SerialSettings.baudRates.map(String.init).joined(separator: ", "))")
                }
                settings.baud = b
            case "parity":
                guard let p = SerialSettings.Parity(rawValue: pair[1].uppercased()) else {
                    throw fail("parity must be N, E or O")
                }
                settings.parity = p
            case "data":
                guard let d = Int(pair[1]), (5...8).contains(d) else { throw fail("data bits must be 5…8") }
                settings.dataBits = d
            case "stop":
                guard let s = Int(pair[1]), (1...2).contains(s) else { throw fail("stop bits must be 1 or 2") }
                settings.stopBits = s
            default:
                throw fail("unknown query \"\(pair[0])\"; RTU takes baud, parity, data, stop and unit")
            }
        }
        return .rtu(settings, unit: unit)
    }
}

/// A serial line's settings. The line is identified by its path: every station with the same path shares one bus.
public struct SerialSettings: Sendable, Hashable {
    public enum Parity: String, Sendable, Hashable {
        case none = "N", even = "E", odd = "O"
    }

    public static let baudRates = [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200]

    public var path: String
    public var baud: Int
    public var parity: Parity
    public var dataBits: Int
    public var stopBits: Int

    public init(path: String, baud: Int = 9600, parity: Parity = .none, dataBits: Int = 8, stopBits: Int = 1) {
        self.path = path
        self.baud = baud
        self.parity = parity
        self.dataBits = dataBits
        self.stopBits = stopBits
    }

    /// `baud=9600&parity=N&data=8&stop=1`
    public var query: String { "baud=\(baud)&parity=\(parity.rawValue)&data=\(dataBits)&stop=\(stopBits)" }
    /// `9600 8N1`
    public var summary: String { "\(baud) \(dataBits)\(parity.rawValue)\(stopBits)" }
}
