import Control
import Foundation
import Logging
import Stations
import Locking

/// The answer to a reload (`POST /api/reload`, `rigd reload`, and the log line of a SIGHUP).
package struct ReloadOutcome: Codable, Sendable, Equatable {
    /// Whether the new configuration was taken (false: it was refused whole and nothing changed).
    package var applied: Bool
    /// The configuration file (or "embedded demo plant").
    package var source: String
    /// Why it was refused: the file's problems, one per line, each naming the file, line and key.
    package var errors: [String] = []
    package var unchanged: [String] = []
    package var restarted: [String] = []
    package var added: [String] = []
    package var removed: [String] = []
    /// Restarted only because a station of their serial line changed (also in `restarted`).
    package var restartedWithTheirLine: [String] = []
    /// Refused stations probed again though their table did not change (also in `restarted`).
    package var retriedRefused: [String] = []
    /// Tables that changed but apply only at the next start of rigd (`daemon`, `mqtt`, `notify`, `calibration`).
    package var needsRestart: [String] = []
    /// Stations told to stop that had not confirmed their safe state within the wait (see the log).
    package var notConfirmedSafe: [String] = []
    /// Who asked: the token's name, or "SIGHUP".
    package var by: String
    package var summary: String

    enum CodingKeys: String, CodingKey {
        case applied, source, errors, unchanged, restarted, added, removed, by, summary
        case restartedWithTheirLine = "restarted_with_their_line"
        case retriedRefused = "retried_refused"
        case needsRestart = "needs_restart"
        case notConfirmedSafe = "not_confirmed_safe"
    }
}

