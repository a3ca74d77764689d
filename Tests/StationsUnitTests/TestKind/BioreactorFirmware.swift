import Devices
import Sim

/// The test bioreactor's plant and firmware (layer 2 of 4: Sim): the culture acidifies the broth at a steady rate
/// and uses oxygen; the base pump raises the pH, air raises the dissolved oxygen.
struct BioreactorFirmware: FirmwareModel {
    typealias Profile = BioreactorProfile

    static let tickPeriod = 0.1
    static let holdingFloats = [BioreactorProfile.basePump, BioreactorProfile.air]
    static let coilCount = 0
    static let discreteInputCount = 0
    static let ring: SampleRingLayout? = nil
    static let safeHolding: [Int: Float] = [BioreactorProfile.basePump.address: 0, BioreactorProfile.air.address: 0]
    static let safeCoils: [Int: Bool] = [:]

    var ph = 7.0
    var doPercent = 40.0

    mutating func tick(dt: Double, actuators: Actuators) {
        let pump = Double(actuators.value(BioreactorProfile.basePump)) / 100
        let air = Double(actuators.value(BioreactorProfile.air)) / 100
        ph += (0.02 * pump - 0.002) * dt
        doPercent += (60 * air - 0.05 * doPercent) * dt
        doPercent = min(100, max(0, doPercent))
    }

    func channelReadings() -> [ChannelReading] {
        [ChannelReading.init(raw: Float(ph), quality: .ok), ChannelReading(raw: Float(doPercent), quality: .ok)]
    }

    func discreteInputs(estopPressed: Bool) -> [Bool] { [] }
    var statusBits: StatusBits { [] }
}
