/// A JSON value for reports and results: what a controller computes, in a shape any later feature can extend.
public enum ReportValue: Sendable, Equatable, Codable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([ReportValue])
    case object([String: ReportValue])

    public init(_ value: Double?) { self = value.map { .number($0) } ?? .null }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        // Non-finite numbers are not JSON: they become null.
        case .number(let n): if n.isFinite { try c.encode(n) } else { try c.encodeNil() }
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([ReportValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: ReportValue].self)) }
    }

    public var number: Double? { if case .number(let n) = self { n } else { nil } }
    public var bool: Bool? { if case .bool(let b) = self { b } else { nil } }
}

/// `v` rounded to `digits` decimal places, for reports and messages.
func rounded(_ v: Double, _ digits: Int) -> Double {
    let scale = (0..<digits).reduce(1.0) { p, _ in p * 10 }
    return (v * scale).rounded() / scale
}
