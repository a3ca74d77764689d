import Control
import Devices
import DeviceTransports
import Sim

/// The stream water-quality station (docs/register-contract.md §D): storm events, loads and flow-weighted means. No
/// runs.
package enum StreamStationKind: StationKind {
    package typealias Controller = StreamStationController

    package static let summary = "stream water-quality station: storm events, loads and flow-weighted mean concentrations"
    package static let reportPlots = [
        ReportPlot("Discharge (m³/s), storm events shaded", channels: ["discharge_m3s"], shadeAlarm: "storm_event"),
        ReportPlot("Total phosphorus (mg/L), storm events shaded", channels: ["tp_mgl"], shadeAlarm: "storm_event"),
        ReportPlot("Rain (mm/h)", channels: ["rain_mmh"]),
    ]
    package static let lossAlarm = "device_unavailable"
    /// A logger without an autosampler is still a stream station.
    package static let optionalCommands = ["autosampler_trigger"]
    package static var presets: [String] { StreamPlant.Parameters.presetNames }

    package static func makeController(_ control: StreamControlConfig,
                                      context: StationContext) -> StreamStationController {
        StreamStationController(config: control)
    }

    package static func simulatedDevice(_ control: StreamControlConfig, seed: UInt64, preset: String, unit: UInt8,
                                       host: SimulatedHost) throws -> any ModbusDevice {
        guard let parameters = StreamPlant.Parameters.preset(named: preset) else {
            throw UnknownPreset(kind: kind, preset: preset, presets: presets)
        }
        let plant = StreamPlant(parameters: parameters, seed: seed, startDayOfYear: control.startDayOfYear)
        return SimulatedDevice(model: StreamStationFirmware(plant: plant, seed: seed),
                               serial: SimulatorCatalog.serial(seed: seed), unitId: UInt16(unit))
    }

    package static let recipes: RecipeFormat? = nil
}
