import Control
import Devices
import Foundation
import Logging
import Sim
import Synchronization

/// Whether a station drives its real device or the in-process simulator. Chosen once, at wiring.
enum StationMode: String, Sendable, Codable {
    case real, simulated
}

/// Link health of a station, readable from any thread.
struct LinkCounters: Sendable, Equatable {
    var linkErrors: UInt64 = 0
    var transactionErrors: UInt64 = 0
    var reconnects: UInt64 = 0
    var linkUp = false
    var lastError: String?
}

/// For a simulated station: its device and GPIO chips, so tests and the fault injector can reach them. Nothing in
/// a station's own logic looks at this.
struct SimulationHandles: @unchecked Sendable {
    let device: any ModbusDevice
    /// Simulated chips by name.
    let gpio: [String: SimulatedGPIOChip]
}

/// A station's host GPIO lines.
struct HostLines {
    var estop: (any GPIOLine)?
    var beacon: (any GPIOLine)?
    /// Relay outputs in the controller's `relayNames` order; nil where none is wired (the decision is still made,
    /// logged and reported).
    var relays: [(any GPIOLine)?] = []
}

/// What the daemon needs of any station, whatever its kind.
protocol AnyStation: AnyObject, Sendable {
    var name: String { get }
    var kind: DeviceKind { get }
    var mode: StationMode { get }
    var endpoint: String { get }
    /// The serial line the station's device is on (stations on one line share a thread), nil for TCP and sim.
    var bus: String? { get }
    var mailbox: Mailbox { get }
    var simulation: SimulationHandles? { get }
    /// Opens the link (the station is wired already; a failure here leaves it to reconnect with backoff).
    func start(now: Double)
    /// The station's loops, to be run by one `LoopRunner` on the station's thread (or the virtual runner).
    func makeLoops() -> [FixedRateLoop]
    /// Writes the safe state (if the link is up) and closes the link. Call on the station's thread.
    func driveSafeState(now: Double)
    /// The station's entry in the run report.
    func report(includeLateness: Bool) -> [String: ReportValue]
}

/// One device: its transport, its profile, its controller and its loops (DESIGN.md). It owns its I/O: nothing else
/// talks to its device. Operator requests arrive through the mailbox and are applied at the next tick.
///
/// - Important: Everything but `mailbox` and `counters` is confined to the thread that runs the station's loops.
final class Station<Controller: StationController>: AnyStation, @unchecked Sendable {
    typealias Profile = Controller.Profile

    let name: String
    let kind: DeviceKind = Profile.kind
    let mode: StationMode
    let bus: String?
    let mailbox = Mailbox()
    let counters = Mutex(LinkCounters())
    /// Modbus transactions attempted (each request, answered or not), counted by the station's client.
    let transactions = TransactionTally()
    let simulation: SimulationHandles?
    private let client: any ModbusClient
    private var controller: Controller
    private let logger: Logger
    private let lines: HostLines
    private var estopLineError: String?
    private var beaconState: Bool?
    /// What each relay line was last driven to (nil: unknown, drive it next time).
    private var relayStates: [Bool?]
    /// Runs already logged: (count, outcome of the last).
    private var loggedRuns: (Int, RunOutcome?) = (0, nil)

    private var order = WordOrder.abcd
    private var watchdogMs = CommonRegisters.defaultWatchdogMs
    private var lastCommands: Profile.Commands?
    private var heartbeat: UInt16 = 0
    private var lastHeartbeatAt = -Double.infinity
    private var linkUp = false
    private var nextReconnectAt = 0.0
    private var backoff = Station.initialBackoff
    private var failedReads = 0
    private var channelStats: [ChannelStatistics]
    /// The device's sample ring, read on the controller's stream loop.
    private let ringReader: SampleRingReader?
    private var loops: [FixedRateLoop] = []
    /// Seconds between status lines in the log; 0 for none.
    private let statusInterval: Double
    private var lastStatusAt = -Double.infinity

    static var initialBackoff: Double { 0.5 }
    static var maxBackoff: Double { 30 }
    /// Transaction failures in a row before the controller is told the device is unavailable.
    static var failedReadLimit: Int { 3 }

