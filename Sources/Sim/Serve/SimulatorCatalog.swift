/// What every simulated device shares, whatever its kind: seeds and serial numbers. Which plant and firmware serve
/// a kind is the kind's own descriptor's business (`StationKind.simulatedDevice`).
public enum SimulatorCatalog {
    /// The serial number a device seeded with `seed` reports (IR 2–3).
    public static func serial(seed: UInt64) -> UInt32 {
        var serialSource = SeededRandom(seed: seed ^ 0x5E71A1)
        return UInt32(truncatingIfNeeded: serialSource.next()) % 90_000_000 + 10_000_000
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
