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
    private var latest = [ChannelReading](repeating: .lost, count: MassSpringDamperProfile.channels.count)

    public init(plant: MassSpringDamperPlant, seed: UInt64) {
        self.plant = plant
        rng = SeededRandom(seed: seed ^ 0x3503)
        measure()
    }

    public mutating func tick(dt: Double, actuators: Actuators) {
        plant.step(dt: dt, inputs: MassSpringDamperPlant.Inputs(
            amplitudeN: Double(actuators.value(MassSpringDamperProfile.amplitude)),
            frequencyHz: Double(actuators.value(MassSpringDamperProfile.frequency)),
            shakerEnabled: actuators.coil(MassSpringDamperProfile.Coil.shakerEnable.rawValue)))
        measure()
    }

    /// Reads the sensors into `latest`, in place (every device tick, 4 kHz: no new array each time).
    private mutating func measure() {
        let r = plant.reading(rng: &rng)
        let channels = MassSpringDamperProfile.channels
        latest[0] = ChannelReading.checked(r.positionMm, channels[0])
        latest[1] = ChannelReading.checked(r.velocityMms, channels[1])
        latest[2] = ChannelReading.checked(r.accelMs2, channels[2])
        latest[3] = ChannelReading.checked(r.forceN, channels[3])
    }

    public func channelReadings() -> [ChannelReading] { latest }

    public func discreteInputs(estopPressed: Bool) -> [Bool] { [!estopPressed, plant.atEndStop] }

    public var statusBits: StatusBits { plant.atEndStop ? [.highWarning] : [] }

}