    var endpoint: String { client.endpoint }

    init(name: String, mode: StationMode, client: any ModbusClient, controller: Controller, logger: Logger,
         statusInterval: Double = 0, lines: HostLines = HostLines(), simulation: SimulationHandles? = nil,
         bus: String? = nil) {
        self.name = name
        self.bus = bus
        // Relay lines are requested in the safe state (Wiring), so that is what they hold until the first decision.
        self.relayStates = controller.safeRelays.map(Optional.some)
        self.lines = lines
        self.simulation = simulation
        self.statusInterval = statusInterval
        self.mode = mode
        self.client = CountingClient(client, tally: transactions)
        self.controller = controller
        self.logger = logger
        self.channelStats = Profile.channels.map(ChannelStatistics.init)
        self.ringReader = controller.streamLoop == nil ? nil : Profile.sampleRing.map(SampleRingReader.init)
    }

    // MARK: Link

    func start(now: Double) {
        if !connect(now: now) {
            let reason = counters.withLock { $0.lastError } ?? "no answer"
            logger.warning("station \(name): cannot reach \(endpoint) (\(reason)); retrying with backoff")
            scheduleReconnect(now: now)
        }
    }

    /// Connects, checks the device is of this station's kind, and learns its word order and watchdog timeout.
    private func connect(now: Double) -> Bool {
        do {
            try client.connect()
            let header = try client.readHeader()
            guard header.deviceType == kind.deviceType else {
                client.close()
                let found = header.kind.map(\.rawValue) ?? String(header.deviceType, radix: 16)
                throw WrongDeviceError(expected: kind, found: found, endpoint: endpoint)
            }
            order = try client.readWordOrder()
            watchdogMs = try client.readHoldingRegisters(at: CommonRegisters.watchdogTimeoutMs, count: 1)[0]
            linkUp = true
            lastCommands = nil
            ringReader?.reset()
            backoff = Self.initialBackoff
            counters.withLock { $0.linkUp = true }
            return true
        } catch {
            counters.withLock {
                $0.linkErrors += 1
                $0.lastError = "\(error)"
            }
            logger.debug("station \(name): connect failed: \(error)")
            return false
        }
    }

    private func scheduleReconnect(now: Double) {
        nextReconnectAt = now + backoff
        backoff = min(backoff * 2, Self.maxBackoff)
    }

    private func linkLost(_ error: any Error, now: Double) {
        client.close()
        linkUp = false
        counters.withLock {
            $0.linkUp = false
            $0.linkErrors += 1
            $0.lastError = "\(error)"
        }
        logger.error("station \(name): link lost: \(error); reconnecting with backoff")
        scheduleReconnect(now: now)
    }

    private func transactionFailed(_ error: any Error) {
        counters.withLock {
            $0.transactionErrors += 1
            $0.lastError = "\(error)"
        }
        logger.warning("station \(name): \(error)")
    }

    // MARK: Loops

    func makeLoops() -> [FixedRateLoop] {
        loops = controller.loops.enumerated().map { index, spec in
            FixedRateLoop(spec: spec) { [unowned self] tick in self.tick(loop: index, tick: tick) }
        }
        return loops
    }

