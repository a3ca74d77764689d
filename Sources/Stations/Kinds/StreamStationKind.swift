import Control
import Devices
import DeviceTransports
import Sim

/// The stream water-quality station (docs/register-contract.md §D): storm events, loads and flow-weighted means. No
/// runs.
package enum StreamStationKind: StationKind {
    package typealias Controller = StreamStationController

    package static let summary = "stream water-quality station: storm events, loads and flow-weighted mean concentrations"
    package static let lossAlarm = "device_unavailable"
    package static var presets: [String] { StreamPlant.Parameters.presetNames }

    package static func readControl(_ t: TableReader?) -> StreamControlConfig {
        var c = StreamControlConfig()
        guard let t else { return c }
        c.sampleEvery = t.double("sample_every_s", default: c.sampleEvery, range: 1...3600)
        c.logEvery = t.double("log_every_s", default: c.logEvery, range: 1...86400)
        c.logEveryInEvent = t.double("log_every_event_s", default: c.logEveryInEvent, range: 1...86400)
        c.autosamplerEvery = 60 * t.double("autosampler_every_min", default: c.autosamplerEvery / 60, range: 1...1440)
        c.areaHa = t.double("area_ha", default: c.areaHa, range: 1...10_000_000)
        c.startDayOfYear = t.double("start_day_of_year", default: c.startDayOfYear, range: 0...364)
        return c
    }

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
