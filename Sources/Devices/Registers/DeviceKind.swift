/// The device kinds of DEVICES.md, by the names used in configuration, on the command line, in the API and reports.
public enum DeviceKind: String, Sendable, CaseIterable, Codable, CustomStringConvertible {
    case extraction
    case aquaSonde = "aqua-sonde"
    case cncMill = "cnc-mill"
    case heatRig = "heat-rig"
    case msdRig = "msd-rig"
    case streamStation = "stream-station"

    /// The device type code in IR 0.
    public var deviceType: UInt16 {
        switch self {
        case .extraction: 0x0A01
        case .aquaSonde: 0x0B01
        case .cncMill: 0x0C01
        case .heatRig: 0x0C02
        case .msdRig: 0x0C03
        case .streamStation: 0x0D01
        }
    }

    /// The kind whose IR 0 reads `type`, if any.
    public init?(deviceType type: UInt16) {
        guard let kind = DeviceKind.allCases.first(where: { $0.deviceType == type }) else { return nil }
        self = kind
    }

    public var description: String { rawValue }
}
