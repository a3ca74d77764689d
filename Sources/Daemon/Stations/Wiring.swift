import Control
import Devices
import Dispatch
import Logging
import Sim
import Synchronization

/// Decides, once per station at start, whether it drives its real device or the in-process simulator
/// (DESIGN.md "Fallback"), and builds it. Nothing below this point knows which it got.
enum Wiring {
    /// The outcome of probing one device.
    enum Probe: Sendable {
        case answered
        case silent(reason: String)
        /// Something answered, but not a device of the configured kind: never simulate over it.
        case wrongDevice(String)
    }

    /// A station that must not start.
    struct RefusedStation: Error, CustomStringConvertible {
        let station: String
        let address: String
        let reason: String
        var description: String { "station \"\(station)\": device at \(address) \(reason)" }
    }

    /// Probes every TCP device concurrently with its probe timeout, so start-up costs one timeout, not one each.
    static func probe(_ stations: [StationConfig]) -> [Probe] {
        let results = Mutex([Probe](repeating: .silent(reason: "not probed"), count: stations.count))
        DispatchQueue.concurrentPerform(iterations: stations.count) { i in
            let station = stations[i]
            let outcome: Probe
            switch station.address {
            case .simulated:
                outcome = .silent(reason: "sim:// address")
            case .tcp(let host, let port, let unit):
                let client = ModbusTCPClient(host: host, port: port, unit: unit, timeouts: station.timeouts)
                do {
                    try client.connect()
                    let header = try client.readHeader()
                    if header.deviceType == station.kind.deviceType {
                        outcome = .answered
                    } else {
                        let found = header.kind.map(\.rawValue) ?? "0x" + String(header.deviceType, radix: 16)
                        outcome = .wrongDevice("answers as \(found), not \(station.kind) (IR 0)")
                    }
                } catch {
                    outcome = .silent(reason: "\(error)")
                }
                client.close()
            }
            results.withLock { $0[i] = outcome }
        }
        return results.withLock { $0 }
    }

    /// Builds the stations of a real-clock run, probing each device. Throws `RefusedStation` for a device with
    /// `fallback = "fail"` that did not answer, any device that answers as another kind, or a real station whose
    /// host GPIO lines cannot be had (an E-stop that is configured but missing must stop the start).
    static func realStations(_ configuration: Configuration, clock: any LoopClock, seed: UInt64,
                             statusInterval: Double = 0, gpio: (any GPIOProvider)? = nil,
                             logger: Logger) throws -> [any AnyStation] {
        let probes = probe(configuration.stations)
        var refused: [RefusedStation] = []
        var stations: [any AnyStation] = []
        let hostGPIO = gpio ?? LibGPIODProvider()
        for (config, probe) in zip(configuration.stations, probes) {
            switch probe {
            case .answered:
                guard case .tcp(let host, let port, let unit) = config.address else { continue }
                let lines: HostLines
                do {
                    lines = try requestLines(config, providers: { _ in hostGPIO })
                } catch {
                    refused.append(RefusedStation(station: config.name, address: "\(config.address)",
                                                  reason: "answers, but its host GPIO line failed: \(error)"))
                    continue
                }
                let client = ModbusTCPClient(host: host, port: port, unit: unit, timeouts: config.timeouts)
                logger.notice("station \(config.name) (\(config.kind)): REAL device at \(config.address)")
                stations.append(makeStation(config, mode: .real, client: client, statusInterval: statusInterval,
                                            lines: lines, simulation: nil, logger: logger))
            case .wrongDevice(let reason):
                refused.append(RefusedStation(station: config.name, address: "\(config.address)", reason: reason))
            case .silent(let reason):
                if config.fallback == .fail {
                    refused.append(RefusedStation(station: config.name, address: "\(config.address)",
                                                  reason: "does not answer (\(reason)) and fallback is \"fail\""))
                    continue
                }
                logger.warning("""
                    station \(config.name) (\(config.kind)): SIMULATED — no device at \(config.address) \
                    (\(reason)); running the in-process simulator
                    """)
                stations.append(try simulatedStation(config, seed: seed, clock: clock, statusInterval: statusInterval,
                                                     logger: logger))
            }
        }
        if let first = refused.first {
            for r in refused.dropFirst() { logger.critical("\(r)") }
            throw first
        }
        return stations
    }

    /// Builds the stations of a virtual-clock run: every one simulated, none probed.
    static func virtualStations(_ configuration: Configuration, clock: any LoopClock, seed: UInt64,
                                logger: Logger) throws -> [any AnyStation] {
        try configuration.stations.map { try simulatedStation($0, seed: seed, clock: clock, logger: logger) }
    }

    /// A station on the in-process simulator, with simulated GPIO chips for its host lines.
    static func simulatedStation(_ config: StationConfig, seed: UInt64, clock: any LoopClock,
                                 statusInterval: Double = 0, logger: Logger) throws -> any AnyStation {
        let deviceSeed = config.simulator.seed ?? SimulatorCatalog.seed(run: seed, name: config.name)
        let device = try SimulatorCatalog.device(kind: config.kind, seed: deviceSeed, preset: config.simulator.preset)
        let client = InMemoryModbusClient(device: device, endpoint: "sim://\(config.kind)/\(config.name)") {
            clock.seconds()
        }
        var chips: [String: SimulatedGPIOChip] = [:]
        for address in [config.estop, config.beacon].compactMap({ $0 }) where chips[address.chip] == nil {
            chips[address.chip] = SimulatedGPIOChip(name: address.chip)
        }
        let lines = try requestLines(config) { chips[$0]! }
        return makeStation(config, mode: .simulated, client: client, statusInterval: statusInterval, lines: lines,
                           simulation: SimulationHandles(device: device, gpio: chips), logger: logger)
    }

    /// Requests the station's E-stop (input) and beacon (output, off) lines.
    static func requestLines(_ config: StationConfig,
                             providers: (String) -> any GPIOProvider) throws -> HostLines {
        var lines = HostLines()
        if let estop = config.estop {
            lines.estop = try providers(estop.chip).request(estop, direction: .input,
                                                            consumer: "rigd:\(config.name):estop")
        }
        if let beacon = config.beacon {
            lines.beacon = try providers(beacon.chip).request(beacon, direction: .output(initial: false),
                                                              consumer: "rigd:\(config.name):beacon")
        }
        return lines
    }

    static func makeStation(_ config: StationConfig, mode: StationMode, client: any ModbusClient,
                            statusInterval: Double = 0, lines: HostLines = HostLines(),
                            simulation: SimulationHandles? = nil, logger: Logger) -> any AnyStation {
        switch config.control {
        case .heatRig(let control):
            Station(name: config.name, mode: mode, client: client, controller: HeatRigController(config: control),
                    logger: logger, statusInterval: statusInterval, lines: lines, simulation: simulation)
        case .extraction(let control):
            Station(name: config.name, mode: mode, client: client, controller: ExtractionController(config: control),
                    logger: logger, statusInterval: statusInterval, lines: lines, simulation: simulation)
        }
    }
}
