import Control
import Devices
import DeviceTransports
import Sim

/// The mass-spring-damper rig's experiment (docs/register-contract.md §C3).
package enum MassSpringDamperKind: StationKind {
    package typealias Controller = MassSpringDamperController

    package static let summary = "mass-spring-damper rig: free decay and a stepped-sine sweep estimating f_n and ζ"
    package static let reportPlots = [
        ReportPlot("Free decay (mm), logged at 50 Hz, with the fitted envelope", channels: ["position_mm"],
                   logged: true, decayEnvelope: true),
        ReportPlot("Displacement (mm)", channels: ["position_mm"]),
        ReportPlot("Force (N)", channels: ["force_n"]),
    ]
    package static let lossAlarm = "device_unavailable"
    package static var presets: [String] { MassSpringDamperPlant.Parameters.presetNames }

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
