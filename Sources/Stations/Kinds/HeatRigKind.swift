import Control
import Devices
import DeviceTransports
import Sim

/// The heat-transfer rig (docs/register-contract.md §C2): setpoint control, or ramp/soak profiles as runs.
package enum HeatRigKind: StationKind {
    package typealias Controller = HeatRigController

    package static let summary = "heat-transfer rig: heater PID to a setpoint or a ramp/soak profile, over-temperature trip"
    package static let reportPlots = [
        ReportPlot("Block temperature against its setpoint (°C)", channels: ["block_temp_c"], settings: ["setpoint_c"]),
        ReportPlot("Rig temperatures along the bar (°C)", channels: ["block_temp_c", "mid_temp_c", "end_temp_c", "ambient_temp_c"]),
        ReportPlot("Heater power (W)", channels: ["heater_power_w"]),
    ]
    package static let lossAlarm = "device_unavailable"
    package static let safetyChannels: KeyValuePairs<String, String> = [
        "block_temp_c": "the heater's control and its over-temperature trip",
    ]
    package static var presets: [String] { HeatRigPlant.Parameters.presetNames }

    package static func makeController(_ control: HeatRigControlConfig, context: StationContext) -> HeatRigController {
        HeatRigController(config: control)
    }

    package static func simulatedDevice(_ control: HeatRigControlConfig, seed: UInt64, preset: String, unit: UInt8,
                                       host: SimulatedHost) throws -> any ModbusDevice {
        guard let parameters = HeatRigPlant.Parameters.preset(named: preset) else {
            throw UnknownPreset(kind: kind, preset: preset, presets: presets)
        }
        return SimulatedDevice(model: HeatRigFirmware(plant: HeatRigPlant(parameters: parameters, seed: seed)),
                               serial: SimulatorCatalog.serial(seed: seed), unitId: UInt16(unit))
    }

    /// A ramp/soak profile: `ramp1_c_per_min`, `target1_c`, `soak1_s`, … up to 8 segments.
    package static let recipes: RecipeFormat? = RecipeFormat(
        keys: "ramp1_c_per_min, target1_c, soak1_s, ramp2_c_per_min, … (up to 8 segments)",
        example: "ramp1_c_per_min = 5\ntarget1_c = 50\nsoak1_s = 300",
        accepts: { keys in RampSoakProfile.describes(RunRecipe(name: "", parameters: Dictionary(
            uniqueKeysWithValues: keys.map { ($0, 0) }))) },
        read: { table, recipe in
            for key in table.table.keys where key != "name" {
                let value = table.double(key, default: .nan, range: -1e9...1e9)
                if value.isFinite { recipe.parameters[key] = value }
            }
            do throws(CommandRejection) {
                _ = try RampSoakProfile.make(from: recipe, targetLimits: HeatRigControlConfig.setpointLimits)
            } catch {
                table.fail("", error.reason)
            }
        })
}
