import Control
import Devices
import DeviceTransports
import Sim

/// The CNC mill's torque supervision (docs/register-contract.md §C1).
package enum MillKind: StationKind {
    package typealias Controller = MillController

    package static let summary = "CNC mill: cuts as runs, spindle torque supervised from a 1 kHz sample ring"
    package static let reportPlots = [
        ReportPlot("Spindle torque (N·m), overloads and tool breakages marked", channels: ["torque_nm"],
                   markAlarms: ["torque_overload", "tool_broken"]),
        ReportPlot("Spindle speed (rpm)", channels: ["spindle_rpm"]),
        ReportPlot("Motor temperature (°C)", channels: ["motor_temp_c"]),
    ]
    package static let lossAlarm = "device_unavailable"
    package static var presets: [String] { MillPlant.Parameters.presetNames }

    package static func makeController(_ control: MillControlConfig, context: StationContext) -> MillController {
        MillController(config: control)
    }

    package static func simulatedDevice(_ control: MillControlConfig, seed: UInt64, preset: String, unit: UInt8,
                                       host: SimulatedHost) throws -> any ModbusDevice {
        guard let parameters = MillPlant.Parameters.preset(named: preset) else {
            throw UnknownPreset(kind: kind, preset: preset, presets: presets)
        }
        return SimulatedDevice(model: MillFirmware(plant: MillPlant(parameters: parameters, seed: seed)),
                               serial: SimulatorCatalog.serial(seed: seed), unitId: UInt16(unit))
    }

    /// A cut: `duration_s`, `spindle_rpm`, `feed_override_pct`, each optional.
    package static let recipes: RecipeFormat? = RecipeFormat(
        keys: "duration_s, spindle_rpm, feed_override_pct",
        example: "duration_s = 600\nspindle_rpm = 8000\nfeed_override_pct = 100",
        accepts: { keys in keys.isSubset(of: ["duration_s", "spindle_rpm", "feed_override_pct"]) },
        read: { table, recipe in
            let limits: [(String, ClosedRange<Double>)] = [
                ("duration_s", 1...86400), ("spindle_rpm", MillControlConfig.rpmLimits),
                ("feed_override_pct", MillControlConfig.overrideLimits),
            ]
            for (key, range) in limits where table.has(key) {
                let value = table.double(key, default: .nan, range: range)
                if value.isFinite { recipe.parameters[key] = value }
            }
        })
}
