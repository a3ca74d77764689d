import ArgumentParser
import Control
import Devices
import Logging
import ServiceLifecycle
import Sim

struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Serve simulated devices over real Modbus TCP (for mbpoll, pymodbus, a second rigd, HIL).",
        discussion: """
        Each --kind is paired with the --listen at the same position:
          rigd simulate --kind heat-rig --listen 127.0.0.1:15020
          rigd simulate --kind heat-rig --listen 127.0.0.1:15020 --kind heat-rig --listen 127.0.0.1:15021
        or --config FILE serves every tcp:// station of a configuration at its address. Port 0 picks a free port. \
        Prints one line per device: "serving KIND on HOST:PORT (unit N, seed S)". Stops on SIGINT/SIGTERM.
        """
    )

    @Option(name: .long, help: "Device kind to serve (repeatable): \(SimulatorCatalog.kinds.map(\.rawValue).joined(separator: ", ")).")
    var kind: [String] = []

    @Option(name: .long, help: "HOST:PORT to listen on (repeatable, paired with --kind).")
    var listen: [String] = []

    @Option(name: .long, help: "Serve every tcp:// station of this configuration at its address.")
    var config: String?

    @Option(name: .long, help: "Base seed; each device's seed is derived from it and its position.")
    var seed: UInt64 = 1

    @Option(name: .long, help: "Plant preset (standard, fast: a 10× faster heat rig for short tests).")
    var preset: String = "standard"

    @OptionGroup var log: LogOptions

    struct Served {
        let kind: DeviceKind
        let host: String
        let port: Int
        let seed: UInt64
        let preset: String
    }

    func validate() throws {
        if kind.count != listen.count {
            throw ValidationError("give one --listen for each --kind (got \(kind.count) kinds, \(listen.count) addresses)")
        }
        if kind.isEmpty && config == nil {
            throw ValidationError("nothing to serve: give --kind KIND --listen HOST:PORT, or --config FILE")
        }
    }

    func run() async throws {
        let signals = ShutdownSignal()
        let logger = try log.bootstrap()
        var plan: [Served] = []
        for (i, (kindName, address)) in zip(kind, listen).enumerated() {
            guard let k = DeviceKind(rawValue: kindName), SimulatorCatalog.kinds.contains(k) else {
                throw ValidationError("--kind \(kindName): no simulator for it (have: "
                                      + SimulatorCatalog.kinds.map(\.rawValue).joined(separator: ", ") + ")")
            }
            guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
                  (0...65535).contains(port), case .tcp(let host, _, _)? = try? DeviceAddress(
                      parsing: "tcp://" + address[..<colon] + ":1") else {
                throw ValidationError("--listen \(address): expected HOST:PORT (port 0…65535; 0 picks a free one)")
            }
            plan.append(Served(kind: k, host: host, port: port, seed: seed &+ UInt64(i), preset: preset))
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
                plan.append(Served(kind: station.kind, host: host, port: port,
                                   seed: station.simulator.seed ?? SimulatorCatalog.seed(run: seed, name: station.name),
                                   preset: station.simulator.preset))
            }
        }
        let clock = MonotonicClock()
        var servers: [ModbusTCPServer] = []
        for item in plan {
            do {
                let device = try SimulatorCatalog.device(kind: item.kind, seed: item.seed, preset: item.preset)
                let server = try ModbusTCPServer(device: device, host: item.host, port: item.port) { clock.seconds() }
                servers.append(server)
                say("serving \(item.kind) on \(item.host):\(server.port) (unit \(device.unitId), seed \(item.seed), "
                    + "preset \(item.preset))")
            } catch {
                for s in servers { s.stop() }
                logger.critical("cannot serve \(item.kind) on \(item.host):\(item.port): \(error)")
                throw ExitCode(ExitStatus.unavailable)
            }
        }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = servers.map { .init(service: ServerService(server: $0)) }
        services.append(.init(service: SignalService(signals: signals), successTerminationBehavior: .gracefullyShutdownGroup))
        try await ServiceGroup(configuration: ServiceGroupConfiguration(services: services, logger: logger)).run()
        logger.notice("simulator stopped")
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
