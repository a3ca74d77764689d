/// Encodes and decodes the value types of the register contract (docs/register-contract.md §0): u16, u32 (high word
/// first),
/// float32 in either word order, and single bits of status words.
public enum RegisterCodec {
    /// Decodes a float32 from two registers starting at `index`.
    public static func float32<C: RandomAccessCollection>(_ registers: C, at index: C.Index,
                                                          order: WordOrder) -> Float where C.Element == UInt16 {
        let first = UInt32(registers[index])
        let second = UInt32(registers[registers.index(after: index)])
        let bits = order == .abcd ? (first << 16) | second : (second << 16) | first
        return Float(bitPattern: bits)
    }

    /// Encodes a float32 as two registers in the given word order.
    public static func encode(_ value: Float, order: WordOrder) -> [UInt16] {
        let bits = value.bitPattern
        let high = UInt16(truncatingIfNeeded: bits >> 16)
        let low = UInt16(truncatingIfNeeded: bits)
        return order == .abcd ? [high, low] : [low, high]
    }

    /// Word `word` (0 or 1) of `value` encoded as two registers in the given word order, without making an array.
    @inline(__always)
    public static func word(_ word: Int, of value: Float, order: WordOrder) -> UInt16 {
        let bits = value.bitPattern
        let high = (word == 0) == (order == .abcd)
        return UInt16(truncatingIfNeeded: high ? bits >> 16 : bits)
    }

    /// Decodes a u32 stored high word first (serial numbers and status words; HR 2 applies to floats only).
    public static func uint32<C: RandomAccessCollection>(_ registers: C, at index: C.Index) -> UInt32
    where C.Element == UInt16 {
        (UInt32(registers[index]) << 16) | UInt32(registers[registers.index(after: index)])
    }

    /// Encodes a u32 as two registers, high word first.
    public static func encode(_ value: UInt32) -> [UInt16] {
        [UInt16(truncatingIfNeeded: value >> 16), UInt16(truncatingIfNeeded: value)]
    }

    /// Bit `bit` (0 = least significant) of a word.
    public static func bit<T: FixedWidthInteger>(_ word: T, _ bit: Int) -> Bool {
        precondition(bit >= 0 && bit < T.bitWidth, "bit \(bit) outside a \(T.bitWidth)-bit word")
        return (word >> bit) & 1 == 1
    }

    /// `word` with bit `bit` set to `value`.
    public static func setting<T: FixedWidthInteger>(_ word: T, bit: Int, to value: Bool) -> T {
        precondition(bit >= 0 && bit < T.bitWidth, "bit \(bit) outside a \(T.bitWidth)-bit word")
        let mask: T = 1 << bit
        return value ? word | mask : word & ~mask
    }
}
