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

    /// Kinds this build can simulate.
    public static let kinds: [DeviceKind] = DeviceKind.allCases

    /// Plant presets of a kind ("standard" first).
    public static func presets(for kind: DeviceKind) -> [String] {
        switch kind {
        case .heatRig: HeatRigPlant.Parameters.presetNames
        case .extraction: ExtractionPlant.Parameters.presetNames
        case .aquaSonde: PondPlant.Parameters.presetNames
        case .cncMill: MillPlant.Parameters.presetNames
        case .msdRig: MassSpringDamperPlant.Parameters.presetNames
        case .streamStation: StreamPlant.Parameters.presetNames
        }
    }

    /// The preset a kind runs when none is configured.
    public static func defaultPreset(for kind: DeviceKind) -> String {
        presets(for: kind).first ?? "standard"
    }

    /// A device of `kind`, seeded, with the serial number the seed implies. `preset` nil: the kind's default.
    /// For a sonde, `relays` reads the host relays acting on its water and `startHourOfDay` sets its local time.
    public static func device(kind: DeviceKind, seed: UInt64, preset: String? = nil, unit: UInt8 = 1,
                              startHourOfDay: Double = 0, startDayOfYear: Double = 0,
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
        case .cncMill:
            guard let parameters = MillPlant.Parameters.preset(named: preset) else {
                throw UnknownPreset(kind: kind, preset: preset)
            }
            return SimulatedDevice(model: MillFirmware(plant: MillPlant(parameters: parameters, seed: seed)),
                                   serial: serial, unitId: UInt16(unit))
        case .msdRig:
            guard let parameters = MassSpringDamperPlant.Parameters.preset(named: preset) else {
                throw UnknownPreset(kind: kind, preset: preset)
            }
            let plant = MassSpringDamperPlant(parameters: parameters, seed: seed)
            return SimulatedDevice(model: MassSpringDamperFirmware(plant: plant, seed: seed), serial: serial,
                                   unitId: UInt16(unit))
        case .streamStation:
            guard let parameters = StreamPlant.Parameters.preset(named: preset) else {
                throw UnknownPreset(kind: kind, preset: preset)
            }
            let plant = StreamPlant(parameters: parameters, seed: seed, startDayOfYear: startDayOfYear)
            return SimulatedDevice(model: StreamStationFirmware(plant: plant, seed: seed), serial: serial,
                                   unitId: UInt16(unit))
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
