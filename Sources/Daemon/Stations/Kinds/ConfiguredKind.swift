import Control
import Devices
import Logging
import Sim

/// A station's kind with its `[station.control]` settings: typed inside, opaque to the generic code, which builds
/// the station's controller and simulated device through it and never asks which kind it has.
protocol ConfiguredKind: Sendable {
    /// The kind's descriptor.
    var descriptor: any StationKind.Type { get }
    /// The controller's relays (in output order) with their safe states.
    func relays(context: StationContext) -> [(name: String, safe: Bool)]
    /// A simulated device of the kind with these settings.
    func simulatedDevice(seed: UInt64, preset: String, unit: UInt8, host: SimulatedHost) throws -> any ModbusDevice
    /// The station: this kind's controller behind the generic station runtime.
    func makeStation(_ wiring: StationWiring) -> any AnyStation
}

/// `K`'s settings. Made by the configuration loader (`K.readControl`), or by hand for a station built in code.
struct Configured<K: StationKind>: ConfiguredKind {
    var control: K.Control

    init(_ control: K.Control) {
        self.control = control
    }

    var descriptor: any StationKind.Type { K.self }

    func relays(context: StationContext) -> [(name: String, safe: Bool)] {
        let controller = K.makeController(control, context: context)
        return zip(controller.relayNames, controller.safeRelays).map { ($0, $1) }
    }

    func simulatedDevice(seed: UInt64, preset: String, unit: UInt8,
                                host: SimulatedHost) throws -> any ModbusDevice {
        try K.simulatedDevice(control, seed: seed, preset: preset, unit: unit, host: host)
    }

    func makeStation(_ wiring: StationWiring) -> any AnyStation {
        Station(name: wiring.name, descriptor: K.self, mode: wiring.mode, client: wiring.client,
                controller: K.makeController(control, context: wiring.context), logger: wiring.logger,
                statusInterval: wiring.statusInterval, lines: wiring.lines, simulation: wiring.simulation,
                bus: wiring.bus)
    }
}

/// What the wiring has decided for a station, for `ConfiguredKind.makeStation`.
struct StationWiring {
    var name: String
    var mode: StationMode
    var client: any ModbusClient
    var context: StationContext
    var statusInterval: Double
    var lines: HostLines
    var simulation: SimulationHandles?
    var bus: String?
    var logger: Logger
}
