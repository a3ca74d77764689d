import Devices
import Sim
import Stations

/// The test bioreactor's descriptor (layer 4 of 4: the station runtime).
enum BioreactorKind: StationKind {
    typealias Controller = BioreactorController

    static let summary = "test-only bioreactor: pH and DO control (docs/adding-a-device-kind.md)"
    static let lossAlarm = "device_unavailable"
    static let presets = ["standard"]
    static let recipes: RecipeFormat? = nil

    static func makeController(_ control: BioreactorController.Config, context: StationContext) -> BioreactorController {
        BioreactorController(config: control)
    }

    static func simulatedDevice(_ control: BioreactorController.Config, seed: UInt64, preset: String, unit: UInt8,
                                host: SimulatedHost) throws -> any ModbusDevice {
        SimulatedDevice(model: BioreactorFirmware(), serial: SimulatorCatalog.serial(seed: seed), unitId: UInt16(unit))
    }
}
