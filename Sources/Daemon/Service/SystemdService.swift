import Control
import Foundation
import Logging
import ServiceLifecycle
import Stations
import DeviceTransports
import SimServe
import Locking

/// rigd's side of systemd supervision (Type=notify): READY=1 once the stations are wired, WATCHDOG=1 every half
/// watchdog period while every station loop is alive, a STATUS= summary line, and STOPPING=1 at shutdown.
///
/// "Alive" means no loop runner is behind its pending deadline by more than `stallLimit`: a tick that hangs (a
/// blocked call, a deadlock) stops the pets, and systemd restarts rigd after WatchdogSec=.
package struct SystemdService: Service {
    package let notifier: SystemdNotifier
    /// The stations and their threads, as they are now (a reload changes them).
    package let service: StationService
    private var threads: [StationService.LoopThread] { service.threads }
    private var stations: [any AnyStation] { service.stations }
    package let clock: MonotonicClock
    /// Seconds a runner may be behind before it counts as hung.
    package let stallLimit: Double
    package let logger: Logger

    /// The stalled threads' stations (the one whose tick hangs, if the thread is in one), empty when every loop is
    /// alive.
    package static func stalled(_ threads: [StationService.LoopThread], now: Int64, limit: Double) -> [String] {
        threads.filter { Double($0.runner.lag(now: now)) / 1e9 > limit }.map(\.busyNames)
    }

    /// One line for `systemctl status`.
    package static func summary(_ statuses: [StationStatus], stalled: [String]) -> String {
        let simulated = statuses.filter { $0.mode == "simulated" }.count
        let down = statuses.filter { !$0.link.up && $0.mode != "refused" }.map(\.name)
        let alarms = statuses.reduce(0) { $0 + $1.alarms.count }
        let refused = statuses.filter { $0.mode == "refused" }.map(\.name)
        var parts = ["\(statuses.count) stations (\(simulated) simulated)"]
        if !refused.isEmpty { parts.append("REFUSED: " + refused.joined(separator: ", ")) }
        parts.append(down.isEmpty ? "all links up" : "links down: " + down.joined(separator: ", "))
        parts.append("\(alarms) active alarm\(alarms == 1 ? "" : "s")")
        let running = statuses.filter { $0.run?.outcome == "running" }.count
        if running > 0 { parts.append("\(running) run\(running == 1 ? "" : "s") in progress") }
        if !stalled.isEmpty { parts.append("STALLED: " + stalled.joined(separator: "; ")) }
        return parts.joined(separator: "; ")
    }

    package func run() async throws {
        send(["READY=1", "STATUS=" + Self.summary(stations.map { $0.status() }, stalled: [])])
        let interval = notifier.watchdogTimeout.map { $0 / 2 } ?? 5
        if let timeout = notifier.watchdogTimeout {
            logger.info("systemd watchdog: \(timeout) s; petting every \(interval) s while every loop is alive (a loop \(stallLimit) s behind its deadline counts as hung)")
        }
        var wasStalled: [String] = []
        var lastStatus = -Double.infinity
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let stalled = Self.stalled(threads, now: clock.now(), limit: stallLimit)
            if stalled != wasStalled {
                if stalled.isEmpty {
                    logger.notice("every station loop is alive again; petting the systemd watchdog")
                } else {
                    let names = stalled.joined(separator: "; ")
                    logger.critical("station loop hung (\(names) more than \(stallLimit) s behind); no longer petting the systemd watchdog")
                }
            }
            var lines: [String] = []
            if stalled.isEmpty, notifier.watchdogTimeout != nil { lines.append("WATCHDOG=1") }
            let now = clock.seconds()
            if stalled != wasStalled || now - lastStatus >= 5 {
                lines.append("STATUS=" + Self.summary(stations.map { $0.status() }, stalled: stalled))
                lastStatus = now
            }
            wasStalled = stalled
            if !lines.isEmpty { send(lines) }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(interval)) }
        }
        send(["STOPPING=1", "STATUS=stopping: stations drive their safe state"])
    }

    private func send(_ lines: [String]) {
        do {
            try notifier.send(lines)
        } catch {
            logger.warning("systemd notify: \(error)")
        }
    }

    package init(notifier: SystemdNotifier, service: StationService, clock: MonotonicClock, stallLimit: Double,
                 logger: Logger) {
        self.notifier = notifier
        self.service = service
        self.clock = clock
        self.stallLimit = stallLimit
        self.logger = logger
    }
}
