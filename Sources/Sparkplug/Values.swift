import Foundation
import SwiftProtobuf

/// A metric's or property's value with its Sparkplug datatype (spec 6.4.16): the few types rigd publishes and reads.
/// Signed integers travel as two's complement in the unsigned fields (`int_value` for up to 32 bits, `long_value`
/// for 64), as the specification says.
public enum SparkplugValue: Sendable, Equatable {
    case int32(Int32)
    case int64(Int64)
    case uint32(UInt32)
    case uint64(UInt64)
    case float(Float)
    case double(Double)
    case boolean(Bool)
    case string(String)
    /// Milliseconds since the Unix epoch, UTC.
    case dateTime(UInt64)
    /// No value, of this datatype (`is_null`).
    case null(SpBDataType)

    public var dataType: SpBDataType {
        switch self {
        case .int32: .int32
        case .int64: .int64
        case .uint32: .uint32
        case .uint64: .uint64
        case .float: .float
        case .double: .double
        case .boolean: .boolean
        case .string: .string
        case .dateTime: .dateTime
        case .null(let type): type
        }
    }
}

extension SpBPayload.Metric {
    /// A metric with its name (births, and data without aliases) and/or alias, its datatype and value.
    public init(name: String? = nil, alias: UInt64? = nil, timestamp: UInt64? = nil, _ value: SparkplugValue,
                historical: Bool = false, properties: SpBPayload.PropertySet? = nil) {
        self.init()
        if let name { self.name = name }
        if let alias { self.alias = alias }
        if let timestamp { self.timestamp = timestamp }
        if historical { isHistorical = true }
        if let properties { self.properties = properties }
        sparkplugValue = value
    }

    /// The metric's value read by its datatype; nil when the datatype is one rigd does not read or the value field
    /// does not match it (a malformed payload).
    public var sparkplugValue: SparkplugValue? {
        get {
            guard let type = SpBDataType(rawValue: Int(datatype)) else { return nil }
            if isNull { return .null(type) }
            switch (type, value) {
            case (.int8, .intValue(let v)), (.int16, .intValue(let v)), (.int32, .intValue(let v)):
                return .int32(Int32(bitPattern: v))
            case (.uint8, .intValue(let v)), (.uint16, .intValue(let v)), (.uint32, .intValue(let v)):
                return .uint32(v)
            case (.int64, .longValue(let v)): return .int64(Int64(bitPattern: v))
            case (.uint64, .longValue(let v)): return .uint64(v)
            case (.dateTime, .longValue(let v)): return .dateTime(v)
            // Some publishers put 32-bit unsigned values in long_value.
            case (.uint32, .longValue(let v)) where v <= UInt64(UInt32.max): return .uint32(UInt32(v))
            case (.float, .floatValue(let v)): return .float(v)
            case (.double, .doubleValue(let v)): return .double(v)
            case (.boolean, .booleanValue(let v)): return .boolean(v)
            case (.string, .stringValue(let v)), (.text, .stringValue(let v)), (.uuid, .stringValue(let v)):
                return .string(v)
            default: return nil
            }
        }
        set {
            guard let newValue else {
                value = nil
                clearDatatype()
                clearIsNull()
                return
            }
            datatype = UInt32(newValue.dataType.rawValue)
            clearIsNull()
            switch newValue {
            case .int32(let v): value = .intValue(UInt32(bitPattern: v))
            case .int64(let v): value = .longValue(UInt64(bitPattern: v))
            case .uint32(let v): value = .intValue(v)
            case .uint64(let v), .dateTime(let v): value = .longValue(v)
            case .float(let v): value = .floatValue(v)
            case .double(let v): value = .doubleValue(v)
            case .boolean(let v): value = .booleanValue(v)
            case .string(let v): value = .stringValue(v)
            case .null:
                isNull = true
                value = nil
            }
        }
    }
}

extension SpBPayload.PropertyValue {
    public init(_ value: SparkplugValue) {
        self.init()
        type = UInt32(value.dataType.rawValue)
        switch value {
        case .int32(let v): self.value = .intValue(UInt32(bitPattern: v))
        case .int64(let v): self.value = .longValue(UInt64(bitPattern: v))
        case .uint32(let v): self.value = .intValue(v)
        case .uint64(let v), .dateTime(let v): self.value = .longValue(v)
        case .float(let v): self.value = .floatValue(v)
        case .double(let v): self.value = .doubleValue(v)
        case .boolean(let v): self.value = .booleanValue(v)
        case .string(let v): self.value = .stringValue(v)
        case .null: isNull = true
        }
    }

    public var sparkplugValue: SparkplugValue? {
        guard let type = SpBDataType(rawValue: Int(self.type)) else { return nil }
        if isNull { return .null(type) }
        var metric = SpBPayload.Metric()
        metric.datatype = self.type
        switch value {
        case .intValue(let v): metric.value = .intValue(v)
        case .longValue(let v): metric.value = .longValue(v)
        case .floatValue(let v): metric.value = .floatValue(v)
        case .doubleValue(let v): metric.value = .doubleValue(v)
        case .booleanValue(let v): metric.value = .booleanValue(v)
        case .stringValue(let v): metric.value = .stringValue(v)
        default: return nil
        }
        return metric.sparkplugValue
    }
}

extension SpBPayload.PropertySet {
    /// Properties in this order (Sparkplug keeps keys and values as two parallel lists).
    public init(_ properties: KeyValuePairs<String, SparkplugValue>) {
        self.init()
        keys = properties.map(\.key)
        values = properties.map { SpBPayload.PropertyValue($0.value) }
    }

    /// Properties in this order, from a list made at run time.
    public init(_ properties: [(key: String, value: SparkplugValue)]) {
        self.init()
        keys = properties.map(\.key)
        values = properties.map { SpBPayload.PropertyValue($0.value) }
    }

    public subscript(key: String) -> SparkplugValue? {
        guard let i = keys.firstIndex(of: key), i < values.count else { return nil }
        return values[i].sparkplugValue
    }
}

extension SpBPayload {
    /// The payload's protobuf bytes.
    public func encoded() throws -> [UInt8] { try serializedBytes() }

    /// A payload from its bytes; throws on malformed protobuf (a consumer counts and drops it). Unknown fields are
    /// kept, not an error: a newer publisher may send them.
    public static func decoded(_ bytes: [UInt8]) throws -> SpBPayload { try SpBPayload(serializedBytes: bytes) }
}
