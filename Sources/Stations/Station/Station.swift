import Control
import Devices
import Foundation
import Locking
import Logging
import Synchronization

/// One device: its transport, its profile, its controller and its loops (docs/design.md). It owns its I/O: nothing else
/// talks to its device. Operator requests arrive through the mailbox and are applied at the next tick.
///
/// The tick is orchestrated here; its parts live beside it: link supervision (`LinkSupervisor`, applied by
/// `Station+Link.swift`), host lines (`HostLineDriver`), the journal (`StationJournaling`), the published status
/// (`StationPublisher`), shutdown and the report (`Station+Shutdown.swift`, `Station+Report.swift`).
///
/// - Important: Everything but `mailbox`, `counters` and `status()` is confined to the thread that runs the station's
///   loops.
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
    /// The device, behind the cache each loop's read plan fills (docs/maps.md, "Read plans").
    let client: SnapshotCache
    var controller: Controller
    let logger: Logger
    var hostLines: HostLineDriver
    /// The relays the device's map switches (docs/maps.md, "Relays"), with the mapped client that writes them: written
    /// with the commands while the link is up, and driven to their safe state at shutdown.
    let deviceRelays: (client: MappedClient, relays: [(index: Int, name: String)])?
    var journal: StationJournaling
    let publisher: StationPublisher
    var supervisor = LinkSupervisor()

    var order = WordOrder.abcd
    /// How many of the kind's channel blocks the device serves (learned when it connects): a real device lacks the
    /// simulator-only ones.
    var channelCount = Profile.channels.count
    var watchdogMs = CommonRegisters.defaultWatchdogMs
    var lastCommands: Profile.Commands?
    /// The outputs in hand mode (`Station+Hand.swift`), the held commands written on this connection, and what the
    /// last tick saw of the E-stop line and the device's status (nil: no snapshot), which decide whether hand mode may be.
    var hand: [HandHold] = []
    var handWritten: Set<String> = []
    var handSignals: (estop: Bool, device: StatusBits?) = (false, nil)
    /// The longest hold, in seconds (`[daemon] hand_max_min`).
    var handMaxSeconds = 1800.0
    /// The calibration in progress (or just finished), the corrections applied by channel index, the `[calibration]`
    /// settings, and when `calibration_due` was last looked at (`Station+Calibration.swift`).
    var calibrationRun: CalibrationRun?
    var corrections: [Int: CalibrationRecord] = [:]
    var calibrationSettings = CalibrationSettings()
    var calibrationDueCheckedAt = -Double.infinity
    private var heartbeat: UInt16 = 0
    private var lastHeartbeatAt = -Double.infinity
    var lastMissingReminderAt = -Double.infinity
    /// What a snapshot reads of the contract (with the channels the device serves), and the part of it each set of
    /// loop needs reads: learned at connect.
    var snapshotSpans: [ContractSpan]
    /// What each loop reads of `snapshotSpans` (its `reads(loop:)`, asked once when the station is made); empty until
    /// the first connect, which plans them.
    var loopSpans: [[ContractSpan]] = []
    /// Each loop's needs and the controller's stream loop, asked once: a tick asking them of the controller copied the
    /// whole controller value (a generic class's stored property; perf of 1000 stations).
    let loopNeeds: [ReadNeeds]
    let streamLoop: Int?
    /// The plan generation the published read plan was made under (a mapped device's values found at start-up).
    var publishedPlanGeneration = 0
    /// Whether the device's map finds values at start-up (`[[map.locate]]`): its layout may move while it runs.
    let mappedLocates: Bool
    /// The device's sample ring, read on the controller's stream loop.
    let ringReader: SampleRingReader?
    /// The statistics of the loops `makeLoops()` made (the report's). The station does not hold the loops: their
    /// runner does, and each loop holds the station it ticks.
    var loopStatistics: [LoopStatistics] = []
    private var outputs = StationOutputs(epoch: 0)
    /// A tick of `station`: made in `init`, so that it is compiled with the station's controller wherever the station
    /// is (`Configured.init`), and the loops made later by the generic `makeLoops()` tick through it.
    private let tickBody: @Sendable (_ station: Station, _ loop: Int, _ tick: LoopTick) -> Void
    private let tickHook = Locked<(@Sendable (Double) -> Void)?>(nil)
    /// Whether `tickHook` holds a hook: a tick looks here before it takes the hook's lock (only tests and
    /// `--debug-hang` set one).
    private let hasTickHook = Atomic<Bool>(false)

    package var endpoint: String { client.endpoint }

    package init(name: String, descriptor: any StationKind.Type, mode: StationMode, client: any ModbusClient,
         controller: Controller, logger: Logger, statusInterval: Double = 0, lines: HostLines = HostLines(),
         simulation: SimulationHandles? = nil, bus: String? = nil, clock: (@Sendable () -> Double)? = nil) {
        self.name = name
        self.descriptor = descriptor
        self.bus = bus
        let mappedRelays = (client as? MappedClient).map { mapped in
            (client: mapped, relays: controller.relayNames.enumerated().filter { mapped.switchesRelay($0.element) }
                .map { (index: $0.offset, name: $0.element) })
        }
        self.deviceRelays = mappedRelays.flatMap { $0.relays.isEmpty ? nil : $0 }
        self.hostLines = HostLineDriver(station: name, lines: lines, relayNames: controller.relayNames,
                                        safeRelays: controller.safeRelays,
                                        throughDevice: Set(mappedRelays?.relays.map(\.index) ?? []), logger: logger)
        self.journal = StationJournaling(station: name, logger: logger)
        self.mappedLocates = (client as? MappedClient)?.declared.locates ?? false
        self.simulation = simulation
        self.mode = mode
        if let mapped = client as? MappedClient {
            // Count what goes on the wire: a mapped read plan is its own requests, whatever the contract reads.
            let tally = transactions
            mapped.onRequest = { tally.add() }
            self.client = SnapshotCache(base: mapped)
        } else {
            self.client = SnapshotCache(base: CountingClient(client, tally: transactions))
        }
        self.snapshotSpans = ContractSpan.snapshot(of: Profile.self, channelCount: Profile.channels.count)
        self.tickBody = { station, loop, tick in station.tick(loop: loop, tick: tick) }
        self.controller = controller
        self.loopNeeds = controller.loops.indices.map { controller.reads(loop: $0) }
        self.streamLoop = controller.streamLoop
        self.logger = logger
        // A ring read times itself on the station's clock: the virtual clock in a virtual run, where no time passes
        // in a call (the wall clock there made a run's request count depend on how the host scheduled it).
        self.ringReader = controller.streamLoop == nil ? nil : Profile.sampleRing.map { layout in
            clock.map { SampleRingReader(layout: layout, clock: $0) } ?? SampleRingReader(layout: layout)
        }
        let initial = StationStatus(
            name: name, kind: Profile.kind.rawValue, mode: mode.rawValue, address: client.endpoint, updatedAt: nil,
            link: StationStatus.Link(up: false, transactions: 0, linkErrors: 0, transactionErrors: 0,
                                     errorsByKind: [:], reconnects: 0, lastError: nil),
            loops: [], deviceStatus: [],
            channels: Profile.channels.map { StationStatus.Channel(name: $0.name, unit: $0.unit, value: nil,
                                                                   quality: ChannelQuality.notAvailable.rawValue) },
            alarms: [], run: nil, phase: nil,
            relays: Dictionary(uniqueKeysWithValues: zip(controller.relayNames,
                                                         controller.safeRelays.map(Optional.some))),
            settings: controller.settings.map(StationStatus.Setting.init),
            results: [:], missingAddress: simulation?.standsInFor)
        var described = initial
        if let mapped = client as? MappedClient {
            let missing = Profile.channels.map(\.name).filter { mapped.map.channel(named: $0) == nil }
            described.deviceMap = StationStatus.DeviceMapInfo(
                name: mapped.map.name, reliesOnHost: Profile.usesHostWatchdog && mapped.map.watchdog == nil,
                missingChannels: missing)
        }
        described.readPlan = Self.planLines(controller: controller, cache: self.client, snapshot: snapshotSpans)
        self.publisher = StationPublisher(initial: described, channels: Profile.channels, statusInterval: statusInterval)
        publisher.setHandOutputs(handOutputs, maxSeconds: handMaxSeconds)
    }

    package func attach(_ outputs: StationOutputs) {
        self.outputs = outputs
        journal.recorder = outputs.recorder
        journal.epoch = outputs.epoch
        journal.runsBefore = outputs.runsBefore[name] ?? 0
        publisher.runsBefore = outputs.runsBefore[name] ?? 0
        publisher.recorder = outputs.recorder
        publisher.epoch = outputs.epoch
        publisher.recordInterval = outputs.recordInterval
        handMaxSeconds = outputs.handMaxSeconds
        publisher.setHandOutputs(handOutputs, maxSeconds: handMaxSeconds)
        calibrationSettings = outputs.calibration
        restoreCalibrations(outputs.calibrations, now: 0)
    }

    package func setTickHook(_ hook: (@Sendable (_ now: Double) -> Void)?) {
        tickHook.withLock { $0 = hook }
        hasTickHook.store(hook != nil, ordering: .releasing)
    }

    package func status() -> StationStatus {
        publisher.status(link: counters.withLock { $0 }, transactions: transactions.count)
    }

    // MARK: Loops

    package var loopSpecs: [LoopSpec] { controller.loops }

    package func makeLoops() -> [FixedRateLoop] {
        let loops = controller.loops.enumerated().map { index, spec in
            let body = tickBody
            let loop = FixedRateLoop(spec: spec) { tick in body(self, index, tick) }
            if let observe = outputs.latenessObserver {
                let record = observe(name, spec.name)
                loop.latenessObserver = { record($0) }
            }
            return loop
        }
        loopStatistics = loops.map(\.statistics)
        publisher.loopStatistics.withLock { $0 = loops.map(\.statistics) }
        return loops
    }

    /// One tick: mailbox, (re)connect, read, decide, host lines, publish, write.
    private func tick(loop: Int, tick: LoopTick) {
        let now = tick.now
        if hasTickHook.load(ordering: .acquiring) { tickHook.withLock { $0 }?(now) }
        let envelopes = applyRequests(now: now)
        remindOfMissingDevice(now: now)
        if supervisor.shouldReconnect(now: now) { _ = connect(now: now, restored: true) }
        let input: DeviceInput<Profile.Snapshot>
        if supervisor.isUp {
            // nil: a single failed read holds the outputs, so there is no step on this tick.
            guard let read = read(loop: loop, now: now) else { return }
            input = read
        } else {
            input = .unavailable(reason: "link down")
        }
        let host = hostLines.read()
        var output = controller.step(loop: loop, tick: tick, input: input, host: host)
        enforceHand(&output, input: input, host: host, now: now)
        if output.logged, case .snapshot(let snapshot) = input { publisher.recordLogged(snapshot, now: now) }
        let alarmsChanged = journal.alarmChanges(controller.alarms.drainChanges(), now: now)
        let runsChanged = journal.runChanges(controller.runs, now: now) { controller.runSummary($0) }
        // Host lines first, then the status: a published alarm comes with the relays it switched (found by the soak:
        // an aquaculture alarm showed the aerators still off for one tick).
        hostLines.driveBeacon(output.beacon)
        for change in hostLines.driveRelays(output.relays) {
            journal.event("relay", "\(change.name) \(change.on ? "ON" : "OFF")", now: now)
        }
        if publisher.stateDue(now: now, changed: alarmsChanged || runsChanged || !envelopes.isEmpty) {
            publishState(now: now, withResults: !envelopes.isEmpty || runsChanged || publisher.resultsDue(now: now))
        }
        guard supervisor.isUp else { return }
        write(output.commands, relays: output.relays, loop: loop, now: now)
        if supervisor.isUp, output.resetDeviceFaults {
            do {
                try client.writeRegister(at: CommonRegisters.command, value: CommonRegisters.resetFaultsCommand)
                logger.notice("station \(name): reset the device's latched faults (HR 5 = 0xA5)")
            } catch {
                failed(error, during: .write, now: now)
            }
        }
    }

    /// Reads the snapshot (and the sample ring on the stream loop). Returns the controller's input, or nil when a
    /// failed read holds the outputs.
    private func read(loop: Int, now: Double) -> DeviceInput<Profile.Snapshot>? {
        do {
            let needs = loopNeeds[loop]
            var spans = spans(loop: loop)
            if let ringReader, loop == streamLoop {
                // A contract 1.01 device keeps its switch word just below the ring: the ring read brings the switches
                // this loop needs, and the refresh need not read them.
                let switches = spans.first {
                    $0.table == .discrete && $0.span.upperBound <= 16 && client.readsSwitchWord
                }
                let read = try ringReader.read(from: client, order: order, switchWord: switches != nil)
                if let switches, let word = read.switches {
                    client.keepSwitches(word, as: switches)
                    spans.removeAll { $0 == switches }
                }
                // Handed on at once: the reader has moved past these samples, so a refresh that fails next must not
                // lose them (the controller acts on them at its next step).
                if let gap = read.chunk.gap {
                    logger.warning("station \(name): sample ring: \(gap) (read too slowly or the link stalled)")
                }
                controller.receive(read.chunk, now: now)
            }
            try client.refresh(spans)
            if mappedLocates, client.planGeneration != publishedPlanGeneration {
                // The device's layout moved (a layout version changed) and the values were found again: the API's
                // plan says where they are read now.
                publishedPlanGeneration = client.planGeneration
                publisher.setReadPlan(Self.planLines(controller: controller, cache: client, snapshot: snapshotSpans))
            }
            var snapshot = try Profile.readSnapshot(from: client, order: order, channelCount: channelCount)
            if calibrationRun != nil || !corrections.isEmpty { calibrate(&snapshot, loop: loop, now: now) }
            supervisor.readSucceeded()
            publisher.count(snapshot, fresh: needs.channels)
            if publisher.recordAndPublish(snapshot, now: now) { publisher.recordSettings(controller.settings, now: now) }
            if publisher.statusLineDue(now: now) { logStatus(snapshot) }
            return .snapshot(snapshot)
        } catch {
            return failed(error, during: .read, now: now)
        }
    }

    /// The contract spans loop `loop` refreshes (its read plan), planned at the first call if the first connect has
    /// not planned them.
    func spans(loop: Int) -> [ContractSpan] {
        if loopSpans.isEmpty { planLoopSpans() }
        return loopSpans[loop]
    }

    /// Each loop's part of the snapshot, from `snapshotSpans`.
    func planLoopSpans() {
        loopSpans = loopNeeds.map { ContractSpan.select($0, from: snapshotSpans) }
    }

    /// Each loop's read plan as the loop reads now, for the API (`read_plan`): `position (10 ms): FC 04 input 100…111
    /// (12)`, one line a request.
    package static func planLines(controller: Controller, cache: SnapshotCache, snapshot: [ContractSpan]) -> [String] {
        controller.loops.enumerated().flatMap { index, spec -> [String] in
            let needs = controller.reads(loop: index)
            var spans = ContractSpan.select(needs, from: snapshot)
            let ringSwitches = index == controller.streamLoop && Profile.sampleRing != nil && cache.readsSwitchWord
                && spans.contains { $0.table == .discrete }
            if ringSwitches { spans.removeAll { $0.table == .discrete } }
            let plan = cache.plan(spans)
            let name = "\(spec.name) (\(spec.periodDescription))"
            var lines = plan.requests.map { "\(name): \($0)" }
            if let mapped = cache.base as? MappedClient, mapped.map.fc23, !mapped.map.readTwice,
               let first = plan.requests.first(where: { $0.table == .holding }) {
                lines.append("\(name): FC 23: a tick's last holding-register write goes with the next tick's read of "
                             + "holding \(first.start)…\(first.start + first.count - 1), read then (one period early)")
            }
            if let mapped = cache.base as? MappedClient {
                lines += mapped.acquisitionLines(spans, period: spec.period).map { "\(name): \($0)" }
            }
            if index == controller.streamLoop, let ring = Profile.sampleRing {
                let first = ringSwitches ? ring.switchWordAddress : ring.writeIndexAddress
                lines.append("\(name): FC 04 input \(first)…: " + (ringSwitches ? "the switch word, " : "")
                             + "the sample ring's index and new slots (one request; a second when the device wrote "
                             + "further or the slots cross the ring's end)")
            }
            return lines.isEmpty ? ["\(name): nothing"] : lines
        }
    }

    /// Switches the relays the device's map names; the mapped client writes only what this connection has not
    /// written yet, so after a reconnect every one is written again.
    func writeDeviceRelays(_ wanted: [Bool]) throws {
        guard let deviceRelays else { return }
        for relay in deviceRelays.relays where relay.index < wanted.count {
            try deviceRelays.client.writeRelay(relay.name, on: wanted[relay.index])
        }
    }

    /// Writes what changed, then the host heartbeat when due (at least four per device watchdog timeout).
    /// On a mapped device with FC 23 the last holding-register write goes out with the loop's next read (docs/maps.md,
    /// "FC 23").
    private func write(_ commands: Profile.Commands, relays: [Bool], loop: Int, now: Double) {
        do {
            try client.combiningWrites(prefetching: spans(loop: loop)) {
                let writes = Profile.writes(for: commands, previous: lastCommands, order: order)
                for write in hand.isEmpty ? writes : handWrites(writes, fullImage: lastCommands == nil) {
                    try write.apply(to: client)
                }
                lastCommands = commands
                try writeDeviceRelays(relays)
                let interval = watchdogMs == 0 ? 1.0 : min(1.0, Double(watchdogMs) / 4000)
                if Profile.usesHostWatchdog, now - lastHeartbeatAt >= interval - 1e-9 {
                    heartbeat &+= 1
                    try client.writeRegister(at: CommonRegisters.hostHeartbeat, value: heartbeat)
                    lastHeartbeatAt = now
                }
            }
        } catch {
            if !(error is ModbusLinkError) { lastCommands = nil }  // unknown what the device holds: write all next time
            failed(error, during: .write, now: now)
        }
    }

    /// Publishes alarms, the run, the relays and (`withResults`) the controller's results and phase.
    func publishState(now: Double, withResults: Bool) {
        publisher.publishState(now: now, alarms: controller.alarms.active, runs: controller.runs,
                               results: withResults ? controller.results() : nil,
                               settings: withResults ? controller.settings.map(StationStatus.Setting.init) : nil,
                               phase: withResults ? controller.phaseName : nil, relays: hostLines.relaysByName)
    }

    /// One line with every channel and the active alarms, so a long run shows it is alive.
    private func logStatus(_ snapshot: Profile.Snapshot) {
        let values = zip(Profile.channels, snapshot.channels).map { spec, reading in
            let value = reading.value.map { String(format: "%.2f", $0) }
                ?? (reading.quality == .notAvailable ? "n/a" : "FAULT")
            return "\(spec.name) \(value)"
        }.joined(separator: ", ")
        let active = controller.alarms.active.map(\.code)
        let alarms = active.isEmpty ? "none" : active.joined(separator: ", ")
        let phase = controller.phaseName.map { "phase \($0); " } ?? ""
        logger.info("station \(name) [\(mode.rawValue)]: \(phase)\(values); alarms: \(alarms)\(hostLines.relaysForStatusLine)")
    }
}
