import Control
import Devices
import Dispatch
import Logging
import Sim
import DeviceTransports
import Locking

/// Decides, once per station at start, whether it drives its real device or the in-process simulator
/// (docs/design.md "Fallback"), and builds it. Nothing below this point knows which it got.
package enum Wiring {
    /// The outcome of probing one device.
    package enum Probe: Sendable {
        case answered
        case silent(reason: String)
        /// Something answered, but not a device of the configured kind: never simulate over it.
        case wrongDevice(String)
    }

    /// A station that must not start.
    package struct RefusedStation: Error, CustomStringConvertible {
        package let station: String
        package let address: String
        package let reason: String
        package var description: String { "station \"\(station)\": device at \(address) \(reason)" }

        package init(station: String, address: String, reason: String) {
            self.station = station
            self.address = address
            self.reason = reason
        }
    }

    /// Probes every device with its probe timeout: TCP devices concurrently, so start-up costs one timeout, not one
    /// each; the units of one serial line one after another on that line, as the bus is serial.
    /// `lines`: the serial lines by path (by default, one per path with its first station's settings).
    package static func probe(_ stations: [StationConfig], lines: [String: SerialLine]? = nil) -> [Probe] {
        let lines = lines ?? serialLines(stations)
        var jobs: [[Int]] = []
        var lineJobs: [String: Int] = [:]
        for (i, station) in stations.enumerated() {
            if let bus = station.bus {
                if let j = lineJobs[bus] { jobs[j].append(i) } else {
                    lineJobs[bus] = jobs.count
                    jobs.append([i])
                }
            } else {
                jobs.append([i])
            }
        }
        let results = Locked([Probe](repeating: .silent(reason: "not probed"), count: stations.count))
        let plan = jobs
        DispatchQueue.concurrentPerform(iterations: plan.count) { j in
            for i in plan[j] {
                let outcome = probe(stations[i], lines: lines)
                results.withLock { $0[i] = outcome }
            }
        }
        return results.withLock { $0 }
    }

    private static func probe(_ station: StationConfig, lines: [String: SerialLine]) -> Probe {
        let transport: any ModbusClient
        switch station.address {
        case .simulated:
            return .silent(reason: "sim:// address")
        case .tcp(let host, let port, let unit):
            transport = ModbusTCPClient(host: host, port: port, unit: unit, timeouts: station.timeouts)
        case .rtu(let settings, let unit):
            transport = ModbusRTUClient(line: lines[settings.path]!, unit: unit,
                                        probeTimeout: .milliseconds(station.probeTimeoutMs))
        }
        let mapped = station.map.map {
            MappedClient(base: transport, map: $0.map, layout: station.descriptor.contractLayout)
        }
        let client = mapped ?? transport
        defer { client.close() }
        do {
            try client.connect()
            let header = try client.withinProbeTimeout { try client.readHeader() }
            if header.deviceType == station.kind.deviceType { return .answered }
            if let problem = mapped?.identityProblem { return .wrongDevice(problem) }
            let found = KindRegistry.builtIn.describe(deviceType: header.deviceType)
            return .wrongDevice("answers as \(found), not \(station.kind) (IR 0)")
        } catch let error as ModbusTransactionError {
            // An exception reply is an answer: something is there (another map, another function set, busy). Only
            // silence may fall back to the simulator; a present device is never replaced by one.
            return .wrongDevice("answers, but not as the register contract expects: \(error) (a device that answers "
                                + "is never simulated: check its map and unit id)")
        } catch {
            return .silent(reason: "\(error)")
        }
    }

    /// One `SerialLine` per serial path, with the settings and response timeout of the first station on it.
    package static func serialLines(_ stations: [StationConfig]) -> [String: SerialLine] {
        var lines: [String: SerialLine] = [:]
        for station in stations {
            guard case .rtu(let settings, _) = station.address, lines[settings.path] == nil else { continue }
            lines[settings.path] = SerialLine(settings: settings,
                                              responseTimeout: .milliseconds(station.responseTimeoutMs))
        }
        return lines
    }

    /// Settings that must agree across the stations of one serial line.
    package static func lineConflicts(_ stations: [StationConfig]) -> [RefusedStation] {
        var first: [String: (String, SerialSettings)] = [:]
        var out: [RefusedStation] = []
        var units: [String: [Int: String]] = [:]
        for station in stations {
            guard case .rtu(let settings, let unit) = station.address else { continue }
            if let (name, other) = first[settings.path], other != settings {
                out.append(RefusedStation(station: station.name, address: "\(station.address)",
                                          reason: "is on the line of station \"\(name)\" with other serial settings "
                                              + "(\(settings.summary) vs \(other.summary))"))
            } else if first[settings.path] == nil {
                first[settings.path] = (station.name, settings)
            }
            // A map that reads values from other unit ids of the line claims them too.
            for u in [unit] + (station.map?.map.otherUnits ?? []) {
                if let other = units[settings.path]?[u] {
                    let reason = u == unit ? "has the same unit id as station \"\(other)\" on that line"
                        : "reads unit \(u) (its map's other unit), which station \"\(other)\" also uses on that line"
                    out.append(RefusedStation(station: station.name, address: "\(station.address)", reason: reason))
                    break
                }
                units[settings.path, default: [:]][u] = station.name
            }
        }
        return out
    }

    /// Builds the stations of a real-clock run, probing each device. A device that answers as another kind (or with
    /// exceptions) under `fallback = "simulate"` gives a `NotStartedStation` (mode `refused`). Throws `RefusedStation`
    /// for a device with `fallback = "fail"` that did not answer or answers as another kind (or with exceptions), or
    /// a real station whose host GPIO lines cannot be had (an E-stop that is configured but missing must stop the start).
    /// With `refuseInsteadOfThrowing` (a configuration reload, where the other stations keep running), such a station
    /// is a `NotStartedStation` with the reason instead, logged as critical.
    package static func realStations(_ configuration: Configuration, clock: any LoopClock, seed: UInt64,
                             statusInterval: Double = 0, gpio: (any GPIOProvider)? = nil,
                             startHourOfDay: Double = 0, refuseInsteadOfThrowing: Bool = false,
                             logger: Logger) throws -> [any AnyStation] {
        var refused = lineConflicts(configuration.stations)
        if let first = refused.first {
            for r in refused.dropFirst() { logger.critical("\(r)") }
            throw first
        }
        let serialLines = serialLines(configuration.stations)
        let probes = probe(configuration.stations, lines: serialLines)
        var stations: [any AnyStation] = []
        let hostGPIO = gpio ?? LibGPIODProvider()
        for (config, probe) in zip(configuration.stations, probes) {
            switch probe {
            case .answered:
                let lines: HostLines
                do {
                    lines = try requestLines(config, providers: { _ in hostGPIO })
                } catch {
                    refused.append(RefusedStation(station: config.name, address: "\(config.address)",
                                                  reason: "answers, but its host GPIO line failed: \(error)"))
                    continue
                }
                var client: any ModbusClient
                switch config.address {
                case .tcp(let host, let port, let unit):
                    client = ModbusTCPClient(host: host, port: port, unit: unit, timeouts: config.timeouts)
                case .rtu(let settings, let unit):
                    client = ModbusRTUClient(line: serialLines[settings.path]!, unit: unit,
                                             probeTimeout: .milliseconds(config.probeTimeoutMs))
                case .simulated:
                    continue
                }
                if let map = config.map {
                    client = mappedClient(client, config, map: map.map, logger: logger)
                    let through = "map \"\(map.map.name)\" (\(map.source))"
                    logger.notice("station \(config.name) (\(config.kind)): REAL device at \(config.address), \(through)")
                    noteMapLimits(config, map: map, logger: logger)
                } else {
                    logger.notice("station \(config.name) (\(config.kind)): REAL device at \(config.address)")
                }
                stations.append(makeStation(config.at(hour: startHourOfDay), mode: .real, client: client,
                                            statusInterval: statusInterval, lines: lines, simulation: nil,
                                            logger: logger))
            case .wrongDevice(let reason):
                // Something is there: it is never simulated. With fallback "fail" nothing starts; otherwise the
                // station stays refused (visible, not driven) and the others start.
                if config.fallback == .fail {
                    refused.append(RefusedStation(station: config.name, address: "\(config.address)", reason: reason))
                    continue
                }
                logger.error("""
                    station \(config.name) (\(config.kind)): REFUSED — the device at \(config.address) \(reason); \
                    the station is not started and not simulated
                    """)
                stations.append(NotStartedStation(config: config, reason: reason))
            case .silent(let reason):
                if config.fallback == .fail {
                    refused.append(RefusedStation(station: config.name, address: "\(config.address)",
                                                  reason: "does not answer (\(reason)) and fallback is \"fail\""))
                    continue
                }
                let through = config.map.map { " through its map \"\($0.map.name)\"" } ?? ""
                logger.warning("""
                    station \(config.name) (\(config.kind)): SIMULATED — no device at \(config.address) \
                    (\(reason)); running the in-process simulator\(through)
                    """)
                var missing: String? = "\(config.address)"
                if case .simulated = config.address { missing = nil }
                stations.append(try simulatedStation(config.at(hour: startHourOfDay), seed: seed, clock: clock,
                                                     statusInterval: statusInterval, standsInFor: missing,
                                                     logger: logger))
            }
        }
        if refuseInsteadOfThrowing {
            let byName = Dictionary(refused.map { ($0.station, $0) }, uniquingKeysWith: { a, _ in a })
            return configuration.stations.compactMap { config in
                if let station = stations.first(where: { $0.name == config.name }) { return station }
                guard let refusal = byName[config.name] else { return nil }
                logger.critical("\(refusal); the station is not started")
                return NotStartedStation(config: config, reason: refusal.reason)
            }
        }
        if let first = refused.first {
            for r in refused.dropFirst() { logger.critical("\(r)") }
            throw first
        }
        return stations
    }

    /// Says, once at start, what a station's map leaves out: a device without its own watchdog relies on the host
    /// for its safe state; channels the device lacks read "not available".
    static func noteMapLimits(_ config: StationConfig, map: StationMap, logger: Logger) {
        if map.map.watchdog == nil, config.descriptor.feedsDeviceWatchdog {
            let consequence = "it relies on the host for its safe state — if rigd or the link dies, its outputs stay "
                + "as they are"
            logger.warning("""
                station \(config.name): the device has no watchdog of its own (no [map.watchdog] in \(map.source)): \
                \(consequence)
                """)
        }
        if !map.missingChannels.isEmpty {
            let missing = map.missingChannels.joined(separator: ", ")
            logger.info("station \(config.name): the map has no \(missing): they read \"not available\"")
        }
        let switched = config.control.relays(context: config.context).map(\.name)
            .filter { map.map.command(named: $0) != nil }
        if !switched.isEmpty {
            let list = switched.joined(separator: ", ")
            logger.info("station \(config.name): the device switches \(list) (commands of its map); while the link is down it holds them as last written")
        }
        if !map.missingCommands.isEmpty {
            let missing = map.missingCommands.joined(separator: ", ")
            logger.info("station \(config.name): the map has no \(missing) (optional equipment): writes to it go nowhere")
        }
    }

    /// Builds the stations of a virtual-clock run: every one simulated, none probed.
    package static func virtualStations(_ configuration: Configuration, clock: any LoopClock, seed: UInt64,
                                logger: Logger) throws -> [any AnyStation] {
        try configuration.stations.map { try simulatedStation($0, seed: seed, clock: clock, logger: logger) }
    }

    /// A station on the in-process simulator, with simulated GPIO chips for its host lines. A kind's relays always
    /// reach its plant: on the configured lines, or on a simulated chip "sim-relays" when none are configured.
    package static func simulatedStation(_ config: StationConfig, seed: UInt64, clock: any LoopClock,
                                 statusInterval: Double = 0, standsInFor: String? = nil,
                                 logger: Logger) throws -> any AnyStation {
        var config = config
        let deviceSeed = config.simulator.seed ?? SimulatorCatalog.seed(run: seed, name: config.name)
        // Relays the map names are switched through the (simulated) instrument instead (docs/maps.md, "Relays").
        let throughDevice = { (relay: String) in config.map?.map.command(named: relay) != nil }
        if config.relays.isEmpty {
            for (i, relay) in config.control.relays(context: config.context).enumerated() where !throughDevice(relay.name) {
                config.relays[relay.name] = GPIOLineAddress(chip: "sim-relays", line: i)
            }
        }
        // A simulated chip is as wide as the configuration needs (at least 32 lines, like a small real chip): any
        // line the loader accepts must exist when the station falls back to simulation.
        let used = [config.estop, config.beacon].compactMap { $0 } + config.relays.values
        var chips: [String: SimulatedGPIOChip] = [:]
        for address in used where chips[address.chip] == nil {
            let widest = used.filter { $0.chip == address.chip }.map(\.line).max() ?? 0
            chips[address.chip] = SimulatedGPIOChip(name: address.chip, lineCount: max(32, widest + 1))
        }
        let wired = config.relays.mapValues { (chip: chips[$0.chip]!, address: $0) }
        // The mapped instrument exists only once the plant does; the plant asks for its relays from its first advance.
        let instrument = Locked<MappedDevice?>(nil)
        // The plant's time starts at its first advance, now on the station's clock; the controller's hours count from
        // the clock's zero. They agree for a station wired at start; one a reload starts hours later needs the local
        // hour of now for its plant.
        var plantContext = config.context
        plantContext.startHourOfDay = (config.context.startHourOfDay + clock.seconds() / 3600)
            .truncatingRemainder(dividingBy: 24)
        let host = SimulatedHost(context: plantContext, probeErrors: config.simulator.probeErrors) { name in
            if let relay = wired[name] { return relay.chip.physicalLevel(relay.address.line) != relay.address.activeLow }
            return instrument.withLock { $0 }?.relay(name) ?? false
        }
        let device = try config.control.simulatedDevice(
            seed: deviceSeed, preset: config.simulator.preset ?? config.descriptor.defaultPreset,
            unit: UInt8(config.address.unit ?? 1), host: host)
        // A station with a map talks to its simulated device through that map, as it would to the real one: the whole
        // mapped path (types, orders, scaling, read plans, missing channels) runs in simulation too.
        let mapped = config.map.map { MappedDevice(device: device, map: $0.map, layout: config.descriptor.contractLayout) }
        instrument.withLock { $0 = mapped }
        let served: any ModbusDevice = mapped ?? device
        // An injected answer delay beyond the station's own response timeout is a timeout, as over a real link.
        let transport = InMemoryModbusClient(device: served, endpoint: "sim://\(config.kind)/\(config.name)",
                                             responseTimeout: Double(config.responseTimeoutMs) / 1000,
                                             units: mapped?.otherUnits ?? [:]) {
            clock.seconds()
        }
        let client: any ModbusClient = config.map.map {
            mappedClient(transport, config, map: $0.map, paceRequests: false, clock: { clock.seconds() }, logger: logger)
        } ?? transport
        if let map = config.map { noteMapLimits(config, map: map, logger: logger) }
        if config.simulator.probeErrors {
            logger.info("""
                station \(config.name): its simulated probes read with errors of their own, drawn from the seed \
                ([station.sim] probe_errors): calibrate them (docs/operations.md, "Calibration")
                """)
        }
        let lines = try requestLines(config) { chips[$0]! }
        return makeStation(config, mode: .simulated, client: client, statusInterval: statusInterval, lines: lines,
                           simulation: SimulationHandles(device: device, gpio: chips, standsInFor: standsInFor,
                                                         instrument: mapped),
                           clock: { clock.seconds() },
                           logger: logger)
    }

    /// A station's device through its map; a channel whose `[[map.expect]]` fails (or stops failing) is logged.
    static func mappedClient(_ base: any ModbusClient, _ config: StationConfig, map: DeviceMap, paceRequests: Bool = true,
                             clock: (@Sendable () -> Double)? = nil, logger: Logger) -> MappedClient {
        let client = MappedClient(base: base, map: map, layout: config.descriptor.contractLayout,
                                  paceRequests: paceRequests, clock: clock)
        let name = config.name
        client.onProblem = { channel, problem in
            if let problem {
                logger.warning("station \(name): \(channel) marked bad (never rescaled): \(problem)")
            } else {
                logger.notice("station \(name): \(channel) is as its map expects again")
            }
        }
        client.onLayout = { lines in
            for line in lines { logger.notice("station \(name): its map's layout: \(line)") }
        }
        client.onStale = { channel, why in
            if let why {
                logger.warning("station \(name): \(channel) is stale, not used: \(why)")
            } else {
                logger.notice("station \(name): \(channel) is fresh again")
            }
        }
        return client
    }

    /// Requests the station's E-stop (input), beacon (output, off) and relay lines (outputs, in their safe state:
    /// a pond's aerators on, everything else off).
    package static func requestLines(_ config: StationConfig,
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
        lines.relays = try config.control.relays(context: config.context).map { relay in
            guard let address = config.relays[relay.name] else { return nil }
            return try providers(address.chip).request(address, direction: .output(initial: relay.safe),
                                                       consumer: "rigd:\(config.name):\(relay.name)")
        }
        return lines
    }

    package static func makeStation(_ config: StationConfig, mode: StationMode, client: any ModbusClient,
                            statusInterval: Double = 0, lines: HostLines = HostLines(),
                            simulation: SimulationHandles? = nil, clock: (@Sendable () -> Double)? = nil,
                            logger: Logger) -> any AnyStation {
        config.control.makeStation(StationWiring(name: config.name, mode: mode, client: client, context: config.context,
                                                 statusInterval: statusInterval, lines: lines, simulation: simulation,
                                                 bus: config.bus, clock: clock, logger: logger))
    }
}

extension StationConfig {
    /// This station with its local time of day at time 0 set (a pond's day cycle, nights and feeding times).
    package func at(hour: Double) -> StationConfig {
        var copy = self
        copy.context.startHourOfDay = hour
        return copy
    }
}
