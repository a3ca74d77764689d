/// Where rigd's register contract (docs/register-contract.md) keeps one kind's channels and commands: what a mapped
/// device is translated to and from. The host side (`MappedClient`) presents a mapped device to a station as a
/// contract device; the simulator side (`MappedDevice`, in Sim) serves a contract device through a map.
public struct ContractLayout: Sendable, Equatable {
    public var kind: DeviceKind
    /// The measured channels by name, in block order: channel i at IR 100 + 4·i (float32, quality, reserved).
    public var channels: [String]
    /// The float32 setpoints in holding registers, by name and address.
    public var setpoints: [FloatRegister]
    /// The coils by name, in coil order (coil i at address i).
    public var coils: [String]

    public init(kind: DeviceKind, channels: [String], setpoints: [FloatRegister], coils: [String]) {
        self.kind = kind
        self.channels = channels
        self.setpoints = setpoints
        self.coils = coils
    }

    /// The layout of `profile`'s kind.
    public init<P: DeviceProfile>(_ profile: P.Type) {
        self.init(kind: P.kind, channels: P.channels.map(\.name), setpoints: P.holdingSetpoints, coils: P.coilNames)
    }

    /// The contract's register address of channel `name`'s value (IR 100 + 4·i).
    public func channelAddress(_ name: String) -> Int? {
        channels.firstIndex(of: name).map { CommonRegisters.channelBase + CommonRegisters.channelStride * $0 }
    }
}

extension DeviceMap.Field {
    /// The engineering value of `raw` (exactly `length` registers, or one 0/1 word for a coil or discrete input):
    /// raw × scale + offset. Nil for a string.
    public func value(_ raw: [UInt16]) -> Double? {
        guard let number = rawNumber(raw) else { return nil }
        return number * scale + offset
    }

    /// The raw number before scale and offset (what `nan_if` compares with); a bool is 0 or 1. Nil for a string.
    public func rawNumber(_ raw: [UInt16]) -> Double? {
        switch type {
        case .string: return nil
        case .bool:
            if let bit { return Double(RegisterCodec.bits(raw[0], shift: bit, width: 1)) }
            return raw[0] != 0 ? 1 : 0
        default:
            return RegisterCodec.decode(raw.prefix(type.registerCount), as: type, order: order)
        }
    }

    /// The registers that hold the engineering value `value`: (value − offset) ÷ scale, rounded to a whole number
    /// for an integer type. Nil when the type cannot hold it (out of range, or not finite for an integer type).
    /// A bool in a register bit gives the whole word with only that bit set (or none).
    public func encode(_ value: Double) -> [UInt16]? {
        let raw = (value - offset) / scale
        switch type {
        case .string: return nil
        case .bool:
            let on = raw != 0
            if let bit { return [on ? UInt16(1) << UInt16(bit) : 0] }
            return [on ? 1 : 0]
        case .float32, .float64:
            return RegisterCodec.encode(raw, as: type, order: order)
        default:
            return RegisterCodec.encode(raw.rounded(), as: type, order: order)
        }
    }
}