    /// One tick: mailbox, read, decide, write.
    private func tick(loop: Int, tick: LoopTick) {
        let now = tick.now
        for envelope in mailbox.drain() {
            do {
                try controller.apply(envelope.request, now: now)
                logger.info("station \(name): accepted \(envelope.request)")
                envelope.reply(.success(()))
            } catch {
                logger.info("station \(name): rejected \(envelope.request): \(error.reason)")
                envelope.reply(.failure(error))
            }
        }
        if !linkUp, now >= nextReconnectAt {
            if connect(now: now) {
                counters.withLock { $0.reconnects += 1 }
                logger.notice("station \(name): link restored to \(endpoint)")
            } else {
                scheduleReconnect(now: now)
            }
        }
        let input: DeviceInput<Profile.Snapshot>
        if linkUp {
            do {
                let snapshot = try Profile.readSnapshot(from: client, order: order)
                if let ringReader, loop == controller.streamLoop {
                    let chunk = try ringReader.read(from: client, order: order)
                    if let gap = chunk.gap {
                        logger.warning("station \(name): sample ring: \(gap) (read too slowly or the link stalled)")
                    }
                    controller.receive(chunk, now: now)
                }
                failedReads = 0
                for (i, reading) in snapshot.channels.enumerated() where i < channelStats.count {
                    channelStats[i].record(reading)
                }
                input = .snapshot(snapshot)
                if statusInterval > 0, now - lastStatusAt >= statusInterval {
                    lastStatusAt = now
                    logStatus(snapshot)
                }
            } catch let error as ModbusLinkError {
                linkLost(error, now: now)
                input = .unavailable(reason: "\(error)")
            } catch {
                transactionFailed(error)
                failedReads += 1
                // A single failed transaction holds the outputs; repeated ones are a fault.
                guard failedReads >= Self.failedReadLimit else { return }
                input = .unavailable(reason: "\(failedReads) reads failed in a row: \(error)")
            }
        } else {
            input = .unavailable(reason: "link down")
        }
        let output = controller.step(loop: loop, tick: tick, input: input, host: readHostLines())
        logAlarmChanges()
        logRunChanges()
        driveBeacon(output.beacon)
        driveRelays(output.relays)
        guard linkUp else { return }
        write(output.commands, now: now)
        if linkUp, output.resetDeviceFaults {
            do {
                try client.writeRegister(at: CommonRegisters.command, value: CommonRegisters.resetFaultsCommand)
                logger.notice("station \(name): reset the device's latched faults (HR 5 = 0xA5)")
            } catch let error as ModbusLinkError {
                linkLost(error, now: now)
            } catch {
                transactionFailed(error)
            }
        }
    }

    /// Writes what changed, then the host heartbeat when due (at least four per device watchdog timeout).
    private func write(_ commands: Profile.Commands, now: Double) {
        do {
            for write in Profile.writes(for: commands, previous: lastCommands, order: order) {
                try write.apply(to: client)
            }
            lastCommands = commands
            let interval = watchdogMs == 0 ? 1.0 : min(1.0, Double(watchdogMs) / 4000)
            if Profile.usesHostWatchdog, now - lastHeartbeatAt >= interval - 1e-9 {
                heartbeat &+= 1
                try client.writeRegister(at: CommonRegisters.hostHeartbeat, value: heartbeat)
                lastHeartbeatAt = now
            }
        } catch let error as ModbusLinkError {
            linkLost(error, now: now)
        } catch {
            lastCommands = nil  // unknown what the device holds: write everything next time
            transactionFailed(error)
        }
    }

    /// The host's own lines. A line that cannot be read counts as a pressed E-stop: a broken E-stop circuit must stop
    /// the device, not be ignored.
    private func readHostLines() -> HostSignals {
        guard let line = lines.estop else { return HostSignals() }
        do {
            let pressed = try line.read()
            if estopLineError != nil {
                estopLineError = nil
                logger.notice("station \(name): E-stop line \(line.address) readable again")
            }
            return HostSignals(estopPressed: pressed)
        } catch {
            if estopLineError == nil { logger.error("station \(name): cannot read the E-stop line: \(error)") }
            estopLineError = "\(error)"
            return HostSignals(estopPressed: true)
        }
    }

    private func driveBeacon(_ on: Bool) {
        guard let line = lines.beacon, beaconState != on else { return }
        do {
            try line.write(on)
            beaconState = on
        } catch {
            logger.error("station \(name): cannot drive the beacon: \(error)")
            beaconState = nil
        }
    }

    /// Drives the relay lines that changed; logs every change, wired or not, since it is a decision about the plant.
    private func driveRelays(_ wanted: [Bool]) {
        let names = controller.relayNames
        for (i, on) in wanted.enumerated() where i < names.count {
            let line = i < lines.relays.count ? lines.relays[i] : nil
            guard relayStates.indices.contains(i), relayStates[i] != on else { continue }
            let previous = relayStates[i]
            if let line {
                do {
                    try line.write(on)
                } catch {
                    logger.error("station \(name): cannot drive relay \(names[i]) (\(line.address)): \(error)")
                    relayStates[i] = nil
                    continue
                }
            }
            relayStates[i] = on
            if previous != nil || line == nil {
                logger.info("station \(name): \(names[i]) \(on ? "ON" : "OFF")\(line == nil ? " (no line wired)" : "")")
            }
        }
    }

