import Devices

/// The stream station's firmware around its watershed (docs/register-contract.md §D).
///
/// Sensors are read once per device tick (60 s, the station's logging resolution). A rising edge on coil 0 fills the
/// next autosampler bottle. No safe state of its own beyond the trigger low.
public struct StreamStationFirmware: FirmwareModel {
    public typealias Profile = StreamStationProfile

    public static let tickPeriod = 60.0
    public static let holdingFloats: [FloatRegister] = []
    public static let coilCount = 1
    public static let discreteInputCount = 0
    public static let ring: SampleRingLayout? = nil
    public static let safeHolding: [Int: Float] = [:]
    public static let safeCoils: [Int: Bool] = [0: false]

    /// Plant disturbances: a storm of 12 mm/h on top of the weather, for as long as it is active.
    public static let disturbances = ["storm"]

    public mutating func setDisturbance(_ name: String, active: Bool) {
        if name == "storm" { plant.imposedRainMmH = active ? 12 : 0 }
    }

    public private(set) var plant: StreamPlant
    /// Bottles the autosampler filled.
    public private(set) var bottles = 0
    private var rng: SeededRandom
    private var latest: [ChannelReading] = []
    private var triggerWas = false

    public init(plant: StreamPlant, seed: UInt64) {
        self.plant = plant
        rng = SeededRandom(seed: seed ^ 0x57E4)
        latest = measure()
    }

    public mutating func tick(dt: Double, actuators: Actuators) {
        plant.step(dt: dt)
        let trigger = actuators.coil(0)
        if trigger, !triggerWas { bottles += 1 }
        triggerWas = trigger
        latest = measure()
    }

    private mutating func measure() -> [ChannelReading] {
        plant.reading(rng: &rng).values.enumerated().map { i, value in
            ChannelReading.checked(value, StreamStationProfile.channels[i])
        }
    }

    public func channelReadings() -> [ChannelReading] { latest }

    public func discreteInputs(estopPressed: Bool) -> [Bool] { [] }

    public var statusBits: StatusBits { [] }
}
