/// The order of the two 16-bit words of a float32 on the wire (HR 2 selects it on every device).
///
/// - Important: Bytes inside each word are always big-endian (Modbus); only the word order varies.
public enum WordOrder: UInt16, Sendable, CaseIterable, CustomStringConvertible {
    /// High word first: the sheet's default.
    case abcd = 0
    /// Low word first, as many field probes allow.
    case cdab = 1

    public var description: String { self == .abcd ? "ABCD" : "CDAB" }
}