    /// One line with every channel and the active alarms, so a long run shows it is alive.
    private func logStatus(_ snapshot: Profile.Snapshot) {
        let values = zip(Profile.channels, snapshot.channels).map { spec, reading in
            let value = reading.value.map { String(format: "%.2f", $0) } ?? "FAULT"
            return "\(spec.name) \(value)"
        }.joined(separator: ", ")
        let active = controller.alarms.active.map(\.code)
        let alarms = active.isEmpty ? "none" : active.joined(separator: ", ")
        var phase = ""
        if case .string(let p)? = controller.results()["phase"] { phase = "phase \(p); " }
        var relays = ""
        if !controller.relayNames.isEmpty {
            let states: [String] = zip(controller.relayNames, relayStates).map { name, on in
                name + (on.map { $0 ? " ON" : " OFF" } ?? " ?")
            }
            relays = "; relays: " + states.joined(separator: ", ")
        }
        logger.info("station \(name) [\(mode.rawValue)]: \(phase)\(values); alarms: \(alarms)\(relays)")
    }

    private func logRunChanges() {
        let runs = controller.runs
        guard let last = runs.last, (runs.count, last.outcome) != loggedRuns else { return }
        loggedRuns = (runs.count, last.outcome)
        switch last.outcome {
        case .running:
            logger.notice("station \(name): run \(runs.count) started with recipe \"\(last.recipe)\"")
        case .completed:
            let figures = ["yield", "energy_kwh", "in_position_fraction", "backflushes"].compactMap { key in
                last.results[key]?.number.map { "\(key) \($0)" }
            }.joined(separator: ", ")
            logger.notice("station \(name): run \(runs.count) completed: \(figures)")
        case .aborted:
            logger.error("station \(name): run \(runs.count) ABORTED: \(last.reason ?? "no reason recorded")")
        }
    }

    private func logAlarmChanges() {
        for change in controller.alarms.drainChanges() {
            switch change {
            case .raised(let a):
                logger.log(level: a.severity == .warning ? .warning : .error,
                           "station \(name): ALARM \(a.code) raised (\(a.severity.rawValue)): \(a.message)")
            case .cleared(let a):
                logger.notice("station \(name): alarm \(a.code) cleared")
            case .acknowledged(let a):
                logger.notice("station \(name): alarm \(a.code) acknowledged by \(a.acknowledgedBy ?? "?")")
            }
        }
    }

    func driveSafeState(now: Double) {
        driveBeacon(false)
        if !controller.safeRelays.isEmpty {
            driveRelays(controller.safeRelays)
            let states: [String] = zip(controller.relayNames, controller.safeRelays).map { name, on in
                name + (on ? " ON" : " OFF")
            }
            logger.notice("station \(name): relays in their safe state (\(states.joined(separator: ", ")))")
        }
        guard linkUp else {
            if Profile.usesHostWatchdog {
                logger.warning("station \(name): link down at shutdown; the device's own watchdog drives its safe state")
            }
            logLinkCounters()
            return
        }
        do {
            for write in Profile.writes(for: controller.safeCommands, previous: nil, order: order) {
                try write.apply(to: client)
            }
            logger.notice("station \(name): safe state driven")
        } catch {
            logger.error("station \(name): could not drive the safe state: \(error)")
        }
        client.close()
        linkUp = false
        counters.withLock { $0.linkUp = false }
        logLinkCounters()
    }

    /// The link's counters, once at the end: a unit on a shared line shows here what it cost the bus.
    private func logLinkCounters() {
        let link = counters.withLock { $0 }
        let summary = "\(transactions.count) transactions, \(link.linkErrors) link errors, "
            + "\(link.transactionErrors) transaction errors, \(link.reconnects) reconnects"
        logger.info("station \(name): \(summary)")
    }

    // MARK: Report

