import Devices

/// The extraction device's firmware around its plant (docs/register-contract.md §A).
///
/// Valves act only while coil 2 (axes enable) is on, the pump and the fan only while their coils are on. The
/// discrete inputs follow the plant: limit switches, low level, leak. Device status: box ≥ 35 °C high warning,
/// ≥ 38 °C high alarm; low level low alarm; leak or low level set the interlock bit (the device itself refuses to
/// run the pump dry or onto a leak: pump power is cut while either is active). Channel 11, `yield_true`, is the plant's
/// extracted fraction read exactly: the simulator's lab assay, which a real device does not have.
public struct ExtractionFirmware: FirmwareModel {
    public typealias Profile = ExtractionProfile

    /// 100 Hz device tick; the plant sub-steps the axes at 1 kHz inside each tick.
    public static let tickPeriod = 0.01
    public static let holdingFloats = ExtractionProfile.holdingFloats
    public static let coilCount = ExtractionProfile.Coil.allCases.count
    public static let discreteInputCount = ExtractionProfile.DiscreteInput.allCases.count
    public static let ring: SampleRingLayout? = nil
    public static let safeHolding: [Int: Float] = [
        ExtractionProfile.liftValve.address: 0, ExtractionProfile.pushValve.address: 0,
        ExtractionProfile.pumpSpeed.address: 0, ExtractionProfile.fanSpeed.address: 100,
    ]
    public static let safeCoils: [Int: Bool] = [
        ExtractionProfile.Coil.pumpEnable.rawValue: false, ExtractionProfile.Coil.fanEnable.rawValue: true,
        ExtractionProfile.Coil.axesEnable.rawValue: false, ExtractionProfile.Coil.backflush.rawValue: false,
        ExtractionProfile.Coil.residueReturn.rawValue: false,
    ]
    public static let highWarningC = 35.0
    public static let highAlarmC = 38.0

    public var plant: ExtractionPlant

    public init(plant: ExtractionPlant) {
        self.plant = plant
    }

    private var pumpInterlocked: Bool { plant.leakDetected || plant.lowLevel }

    /// Plant disturbances: the fan stops producing air, the feed clogs the filter 25× faster, a leak.
    public static let disturbances = ["fan_failure", "filter_clog", "leak"]

    public mutating func setDisturbance(_ name: String, active: Bool) {
        switch name {
        case "fan_failure": plant.faults.fanStuck = active
        case "filter_clog": plant.faults.foulingMultiplier = active ? 25 : 1
        case "leak": plant.faults.leak = active
        default: break
        }
    }

    public mutating func tick(dt: Double, actuators: Actuators) {
        typealias P = ExtractionProfile
        let axes = actuators.coil(P.Coil.axesEnable.rawValue)
        let pump = actuators.coil(P.Coil.pumpEnable.rawValue) && !pumpInterlocked
        let fan = actuators.coil(P.Coil.fanEnable.rawValue)
        let inputs = ExtractionPlant.Inputs(
            liftValve: axes ? Double(actuators.value(P.liftValve)) / 100 : 0,
            pushValve: axes ? Double(actuators.value(P.pushValve)) / 100 : 0,
            pumpSpeed: pump ? Double(actuators.value(P.pumpSpeed)) / 100 : 0,
            fanSpeed: fan ? Double(actuators.value(P.fanSpeed)) / 100 : 0,
            backflush: actuators.coil(P.Coil.backflush.rawValue),
            residueReturn: actuators.coil(P.Coil.residueReturn.rawValue), axesEnabled: axes)
        plant.step(dt: dt, inputs: inputs)
    }

    public func channelReadings() -> [ChannelReading] {
        let m = plant.measured
        let values = [m.liftMM, m.pushMM, m.levelMM, m.boxTempC, m.ambientC, m.flowLPM, m.filterDPBar, m.fanAirMps,
                      m.pumpPowerW, m.energyKWh, m.filteredL, m.extractedFraction]
        return zip(values, ExtractionProfile.channels).map { value, spec in
            var quality = ChannelQuality.ok
            var v = value
            // A transmitter clamps at its range ends and flags it.
            if v < spec.range.lowerBound { quality.insert(.underRange); v = spec.range.lowerBound }
            if v > spec.range.upperBound { quality.insert(.overRange); v = spec.range.upperBound }
            return ChannelReading(raw: Float(v), quality: quality)
        }
    }

    public func discreteInputs(estopPressed: Bool) -> [Bool] {
        [!estopPressed, plant.liftLowerLimit, plant.liftUpperLimit, plant.pushHome, plant.pushEnd, plant.lowLevel,
         plant.leakDetected]
    }

    public var statusBits: StatusBits {
        var bits: StatusBits = []
        if plant.boxTempC >= Self.highWarningC { bits.insert(.highWarning) }
        if plant.boxTempC >= Self.highAlarmC { bits.insert(.highAlarm) }
        if plant.lowLevel { bits.insert(.lowAlarm) }
        if pumpInterlocked { bits.insert(.interlockActive) }
        return bits
    }
}
