import Control
import Devices
import Foundation
import Logging
import Sim
import Synchronization
import DeviceTransports
import Locking

/// Whether a station drives its real device or the in-process simulator. Chosen once, at wiring.
package enum StationMode: String, Sendable, Codable {
    case real, simulated
}

/// Link health of a station, readable from any thread.
package struct LinkCounters: Sendable, Equatable {
    package var linkErrors: UInt64 = 0
    package var transactionErrors: UInt64 = 0
    package var reconnects: UInt64 = 0
    package var linkUp = false
    package var lastError: String?
    /// Failures by kind (`timeout`, `connection`, `exception_02`, `crc`, …), link and transaction errors together.
    package var errorsByKind: [String: UInt64] = [:]

    package mutating func count(_ error: any Error) {
        errorsByKind[Self.kind(of: error), default: 0] += 1
    }

    /// A short, stable name for the kind of a failure (metrics labels, the API).
    package static func kind(of error: any Error) -> String {
        switch error {
        case let link as ModbusLinkError:
            switch link.errno {
            case ETIMEDOUT: return "timeout"
            case ECONNREFUSED: return "connection_refused"
            case ECONNRESET, EPIPE, ENOTCONN: return "connection_lost"
            default: return "link_other"
            }
        case let transaction as ModbusTransactionError:
            switch transaction.kind {
            case .exception(let code): return String(format: "exception_%02x", code.rawValue)
            case .unknownException: return "unknown_exception"
            case .badCRC: return "crc"
            case .badData: return "bad_data"
            case .badSlave: return "bad_unit"
            case .other: return "transaction_other"
            }
        case is WrongDeviceError: return "wrong_device"
        default: return "other"
        }
    }

    package init(linkErrors: UInt64 = 0, transactionErrors: UInt64 = 0, reconnects: UInt64 = 0, linkUp: Bool = false, lastError: String? = nil, errorsByKind: [String: UInt64] = [:]) {
        self.linkErrors = linkErrors
        self.transactionErrors = transactionErrors
        self.reconnects = reconnects
        self.linkUp = linkUp
        self.lastError = lastError
        self.errorsByKind = errorsByKind
    }
}

/// Where a station sends what it measured and decided besides its log: the data log, and the metrics histograms.
/// Attached once, after wiring and before the station's thread starts.
package struct StationOutputs: Sendable {
    package var recorder: (any StationJournal)?
    /// Unix time of the station clock's zero (Unix time = clock seconds + epoch).
    package var epoch: Double
    /// Seconds of station clock between recorded samples.
    package var recordInterval: Double = 1
    /// Per loop, a lateness observer (metrics); nil for none.
    package var latenessObserver: (@Sendable (_ station: String, _ loop: String) -> @Sendable (Int64) -> Void)?

    package init(recorder: (any StationJournal)? = nil, epoch: Double, recordInterval: Double = 1,
                 latenessObserver: (@Sendable (_ station: String, _ loop: String) -> @Sendable (Int64) -> Void)? = nil) {
        self.recorder = recorder
        self.epoch = epoch
        self.recordInterval = recordInterval
        self.latenessObserver = latenessObserver
    }
}

/// For a simulated station: its device and GPIO chips, so tests and the fault injector can reach them. Nothing in
/// a station's own logic looks at this.
package struct SimulationHandles: @unchecked Sendable {
    package let device: any ModbusDevice
    /// Simulated chips by name.
    package let gpio: [String: SimulatedGPIOChip]

    package init(device: any ModbusDevice, gpio: [String: SimulatedGPIOChip]) {
        self.device = device
        self.gpio = gpio
    }
}

/// A station's host GPIO lines.
package struct HostLines {
    package var estop: (any GPIOLine)?
    package var beacon: (any GPIOLine)?
    /// Relay outputs in the controller's `relayNames` order; nil where none is wired (the decision is still made,
    /// logged and reported).
    package var relays: [(any GPIOLine)?] = []

    package init(estop: (any GPIOLine)? = nil, beacon: (any GPIOLine)? = nil, relays: [(any GPIOLine)?] = []) {
        self.estop = estop
        self.beacon = beacon
        self.relays = relays
    }
}

