import ArgumentParser
import Foundation
import Stations
import DeviceTransports
import SimServe
import Locking

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate a configuration file without starting anything.",
        discussion: "Exits 0 and summarises the stations, or prints every problem (file:line: station: key …) "
            + "and exits 78."
    )

    @Option(name: .long, help: "The configuration file (TOML).")
    var config: String

    func run() throws {
        do {
            let configuration = try ConfigLoader.load(path: config)
            let daemon = configuration.daemon
            // What `rigd run` would refuse although every key is valid: a network listener without a token file.
            if let http = daemon.http, !http.isLoopback,
               !FileManager.default.fileExists(atPath: daemon.resolvedTokenFile) {
                throw ConfigError(issues: [ConfigIssue(
                    file: config, line: nil, context: nil, key: "daemon.http",
                    message: "\(http) is reachable from other machines and the token file \(daemon.resolvedTokenFile) "
                        + "does not exist; rigd run would refuse to start (create the token file first)")])
            }
            // Stations that share a serial line must agree on it (rigd run refuses them otherwise).
            let conflicts = Wiring.lineConflicts(configuration.stations)
            if !conflicts.isEmpty {
                throw ConfigError(issues: conflicts.map {
                    ConfigIssue(file: config, line: nil, context: "station \"\($0.station)\"", key: "address",
                                message: $0.reason)
                })
            }
            if let warning = FilePermissions.writableByOthers(config, what: "the configuration file") {
                warn("warning: \(warning)")
            }
            if let token = daemon.http.map({ _ in daemon.resolvedTokenFile }),
               let warning = FilePermissions.tokenTooOpen(token) {
                warn("warning: \(warning)")
            }
            say("\(config): ok, \(configuration.stations.count) station(s)"
                + (configuration.source == config ? "" : " (\(configuration.source))"))
            for s in configuration.stations {
                say("  \(s.name): \(s.kind) at \(s.address), fallback \(s.fallback.rawValue)")
            }
            let retention = daemon.retentionDays > 0 ? "\(daemon.retentionDays) days" : "forever"
            say("  daemon: http \(daemon.http?.description ?? "off"), data log in \(daemon.resolvedDataDirectory) "
                + "(a sample every \(daemon.recordInterval) s, kept \(retention)), token \(daemon.resolvedTokenFile), "
                + "watchdog stall \(daemon.watchdogStall) s")
        } catch let error as ConfigError {
            throw failConfiguration(error)
        }
    }
}
