import ArgumentParser
import Control
import Devices
import Hummingbird
import Logging
import ServiceLifecycle
import Sim
import Stations
import DeviceTransports
import SimServe
import Locking

struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Serve simulated devices over real Modbus TCP or RTU (for mbpoll, pymodbus, a second rigd, HIL).",
        discussion: """
        TCP: each --kind is paired with the --listen at the same position:
          rigd simulate --kind heat-rig --listen 127.0.0.1:15020
          rigd simulate --kind heat-rig --listen 127.0.0.1:15020 --kind heat-rig --listen 127.0.0.1:15021
        or --config FILE serves every tcp:// station of a configuration at its address. Port 0 picks a free port. \
        Prints one line per device: "serving KIND on HOST:PORT (unit N, seed S)".

        RTU: one serial line with several units of one kind, answered by one server (so a request for one unit never \
        costs another its frame):
          socat -d -d pty,raw,echo=0,link=/tmp/rtuA pty,raw,echo=0,link=/tmp/rtuB &
          rigd simulate --kind aqua-sonde --rtu /tmp/rtuA --units 1,2,3
        then poll /tmp/rtuB (mbpoll -m rtu -b 9600 -P none -a 2 -t 3 -r 1 -c 1 /tmp/rtuB reads 2817). \
        --offline UNIT@SECONDS makes a unit silent that many seconds after start, as a dead sonde.

        Faults at run time: --control 127.0.0.1:PORT (loopback only; port 0 picks one, printed as "control on \
        http://HOST:PORT") opens the fault interface that `rigd fault` and the HIL runner use: channel faults \
        (lost, stuck, offset, drift, noise, spikes), device faults (offline, answer delay, exception replies) and \
        plant disturbances (fan_failure, filter_clog, bad_night, storm, …). Devices are named by their station \
        (--config), KIND-N (--kind, in order) or unit-N (--rtu). Stops on SIGINT/SIGTERM.

        Device maps: --map FILE serves the devices of --kind (over TCP or --rtu) through a device map \
        (docs/maps.md), as a real instrument with that register layout would answer: its types, byte orders and \
        scaling, its missing channels and gaps, exception 02 for reads longer than max_read_registers, 01 for FC 16 \
        when max_write_registers = 0, 03 for commands outside their limits, its identity register and its watchdog \
        (none in the map: the device never trips). --kind may be left out (the map's kind is served) and must \
        otherwise be the map's kind; over TCP the device answers at the map's unit. Not with --config.
          rigd simulate --map maps/my-rig.toml --listen 127.0.0.1:15020
        An invalid map is refused with every problem (file:line: key …) and exit 78.
        """
    )

    @Option(name: .long, help: "Device kind to serve (repeatable): \(KindRegistry.builtIn.names.joined(separator: ", ")).")
    var kind: [String] = []

    @Option(name: .long, help: "HOST:PORT to listen on (repeatable, paired with --kind).")
    var listen: [String] = []

    @Option(name: .long, help: "Serve every tcp:// station of this configuration at its address.")
    var config: String?

    @Option(name: .long, help: "Base seed; each device's seed is derived from it and its position.")
    var seed: UInt64 = 1

    @Option(name: .long, help: "Serve the --kind devices through this device map (TOML, docs/maps.md).")
    var map: String?

    @Option(name: .long, help: "Plant preset (default: the kind's first; heat-rig: standard, fast; aqua-sonde: pond, nursery).")
    var preset: String?

    @Option(name: .long, help: "RTU: serve --units of the one --kind on this serial device (e.g. one end of a socat pty pair).")
    var rtu: String?

    @Option(name: .long, help: "RTU: unit ids to serve, comma-separated (1–247; default: the --map's unit, else 1). A map that names other unit ids serves them too, once.")
    var units: String?

    @Option(name: .long, help: "RTU: baud rate.")
    var baud: Int = 9600

    @Option(name: .long, help: "RTU: parity N, E or O.")
    var parity: String = "N"

    @Option(name: .long, help: "RTU: make UNIT silent SECONDS after start (UNIT@SECONDS, repeatable).")
    var offline: [String] = []

    @Option(name: .long, help: "Open the fault interface on this loopback HOST:PORT (see `rigd fault`).")
    var control: String?

    @OptionGroup var log: LogOptions

    struct Served {
        let name: String
        /// The kind with the settings its simulated device is made from (a kind's defaults for --kind).
        let settings: any ConfiguredKind
        var kind: DeviceKind { settings.descriptor.kind }
        let host: String
        let port: Int
        let seed: UInt64
        let preset: String
    }

    func validate() throws {
        if let control {
            let address: ListenAddress
            do throws(ConfigMessage) { address = try ListenAddress(parsing: control) } catch {
                throw ValidationError("--control \(error)")
            }
            guard address.isLoopback else {
                throw ValidationError("--control must be a loopback address (127.0.0.1, ::1): faults are not for the network")
            }
        }
        if map != nil && config != nil {
            throw ValidationError("--map serves the --kind devices through a device map; it does not apply to "
                                  + "--config stations (give one or the other)")
        }
        if rtu != nil {
            if kind.count > 1 || (kind.isEmpty && map == nil) || !listen.isEmpty || config != nil {
                throw ValidationError("--rtu serves one --kind on one line: give exactly one --kind (or a --map) and "
                                      + "no --listen or --config")
            }
            _ = try rtuUnits()
            _ = try offlineSchedule()
            guard SerialSettings.baudRates.contains(baud) else {
                throw ValidationError("--baud must be one of \(SerialSettings.baudRates.map(String.init).joined(separator: ", "))")
            }
            guard SerialSettings.Parity(rawValue: parity.uppercased()) != nil else {
                throw ValidationError("--parity must be N, E or O")
            }
            return
        }
        if !offline.isEmpty { throw ValidationError("--offline needs --rtu") }
        if map != nil && kind.isEmpty && !listen.isEmpty { return }  // every --listen serves the map's kind
        if kind.count != listen.count {
            throw ValidationError("give one --listen for each --kind (got \(kind.count) kinds, \(listen.count) addresses)")
        }
        if kind.isEmpty && config == nil {
            throw ValidationError("nothing to serve: give --kind KIND --listen HOST:PORT, or --config FILE")
        }
    }

    /// The --units, or `fallback` (the map's unit) when none are given.
    func rtuUnits(default fallback: Int = 1) throws -> [UInt8] {
        var out: [UInt8] = []
        for item in (units ?? "\(fallback)").split(separator: ",") {
            guard let u = UInt8(item.trimmingCharacters(in: .whitespaces)), (1...247).contains(u) else {
                throw ValidationError("--units: \"\(item)\" is not a unit id 1–247")
            }
            guard !out.contains(u) else { throw ValidationError("--units: unit \(u) is listed twice") }
            out.append(u)
        }
        guard !out.isEmpty else { throw ValidationError("--units: give at least one unit id") }
        return out
    }

    func offlineSchedule(default fallback: Int = 1) throws -> [(unit: UInt8, after: Double)] {
        let served = try rtuUnits(default: fallback)
        return try offline.map { item in
            let parts = item.split(separator: "@")
            guard parts.count == 2, let u = UInt8(parts[0]), let t = Double(parts[1]), t >= 0 else {
                throw ValidationError("--offline \(item): expected UNIT@SECONDS, e.g. 2@30")
            }
            guard served.contains(u) else { throw ValidationError("--offline \(item): unit \(u) is not in --units") }
            return (u, t)
        }
    }

    /// The --map, loaded (an invalid one is every problem on stderr and exit 78), and the kind names to serve: the
    /// --kind given, which must be the map's kind, or the map's kind for every --listen (or the one --rtu line).
    func loadMap() throws -> (map: DeviceMap?, kinds: [String]) {
        guard let map else { return (nil, kind) }
        let deviceMap: DeviceMap
        do {
            deviceMap = try MapLoader.load(path: map)
        } catch {
            throw failConfiguration(error)
        }
        for name in kind where name != deviceMap.kind.rawValue {
            throw ValidationError("--kind \(name) does not match --map \(map), a map for \(deviceMap.kind) "
                                  + "(leave --kind out to serve the map's kind)")
        }
        let served = rtu == nil ? listen.count : 1
        let kinds = kind.isEmpty ? Array(repeating: deviceMap.kind.rawValue, count: served) : kind
        return (deviceMap, kinds)
    }

    /// What the startup lines add when a map is served: which file.
    var mapNote: String {
        guard let map else { return "" }
        return ", map \(map)"
    }

    /// `device` as served: through `map` when there is one.
    static func served(_ device: any ModbusDevice, kind: any StationKind.Type, map: DeviceMap?) -> any ModbusDevice {
        guard let map else { return device }
        return MappedDevice(device: device, map: map, layout: kind.contractLayout)
    }

    func run() async throws {
        let signals = ShutdownSignal()
        let logger = try log.bootstrap()
        let (deviceMap, kinds) = try loadMap()
        if let rtu {
            try await serveRTU(path: rtu, kindName: kinds[0], map: deviceMap, signals: signals, logger: logger)
            return
        }
        var plan: [Served] = []
        for (i, (kindName, address)) in zip(kinds, listen).enumerated() {
            let k = try Self.kind(named: kindName)
            guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
                  (0...65535).contains(port), case .tcp(let host, _, _)? = try? DeviceAddress(
                      parsing: "tcp://" + address[..<colon] + ":1") else {
                throw ValidationError("--listen \(address): expected HOST:PORT (port 0…65535; 0 picks a free one)")
            }
            plan.append(Served(name: "\(k.kind)-\(i + 1)", settings: k.configure(nil), host: host, port: port,
                               seed: seed &+ UInt64(i), preset: preset ?? k.defaultPreset))
        }
        if let config {
            let configuration: Configuration
            do {
                configuration = try ConfigLoader.load(path: config)
            } catch {
                throw failConfiguration(error)
            }
            for station in configuration.stations {
                guard case .tcp(let host, let port, _) = station.address else { continue }
                plan.append(Served(name: station.name, settings: station.control, host: host, port: port,
                                   seed: station.simulator.seed ?? SimulatorCatalog.seed(run: seed, name: station.name),
                                   preset: station.simulator.preset ?? station.descriptor.defaultPreset))
            }
        }
        let clock = MonotonicClock()
        var servers: [ModbusTCPServer] = []
        var targets: [FaultTarget] = []
        for item in plan {
            do {
                // A mapped instrument answers at the map's unit.
                let unit = deviceMap.map { UInt8($0.unit) } ?? 1
                let instrument = Locked<MappedDevice?>(nil)
                let inner = try item.settings.simulatedDevice(seed: item.seed, preset: item.preset, unit: unit,
                                                              host: Self.host(switchedBy: instrument))
                let device = Self.served(inner, kind: item.settings.descriptor, map: deviceMap)
                instrument.withLock { $0 = device as? MappedDevice }
                let others = Self.otherUnits(of: device)
                let server = try ModbusTCPServer(device: device, units: others, host: item.host, port: item.port) {
                    clock.seconds()
                }
                servers.append(server)
                // Through a map, faults go to the instrument: it passes the device's on to the contract device inside
                // and keeps its own (never_ready).
                if let injectable = (device as? any FaultInjectable) ?? (inner as? any FaultInjectable) {
                    targets.append(FaultTarget(name: item.name, unit: Int(device.unitId), device: injectable))
                }
                say("serving \(item.kind) on \(item.host):\(server.port) (unit \(device.unitId)\(Self.note(others)), "
                    + "seed \(item.seed), preset \(item.preset), name \(item.name)\(mapNote))")
            } catch {
                for s in servers { s.stop() }
                logger.critical("cannot serve \(item.kind) on \(item.host):\(item.port): \(error)")
                throw ExitCode(ExitStatus.unavailable)
            }
        }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = servers.map { .init(service: ServerService(server: $0)) }
        services += controlService(targets: targets, logger: logger)
        services.append(.init(service: SignalService(signals: signals), successTerminationBehavior: .gracefullyShutdownGroup))
        try await ServiceGroup(configuration: ServiceGroupConfiguration(services: services, logger: logger)).run()
        logger.notice("simulator stopped")
    }

    /// The fault interface, when --control is given: a failure to listen stops the simulator.
    private func controlService(targets: [FaultTarget], logger: Logger)
        -> [ServiceGroupConfiguration.ServiceConfiguration] {
        guard let control, let address = try? ListenAddress(parsing: control) else { return [] }
        let app = Application(
            router: FaultControl(targets: targets, logger: logger).router(),
            configuration: ApplicationConfiguration(address: .hostname(address.host, port: address.port),
                                                    serverName: "rigd-simulate"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? address.port
                say("control on http://\(ListenAddress(host: address.host, port: port))")
            },
            logger: logger)
        return [.init(service: APIServer(app: app, address: address), failureTerminationBehavior: .gracefullyShutdownGroup)]
    }

    /// The kind called `name`, or a usage error listing the kinds.
    static func kind(named name: String) throws -> any StationKind.Type {
        guard let k = KindRegistry.builtIn.kind(named: name) else {
            throw ValidationError("--kind \(name): no simulator for it (have: "
                                  + KindRegistry.builtIn.names.joined(separator: ", ") + ")")
        }
        return k
    }

    /// The plant's host: no relay is on (a served device has no host lines), except those a mapped instrument switches
    /// (docs/maps.md, "Relays"), as it last wrote them. `instrument` is set once the plant is served through its map.
    private static func host(_ context: StationContext = StationContext(),
                             switchedBy instrument: Locked<MappedDevice?>) -> SimulatedHost {
        SimulatedHost(context: context) { name in instrument.withLock { $0 }?.relay(name) ?? false }
    }

    /// The other unit ids a mapped instrument answers (docs/maps.md, "Several unit ids"), by unit.
    static func otherUnits(of device: any ModbusDevice) -> [UInt8: any ModbusDevice] {
        guard let mapped = device as? MappedDevice else { return [:] }
        return Dictionary(uniqueKeysWithValues: mapped.otherUnits.map { (UInt8($0.key), $0.value) })
    }

    /// ` and units 11, 12 (through the map)`: what a startup line adds for them.
    static func note(_ others: [UInt8: any ModbusDevice]) -> String {
        others.isEmpty ? "" : " and units " + others.keys.sorted().map(String.init).joined(separator: ", ")
            + " (through the map)"
    }

    /// One RTU line with several units of one kind.
    private func serveRTU(path: String, kindName: String, map deviceMap: DeviceMap?, signals: ShutdownSignal,
                          logger: Logger) async throws {
        let k = try Self.kind(named: kindName)
        let kindSettings = k.configure(nil)
        let presetName = preset ?? k.defaultPreset
        let context = StationContext(startHourOfDay: RunCommand.localHourOfDay())
        let clock = MonotonicClock()
        // What the server answers with (through the map, if any; faults go to it), and the contract devices inside
        // (the offline schedule's).
        var devices: [UInt8: any ModbusDevice] = [:]
        var inner: [UInt8: any ModbusDevice] = [:]
        let mainUnits = try rtuUnits(default: deviceMap?.unit ?? 1)
        if let deviceMap, !deviceMap.otherUnits.isEmpty {
            // The map's other units are one instrument's: serving two copies would put each of them on the line twice.
            guard mainUnits.count == 1 else {
                throw ValidationError("--units: map \(map ?? "") names units "
                                      + deviceMap.otherUnits.map(String.init).joined(separator: ", ")
                                      + " besides its own; it is served once (give one unit id, or none)")
            }
            if let clash = deviceMap.otherUnits.first(where: { $0 == Int(mainUnits[0]) }) {
                throw ValidationError("--units \(clash) is also a unit the map names for its other values")
            }
        }
        for (i, unit) in mainUnits.enumerated() {
            do {
                let instrument = Locked<MappedDevice?>(nil)
                let device = try kindSettings.simulatedDevice(seed: seed &+ UInt64(i), preset: presetName, unit: unit,
                                                              host: Self.host(context, switchedBy: instrument))
                inner[unit] = device
                devices[unit] = Self.served(device, kind: k, map: deviceMap)
                instrument.withLock { $0 = devices[unit] as? MappedDevice }
                for (other, device) in Self.otherUnits(of: devices[unit]!) { devices[other] = device }
            } catch {
                logger.critical("cannot simulate \(k.kind): \(error)")
                throw ExitCode(ExitStatus.usage)
            }
        }
        let settings = SerialSettings(path: path, baud: baud, parity: SerialSettings.Parity(rawValue: parity.uppercased())!)
        let server: ModbusRTUServer
        do {
            server = try ModbusRTUServer(devices: devices, settings: settings) { clock.seconds() }
        } catch {
            logger.critical("cannot serve on \(path): \(error)")
            throw ExitCode(ExitStatus.unavailable)
        }
        for (i, unit) in mainUnits.enumerated() {
            let others = Self.note(Self.otherUnits(of: devices[unit]!))
            say("serving \(k.kind) on rtu://\(path)?\(settings.query) (unit \(unit)\(others), seed \(seed &+ UInt64(i)), "
                + "preset \(presetName)\(mapNote))")
        }
        let schedule = try offlineSchedule(default: deviceMap?.unit ?? 1)
        let started = clock.seconds()
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: RTUServerService(server: server))]
        services += controlService(targets: mainUnits.compactMap { unit in
            ((devices[unit] as? any FaultInjectable) ?? (inner[unit] as? any FaultInjectable)).map {
                FaultTarget(name: "unit-\(unit)", unit: Int(unit), device: $0)
            }
        }, logger: logger)
        if !schedule.isEmpty {
            services.append(.init(service: OfflineScheduleService(schedule: schedule, devices: inner, started: started,
                                                                  clock: clock, logger: logger)))
        }
        services.append(.init(service: SignalService(signals: signals), successTerminationBehavior: .gracefullyShutdownGroup))
        try await ServiceGroup(configuration: ServiceGroupConfiguration(services: services, logger: logger)).run()
        let counts = server.counts
        let perUnit = counts.requests.keys.sorted().map { "unit \($0): \(counts.requests[$0]!)" }.joined(separator: ", ")
        logger.notice("simulator stopped; requests \(perUnit); other units \(counts.foreign), rejected frames \(counts.rejected)")
    }
}

/// Runs the RTU server's loop on its own thread until graceful shutdown.
struct RTUServerService: Service {
    let server: ModbusRTUServer

    func run() async throws {
        server.start()
        try? await gracefulShutdown()
        server.stop()
    }
}

/// Takes units offline at their times (`rigd simulate --offline UNIT@SECONDS`).
struct OfflineScheduleService: Service {
    let schedule: [(unit: UInt8, after: Double)]
    let devices: [UInt8: any ModbusDevice]
    let started: Double
    let clock: MonotonicClock
    let logger: Logger

    func run() async throws {
        for item in schedule.sorted(by: { $0.after < $1.after }) {
            let wait = item.after - (clock.seconds() - started)
            if wait > 0 {
                do {
                    try await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(wait)) }
                } catch {
                    return
                }
            }
            guard let device = devices[item.unit] as? any FaultInjectable else { continue }
            device.setOffline(true)
            logger.notice("unit \(item.unit) is now silent (--offline)")
        }
        try? await gracefulShutdown()
    }
}

/// Runs a server's poll loop on its own thread until graceful shutdown.
struct ServerService: Service {
    let server: ModbusTCPServer

    func run() async throws {
        server.start()
        try? await gracefulShutdown()
        server.stop()
    }
}