    func report(includeLateness: Bool) -> [String: ReportValue] {
        var channels: [String: ReportValue] = [:]
        for stats in channelStats { channels[stats.spec.name] = .object(stats.summary) }
        var loopEntries: [String: ReportValue] = [:]
        for loop in loops {
            let s = loop.statistics.snapshot()
            var entry: [String: ReportValue] = [
                "period_s": .number(s.period), "ticks": .number(Double(s.ticks)),
                "overruns": .number(Double(s.overruns)),
            ]
            if includeLateness {
                entry["lateness_p50_s"] = .number(s.lateness(atPercentile: 50))
                entry["lateness_p99_s"] = .number(s.lateness(atPercentile: 99))
                entry["lateness_max_s"] = .number(s.maxLateness)
            }
            loopEntries[s.name] = .object(entry)
        }
        let alarms: [ReportValue] = controller.alarms.history.map { a in
            .object(["code": .string(a.code), "severity": .string(a.severity.rawValue), "message": .string(a.message),
                     "raised_s": .number(a.raisedAt), "cleared_s": ReportValue(a.clearedAt)])
        }
        let link = counters.withLock { $0 }
        return [
            "name": .string(name), "kind": .string(kind.rawValue), "mode": .string(mode.rawValue),
            "address": .string(endpoint), "channels": .object(channels), "loops": .object(loopEntries),
            "alarms": .array(alarms), "runs": .array(controller.runs.map(\.report)),
            "results": .object(controller.results()),
            "ring": ringReader.map { r in
                .object(["received": .number(Double(r.received)), "lost": .number(Double(r.lost)),
                         "gaps": .number(Double(r.gapCount)),
                         "first_gaps": .array(r.gaps.prefix(20).map {
                             .object(["first": .number(Double($0.first)), "count": .number(Double($0.count))])
                         })])
            } ?? .null,
            "link": .object(["transactions": .number(Double(transactions.count)),
                             "link_errors": .number(Double(link.linkErrors)),
                             "transaction_errors": .number(Double(link.transactionErrors)),
                             "reconnects": .number(Double(link.reconnects))]),
        ]
    }
}

/// The device at the address is not of the configured kind.
struct WrongDeviceError: Error, CustomStringConvertible {
    let expected: DeviceKind
    let found: String
    let endpoint: String
    var description: String { "\(endpoint) is a \(found) device, not \(expected) (IR 0)" }
}

/// A transaction count readable from any thread.
final class TransactionTally: Sendable {
    private let value = Atomic<UInt64>(0)
    var count: UInt64 { value.load(ordering: .relaxed) }
    func add() { value.add(1, ordering: .relaxed) }
}

/// Counts every transaction a station's client attempts, whatever the transport.
final class CountingClient: ModbusClient {
    private let base: any ModbusClient
    private let tally: TransactionTally

    init(_ base: any ModbusClient, tally: TransactionTally) {
        self.base = base
        self.tally = tally
    }

    var endpoint: String { base.endpoint }
    var isConnected: Bool { base.isConnected }
    func connect() throws { try base.connect() }
    func close() { base.close() }

    private func counted<T>(_ body: () throws -> T) rethrows -> T {
        tally.add()
        return try body()
    }

    func readInputRegisters(at address: Int, count: Int) throws -> [UInt16] {
        try counted { try base.readInputRegisters(at: address, count: count) }
    }
    func readHoldingRegisters(at address: Int, count: Int) throws -> [UInt16] {
        try counted { try base.readHoldingRegisters(at: address, count: count) }
    }
    func readCoils(at address: Int, count: Int) throws -> [Bool] {
        try counted { try base.readCoils(at: address, count: count) }
    }
    func readDiscreteInputs(at address: Int, count: Int) throws -> [Bool] {
        try counted { try base.readDiscreteInputs(at: address, count: count) }
    }
    func writeRegister(at address: Int, value: UInt16) throws {
        try counted { try base.writeRegister(at: address, value: value) }
    }
    func writeRegisters(at address: Int, values: [UInt16]) throws {
        try counted { try base.writeRegisters(at: address, values: values) }
    }
    func writeCoil(at address: Int, value: Bool) throws {
        try counted { try base.writeCoil(at: address, value: value) }
    }
    func writeCoils(at address: Int, values: [Bool]) throws {
        try counted { try base.writeCoils(at: address, values: values) }
    }
}
