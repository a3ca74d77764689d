import Control
import Devices
import Foundation

/// What to do when a configured device does not answer at start.
enum Fallback: String, Sendable, CaseIterable {
    /// Wire the in-process simulator and mark the station simulated (the default).
    case simulate
    /// Refuse to start, naming the station and the address.
    case fail
}

/// Simulator options for a station, used whenever it runs simulated.
struct SimulatorConfig: Sendable, Equatable {
    /// Plant preset; nil: the kind's default (the first of its `presets`).
    var preset: String?
    /// Overrides the run's seed for this station's simulator.
    var seed: UInt64?
}

/// One `[[station]]` table.
struct StationConfig: Sendable {
    var name: String
    var address: DeviceAddress
    var fallback: Fallback = .simulate
    var probeTimeoutMs = 1000
    var responseTimeoutMs = 500
    /// The kind and its `[station.control]` settings.
    var control: any ConfiguredKind
    /// When the station's clock starts (local time of day): set by the wiring on the real clock.
    var context = StationContext()
    var simulator = SimulatorConfig()
    /// Host E-stop input (asserted = pressed) and beacon output, on the host's GPIO.
    var estop: GPIOLineAddress?
    var beacon: GPIOLineAddress?
    /// Host relay outputs by the controller's relay name ("aerator-1", "exchange", "feeder"), on the host's GPIO.
    var relays: [String: GPIOLineAddress] = [:]

    var descriptor: any StationKind.Type { control.descriptor }
    var kind: DeviceKind { control.descriptor.kind }

    /// The serial line the device is on, if any: every station on one line shares one bus thread.
    var bus: String? {
        if case .rtu(let settings, _) = address { settings.path } else { nil }
    }

    var timeouts: ModbusTimeouts {
        ModbusTimeouts(connect: .milliseconds(probeTimeoutMs), response: .milliseconds(responseTimeoutMs))
    }
}

/// A whole configuration file (or the embedded demo).
struct Configuration: Sendable {
    /// The file it came from, for messages.
    var source: String
    var stations: [StationConfig]
    var daemon = DaemonConfig()
}

/// The `[daemon]` table: how rigd itself runs (HTTP API, data log), as opposed to what it runs.
struct DaemonConfig: Sendable, Equatable {
    /// Listen address of the HTTP API, `host:port`; nil: no HTTP server (`http = "off"`).
    var http: ListenAddress? = ListenAddress(host: "127.0.0.1", port: 8080)
    /// Directory of the data log and (by default) the API token; nil: `DaemonConfig.defaultDataDirectory()`.
    var dataDirectory: String?
    /// The API token file; nil: `api-token` in the data directory.
    var tokenFile: String?
    /// Samples and events older than this many days are deleted (0: keep everything).
    var retentionDays: Double = 90
    /// Seconds between recorded samples of each station.
    var recordInterval: Double = 1
    /// A station loop behind its deadline by more than this many seconds counts as hung: the systemd watchdog
    /// stops being petted.
    var watchdogStall: Double = 10

    static let retentionLimits = 0.0...36_500
    static let recordIntervalLimits = 0.01...3600.0
    static let watchdogStallLimits = 1.0...3600.0

    /// `$STATE_DIRECTORY` (systemd's StateDirectory=), else `$XDG_STATE_HOME/rigd`, else `~/.local/state/rigd`.
    static func defaultDataDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let state = environment["STATE_DIRECTORY"], !state.isEmpty {
            // systemd may list several, separated by colons; rigd uses the first.
            return String(state.split(separator: ":").first ?? Substring(state))
        }
        if let xdg = environment["XDG_STATE_HOME"], xdg.hasPrefix("/") { return xdg + "/rigd" }
        return (environment["HOME"] ?? NSHomeDirectory()) + "/.local/state/rigd"
    }

    var resolvedDataDirectory: String { dataDirectory ?? Self.defaultDataDirectory() }
    var resolvedTokenFile: String { tokenFile ?? (resolvedDataDirectory as NSString).appendingPathComponent("api-token") }
}

/// `host:port` (IPv6 in brackets: `[::1]:8080`).
struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    var host: String
    var port: Int

    init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port`; throws a message saying what is wrong.
    init(parsing text: String) throws(ConfigMessage) {
        var host: Substring
        var port: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw ConfigMessage("must be host:port with an IPv6 host in brackets ([::1]:8080), got \"\(text)\"")
            }
            host = text[text.index(after: text.startIndex)..<close]
            port = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else {
                throw ConfigMessage("must be host:port (127.0.0.1:8080), got \"\(text)\"")
            }
            host = text[..<colon]
            port = text[text.index(after: colon)...]
        }
        guard !host.isEmpty else { throw ConfigMessage("names no host, got \"\(text)\" (127.0.0.1:8080)") }
        guard let p = Int(port), (0...65_535).contains(p) else {
            throw ConfigMessage("port must be 0–65535, got \"\(port)\"")
        }
        self.host = String(host)
        self.port = p
    }

    /// Only this machine can connect (127.0.0.0/8, ::1, localhost).
    var isLoopback: Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// A message about one value, for a caller to attach to its key.
struct ConfigMessage: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
