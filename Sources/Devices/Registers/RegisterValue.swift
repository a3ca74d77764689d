/// The value types a device map may name (docs/maps.md), and how they sit in 16-bit registers.
///
/// Modbus carries big-endian 16-bit words; a device decides the order of the words of a 32- or 64-bit value and,
/// rarely, the order of the bytes inside each word. `ByteOrder` names both the way manuals do, by the order in which
/// the bytes A (most significant) … D (least) of a 32-bit value appear on the wire: ABCD (big-endian words, high word
/// first), CDAB (low word first), BADC (high word first, bytes swapped in each word), DCBA (little-endian). The same
/// two swaps apply to 64-bit values: CDAB reverses the four words, BADC swaps the bytes of each word.
public enum RegisterType: String, Sendable, CaseIterable, CustomStringConvertible {
    case int16, uint16, int32, uint32, int64, uint64, float32, float64
    /// One coil or discrete input, or one bit of a register (with `bit`).
    case bool
    /// ASCII, two characters a register, of a length the map gives.
    case string

    /// Registers one value takes (a string's length is given separately; bool takes one register when read from one).
    public var registerCount: Int {
        switch self {
        case .int16, .uint16, .bool, .string: 1
        case .int32, .uint32, .float32: 2
        case .int64, .uint64, .float64: 4
        }
    }

    /// Whether the type holds numbers (every type but string).
    public var isNumeric: Bool { self != .string }

    /// The values an integer type can hold (nil for floats, bool and string).
    public var integerRange: ClosedRange<Double>? {
        switch self {
        case .int16: Double(Int16.min)...Double(Int16.max)
        case .uint16: 0...Double(UInt16.max)
        case .int32: Double(Int32.min)...Double(Int32.max)
        case .uint32: 0...Double(UInt32.max)
        case .int64: Double(Int64.min)...Double(Int64.max)
        case .uint64: 0...Double(UInt64.max)
        case .bool: 0...1
        case .float32, .float64, .string: nil
        }
    }

    public var description: String { rawValue }
}

/// The order of the bytes of a multi-register value on the wire (see `RegisterType`).
public enum ByteOrder: String, Sendable, CaseIterable, CustomStringConvertible {
    case abcd = "ABCD", cdab = "CDAB", badc = "BADC", dcba = "DCBA"

    /// The words are in reverse order (low word first).
    public var swapsWords: Bool { self == .cdab || self == .dcba }
    /// The two bytes of each word are swapped.
    public var swapsBytes: Bool { self == .badc || self == .dcba }

    public var description: String { rawValue }

    /// The register contract's HR 2 word order in these terms.
    public init(_ order: WordOrder) { self = order == .abcd ? .abcd : .cdab }
}

extension RegisterCodec {
    /// The registers of one value as a big-endian bit pattern (ABCD order), whatever `order` the device uses.
    public static func bigEndianBits<C: RandomAccessCollection>(_ registers: C, order: ByteOrder) -> UInt64
    where C.Element == UInt16 {
        var words = Array(registers)
        if order.swapsWords { words.reverse() }
        var bits: UInt64 = 0
        for word in words { bits = (bits << 16) | UInt64(order.swapsBytes ? word.byteSwapped : word) }
        return bits
    }

    /// The registers of a value of `count` registers whose big-endian (ABCD) bit pattern is `bits`.
    public static func registers(bigEndianBits bits: UInt64, count: Int, order: ByteOrder) -> [UInt16] {
        var words = (0..<count).map { i in UInt16(truncatingIfNeeded: bits >> (16 * (count - 1 - i))) }
        if order.swapsBytes { words = words.map(\.byteSwapped) }
        if order.swapsWords { words.reverse() }
        return words
    }