/// What the daemon needs of any station, whatever its kind.
package protocol AnyStation: AnyObject, Sendable {
    var name: String { get }
    var kind: DeviceKind { get }
    /// The kind's descriptor: what the generic code may ask of the station's kind (its recipes, presets, …).
    var descriptor: any StationKind.Type { get }
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
    /// Sends records to the data log and lateness to metrics from now on. Call before the station's thread starts.
    func attach(_ outputs: StationOutputs)
    /// The station as the API shows it; safe from any thread.
    func status() -> StationStatus
    /// Test aid (`rigd run --debug-hang`): the station's tick blocks for good once its clock passes `seconds`.
    func hang(after seconds: Double)
}

/// One device: its transport, its profile, its controller and its loops (docs/design.md). It owns its I/O: nothing else
/// talks to its device. Operator requests arrive through the mailbox and are applied at the next tick.
///
/// - Important: Everything but `mailbox` and `counters` is confined to the thread that runs the station's loops.
package final class Station<Controller: StationController>: AnyStation, @unchecked Sendable {
    package typealias Profile = Controller.Profile

    package let name: String
    package let kind: DeviceKind = Profile.kind
    package let descriptor: any StationKind.Type
    package let mode: StationMode
    package let bus: String?
    package let mailbox = Mailbox()
    package let counters = Locked(LinkCounters())
    /// Modbus transactions attempted (each request, answered or not), counted by the station's client.
    package let transactions = TransactionTally()
    package let simulation: SimulationHandles?
    private let client: any ModbusClient
    private var controller: Controller
    private let logger: Logger
    private let lines: HostLines
    private var estopLineError: String?
    private var beaconState: Bool?
    /// What each relay line was last driven to (nil: unknown, drive it next time).
    private var relayStates: [Bool?]
    /// The outcome of each run as last logged and recorded.
    private var loggedRuns: [RunOutcome] = []

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
    /// The loops' statistics, for `status()` from other threads.
    private let loopStatistics = Locked<[LoopStatistics]>([])
    private var outputs = StationOutputs(epoch: 0)
    private var lastRecordAt = -Double.infinity
    private var lastPublishAt = -Double.infinity
    private var lastTransactionWarning: Int64 = .min / 2
    private var suppressedWarnings = 0
    private var lastResultsAt = -Double.infinity
    /// What `status()` shows besides the live counters, published by the station's thread.
    private let published: Locked<StationStatus>
    private let hangAt = Locked<Double>(.infinity)
    /// Seconds of station clock between status publications (channel values for the API and metrics).
    package static var publishInterval: Double { 0.1 }
    /// Seconds between status lines in the log; 0 for none.
    private let statusInterval: Double
    private var lastStatusAt = -Double.infinity

    package static var initialBackoff: Double { 0.5 }
    package static var maxBackoff: Double { 30 }
    /// Transaction failures in a row before the controller is told the device is unavailable.
    package static var failedReadLimit: Int { 3 }

    package var endpoint: String { client.endpoint }

    package init(name: String, descriptor: any StationKind.Type, mode: StationMode, client: any ModbusClient,
         controller: Controller, logger: Logger, statusInterval: Double = 0, lines: HostLines = HostLines(),
         simulation: SimulationHandles? = nil, bus: String? = nil) {
        self.name = name
        self.descriptor = descriptor
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
        self.published = Locked(StationStatus(
            name: name, kind: Profile.kind.rawValue, mode: mode.rawValue, address: client.endpoint, updatedAt: nil,
            link: StationStatus.Link(up: false, transactions: 0, linkErrors: 0, transactionErrors: 0,
                                     errorsByKind: [:], reconnects: 0, lastError: nil),
            loops: [], deviceStatus: [],
            channels: Profile.channels.map { StationStatus.Channel(name: $0.name, unit: $0.unit, value: nil,
                                                                   quality: ChannelQuality.notAvailable.rawValue) },
            alarms: [], run: nil, phase: nil,
            relays: Dictionary(uniqueKeysWithValues: zip(controller.relayNames,
                                                         controller.safeRelays.map(Optional.some))),
            settings: controller.settings.map {
                StationStatus.Setting(name: $0.name, unit: $0.unit, min: $0.limits.lowerBound, max: $0.limits.upperBound)
            },
            results: [:]))
    }

    package func attach(_ outputs: StationOutputs) {
        self.outputs = outputs
    }

    package func hang(after seconds: Double) {
        hangAt.withLock { $0 = seconds }
    }

    /// Unix time of a station-clock time.
    private func unix(_ t: Double) -> Double { t + outputs.epoch }

    private func event(_ kind: String, _ message: String, now: Double) {
        outputs.recorder?.record(.event(station: name, t: unix(now), kind: kind, message: message))
    }

    // MARK: Link

    package func start(now: Double) {
        if connect(now: now) {
            // One read at once, so the API and the data log have values before the first tick of a slow loop
            // (a stream station samples every minute).
            if let snapshot = try? Profile.readSnapshot(from: client, order: order) {
                recordAndPublish(snapshot, now: now)
                published.withLock { $0.updatedAt = unix(now) }
            }
        } else {
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
                let found = KindRegistry.builtIn.kind(deviceType: header.deviceType).map { $0.kind.rawValue }
                    ?? String(header.deviceType, radix: 16)
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
                $0.count(error)
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
            $0.count(error)
        }
        logger.error("station \(name): link lost: \(error); reconnecting with backoff")
        event("link_lost", "link lost: \(error)", now: now)
        markValuesUnknown()
        scheduleReconnect(now: now)
    }

    private func transactionFailed(_ error: any Error) {
        counters.withLock {
            $0.transactionErrors += 1
            $0.lastError = "\(error)"
            $0.count(error)
        }
        // One line per 5 s at most: a device answering every request with an exception must not flood the log (the
        // counters and the metrics have every one).
        let now = MonotonicClock.monotonicNanoseconds()
        if now - lastTransactionWarning >= 5_000_000_000 {
            let more = suppressedWarnings > 0 ? " (and \(suppressedWarnings) more transaction errors since the last line)" : ""
            logger.warning("station \(name): \(error)\(more)")
            lastTransactionWarning = now
            suppressedWarnings = 0
        } else {
            suppressedWarnings += 1
        }
    }

    // MARK: Loops

    package func makeLoops() -> [FixedRateLoop] {
        loops = controller.loops.enumerated().map { index, spec in
            let loop = FixedRateLoop(spec: spec) { [unowned self] tick in self.tick(loop: index, tick: tick) }
            if let observe = outputs.latenessObserver {
                let record = observe(name, spec.name)
                loop.latenessObserver = { record($0) }
            }
            return loop
        }
        loopStatistics.withLock { $0 = loops.map(\.statistics) }
        return loops
    }

    /// One tick: mailbox, read, decide, write.
    private func tick(loop: Int, tick: LoopTick) {
        let now = tick.now
        if now >= hangAt.withLock({ $0 }) {
            logger.critical("station \(name): hanging on purpose (--debug-hang); its loops stop here")
            while true { sleep(3600) }
        }
        let envelopes = mailbox.drain()
        for envelope in envelopes {
            do {
                try controller.apply(envelope.request, now: now)
                logger.info("station \(name): accepted \(envelope.request)")
                event("request_accepted", "\(envelope.request)", now: now)
                envelope.reply(.success(()))
            } catch {
                logger.info("station \(name): rejected \(envelope.request): \(error.reason)")
                event("request_rejected", "\(envelope.request): \(error.reason)", now: now)
                envelope.reply(.failure(error))
            }
        }
        if !linkUp, now >= nextReconnectAt {
            if connect(now: now) {
                counters.withLock { $0.reconnects += 1 }
                logger.notice("station \(name): link restored to \(endpoint)")
                event("link_restored", "link restored to \(endpoint)", now: now)
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
                recordAndPublish(snapshot, now: now)
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
                markValuesUnknown()
            }
        } else {
            input = .unavailable(reason: "link down")
        }
        let output = controller.step(loop: loop, tick: tick, input: input, host: readHostLines())
        let alarmsChanged = logAlarmChanges(now: now)
        let runsChanged = logRunChanges(now: now)
        // Host lines first, then the status: a published alarm comes with the relays it switched (found by the soak:
        // an aquaculture alarm showed the aerators still off for one tick).
        driveBeacon(output.beacon)
        driveRelays(output.relays)
        if alarmsChanged || runsChanged || !envelopes.isEmpty || now - lastPublishAt >= Self.publishInterval {
            publishState(now: now, withResults: !envelopes.isEmpty || runsChanged || now - lastResultsAt >= 1)
        }
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

    /// Logs and records each run's start and end (a run may start and end between two looks). Returns whether
    /// anything changed.
    private func logRunChanges(now: Double) -> Bool {
        let runs = controller.runs
        guard runs.count != loggedRuns.count || runs.last?.outcome != loggedRuns.last else { return false }
        for (i, run) in runs.enumerated() {
            let number = i + 1
            if i >= loggedRuns.count {
                loggedRuns.append(.running)
                logger.notice("station \(name): run \(number) started with recipe \"\(run.recipe)\"")
                outputs.recorder?.record(.runStarted(station: name, number: number, recipe: run.recipe,
                                                     t: unix(run.startedAt)))
            }
            guard run.outcome != loggedRuns[i] else { continue }
            loggedRuns[i] = run.outcome
            switch run.outcome {
            case .running:
                continue
            case .completed:
                let figures = ["yield", "energy_kwh", "in_position_fraction", "backflushes"].compactMap { key in
                    run.results[key]?.number.map { "\(key) \($0)" }
                }.joined(separator: ", ")
                logger.notice("station \(name): run \(number) completed: \(figures)")
            case .aborted:
                logger.error("station \(name): run \(number) ABORTED: \(run.reason ?? "no reason recorded")")
            }
            let results = (try? StationStatus.encoder().encode(run.results)).flatMap { String(data: $0, encoding: .utf8) }
            outputs.recorder?.record(.runEnded(station: name, number: number, outcome: run.outcome.rawValue,
                                               reason: run.reason, t: unix(run.endedAt ?? now),
                                               results: results ?? "{}"))
        }
        return true
    }

    /// Logs and records alarm changes. Returns whether there were any.
    private func logAlarmChanges(now: Double) -> Bool {
        let changes = controller.alarms.drainChanges()
        for change in changes {
            switch change {
            case .raised(let a):
                logger.log(level: a.severity == .warning ? .warning : .error,
                           "station \(name): ALARM \(a.code) raised (\(a.severity.rawValue)): \(a.message)")
                outputs.recorder?.record(.alarmRaised(station: name, alarm: a, t: unix(a.raisedAt)))
            case .cleared(let a):
                logger.notice("station \(name): alarm \(a.code) cleared")
                outputs.recorder?.record(.alarmCleared(station: name, code: a.code, t: unix(a.clearedAt ?? now)))
            case .acknowledged(let a):
                let by = a.acknowledgedBy ?? "?"
                logger.notice("station \(name): alarm \(a.code) acknowledged by \(by)")
                outputs.recorder?.record(.alarmAcknowledged(station: name, code: a.code, by: by,
                                                            t: unix(a.acknowledgedAt ?? now)))
            }
        }
        return !changes.isEmpty
    }

    // MARK: Data log and status

    /// What the API shows must not pass for current: the values are unknown until a read succeeds again.
    private func markValuesUnknown() {
        published.withLock { s in
            for i in s.channels.indices {
                s.channels[i].value = nil
                s.channels[i].quality = ChannelQuality.notAvailable.rawValue
            }
        }
    }

    /// Records the channels every `recordInterval` and refreshes the published values every `publishInterval`.
    private func recordAndPublish(_ snapshot: Profile.Snapshot, now: Double) {
        let dueRecord = outputs.recorder != nil && now - lastRecordAt >= outputs.recordInterval - 1e-9
        let duePublish = now - lastPublishAt >= Self.publishInterval
        guard dueRecord || duePublish else { return }
        let channels = zip(Profile.channels, snapshot.channels).map { spec, reading in
            StationStatus.Channel(name: spec.name, unit: spec.unit, value: reading.value,
                                  quality: reading.quality.rawValue)
        }
        if dueRecord {
            lastRecordAt = now
            outputs.recorder?.record(.samples(station: name, t: unix(now), channels: channels))
        }
        if duePublish {
            let status = snapshot.header.status.names
            published.withLock { s in
                s.channels = channels
                s.deviceStatus = status
            }
        }
    }

    /// Publishes alarms, the run and the relays for `status()`.
    private func publishState(now: Double, withResults: Bool) {
        lastPublishAt = now
        let results: [String: ReportValue]? = withResults ? controller.results() : nil
        if withResults { lastResultsAt = now }
        let alarms = controller.alarms.active.map { a in
            StationStatus.Alarm(code: a.code, severity: a.severity.rawValue, message: a.message,
                                raisedAt: unix(a.raisedAt), acknowledgedAt: a.acknowledgedAt.map(unix),
                                acknowledgedBy: a.acknowledgedBy)
        }
        let runs = controller.runs
        let run = runs.last.map { r in
            StationStatus.Run(number: runs.count, recipe: r.recipe, outcome: r.outcome.rawValue, reason: r.reason,
                              startedAt: unix(r.startedAt), endedAt: r.endedAt.map(unix), results: r.results)
        }
        var phase: String?
        if case .string(let p)? = results?["phase"] { phase = p }
        let relays = Dictionary(uniqueKeysWithValues: zip(controller.relayNames, relayStates))
        let updated = unix(now)
        published.withLock { s in
            s.alarms = alarms
            s.run = run
            if let results {
                s.results = results
                s.phase = phase
            }
            s.relays = relays
            s.updatedAt = updated
        }
    }

    package func status() -> StationStatus {
        var s = published.withLock { $0 }
        let link = counters.withLock { $0 }
        s.link = StationStatus.Link(up: link.linkUp, transactions: transactions.count, linkErrors: link.linkErrors,
                                    transactionErrors: link.transactionErrors, errorsByKind: link.errorsByKind,
                                    reconnects: link.reconnects, lastError: link.lastError)
        s.loops = loopStatistics.withLock { $0 }.map { statistics in
            let l = statistics.snapshot()
            return StationStatus.Loop(name: l.name, periodS: l.period, ticks: l.ticks, overruns: l.overruns,
                                      missedDeadlines: l.missedDeadlines,
                                      latenessP50S: l.lateness(atPercentile: 50),
                                      latenessP99S: l.lateness(atPercentile: 99), latenessMaxS: l.maxLateness)
        }
        return s
    }

    package func driveSafeState(now: Double) {
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
            event("safe_state", "safe state driven at shutdown", now: now)
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

    package func report(includeLateness: Bool) -> [String: ReportValue] {
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
                entry["missed_deadlines"] = .number(Double(s.missedDeadlines))
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
            "alarms": .array(alarms), "alarms_dropped": .number(Double(controller.alarms.dropped)),
            "runs": .array(controller.runs.map(\.report)),
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
package struct WrongDeviceError: Error, CustomStringConvertible {
    package let expected: DeviceKind
    package let found: String
    package let endpoint: String
    package var description: String { "\(endpoint) is a \(found) device, not \(expected) (IR 0)" }

    package init(expected: DeviceKind, found: String, endpoint: String) {
        self.expected = expected
        self.found = found
        self.endpoint = endpoint
    }
}

/// A transaction count readable from any thread.
package final class TransactionTally: Sendable {
    private let value = Atomic<UInt64>(0)
    package var count: UInt64 { value.load(ordering: .relaxed) }
    package func add() { value.add(1, ordering: .relaxed) }
}

/// Counts every transaction a station's client attempts, whatever the transport.
package final class CountingClient: ModbusClient {
    private let base: any ModbusClient
    private let tally: TransactionTally

    package init(_ base: any ModbusClient, tally: TransactionTally) {
        self.base = base
        self.tally = tally
    }

    package var endpoint: String { base.endpoint }
    package var isConnected: Bool { base.isConnected }
    package func connect() throws { try base.connect() }
    package func close() { base.close() }

    private func counted<T>(_ body: () throws -> T) rethrows -> T {
        tally.add()
        return try body()
    }

    package func readInputRegisters(at address: Int, count: Int) throws -> [UInt16] {
        try counted { try base.readInputRegisters(at: address, count: count) }
    }
    package func readHoldingRegisters(at address: Int, count: Int) throws -> [UInt16] {
        try counted { try base.readHoldingRegisters(at: address, count: count) }
    }
    package func readCoils(at address: Int, count: Int) throws -> [Bool] {
        try counted { try base.readCoils(at: address, count: count) }
    }
    package func readDiscreteInputs(at address: Int, count: Int) throws -> [Bool] {
        try counted { try base.readDiscreteInputs(at: address, count: count) }
    }
    package func writeRegister(at address: Int, value: UInt16) throws {
        try counted { try base.writeRegister(at: address, value: value) }
    }
    package func writeRegisters(at address: Int, values: [UInt16]) throws {
        try counted { try base.writeRegisters(at: address, values: values) }
    }
    package func writeCoil(at address: Int, value: Bool) throws {
        try counted { try base.writeCoil(at: address, value: value) }
    }
    package func writeCoils(at address: Int, values: [Bool]) throws {
        try counted { try base.writeCoils(at: address, values: values) }
    }
}
