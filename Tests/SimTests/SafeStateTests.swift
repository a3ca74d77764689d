import Devices
import Testing
@testable import Sim
import SimServe
import DeviceTransports
import Locking

/// The device's own safe state (what the simulated firmware drives when its watchdog trips or its E-stop is
/// pressed) and the host's (the profile's `safeCommands`, written at shutdown) must agree on every output: an
/// output one of them switches off the other must not switch on.
@Suite struct SafeStateTests {
    /// The outputs `F.Profile.safeCommands` writes: float holding registers by address, coils by index.
    static func safeWrites<F: FirmwareModel>(_: F.Type) -> (floats: [Int: Float], coils: [Int: Bool]) {
        var floats: [Int: Float] = [:]
        var coils: [Int: Bool] = [:]
        let floatAddresses = Set(F.holdingFloats.map(\.address))
        for write in F.Profile.writes(for: F.Profile.safeCommands, previous: nil, order: .abcd) {
            switch write {
            case .registers(let address, let values):
                for offset in stride(from: 0, to: values.count - 1, by: 2) where floatAddresses.contains(address + offset) {
                    floats[address + offset] = RegisterCodec.float32(values, at: offset, order: .abcd)
                }
            case .coils(let address, let values):
                for (i, on) in values.enumerated() { coils[address + i] = on }
            }
        }
        return (floats, coils)
    }

    static func mismatches<F: FirmwareModel>(_ firmware: F.Type) -> [String] {
        let (floats, coils) = safeWrites(firmware)
        var out: [String] = []
        for (address, value) in F.safeHolding.sorted(by: { $0.key < $1.key }) where floats[address] != value {
            out.append("HR \(address): firmware \(value), profile \(floats[address].map { "\($0)" } ?? "not written")")
        }
        for (index, on) in F.safeCoils.sorted(by: { $0.key < $1.key }) where coils[index] != on {
            out.append("coil \(index): firmware \(on), profile \(coils[index].map { "\($0)" } ?? "not written")")
        }
        // A coil the host's safe state writes (an enable) is one the device's own safe state must drive too.
        for (index, on) in coils.sorted(by: { $0.key < $1.key }) where F.safeCoils[index] != on {
            out.append("coil \(index): profile \(on), firmware \(F.safeCoils[index].map { "\($0)" } ?? "leaves it")")
        }
        return out
    }

    @Test func everyFirmwareDrivesItsProfilesSafeState() {
        let checked: [(String, [String])] = [
            ("extraction", Self.mismatches(ExtractionFirmware.self)),
            ("aqua-sonde", Self.mismatches(AquaSondeFirmware.self)),
            ("cnc-mill", Self.mismatches(MillFirmware.self)),
            ("heat-rig", Self.mismatches(HeatRigFirmware.self)),
            ("msd-rig", Self.mismatches(MassSpringDamperFirmware.self)),
            ("stream-station", Self.mismatches(StreamStationFirmware.self)),
        ]
        for (kind, problems) in checked {
            #expect(problems.isEmpty, "\(kind): \(problems.joined(separator: "; "))")
        }
    }

    @Test func aFirmwareThatLeavesAnOutputOnIsCaught() {
        // The check itself must be able to fail: a heat rig whose own safe state leaves the heater enabled.
        struct LeakyHeatRig: FirmwareModel {
            typealias Profile = HeatRigProfile
            static let tickPeriod = HeatRigFirmware.tickPeriod
            static let holdingFloats = HeatRigFirmware.holdingFloats
            static let coilCount = HeatRigFirmware.coilCount
            static let discreteInputCount = HeatRigFirmware.discreteInputCount
            static let ring = HeatRigFirmware.ring
            static let safeHolding = HeatRigFirmware.safeHolding
            static let safeCoils: [Int: Bool] = [HeatRigProfile.Coil.heaterEnable.rawValue: true,
                                                 HeatRigProfile.Coil.fanEnable.rawValue: true]
            mutating func tick(dt: Double, actuators: Actuators) {}
            func channelReadings() -> [ChannelReading] { [] }
            func discreteInputs(estopPressed: Bool) -> [Bool] { [] }
            var statusBits: StatusBits { [] }
        }
        #expect(Self.mismatches(LeakyHeatRig.self) == ["coil 0: firmware true, profile false",
                                                       "coil 0: profile false, firmware true"])
    }
}
