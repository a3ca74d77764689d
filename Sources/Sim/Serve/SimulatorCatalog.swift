import Devices

/// Builds a simulated device of a kind: the one place that knows which firmware and plant serve which kind.
public enum SimulatorCatalog {
    public struct UnknownPreset: Error, Sendable, CustomStringConvertible {
        public let kind: DeviceKind
        public let preset: String
        public var description: String {
            "no simulator preset \"\(preset)\" for \(kind) (presets: \(presets(for: kind).joined(separator: ", ")))"
        }
    }

    public struct UnsupportedKind: Error, Sendable, CustomStringConvertible {
        public let kind: DeviceKind
        public var description: String { "no simulator for \(kind) in this build yet" }
    }

    /// Kinds this build can simulate.
    public static let kinds: [DeviceKind] = [.extraction, .aquaSonde, .heatRig]

    /// Plant presets of a kind ("standard" first).
    public static func presets(for kind: DeviceKind) -> [String] {
        switch kind {
        case .heatRig: HeatRigPlant.Parameters.presetNames
        case .extraction: ExtractionPlant.Parameters.presetNames
        case .aquaSonde: PondPlant.Parameters.presetNames
        default: []
        }
    }

    /// The preset a kind runs when none is configured.
    public static func defaultPreset(for kind: DeviceKind) -> String {
        presets(for: kind).first ?? "standard"
    }

    /// A device of `kind`, seeded, with the serial number the seed implies. `preset` nil: the kind's default.
    /// For a sonde, `relays` reads the host relays acting on its water and `startHourOfDay` sets its local time.
    public static func device(kind: DeviceKind, seed: UInt64, preset: String? = nil, unit: UInt8 = 1,
                              startHourOfDay: Double = 0,
                              relays: @escaping @Sendable () -> PondPlant.Inputs = { .init() }) throws
        -> any ModbusDevice {
        let preset = preset ?? defaultPreset(for: kind)
        var serialSource = SeededRandom(seed: seed ^ 0x5E71A1)
        let serial = UInt32(truncatingIfNeeded: serialSource.next()) % 90_000_000 + 10_000_000
        switch kind {
        case .heatRig:
            guard let parameters = HeatRigPlant.Parameters.preset(named: preset) else {
                throw UnknownPreset(kind: kind, preset: preset)
            }
            return SimulatedDevice(model: HeatRigFirmware(plant: HeatRigPlant(parameters: parameters, seed: seed)),
                                   serial: serial)
        case .extraction:
            guard let parameters = ExtractionPlant.Parameters.preset(named: preset) else {
                throw UnknownPreset(kind: kind, preset: preset)
            }
            return SimulatedDevice(model: ExtractionFirmware(plant: ExtractionPlant(parameters: parameters, seed: seed)),
                                   serial: serial)
        case .aquaSonde:
            guard let parameters = PondPlant.Parameters.preset(named: preset) else {
                throw UnknownPreset(kind: kind, preset: preset)
            }
            let plant = PondPlant(parameters: parameters, seed: seed, startHourOfDay: startHourOfDay)
            return SimulatedDevice(model: AquaSondeFirmware(plant: plant, seed: seed, relays: relays), serial: serial,
                                   unitId: UInt16(unit))
        default:
            throw UnsupportedKind(kind: kind)
        }
    }

    /// Derives a station's simulator seed from the run seed and the station's name, so adding a station does not
    /// change the others' noise.
    public static func seed(run: UInt64, name: String) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325  // FNV-1a
        for byte in name.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        var rng = SeededRandom(seed: run ^ hash)
        return rng.next()
    }
}
