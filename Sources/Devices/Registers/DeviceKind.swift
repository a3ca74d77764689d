/// A device kind, by the name used in configuration, on the command line, in the API and reports, and the device
/// type code its IR 0 reads. Each kind's profile defines its constant (`DeviceKind.heatRig` in
/// `HeatRigProfile.swift`); the list of kinds a build knows is the kinds registry's (`KindRegistry`), not this type's.
public struct DeviceKind: Hashable, Sendable, CustomStringConvertible {
    /// The name, e.g. "heat-rig".
    public let rawValue: String
    /// The device type code in IR 0.
    public let deviceType: UInt16

    public init(_ name: String, deviceType: UInt16) {
        self.rawValue = name
        self.deviceType = deviceType
    }

    public var description: String { rawValue }

    public static func == (a: DeviceKind, b: DeviceKind) -> Bool { a.rawValue == b.rawValue }
    public func hash(into hasher: inout Hasher) { hasher.combine(rawValue) }
}
