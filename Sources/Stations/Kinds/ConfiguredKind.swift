import Control
import Foundation
import Devices
import DeviceTransports
import Logging
import Sim

/// A station's kind with its `[station.control]` settings: typed inside, opaque to the generic code, which builds
/// the station's controller and simulated device through it and never asks which kind it has.
package protocol ConfiguredKind: Sendable {
    /// The kind's descriptor.
    var descriptor: any StationKind.Type { get }
    /// The controller's relays (in output order) with their safe states.
    func relays(context: StationContext) -> [(name: String, safe: Bool)]
    /// A simulated device of the kind with these settings.
    func simulatedDevice(seed: UInt64, preset: String, unit: UInt8, host: SimulatedHost) throws -> any ModbusDevice
    /// The station: this kind's controller behind the generic station runtime.
    func makeStation(_ wiring: StationWiring) -> any AnyStation
    /// Each loop's read plan for a device with `map` (nil: the register contract), one line a request, as the API's
    /// `read_plan` shows it: `position (10 ms): FC 04 input 99…111 (13)`.
    func readPlan(map: DeviceMap?) -> [String]
}

/// `K`'s settings. Made by the configuration loader (`K.readControl`), or by hand for a station built in code.
package struct Configured<K: StationKind>: ConfiguredKind {
    package var control: K.Control
    /// Builds the station. Made here, where `K` is known wherever the caller knows it (`StationKind.configure`, a
    /// requirement, is compiled for each kind): the station it builds is then compiled for `K`'s controller too, and
    /// so are its ticks (perf of 1000 stations: a generic tick looked up type metadata and copied the controller
    /// through witnesses on every tick).
    private let build: @Sendable (K.Control, StationWiring) -> any AnyStation

    package init(_ control: K.Control) {
        self.control = control
        self.build = { control, wiring in
            Station(name: wiring.name, descriptor: K.self, mode: wiring.mode, client: wiring.client,
                    controller: K.makeController(control, context: wiring.context), logger: wiring.logger,
                    statusInterval: wiring.statusInterval, lines: wiring.lines, simulation: wiring.simulation,
                    bus: wiring.bus, clock: wiring.clock)
        }
    }

    package var descriptor: any StationKind.Type { K.self }

    package func relays(context: StationContext) -> [(name: String, safe: Bool)] {
        let controller = K.makeController(control, context: context)
        return zip(controller.relayNames, controller.safeRelays).map { ($0, $1) }
    }

    package func simulatedDevice(seed: UInt64, preset: String, unit: UInt8,
                                host: SimulatedHost) throws -> any ModbusDevice {
        try K.simulatedDevice(control, seed: seed, preset: preset, unit: unit, host: host)
    }

    package func readPlan(map: DeviceMap?) -> [String] {
        let device: any ModbusClient = map.map { MappedClient(base: NoDevice(), map: $0, layout: K.contractLayout) }
            ?? NoDevice()
        // A real device: without the simulator-only channels (a mapped one lacks them anyway).
        let spans = ContractSpan.snapshot(of: K.Controller.Profile.self, channelCount: K.deviceChannelSpecs.count)
        // A contract device as the simulator is one (1.01: the switches in IR 99); a 1.00 device reads them with FC 02.
        let cache = SnapshotCache(base: device)
        cache.switchWord = true
        return Station<K.Controller>.planLines(controller: K.makeController(control, context: StationContext()),
                                               cache: cache, snapshot: spans)
    }

    package func makeStation(_ wiring: StationWiring) -> any AnyStation { build(control, wiring) }
}

/// What the wiring has decided for a station, for `ConfiguredKind.makeStation`.
package struct StationWiring {
    package var name: String
    package var mode: StationMode
    package var client: any ModbusClient
    package var context: StationContext
    package var statusInterval: Double
    package var lines: HostLines
    package var simulation: SimulationHandles?
    package var bus: String?
    /// The station's clock, seconds (its loops' clock); nil: the monotonic clock.
    package var clock: (@Sendable () -> Double)?
    package var logger: Logger

    package init(name: String, mode: StationMode, client: any ModbusClient, context: StationContext,
                 statusInterval: Double, lines: HostLines, simulation: SimulationHandles? = nil, bus: String? = nil,
                 clock: (@Sendable () -> Double)? = nil, logger: Logger) {
        self.name = name
        self.mode = mode
        self.client = client
        self.context = context
        self.statusInterval = statusInterval
        self.lines = lines
        self.simulation = simulation
        self.bus = bus
        self.clock = clock
        self.logger = logger
    }
}

/// A device that is never asked: planning reads needs a client, not an answer.
private final class NoDevice: ModbusClient {
    var endpoint: String { "none" }
    var isConnected: Bool { false }
    private func refuse() -> ModbusLinkError { ModbusLinkError(endpoint: endpoint, operation: "plan", errno: ENOTCONN) }
    func connect() throws { throw refuse() }
    func close() {}
    func readInputRegisters(at address: Int, count: Int) throws -> [UInt16] { throw refuse() }
    func readHoldingRegisters(at address: Int, count: Int) throws -> [UInt16] { throw refuse() }
    func readCoils(at address: Int, count: Int) throws -> [Bool] { throw refuse() }
    func readDiscreteInputs(at address: Int, count: Int) throws -> [Bool] { throw refuse() }
    func writeRegister(at address: Int, value: UInt16) throws { throw refuse() }
    func writeRegisters(at address: Int, values: [UInt16]) throws { throw refuse() }
    func writeCoil(at address: Int, value: Bool) throws { throw refuse() }
    func writeCoils(at address: Int, values: [Bool]) throws { throw refuse() }
}