/// Reloads the configuration of a running rigd (SIGHUP, `POST /api/reload`): an invalid file is refused whole with
/// its problems and the plant is untouched; stations whose tables (and map files) did not change keep running, with
/// the same loops and link; changed stations drive their safe state and start again (probed as at start, so a
/// device that answers now is driven, one that is silent falls back to the simulator); removed ones drive their safe
/// state and stop; added ones start. `[daemon]`, `[mqtt]`, `[[notify]]` and `[calibration]` are read at start only:
/// a change to them is reported and applies at the next start of rigd.
///
/// One reload at a time; each runs on a thread of its own (probing a device may block for its probe timeout).
package final class Reloader: Sendable {
    /// The configuration file; nil: the embedded demo plant (a reload then changes nothing).
    private let path: String?
    private let service: StationService
    private let outputs: Locked<StationOutputs>
    private let recorder: Recorder
    private let edgeNode: EdgeNode?
    private let systemd: SystemdNotifier?
    private let clock: MonotonicClock
    private let seed: UInt64
    private let statusInterval: Double
    private let logger: Logger
    /// What runs now: its stations, and the other tables as rigd started with them.
    private let running: Locked<Configuration>
    private let busy = Locked(false)

    package init(path: String?, running: Configuration, service: StationService, outputs: StationOutputs,
                 recorder: Recorder, edgeNode: EdgeNode?, systemd: SystemdNotifier?, clock: MonotonicClock,
                 seed: UInt64, statusInterval: Double, logger: Logger) {
        self.path = path
        self.running = Locked(running)
        self.service = service
        self.outputs = Locked(outputs)
        self.recorder = recorder
        self.edgeNode = edgeNode
        self.systemd = systemd
        self.clock = clock
        self.seed = seed
        self.statusInterval = statusInterval
        self.logger = logger
    }

    /// Reloads on a thread of its own and answers when done.
    package func reload(by: String) async -> ReloadOutcome {
        await withCheckedContinuation { (done: CheckedContinuation<ReloadOutcome, Never>) in
            startThread(name: "reload") { [self] in done.resume(returning: reloadNow(by: by)) }
        }
    }

    /// Reloads on the calling thread (it may block for a device's probe timeout).
    package func reloadNow(by: String) -> ReloadOutcome {
        let source = path ?? "embedded demo plant"
        guard busy.withLock({ busy in
            defer { busy = true }
            return !busy
        }) else {
            return ReloadOutcome(applied: false, source: source, errors: ["a reload is already in progress"], by: by,
                                 summary: "refused: a reload is already in progress")
        }
        defer { busy.withLock { $0 = false } }
        logger.notice("reloading the configuration from \(source) (asked by \(by))")
        let new: Configuration
        do {
            new = try loadConfiguration(path)
        } catch {
            return refuse(error.issues.map(\.description), source: source, by: by)
        }
        let conflicts = Wiring.lineConflicts(new.stations)
        if !conflicts.isEmpty { return refuse(conflicts.map(\.description), source: source, by: by) }

        let old = running.withLock { $0 }
        var change = ConfigurationChange(from: old, to: new)
        change.retry(refused: Set(service.stations.filter { $0.mode == .refused }.map(\.name)))
        var outcome = ReloadOutcome(applied: true, source: source, unchanged: change.unchanged,
                                    restarted: change.changed, added: change.added, removed: change.removed,
                                    restartedWithTheirLine: change.restartedWithTheirLine,
                                    retriedRefused: change.retriedRefused,
                                    needsRestart: change.needsRestart, by: by, summary: change.summary)
        if change.touchesStations {
            systemd.map { send($0, ["RELOADING=1", "MONOTONIC_USEC=\(clock.now() / 1000)", "STATUS=reloading the configuration"]) }
            outcome.notConfirmedSafe = apply(change, new: new)
            systemd.map { send($0, ["READY=1", "STATUS=configuration reloaded: \(change.summary)"]) }
        }
        running.withLock { running in
            // The other tables stay as rigd started with them, so the next reload still reports them.
            running.stations = new.stations
            running.source = new.source
        }
        if !outcome.notConfirmedSafe.isEmpty {
            outcome.summary += "; not confirmed safe: " + outcome.notConfirmedSafe.joined(separator: ", ")
        }
        let message = change.touchesStations ? "configuration reloaded from \(source): \(outcome.summary)"
            : "configuration reloaded from \(source): no station changed (\(outcome.summary))"
        logger.notice("\(message)")
        for table in change.needsRestart {
            logger.warning("reload: [\(table)] changed in \(source); rigd runs with the one it started with until it is restarted")
        }
        recorder.record(.event(station: nil, t: Date().timeIntervalSince1970, kind: "config_reloaded",
                               message: message, actor: by))
        return outcome
    }

    private func refuse(_ errors: [String], source: String, by: String) -> ReloadOutcome {
        logger.error("reload refused: \(source) has \(errors.count) problem\(errors.count == 1 ? "" : "s"); the running plant is untouched")
        for line in errors { logger.error("  \(line)") }
        let message = "reload refused: \(source): " + errors.joined(separator: "; ")
        recorder.record(.event(station: nil, t: Date().timeIntervalSince1970, kind: "config_reload_refused",
                               message: message, actor: by))
        return ReloadOutcome(applied: false, source: source, errors: errors, by: by,
                             summary: "refused: \(errors.count) problem\(errors.count == 1 ? "" : "s") in \(source); nothing changed")
    }

    /// Stops the changed and removed stations, builds and starts the changed and added ones; returns the stations
    /// that did not confirm their safe state in time.
    private func apply(_ change: ConfigurationChange, new: Configuration) -> [String] {
        let stopping = Set(change.changed + change.removed)
        let before = service.stations
        // A station that comes back (now or in a later reload) numbers its runs on from the last one.
        for station in before where stopping.contains(station.name) {
            let last = station.status().run?.number ?? 0
            outputs.withLock { $0.runsBefore[station.name] = max($0.runsBefore[station.name] ?? 0, last) }
        }
        // Changed stations stay listed (their last status) until their successors are built; removed ones go now.
        let late = service.replace(removing: stopping, adding: [],
                                   stations: before.filter { !change.removed.contains($0.name) })
        for name in late {
            logger.critical("reload: station \(name) did not confirm its safe state within 10 s of being stopped")
        }
        let now = Date().timeIntervalSince1970
        for name in change.removed {
            recorder.record(.event(station: name, t: now, kind: "station_removed",
                                   message: "removed from the configuration by a reload: safe state driven, stopped"))
        }
        // Its run in progress ends as aborted and its open alarms as cleared: the station that comes back (if any)
        // starts afresh and raises again what still holds.
        for name in stopping {
            let why = change.removed.contains(name) ? "removed by a configuration reload"
                : "restarted by a configuration reload"
            // Through the stations' journal: alarm notifications drop their reminders for it too.
            let journal: any StationJournal = outputs.withLock { $0.recorder } ?? recorder
            journal.record(.stationStopped(station: name, t: now, reason: why))
        }
        let starting = Set(change.changed + change.added)
        var subset = new
        subset.stations = new.stations.filter { starting.contains($0.name) }
        var built: [any AnyStation] = []
        if !subset.stations.isEmpty {
            do {
                // A pond's controller counts its hours from the clock's zero, which was when rigd started.
                let hourAtClockZero = (RunCommand.localHourOfDay() - clock.seconds() / 3600 + 24 * 365)
                    .truncatingRemainder(dividingBy: 24)
                built = try Wiring.realStations(subset, clock: clock, seed: seed, statusInterval: statusInterval,
                                                startHourOfDay: hourAtClockZero,
                                                refuseInsteadOfThrowing: true, logger: logger)
            } catch {
                logger.critical("reload: \(error); the changed and added stations are not started")
                built = subset.stations.map { NotStartedStation(config: $0, reason: "could not be wired on reload: \(error)") }
            }
        }
        // A restarted station takes the calibrations applied since rigd started, not those of the start.
        var outputs = self.outputs.withLock { $0 }
        do {
            outputs.calibrations = try recorder.appliedCalibrations()
            self.outputs.withLock { $0 = outputs }
        } catch {
            logger.error("data log \(recorder.path): cannot read the applied calibrations (\(error)); restarted stations take those read at start")
        }
        for station in built { station.attach(outputs) }
        let kept = Dictionary(before.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let fresh = Dictionary(built.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let stations: [any AnyStation] = new.stations.compactMap { config in
            starting.contains(config.name) ? fresh[config.name] : kept[config.name]
        }
        _ = service.replace(removing: [], adding: built, stations: stations)
        edgeNode?.replaceStations(stations)
        return late
    }

    private func send(_ notifier: SystemdNotifier, _ lines: [String]) {
        do {
            try notifier.send(lines)
        } catch {
            logger.warning("systemd notify: \(error)")
        }
    }
}

/// SIGHUP, caught from the moment it is made (the default action would end rigd): a reload once the `Reloader` is
/// set, a warning before.
final class ReloadSignal: @unchecked Sendable {
    private let source: any DispatchSourceSignal
    private let reloader = Locked<Reloader?>(nil)

    init(logger: Logger) {
        signal(SIGHUP, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler { [reloader] in
            guard let target = reloader.withLock({ $0 }) else {
                logger.warning("SIGHUP while rigd is starting: ignored (send it again once rigd runs)")
                return
            }
            startThread(name: "reload") { _ = target.reloadNow(by: "SIGHUP") }
        }
        source.resume()
    }

    deinit { source.cancel() }

    func connect(_ target: Reloader) { reloader.withLock { $0 = target } }
}
