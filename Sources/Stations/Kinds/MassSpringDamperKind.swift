import Control
import Devices
import DeviceTransports
import Sim

/// The mass-spring-damper rig's experiment (docs/register-contract.md §C3).
package enum MassSpringDamperKind: StationKind {
    package typealias Controller = MassSpringDamperController

    package static let summary = "mass-spring-damper rig: free decay and a stepped-sine sweep estimating f_n and ζ"
    package static let lossAlarm = "device_unavailable"
    package static var presets: [String] { MassSpringDamperPlant.Parameters.presetNames }

    package static func readControl(_ t: TableReader?) -> MassSpringDamperControlConfig {
        var c = MassSpringDamperControlConfig()
        guard let t else { return c }
        let f = MassSpringDamperControlConfig.frequencyLimits
        let a = MassSpringDamperControlConfig.amplitudeLimits
        c.exciteFrequencyHz = t.double("excite_frequency_hz", default: c.exciteFrequencyHz, range: f)
        c.exciteAmplitudeN = t.double("excite_amplitude_n", default: c.exciteAmplitudeN, range: a)
        c.exciteDuration = t.double("excite_s", default: c.exciteDuration, range: 0.5...600)
        c.decayDuration = t.double("decay_s", default: c.decayDuration, range: 1...600)
        if t.has("sweep"), let b = t.bool("sweep") { c.sweep = b }
        c.sweepFromHz = t.double("sweep_from_hz", default: c.sweepFromHz, range: f)
        c.sweepToHz = t.double("sweep_to_hz", default: c.sweepToHz, range: f)
        c.sweepSteps = t.int("sweep_steps", default: c.sweepSteps, range: 3...200)
        c.sweepAmplitudeN = t.double("sweep_amplitude_n", default: c.sweepAmplitudeN, range: a)
        c.sweepDwell = t.double("sweep_dwell_s", default: c.sweepDwell, range: 1...600)
        c.sweepMeasure = t.double("sweep_measure_s", default: c.sweepMeasure, range: 0.5...600)
        if t.has("start_run"), let b = t.bool("start_run") { c.startRun = b }
        if c.sweepToHz <= c.sweepFromHz { t.fail("sweep_to_hz", "must be above sweep_from_hz (\(c.sweepFromHz))") }
        if c.sweepMeasure >= c.sweepDwell { t.fail("sweep_measure_s", "must be shorter than sweep_dwell_s (\(c.sweepDwell))") }
        return c
    }

    package static func makeController(_ control: MassSpringDamperControlConfig,
                                      context: StationContext) -> MassSpringDamperController {
        MassSpringDamperController(config: control)
    }

    package static func simulatedDevice(_ control: MassSpringDamperControlConfig, seed: UInt64, preset: String,
                                       unit: UInt8, host: SimulatedHost) throws -> any ModbusDevice {
        guard let parameters = MassSpringDamperPlant.Parameters.preset(named: preset) else {
            throw UnknownPreset(kind: kind, preset: preset, presets: presets)
        }
        let plant = MassSpringDamperPlant(parameters: parameters, seed: seed)
        return SimulatedDevice(model: MassSpringDamperFirmware(plant: plant, seed: seed),
                               serial: SimulatorCatalog.serial(seed: seed), unitId: UInt16(unit))
    }

    /// The experiment takes no parameters: its recipe is a name.
    package static let recipes: RecipeFormat? = RecipeFormat(
        keys: "(none: the experiment takes no parameters)", accepts: { $0.isEmpty }, read: { _, _ in })
}
