import Devices

/// The mass-spring-damper rig's firmware around its plant (docs/register-contract.md §C3).
///
/// The shaker follows HR 100 (amplitude) and HR 102 (frequency) while coil 0 is on; the 1 kHz ring carries the
/// measured position. DI 1 reports the mass at an end stop. Device safe state: shaker off, amplitude 0.
public struct MassSpringDamperFirmware: FirmwareModel {
    public typealias Profile = MassSpringDamperProfile

    public static let tickPeriod = 0.001
    public static let holdingFloats = MassSpringDamperProfile.holdingFloats
    public static let coilCount = MassSpringDamperProfile.Coil.allCases.count
    public static let discreteInputCount = MassSpringDamperProfile.DiscreteInput.allCases.count
    public static let ring: SampleRingLayout? = MassSpringDamperProfile.ring
    public static let safeHolding: [Int: Float] = [MassSpringDamperProfile.amplitude.address: 0]
    public static let safeCoils: [Int: Bool] = [MassSpringDamperProfile.Coil.shakerEnable.rawValue: false]

    public private(set) var plant: MassSpringDamperPlant
    private var rng: SeededRandom
    private var latest: [ChannelReading] = []

    public init(plant: MassSpringDamperPlant, seed: UInt64) {
        self.plant = plant
        rng = SeededRandom(seed: seed ^ 0x3503)
        latest = measure()
    }

    public mutating func tick(dt: Double, actuators: Actuators) {
        plant.step(dt: dt, inputs: MassSpringDamperPlant.Inputs(
            amplitudeN: Double(actuators.value(MassSpringDamperProfile.amplitude)),
            frequencyHz: Double(actuators.value(MassSpringDamperProfile.frequency)),
            shakerEnabled: actuators.coil(MassSpringDamperProfile.Coil.shakerEnable.rawValue)))
        latest = measure()
    }

    private mutating func measure() -> [ChannelReading] {
        let r = plant.reading(rng: &rng)
        let values = (r.positionMm, r.velocityMms, r.accelMs2, r.forceN)
        let channels = MassSpringDamperProfile.channels
        // In place when the array is ours alone (every device tick, 4 kHz): no new array each time.
        if latest.count != 4 { latest = Array(repeating: .lost, count: 4) }
        var out = latest
        latest = []
        out[0] = ChannelReading.checked(values.0, channels[0])
        out[1] = ChannelReading.checked(values.1, channels[1])
        out[2] = ChannelReading.checked(values.2, channels[2])
        out[3] = ChannelReading.checked(values.3, channels[3])
        return out
    }

    public func channelReadings() -> [ChannelReading] { latest }

    public func discreteInputs(estopPressed: Bool) -> [Bool] { [!estopPressed, plant.atEndStop] }

    public var statusBits: StatusBits { plant.atEndStop ? [.highWarning] : [] }

}