    /// Decodes one numeric value of `type` from exactly `type.registerCount` registers (bool: nonzero). The raw
    /// value, before any scale or offset; an integer wider than a Double's 53-bit mantissa is rounded.
    public static func decode<C: RandomAccessCollection>(_ registers: C, as type: RegisterType,
                                                         order: ByteOrder) -> Double where C.Element == UInt16 {
        precondition(registers.count == type.registerCount, "\(type) takes \(type.registerCount) register(s)")
        let bits = bigEndianBits(registers, order: order)
        switch type {
        case .int16: return Double(Int16(truncatingIfNeeded: bits))
        case .uint16: return Double(UInt16(truncatingIfNeeded: bits))
        case .int32: return Double(Int32(truncatingIfNeeded: bits))
        case .uint32: return Double(UInt32(truncatingIfNeeded: bits))
        case .int64: return Double(Int64(bitPattern: bits))
        case .uint64: return Double(bits)
        case .float32: return Double(Float(bitPattern: UInt32(truncatingIfNeeded: bits)))
        case .float64: return Double(bitPattern: bits)
        case .bool: return bits != 0 ? 1 : 0
        case .string: preconditionFailure("strings decode with decodeString")
        }
    }

    /// Encodes `value` as `type`; nil when the type cannot hold it (out of an integer type's range, not a whole
    /// number for an integer type, or not finite for any type but the floats).
    public static func encode(_ value: Double, as type: RegisterType, order: ByteOrder) -> [UInt16]? {
        let bits: UInt64
        switch type {
        case .float32:
            bits = UInt64(Float(value).bitPattern)
        case .float64:
            bits = value.bitPattern
        case .string:
            return nil
        default:
            guard value.isFinite, value == value.rounded(), let range = type.integerRange, range.contains(value)
            else { return nil }
            switch type {
            case .int16: bits = UInt64(UInt16(bitPattern: Int16(value)))
            case .int32: bits = UInt64(UInt32(bitPattern: Int32(value)))
            case .int64:
                guard value < 9_223_372_036_854_775_808 else { return nil }
                bits = UInt64(bitPattern: Int64(value))
            case .uint64:
                guard value < 18_446_744_073_709_551_616 else { return nil }
                bits = UInt64(value)
            default: bits = UInt64(value)
            }
        }
        return registers(bigEndianBits: bits, count: type.registerCount, order: order)
    }

    /// `width` bits of `word` from bit `shift` (0 = least significant): a bit field such as a 4-bit status.
    public static func bits(_ word: UInt16, shift: Int, width: Int) -> UInt16 {
        precondition(shift >= 0 && width >= 1 && shift + width <= 16, "bits \(shift)+\(width) outside a word")
        return (word >> shift) & UInt16((1 << width) - 1)
    }

    /// ASCII text, two characters a register (the first in the high byte; `order` BADC or DCBA swaps them), up to
    /// the first NUL, trailing spaces removed. Bytes outside printable ASCII read as "?".
    public static func decodeString<C: RandomAccessCollection>(_ registers: C, order: ByteOrder) -> String
    where C.Element == UInt16 {
        var bytes: [UInt8] = []
        for word in registers {
            let w = order.swapsBytes ? word.byteSwapped : word
            bytes += [UInt8(w >> 8), UInt8(w & 0xFF)]
        }
        if let end = bytes.firstIndex(of: 0) { bytes.removeSubrange(end...) }
        let text = String(decoding: bytes.map { (0x20...0x7E).contains($0) ? $0 : UInt8(ascii: "?") }, as: UTF8.self)
        return String(text.reversed().drop { $0 == " " }.reversed())
    }

    /// `text` as `length` registers, two ASCII characters a register (high byte first, unless `order` swaps bytes),
    /// padded with NULs and cut to fit: what `decodeString` reads back.
    public static func encodeString(_ text: String, length: Int, order: ByteOrder) -> [UInt16] {
        var bytes = Array(text.utf8.prefix(2 * length))
        bytes += Array(repeating: 0, count: 2 * length - bytes.count)
        return (0..<length).map { i in
            let word = UInt16(bytes[2 * i]) << 8 | UInt16(bytes[2 * i + 1])
            return order.swapsBytes ? word.byteSwapped : word
        }
    }
}
