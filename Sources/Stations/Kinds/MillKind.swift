import Control
import Devices
import DeviceTransports
import Sim

/// The CNC mill's torque supervision (docs/register-contract.md §C1).
package enum MillKind: StationKind {
    package typealias Controller = MillController

    package static let summary = "CNC mill: cuts as runs, spindle torque supervised from a 1 kHz sample ring"
    package static let lossAlarm = "device_unavailable"
    package static var presets: [String] { MillPlant.Parameters.presetNames }

    package static func readControl(_ t: TableReader?) -> MillControlConfig {
        var c = MillControlConfig()
        guard let t else { return c }
        c.spindleRPM = t.double("spindle_rpm", default: c.spindleRPM, range: MillControlConfig.rpmLimits)
        c.feedOverridePercent = t.double("feed_override_pct", default: c.feedOverridePercent,
                                         range: MillControlConfig.overrideLimits)
        c.cutDuration = t.double("cut_duration_s", default: c.cutDuration, range: 1...86400)
        if t.has("start_run"), let b = t.bool("start_run") { c.startRun = b }
        c.overloadNm = t.double("overload_nm", default: c.overloadNm, range: 0.01...50)
        c.overloadSamples = t.int("overload_ms", default: c.overloadSamples, range: 1...1000)
        c.spindleStopDelay = t.double("spindle_stop_delay_ms", default: c.spindleStopDelay * 1000, range: 0...10_000)
            / 1000
        c.breakageFraction = t.double("breakage_fraction", default: c.breakageFraction, range: 0.01...0.9)
        c.statisticsWindow = t.int("statistics_window_samples", default: c.statisticsWindow, range: 10...600_000)
        return c
    }

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
