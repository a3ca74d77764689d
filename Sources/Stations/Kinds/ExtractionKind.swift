import Control
import Devices
import DeviceTransports
import Sim

/// The amino-acid circulating extraction device (docs/register-contract.md §A).
package enum ExtractionKind: StationKind {
    package typealias Controller = ExtractionController

    package static let summary = "amino-acid circulating extraction device: dynamic nozzle, pump, filter, box cooling"
    package static let reportPlots = [
        ReportPlot("Nozzle lift and liquid level (mm)", channels: ["lift_mm", "level_mm"]),
        ReportPlot("Box temperature (°C)", channels: ["box_temp_c", "ambient_temp_c"],
                   lines: [.init("35 °C cooling limit", 35)]),
        ReportPlot("Flow through the filter (L/min)", channels: ["flow_lpm"]),
        ReportPlot("Filter ΔP (bar)", channels: ["filter_dp_bar"]),
    ]
    package static let lossAlarm = "device_unavailable"
    /// The channels whose failure trips the device (`sensor_fault`, ExtractionController.evaluateInterlocks).
    package static let safetyChannels: KeyValuePairs<String, String> = [
        "lift_mm": "nozzle position control (a failed sensor trips the device)",
        "push_mm": "nozzle position control (a failed sensor trips the device)",
        "level_mm": "nozzle height over the liquid (a failed sensor trips the device)",
        "box_temp_c": "box cooling ≤ 35 °C and its trip",
        "flow_lpm": "circulation flow control (a failed sensor trips the device)",
        "filter_dp_bar": "the filter's blockage trip and backflush",
    ]
    package static var presets: [String] { ExtractionPlant.Parameters.presetNames }

    /// The default recipe and start-up behaviour: the recipe's keys, plus `start_run`.
    package static func readControl(_ t: TableReader?) -> ExtractionControlConfig {
        var c = ExtractionControlConfig()
        guard let t else { return c }
        var recipe = RunRecipe(name: "default")
        readRecipeKeys(t, into: &recipe, outOfRange: 0)
        if t.has("start_run"), let b = t.bool("start_run") { c.startRun = b }
        do throws(CommandRejection) {
            c.defaultRecipe = try ExtractionRecipe.make(recipe, base: c.defaultRecipe)
        } catch {
            t.fail("residue_duration_s", error.reason)
        }
        return c
    }

    package static func makeController(_ control: ExtractionControlConfig, context: StationContext) -> ExtractionController {
        ExtractionController(config: control)
    }

    package static func simulatedDevice(_ control: ExtractionControlConfig, seed: UInt64, preset: String, unit: UInt8,
                                       host: SimulatedHost) throws -> any ModbusDevice {
        guard let parameters = ExtractionPlant.Parameters.preset(named: preset) else {
            throw UnknownPreset(kind: kind, preset: preset, presets: presets)
        }
        return SimulatedDevice(model: ExtractionFirmware(plant: ExtractionPlant(parameters: parameters, seed: seed)),
                               serial: SimulatorCatalog.serial(seed: seed), unitId: UInt16(unit))
    }

    /// Every key optional: a recipe with none runs the defaults.
    package static let recipes: RecipeFormat? = RecipeFormat(
        keys: ExtractionRecipe.specs.map(\.name).joined(separator: ", "),
        example: "circulation_s = 3600\nflow_lpm = 10",
        accepts: { keys in keys.isSubset(of: Set(ExtractionRecipe.specs.map(\.name))) },
        read: { table, recipe in
            readRecipeKeys(table, into: &recipe, outOfRange: .nan)
            do throws(CommandRejection) {
                _ = try ExtractionRecipe.make(recipe, base: ExtractionRecipe())
            } catch {
                table.fail("", error.reason)
            }
        })

    /// The recipe's keys in `t`, each checked against its limits (`fixed_nozzle` as a boolean). A value out of range
    /// is reported and taken as `outOfRange` (NaN: left out).
    private static func readRecipeKeys(_ t: TableReader, into recipe: inout RunRecipe, outOfRange: Double) {
        for spec in ExtractionRecipe.specs where t.has(spec.name) {
            if spec.name == "fixed_nozzle" {
                if let b = t.bool("fixed_nozzle") { recipe.parameters["fixed_nozzle"] = b ? 1 : 0 }
            } else {
                let value = t.double(spec.name, default: outOfRange, range: spec.limits)
                if !value.isNaN { recipe.parameters[spec.name] = value }
            }
        }
    }
}
