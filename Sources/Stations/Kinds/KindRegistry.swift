import Devices
import DeviceTransports
import Sim

/// The device kinds a build knows, in the order messages list them. The one list of kinds: the loader, the
/// simulator, run routing, `rigd kinds`, the API and the dashboard iterate it.
package struct KindRegistry: Sendable {
    package let kinds: [any StationKind.Type]

    package init(_ kinds: [any StationKind.Type]) {
        self.kinds = kinds
    }

    /// The kinds of this build.
    package static let builtIn = KindRegistry([
        ExtractionKind.self,
        AquaSondeKind.self,
        MillKind.self,
        HeatRigKind.self,
        MassSpringDamperKind.self,
        StreamStationKind.self,
    ])

    /// This registry with more kinds after its own (an embedding program's, a test's).
    package func adding(_ more: any StationKind.Type...) -> KindRegistry {
        KindRegistry(kinds + more)
    }

    package var names: [String] { kinds.map { $0.kind.rawValue } }

    package func kind(named name: String) -> (any StationKind.Type)? {
        kinds.first { $0.kind.rawValue == name }
    }

    /// The kind whose IR 0 reads `deviceType`, if this build knows one.
    package func kind(deviceType: UInt16) -> (any StationKind.Type)? {
        kinds.first { $0.kind.deviceType == deviceType }
    }

    /// A simulated device of `kind` with the kind's default settings (`rigd simulate --kind`, tests, fuzzing).
    package func simulatedDevice(_ kind: DeviceKind, seed: UInt64, preset: String? = nil, unit: UInt8 = 1,
                         host: SimulatedHost = SimulatedHost()) throws -> any ModbusDevice {
        guard let k = self.kind(named: kind.rawValue) else { throw UnknownKind(name: kind.rawValue, known: names) }
        return try k.configure(nil).simulatedDevice(seed: seed, preset: preset ?? k.defaultPreset, unit: unit,
                                                    host: host)
    }

    /// "heat-rig", or "0x0c02" for a device type no kind of this build has: for messages about what answered.
    package func describe(deviceType: UInt16) -> String {
        kind(deviceType: deviceType).map { $0.kind.rawValue } ?? "0x" + String(deviceType, radix: 16)
    }
}

/// A kind this registry does not have.
package struct UnknownKind: Error, Sendable, CustomStringConvertible {
    package let name: String
    package let known: [String]
    package var description: String { "unknown kind \"\(name)\" (kinds: \(known.joined(separator: ", ")))" }

    package init(name: String, known: [String]) {
        self.name = name
        self.known = known
    }
}

/// A simulator preset the kind does not have.
package struct UnknownPreset: Error, Sendable, CustomStringConvertible {
    package let kind: DeviceKind
    package let preset: String
    package let presets: [String]

    package init(kind: DeviceKind, preset: String, presets: [String]) {
        self.kind = kind
        self.preset = preset
        self.presets = presets
    }

    package var description: String {
        "no simulator preset \"\(preset)\" for \(kind) (presets: \(presets.joined(separator: ", ")))"
    }
}
