/// A float32 holding register (two words at an even offset) with the limits the device enforces: a write outside
/// them answers exception 03 and changes nothing, and the host validates operator requests against the same limits.
public struct FloatRegister: Sendable, Hashable {
    public let address: Int
    /// snake_case name used in messages and configuration.
    public let name: String
    public let unit: String
    public let limits: ClosedRange<Float>

    public init(_ address: Int, _ name: String, unit: String, limits: ClosedRange<Float>) {
        precondition(address % 2 == 0, "float registers sit at even offsets")
        self.address = address
        self.name = name
        self.unit = unit
        self.limits = limits
    }

    /// Whether the device accepts `value` (NaN and infinities never are).
    public func accepts(_ value: Float) -> Bool { value.isFinite && limits.contains(value) }
}
