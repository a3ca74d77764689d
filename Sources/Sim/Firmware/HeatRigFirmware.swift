import Devices

/// The heat-transfer rig's firmware around its plant (docs/register-contract.md §C2).
///
/// Heater power follows HR 100 while coil 0 is on and the hardware thermostat has not tripped; the fan follows
/// HR 102 while coil 1 is on. Status: the tripped thermostat sets high alarm (bit 0) and interlock (bit 16); a block
/// at or above 85 °C sets high warning (bit 1). An open thermocouple reads up-scale with quality 0x80.
public struct HeatRigFirmware: FirmwareModel {
    public typealias Profile = HeatRigProfile

    public static let tickPeriod = 0.01
    public static let holdingFloats = HeatRigProfile.holdingFloats
    public static let coilCount = HeatRigProfile.Coil.allCases.count
    public static let discreteInputCount = HeatRigProfile.DiscreteInput.allCases.count
    public static let ring: SampleRingLayout? = HeatRigProfile.ring
    public static let safeHolding: [Int: Float] = [
        HeatRigProfile.heaterPercent.address: 0, HeatRigProfile.fanPercent.address: 100,
    ]
    public static let safeCoils: [Int: Bool] = [
        HeatRigProfile.Coil.heaterEnable.rawValue: false, HeatRigProfile.Coil.fanEnable.rawValue: true,
    ]
    /// Block temperature that raises the device's high warning.
    public static let highWarningC = 85.0
    /// What an open (burnt-out) thermocouple reads: up-scale, as a type K input does.
    public static let openThermocoupleC: Float = 1372

    public private(set) var plant: HeatRigPlant
    /// Thermocouples that are open (channel index); they read up-scale with quality 0x80.
    public var openThermocouples: Set<Int> = []

    public init(plant: HeatRigPlant) {
        self.plant = plant
    }

    /// Plant disturbances: the heater element or the fan gives nothing whatever its command; the block
    /// thermocouple goes open.
    public static let disturbances = ["heater_failure", "fan_failure", "open_thermocouple"]
    private var heaterFailed = false
    private var fanFailed = false

    public mutating func setDisturbance(_ name: String, active: Bool) {
        switch name {
        case "heater_failure": heaterFailed = active
        case "fan_failure": fanFailed = active
        case "open_thermocouple":
            if active { openThermocouples.insert(0) } else { openThermocouples.remove(0) }
        default: break
        }
    }

    public mutating func tick(dt: Double, actuators: Actuators) {
        let heaterOn = actuators.coil(HeatRigProfile.Coil.heaterEnable.rawValue) && !heaterFailed
        let fanOn = actuators.coil(HeatRigProfile.Coil.fanEnable.rawValue) && !fanFailed
        let heater = heaterOn ? Double(actuators.value(HeatRigProfile.heaterPercent)) / 100 : 0
        let fan = fanOn ? Double(actuators.value(HeatRigProfile.fanPercent)) / 100 : 0
        plant.step(dt: dt, inputs: HeatRigPlant.Inputs(heaterFraction: heater, fanFraction: fan))
    }

    public func channelReadings() -> [ChannelReading] {
        let values: [Double] = [plant.measuredBlockC, plant.measuredMidC, plant.measuredEndC,
                                plant.measuredAmbientC, plant.heaterPowerW, plant.fanAirMps]
        return values.enumerated().map { i, value in
            if openThermocouples.contains(i) { return ChannelReading(raw: Self.openThermocoupleC,
                                                                     quality: .sensorFailure) }
            return ChannelReading.checked(value, HeatRigProfile.channels[i])
        }
    }

    public func discreteInputs(estopPressed: Bool) -> [Bool] {
        [!estopPressed, plant.thermostatTripped]
    }

    public var statusBits: StatusBits {
        var bits: StatusBits = []
        if plant.thermostatTripped { bits.formUnion([.highAlarm, .interlockActive]) }
        if plant.blockC >= Self.highWarningC { bits.insert(.highWarning) }
        return bits
    }
}
