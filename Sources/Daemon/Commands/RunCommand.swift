import ArgumentParser
import Control
import Devices
import Foundation
import Logging
import ServiceLifecycle
import Sim
import Stations
import DeviceTransports
import SimServe
import Locking

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the stations of a configuration (or the embedded demo plant).",
        discussion: """
        Real clock (default): each device is probed with its probe timeout; one that does not answer runs on the \
        in-process simulator (fallback = "simulate", the default) and is logged as SIMULATED, or stops rigd with \
        exit status 69 (fallback = "fail"). SIGINT/SIGTERM: every station drives its safe state, then rigd exits 0.

        Real clock, operations: the HTTP API listens on [daemon] http (default 127.0.0.1:8080; --http overrides, \
        "off" for none), every station's samples, events, alarms and runs go to the SQLite data log in the data \
        directory ([daemon] data_dir, --data-dir; default $STATE_DIRECTORY, else ~/.local/state/rigd), and under \
        systemd (Type=notify) rigd reports READY, STATUS, STOPPING and pets the watchdog while every loop is alive.

        Real clock, reload: SIGHUP (systemctl reload rigd), `rigd reload` or POST /api/reload reads the \
        configuration again. An invalid file is refused whole and nothing changes; stations whose tables did not \
        change keep running; changed ones drive their safe state and start again; removed ones stop safe; added \
        ones start. [daemon], [mqtt], [[notify]] and [calibration] apply at the next start.

        Virtual clock (--virtual --for DURATION): every station simulated, on a discrete-event clock that jumps to \
        the next deadline; writes the run report (JSON) to --report or standard output. The same seed gives the \
        same report, apart from wall_s.

        Virtual clock, recording (--record FILE): every station's samples (every [daemon] record_interval_s, or \
        --record-interval), logged series, events, alarms and runs go into FILE, a data log like the daemon's \
        stamped with plant time from --record-start (local midnight: the virtual plant's day starts at 00:00), and \
        the run report at the end. The run is the same with or without it. Look at it with `rigd view FILE`, make a \
        page to mail with `rigd report FILE -o run.html`, export it with `rigd export --log FILE`. A run cut short \
        (kill -9, power) leaves what was committed, at most a quarter of a second behind.
        """
    )

    @Option(name: .long, help: "Configuration file (TOML). Without it, the embedded demo plant.")
    var config: String?

    @Flag(name: .long, help: "Run every station simulated on the virtual clock.")
    var virtual = false

    @Option(name: .customLong("for"),
            help: "Plant time to run (90s, 2h, 7d). Required with --virtual; on the real clock rigd stops after it.")
    var duration: PlantDuration?

    @Option(name: .long, help: "Seed of the simulators' noise and disturbances.")
    var seed: UInt64 = 1

    @Option(name: .long, help: "Virtual clock: a fault timeline ([[fault]] tables with at = plant time, station, and a channel fault, device fault or plant disturbance; see docs/faults.md).")
    var faults: String?

    @Option(name: .long, help: "Start a run with this recipe file ([recipe] table) on every station of the kinds whose recipes take its keys: extraction keys (height_mm, flow_lpm, …) on extraction stations, a ramp/soak profile (ramp1_c_per_min, target1_c, soak1_s, …) on heat rigs, a cut (duration_s, spindle_rpm, …) on mills. `rigd kinds` lists each kind's recipe keys.")
    var recipe: String?

    @Flag(name: .long, help: "Start a run on every station whose kind has runs (extraction, mill, MSD rig, heat rig), with the station's default recipe.")
    var startRun = false

    @Option(name: .long, help: "Write the run report (JSON) here; '-' for standard output.")
    var report: String?

    @Option(name: .long, help: ArgumentHelp("Virtual clock: record the run into this file (a new file; see below).",
                                            valueName: "file"))
    var record: String?

    @Option(name: .long, help: ArgumentHelp("Virtual clock, --record: plant seconds between recorded samples (default [daemon] record_interval_s, 1 s; 60 keeps a 7-day pond near 100 MB).", valueName: "seconds"))
    var recordInterval: Double?

    @Option(name: .long, help: ArgumentHelp("Virtual clock, --record: the date plant time 0 is stamped with, at local midnight (default today).", valueName: "YYYY-MM-DD"))
    var recordStart: String?

    @Option(name: .long, help: "Real clock: per-thread timer slack in ns (1 helps wake-up lateness).")
    var timerSlackNs: UInt?

    @Option(name: .long, help: "Real clock: SCHED_FIFO priority 1–99 for loop threads (needs root).")
    var fifoPriority: Int32?

    @Option(name: .long, help: "Real clock: seconds between each station's status line in the log (0: none).")
    var statusEvery: Double = 10

    @Flag(name: .long, help: "Real clock: lock memory (mlockall) so loops never page-fault.")
    var mlockall = false

    @Flag(name: .long, help: "Real clock: hold /dev/cpu_dma_latency at 0 while running.")
    var cpuDmaLatency = false

    @Option(name: .long, help: "Real clock: HTTP API listen address host:port (port 0: any free port), or \"off\"; overrides [daemon] http.")
    var http: String?

    @Option(name: .long, help: "Real clock: data directory (data log, API token, lock); overrides [daemon] data_dir.")
    var dataDir: String?

    @Option(name: .long, help: .hidden)
    var debugHang: String?

    @OptionGroup var log: LogOptions

    func validate() throws {
        if virtual && duration == nil { throw ValidationError("--virtual needs --for DURATION (e.g. --for 2h)") }
        if faults != nil && !virtual {
            throw ValidationError("--faults needs --virtual (on the real clock, use rigd simulate --control and rigd fault)")
        }
        if record != nil && !virtual {
            throw ValidationError("--record needs --virtual (rigd on the real clock records into its data log, [daemon] data_dir)")
        }
        if (recordInterval != nil || recordStart != nil) && record == nil {
            throw ValidationError("--record-interval and --record-start need --record FILE")
        }
        if let recordInterval, !DaemonConfig.recordIntervalLimits.contains(recordInterval) {
            let limits = DaemonConfig.recordIntervalLimits
            throw ValidationError("--record-interval must be \(limits.lowerBound)–\(limits.upperBound) seconds, got \(recordInterval)")
        }
        if let recordStart, Recording.localMidnight(recordStart) == nil {
            throw ValidationError("--record-start takes a date, YYYY-MM-DD (plant time 0 is local midnight that day), got \"\(recordStart)\"")
        }
        if let p = fifoPriority, !(1...99).contains(p) { throw ValidationError("--fifo-priority must be 1–99") }
        if !(statusEvery >= 0) { throw ValidationError("--status-every must be 0 or more seconds") }
        if let http, http != "off" {
            do throws(ConfigMessage) { _ = try ListenAddress(parsing: http) } catch {
                throw ValidationError("--http \(error)")
            }
        }
        if let debugHang, Self.parseHang(debugHang) == nil {
            throw ValidationError("--debug-hang takes STATION@SECONDS")
        }
    }

    func run() async throws {
        let signals = ShutdownSignal()
        let logger = try log.bootstrap()
        // Caught at once: SIGHUP's default action would end rigd while it probes its devices.
        let reloadSignal = virtual ? nil : ReloadSignal(logger: logger)
        defer { withExtendedLifetime(reloadSignal) {} }
        let configuration: Configuration
        let runRecipe: RecipeLoader.Loaded?
        let timeline: FaultTimeline?
        do {
            configuration = try loadConfiguration(config)
            runRecipe = try recipe.map { path throws(ConfigError) in try RecipeLoader.load(path: path) }
            timeline = try faults.map { path throws(ConfigError) in try FaultTimeline.load(path: path) }
        } catch {
            throw failConfiguration(error)
        }
        for (file, what) in [(config, "the configuration file"), (recipe, "the recipe file"), (faults, "the fault timeline")] {
            if let file, let warning = FilePermissions.writableByOthers(file, what: what) { logger.warning("\(warning)") }
        }
        let start = runRecipe != nil || startRun
        let startRequests: ([any AnyStation]) -> Void = { stations in
            guard start else { return }
            // A recipe file goes to the kinds whose recipe format takes its keys; --start-run alone to every kind
            // that has runs, each with its station's default recipe.
            let chosen = stations.filter { station in
                runRecipe.map { $0.kinds.contains(station.kind) } ?? (station.descriptor.recipes != nil)
            }
            if chosen.isEmpty {
                let which = runRecipe.map { "for \($0.kinds.map(\.rawValue).joined(separator: ", "))" } ?? "with runs"
                logger.warning("no station of a kind \(which) to start a run on")
            }
            for station in chosen {
                let name = station.name
                station.mailbox.post(.startRun(runRecipe?.recipe), by: "rigd --start-run") { result in
                    if case .failure(let rejection) = result {
                        logger.error("station \(name): run not started: \(rejection.reason)")
                    }
                }
            }
        }
        if virtual {
            try runVirtual(configuration, timeline: timeline, signals: signals, startRequests: startRequests,
                           logger: logger)
        } else {
            try await runReal(configuration, signals: signals, reloadSignal: reloadSignal!,
                              startRequests: startRequests, logger: logger)
        }
    }

    private func runVirtual(_ configuration: Configuration, timeline: FaultTimeline?, signals: ShutdownSignal,
                            startRequests: ([any AnyStation]) -> Void, logger: Logger) throws {
        let duration = duration!
        if let mqtt = configuration.mqtt {
            logger.notice("[mqtt]: not used on the virtual clock (no broker connection to \(mqtt.host):\(mqtt.port)); the edge node runs with rigd run on the real clock")
        }
        let clock = VirtualClock()
        let stations = try Wiring.virtualStations(configuration, clock: clock, seed: seed, logger: logger)
        do {
            try timeline?.validate(against: stations)
        } catch {
            throw failConfiguration(error)
        }
        var pending = timeline?.entries ?? []
        var applied: [ReportValue] = []
        let recordStartAt = record == nil ? 0 : Recording.localMidnight(recordStart)!
        let recorder = try record.map { path in
            try startRecording(path, start: recordStartAt, configuration: configuration, stations: stations,
                               clock: clock, duration: duration, logger: logger)
        }
        let runner = LoopRunner(clock: clock)
        // With a recording, the plant advances a minute at a time and waits while the writer is behind.
        let advance: (Int64) -> Void = { end in
            guard let recorder else { runner.run(until: end); return }
            var t = clock.now()
            while t < end, !runner.isStopRequested {
                t = min(end, t + 60_000_000_000)
                runner.run(until: t)
                recorder.waitForWriter(below: 20_000)
            }
        }
        for station in stations {
            station.start(now: 0)
            for loop in station.makeLoops() { runner.add(loop) }
        }
        startRequests(stations)
        logger.info("virtual run: \(stations.count) station(s), \(duration.seconds) s of plant time, seed \(seed)")
        signals.onSignal { _ in runner.requestStop() }
        let wallStart = MonotonicClock.monotonicNanoseconds()
        let progress = isatty(STDERR_FILENO) == 1
        let slices: Int64 = progress ? 100 : 1
        for slice in 1...slices {
            let sliceEnd = duration.nanoseconds * slice / slices
            // Faults land between ticks at their plant time: every tick due by then has run, none after it.
            while let next = pending.first, Int64((next.at * 1e9).rounded()) <= sliceEnd, !runner.isStopRequested {
                advance(Int64((next.at * 1e9).rounded()))
                pending.removeFirst()
                let name = next.request.station ?? ""
                let simulation = stations.first(where: { $0.name == name })?.simulation
                if let device = (simulation?.instrument ?? simulation?.device) as? any FaultInjectable {
                    var what = next.request
                    what.station = nil
                    do throws(FaultRequest.Invalid) {
                        try next.request.apply(to: device)
                        logger.notice("fault at \(next.at) s: \(name): \(what)")
                        applied.append(.object(["at_s": .number(next.at), "station": .string(name),
                                                 "fault": .string("\(what)")]))
                    } catch {
                        logger.error("fault at \(next.at) s not applied to \(name): \(error)")
                    }
                }
            }
            advance(sliceEnd)
            if runner.isStopRequested { break }
            if progress {
                let wall = Double(MonotonicClock.monotonicNanoseconds() - wallStart) / 1e9
                FileHandle.standardError.write(Data(String(
                    format: "\rvirtual run: %3d%%  plant %.0f s  wall %.1f s", Int(slice), clock.seconds(), wall).utf8))
            }
        }
        if progress { FileHandle.standardError.write(Data("\n".utf8)) }
        for station in stations { station.driveSafeState(now: clock.seconds()) }
        let wall = Double(MonotonicClock.monotonicNanoseconds() - wallStart) / 1e9
        let interrupted = runner.isStopRequested
        let plant = interrupted ? clock.seconds() : duration.seconds
        let speed = String(format: "%.0f", plant / max(wall, 1e-9))
        logger.info("virtual run done: \(plant) s of plant time in \(String(format: "%.2f", wall)) s (\(speed)× real time)")
        var document = RunReport.document(seed: seed, durationSeconds: plant, wallSeconds: wall, clock: "virtual",
                                          interrupted: interrupted, stations: stations)
        if timeline != nil, case .object(var fields) = document {
            fields["faults"] = .array(applied)
            document = .object(fields)
        }
        if let recorder {
            finishRecording(recorder, start: recordStartAt, document: document, plantEnd: clock.seconds(),
                            interrupted: interrupted, logger: logger)
        }
        try writeReport(document, to: report ?? "-", logger: logger)
    }

    /// Opens a new recording, writes what run it is, and attaches it to every station before the run starts.
    private func startRecording(_ path: String, start: Double, configuration: Configuration, stations: [any AnyStation],
                                clock: VirtualClock, duration: PlantDuration, logger: Logger) throws -> Recorder {
        // A recording is never overwritten: it may be the only copy of a week's run.
        if FileManager.default.fileExists(atPath: path) {
            logger.critical("--record \(path): the file exists; remove it or choose another name (a recording is never overwritten)")
            throw ExitCode(ExitStatus.cannotCreate)
        }
        let interval = recordInterval ?? configuration.daemon.recordInterval
        let recorder: Recorder
        do {
            recorder = try Recorder(path: path, retentionDays: 0, recording: true, now: { start + clock.seconds() },
                                    logger: logger)
            try Recording.begin(Recording.Info(
                seed: seed, startAt: start, durationS: duration.seconds, recordIntervalS: interval,
                configuration: configuration.source, stations: stations.map { .init(name: $0.name, kind: $0.kind.rawValue) },
                rigdVersion: BuildInfo.version), writer: recorder.writer)
        } catch {
            logger.critical("--record \(path): cannot create the recording: \(error)")
            throw ExitCode(ExitStatus.cannotCreate)
        }
        // Only the journal, the epoch and the record interval differ from a run without a recording: the stations'
        // other outputs keep their defaults, so the run itself is the same.
        let outputs = StationOutputs(recorder: recorder, epoch: start, recordInterval: interval)
        for station in stations { station.attach(outputs) }
        recorder.start()
        recorder.record(.event(station: nil, t: start, kind: "daemon_started",
                               message: "virtual run recorded: \(stations.count) station(s) from \(configuration.source), seed \(seed)"))
        let stamp = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: start))
        logger.info("recording the run into \(path) (a sample every \(interval) s of plant time; plant time 0 is \(stamp))")
        return recorder
    }

    /// Closes the recording with the run's end and its report; a failure loses the report's copy only.
    private func finishRecording(_ recorder: Recorder, start: Double, document: ReportValue, plantEnd: Double,
                                 interrupted: Bool, logger: Logger) {
        recorder.record(.event(station: nil, t: start + plantEnd, kind: "daemon_stopped",
                               message: "virtual run \(interrupted ? "interrupted" : "done") at plant time \(plantEnd) s"))
        recorder.close(reason: interrupted ? "interrupted" : "end of --for")
        do {
            try Recording.finish(endedAt: start + plantEnd, interrupted: interrupted,
                                 report: String(decoding: try RunReport.encode(document), as: UTF8.self), writer: recorder.writer)
            logger.info("recording written: \(recorder.path) (rigd view \(recorder.path))")
        } catch {
            logger.error("recording \(recorder.path): cannot store the run's end and report: \(error)")
        }
    }

    /// `STATION@SECONDS`.
    static func parseHang(_ text: String) -> (station: String, after: Double)? {
        let parts = text.split(separator: "@")
        guard parts.count == 2, let seconds = Double(parts[1]), seconds >= 0 else { return nil }
        return (String(parts[0]), seconds)
    }

    /// The `[daemon]` settings with the command line's overrides.
    private func daemonSettings(_ configuration: Configuration) -> DaemonConfig {
        var daemon = configuration.daemon
        if let http { daemon.http = http == "off" ? nil : try? ListenAddress(parsing: http) }
        if let dataDir { daemon.dataDirectory = dataDir }
        return daemon
    }

    private func runReal(_ configuration: Configuration, signals: ShutdownSignal, reloadSignal: ReloadSignal,
                         startRequests: ([any AnyStation]) -> Void, logger: Logger) async throws {
        let daemon = daemonSettings(configuration)
        let dataDirectory = daemon.resolvedDataDirectory
        // The data directory, its lock, the data log and the API token come first: nothing is wired if any fails.
        let lock: DataDirectoryLock
        let recorder: Recorder
        var access: AccessControl?
        do {
            lock = try DataDirectoryLock(directory: dataDirectory)
            recorder = try Recorder(dataDirectory: dataDirectory, retentionDays: daemon.retentionDays, logger: logger)
            if let address = daemon.http {
                let (loaded, created) = try APIToken.load(file: daemon.resolvedTokenFile, mayCreate: address.isLoopback,
                                                          address: address.description)
                if created {
                    logger.notice("created the API token file \(loaded.file) (mode 0600): writes need Authorization: Bearer <its contents>")
                } else if let warning = FilePermissions.tokenTooOpen(loaded.file) {
                    logger.warning("\(warning)")
                }
                let tokens = daemon.resolvedTokensFile
                access = try AccessControl(tokenFile: loaded, tokensFile: tokens, logger: logger)
                if let named = access?.named, !named.isEmpty {
                    let roles = Role.allCases.compactMap { role -> String? in
                        let n = named.filter { $0.role == role }.count
                        return n == 0 ? nil : "\(n) \(role.rawValue)"
                    }
                    logger.notice("tokens file \(tokens): \(named.count) named token(s) (\(roles.joined(separator: ", ")))")
                    if let warning = FilePermissions.secretTooOpen(tokens, what: "the tokens file",
                                                                   risk: "may learn who may command the stations") {
                        logger.warning("\(warning)")
                    }
                }
            }
        } catch {
            logger.critical("\(error); nothing started")
            switch error {
            case is DataDirectoryLock.Held: throw ExitCode(ExitStatus.unavailable)
            case APIToken.LoadError.missingForNetwork, APIToken.LoadError.tooShort, is TokensFile.Problem:
                throw ExitCode(ExitStatus.config)
            default: throw ExitCode(ExitStatus.cannotCreate)
            }
        }
        defer { withExtendedLifetime(lock) {} }
        let retention = daemon.retentionDays > 0 ? "\(daemon.retentionDays) days" : "off"
        logger.info("data log: \(recorder.path) (a sample every \(daemon.recordInterval) s; retention \(retention))")
        let recovery = recorder.recovery
        if recovery.uncleanSessions > 0 {
            logger.warning("data log: the last rigd did not stop cleanly; \(recovery.abortedRuns) run(s) recorded as aborted (unclean stop), \(recovery.closedAlarms) open alarm(s) closed")
        }
        let holders = applyProcessOptions(logger: logger)
        defer { withExtendedLifetime(holders) {} }
        let clock = MonotonicClock()
        let stations: [any AnyStation]
        do {
            stations = try Wiring.realStations(configuration, clock: clock, seed: seed, statusInterval: statusEvery,
                                               startHourOfDay: Self.localHourOfDay(), logger: logger)
        } catch let refused as Wiring.RefusedStation {
            logger.critical("\(refused); nothing started")
            recorder.close(reason: "refused to start")
            throw ExitCode(ExitStatus.unavailable)
        } catch let error as GPIOError {
            logger.critical("\(error); nothing started")
            recorder.close(reason: "refused to start")
            throw ExitCode(ExitStatus.unavailable)
        }
        let metrics = MetricsExporter()
        // Alarm notifications see what the data log sees.
        let notifier = configuration.notify.isEmpty ? nil : Notifier(targets: configuration.notify, logger: logger)
        let journal: any StationJournal = notifier.map { JournalTee(recorder, $0) } ?? recorder
        var outputs = StationOutputs(recorder: journal, epoch: Date().timeIntervalSince1970 - clock.seconds(),
                                     recordInterval: daemon.recordInterval,
                                     latenessObserver: { station, loop in metrics.latenessObserver(station: station,
                                                                                                   loop: loop) })
        outputs.handMaxSeconds = daemon.handMaxMinutes * 60
        outputs.calibration = configuration.calibration
        do {
            outputs.calibrations = try recorder.appliedCalibrations()
        } catch {
            // The stations run uncorrected rather than not at all; the log says which.
            logger.error("data log \(recorder.path): cannot read the applied calibrations (\(error)); the channels run uncorrected")
        }
        for station in stations { station.attach(outputs) }
        if let debugHang, let (name, after) = Self.parseHang(debugHang) {
            guard let station = stations.first(where: { $0.name == name }) else {
                logger.critical("--debug-hang: no station named \(name)")
                throw ExitCode(ExitStatus.usage)
            }
            logger.warning("--debug-hang: station \(name) will hang \(after) s after start (test aid)")
            // The hook blocks the station's tick for good once its clock passes the time: production stations have
            // no hook, so no sleep loop.
            let hangAt = clock.seconds() + after
            station.setTickHook { [logger] now in
                guard now >= hangAt else { return }
                logger.critical("station \(name): hanging on purpose (--debug-hang); its loops stop here")
                while true { sleep(3600) }
            }
        }
        recorder.start()
        recorder.record(.event(station: nil, t: Date().timeIntervalSince1970, kind: "daemon_started",
                               message: "rigd started: \(stations.count) station(s) from \(configuration.source)"))
        var edgeNode: EdgeNode?
        if let mqtt = configuration.mqtt {
            do {
                let password = try EdgeNode.password(mqtt)
                if let file = mqtt.passwordFile,
                   let warning = FilePermissions.secretTooOpen(file, what: "the MQTT password file",
                                                              risk: "may publish as this node") {
                    logger.warning("\(warning)")
                }
                edgeNode = try EdgeNode(config: mqtt, password: password,
                                        stations: stations, log: recorder.writer,
                                        software: "rigd \(BuildInfo.version)", logger: logger)
            } catch {
                logger.critical("\(error); nothing started")
                recorder.close(reason: "refused to start")
                throw ExitCode(ExitStatus.config)
            }
        }
        if let edgeNode {
            metrics.attachMQTT { edgeNode.snapshot }
            edgeNode.start()
        }
        if let notifier {
            metrics.attachNotify { notifier.status }
        }
        startRequests(stations)
        let options = RealTimeOptions(timerSlackNanoseconds: timerSlackNs, fifoPriority: fifoPriority)
        let stationService = StationService(stations: stations, clock: clock, options: options, logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: stationService)]
        services.append(.init(service: SignalService(signals: signals),
                              successTerminationBehavior: .gracefullyShutdownGroup))
        signals.onSignal { number in
            logger.notice("received \(number == SIGINT ? "SIGINT" : "SIGTERM"): stopping; stations drive their safe state")
        }
        if let duration {
            services.append(.init(service: DurationService(seconds: duration.seconds),
                                  successTerminationBehavior: .gracefullyShutdownGroup))
        }
        if let notifier {
            services.append(.init(service: notifier))
        }
        let systemd = SystemdNotifier()
        let reloader = Reloader(path: config, running: configuration, service: stationService, outputs: outputs,
                                recorder: recorder, edgeNode: edgeNode, systemd: systemd, clock: clock, seed: seed,
                                statusInterval: statusEvery, logger: logger)
        reloadSignal.connect(reloader)
        if let address = daemon.http, let access {
            var api = API(registry: stationService.registry, recorder: recorder, metrics: metrics, access: access,
                          readsNeedToken: !address.isLoopback)
            api.notifier = notifier
            api.reload = { by in await reloader.reload(by: by) }
            let app = APIServer(api: api, address: address, logger: logger) { bound in
                logger.notice("HTTP API listening on http://\(bound) (reads \(address.isLoopback ? "open on loopback" : "need the token"); writes need the token or an operator's)")
            }
            // A server that cannot listen (port taken) stops rigd in order: stations go safe, then exit 70.
            services.append(.init(service: app, failureTerminationBehavior: .gracefullyShutdownGroup))
        }
        if let notifier = systemd {
            logger.info("systemd notify socket \(notifier.socketPath)")
            services.append(.init(service: SystemdService(
                notifier: notifier, service: stationService, clock: clock, stallLimit: daemon.watchdogStall,
                logger: logger)))
        }
        let groupConfiguration = ServiceGroupConfiguration(services: services, logger: logger)
        let group = ServiceGroup(configuration: groupConfiguration)
        let refusedCount = stations.filter { $0.mode == .refused }.count
        let refusedNote = refusedCount > 0 ? " (\(refusedCount) refused: not started, see above)" : ""
        logger.notice("rigd running \(stations.count) station(s) from \(configuration.source)\(refusedNote)")
        #if DEBUG
        logger.warning("""
            this is a debug build of rigd: loop timing and speed are not representative \
            (scripts/demo and bench/run use a release build: swift build -c release)
            """)
        #endif
        let started = clock.seconds()
        var failure: (any Error)?
        do {
            try await group.run()
        } catch {
            failure = error
            logger.critical("rigd stopping: \(error)")
        }
        let elapsed = clock.seconds() - started
        let reason = failure.map { "error: \($0)" } ?? (signals.signalReceived.map { $0 == SIGINT ? "SIGINT" : "SIGTERM" }
                                                        ?? "end of --for")
        edgeNode?.stop()
        recorder.record(.event(station: nil, t: Date().timeIntervalSince1970, kind: "daemon_stopped",
                               message: "rigd stopped (\(reason)) after \(String(format: "%.1f", elapsed)) s"))
        recorder.close(reason: reason)
        logger.notice("rigd stopped after \(String(format: "%.1f", elapsed)) s; every station was told to drive its safe state (any that could not says so above)")
        if let report {
            let document = RunReport.document(seed: seed, durationSeconds: elapsed, wallSeconds: elapsed,
                                              clock: "real", interrupted: false, stations: stationService.registry.stations)
            try writeReport(document, to: report, logger: logger)
        }
        if failure != nil { throw ExitCode(ExitStatus.software) }
    }

    /// The local time of day now, in hours: a pond's day cycle follows the wall clock on a real-clock run.
    static func localHourOfDay() -> Double {
        var now = time(nil)
        var local = tm()
        localtime_r(&now, &local)
        return Double(local.tm_hour) + Double(local.tm_min) / 60 + Double(local.tm_sec) / 3600
    }

    private func writeReport(_ document: ReportValue, to path: String, logger: Logger) throws {
        do {
            try RunReport.write(document, to: path)
            if path != "-" { logger.info("run report written to \(path)") }
        } catch {
            logger.error("cannot write the run report to \(path): \(error)")
            throw ExitCode(ExitStatus.cannotCreate)
        }
    }

    /// mlockall and /dev/cpu_dma_latency are per process; each is reported, and a failure is a warning only.
    private func applyProcessOptions(logger: Logger) -> ProcessRealTime {
        let measures = ProcessRealTime(mlockall: mlockall, cpuDMALatencyZero: cpuDmaLatency)
        for outcome in measures.outcomes {
            if outcome.took { logger.info("\(outcome.message)") } else { logger.warning("\(outcome.message)") }
        }
        return measures
    }
}
