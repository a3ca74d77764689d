import Control
import Devices
import DeviceTransports
import Foundation

/// What to do when a configured device does not answer at start.
package enum Fallback: String, Sendable, CaseIterable {
    /// Wire the in-process simulator and mark the station simulated (the default).
    case simulate
    /// Refuse to start, naming the station and the address.
    case fail
}

/// Simulator options for a station, used whenever it runs simulated.
package struct SimulatorConfig: Sendable, Equatable {
    /// Plant preset; nil: the kind's default (the first of its `presets`).
    package var preset: String?
    /// Overrides the run's seed for this station's simulator.
    package var seed: UInt64?
    /// Whether the simulated probes read with their own slope and offset errors (`probe_errors`), to be calibrated.
    package var probeErrors = false

    package init(preset: String? = nil, seed: UInt64? = nil, probeErrors: Bool = false) {
        self.preset = preset
        self.seed = seed
        self.probeErrors = probeErrors
    }
}

/// One `[[station]]` table.
package struct StationConfig: Sendable {
    package var name: String
    package var address: DeviceAddress
    package var fallback: Fallback = .simulate
    package var probeTimeoutMs = 1000
    package var responseTimeoutMs = 500
    /// The kind and its `[station.control]` settings.
    package var control: any ConfiguredKind
    /// When the station's clock starts (local time of day): set by the wiring on the real clock.
    package var context = StationContext()
    package var simulator = SimulatorConfig()
    /// Host E-stop input (asserted = pressed) and beacon output, on the host's GPIO.
    package var estop: GPIOLineAddress?
    package var beacon: GPIOLineAddress?
    /// Host relay outputs by the controller's relay name ("aerator-1", "exchange", "feeder"), on the host's GPIO.
    package var relays: [String: GPIOLineAddress] = [:]
    /// The device's map (`map = "FILE"` or an inline `[station.map]`), nil for the kind's built-in contract.
    package var map: StationMap?
    /// The station's table as read (canonical JSON) and its map file's text: equal fingerprints, the same station
    /// (a configuration reload leaves it running). Empty for a station not read from a file.
    package var fingerprint = ""

    package var descriptor: any StationKind.Type { control.descriptor }
    package var kind: DeviceKind { control.descriptor.kind }

    /// The serial line the device is on, if any: every station on one line shares one bus thread.
    package var bus: String? {
        if case .rtu(let settings, _) = address { settings.path } else { nil }
    }

    package var timeouts: ModbusTimeouts {
        ModbusTimeouts(connect: .milliseconds(probeTimeoutMs), response: .milliseconds(responseTimeoutMs))
    }

    package init(name: String, address: DeviceAddress, fallback: Fallback = .simulate, probeTimeoutMs: Int = 1000,
                 responseTimeoutMs: Int = 500, control: any ConfiguredKind, context: StationContext = StationContext(),
                 simulator: SimulatorConfig = SimulatorConfig(), estop: GPIOLineAddress? = nil,
                 beacon: GPIOLineAddress? = nil, relays: [String: GPIOLineAddress] = [:]) {
        self.name = name
        self.address = address
        self.fallback = fallback
        self.probeTimeoutMs = probeTimeoutMs
        self.responseTimeoutMs = responseTimeoutMs
        self.control = control
        self.context = context
        self.simulator = simulator
        self.estop = estop
        self.beacon = beacon
        self.relays = relays
    }
}

/// A station's device map and where it came from.
package struct StationMap: Sendable {
    package var map: DeviceMap
    /// The map file's path, or "inline [station.map] in FILE".
    package var source: String
    /// Channels of the kind the map lacks: they read "not available" (none is needed by a safety function).
    package var missingChannels: [String]
    /// Optional commands the map lacks (`StationKind.optionalCommands`): writes to them go nowhere.
    package var missingCommands: [String]

    package init(map: DeviceMap, source: String, missingChannels: [String] = [], missingCommands: [String] = []) {
        self.map = map
        self.source = source
        self.missingChannels = missingChannels
        self.missingCommands = missingCommands
    }
}

/// A whole configuration file (or the embedded demo).
package struct Configuration: Sendable {
    /// The file it came from, for messages.
    package var source: String
    package var stations: [StationConfig]
    package var daemon = DaemonConfig()
    /// The `[mqtt]` table: the Sparkplug B edge node; nil: no MQTT.
    package var mqtt: MQTTConfig?
    /// The `[[notify]]` tables: where alarm notifications go.
    package var notify: [NotifyTarget] = []
    /// The `[calibration]` table: when a probe's reading is stable, what a calibration must meet, when it is due.
    package var calibration = CalibrationSettings()
    /// Every top-level table other than `[[station]]` as read (canonical JSON), by key: what a reload compares.
    package var tableFingerprints: [String: String] = [:]

    package init(source: String, stations: [StationConfig], daemon: DaemonConfig = DaemonConfig(),
                 mqtt: MQTTConfig? = nil, notify: [NotifyTarget] = [],
                 calibration: CalibrationSettings = CalibrationSettings()) {
        self.source = source
        self.stations = stations
        self.daemon = daemon
        self.mqtt = mqtt
        self.notify = notify
        self.calibration = calibration
    }
}

/// `[calibration]` (issue 23 part 2, docs/operations.md "Calibration"): the stability criterion of a point, the
/// acceptance of a result, and how long a calibration lasts.
package struct CalibrationSettings: Sendable, Equatable {
    /// A point is recorded once every reading of the last `stableWindow` seconds is within ±band of their mean.
    package var stableWindow = 60.0
    /// The band by method: pH units, mg/L of DO, % of the reading for conductivity/salinity, % of the channel's range
    /// for a linear calibration.
    package var phBand = 0.03
    package var doBandMgL = 0.15
    package var conductivityBandPct = 1.0
    package var linearBandPct = 0.5
    /// A point that has not settled after this long fails (the operator may ask for it again).
    package var pointTimeout = 900.0
    /// Days until a calibration is due again; an applied calibration past it raises `calibration_due`.
    package var dueDays = 30.0
    package var acceptance = CalibrationAcceptance()

    package init() {}
}

/// The `[mqtt]` table: rigd as a Sparkplug B edge node (docs/fleet.md). Group = a site, node = this host, one
/// Sparkplug device per station.
package struct MQTTConfig: Sendable, Equatable {
    /// `broker = "mqtt://host:1883"` (plain) or `"mqtts://host:8883"` (TLS); the port defaults to 1883 / 8883.
    package var host: String
    package var port: Int
    package var tls: Bool
    /// MQTT protocol version: `protocol = "3.1.1"` (default) or `"5"`.
    package var protocolVersion5 = false
    /// Sparkplug group id (the site) and edge node id (this host): no `/ + #`, not empty.
    package var group: String
    package var node: String
    package var username: String?
    /// File holding the password (first line, trailing newline dropped); warned about unless mode 0600-ish.
    package var passwordFile: String?
    /// TLS: the CA file (required for mqtts), an optional client certificate and its key (both or neither).
    package var caFile: String?
    package var certFile: String?
    package var keyFile: String?
    /// The Sparkplug primary host application's id; commands are accepted only while its STATE says ONLINE.
    package var primaryHost: String?
    /// A channel's default deadband, as a fraction of its range (a mapped integer register's scale if larger).
    package var deadbandDefault = 0.001
    /// Per-channel deadbands in the channel's unit: `[mqtt.deadband] "pond-1.do_mg_l" = 0.05`.
    package var deadbands: [String: Double] = [:]
    /// A channel unchanged beyond its deadband is published anyway after this many seconds.
    package var maxInterval = 60.0
    /// Historical (store-and-forward) samples published per second at most, so that live data still flows.
    package var forwardRatePerS = 500.0
    /// MQTT keepalive in seconds.
    package var keepalive = 30

    package static let deadbandDefaultLimits = 0.0...0.5
    package static let deadbandLimits = 0.0...1e9
    package static let maxIntervalLimits = 1.0...86_400.0
    package static let forwardRateLimits = 1.0...1_000_000.0
    package static let keepaliveLimits = 5.0...3600.0

    package init(host: String, port: Int, tls: Bool = false, group: String, node: String) {
        self.host = host
        self.port = port
        self.tls = tls
        self.group = group
        self.node = node
    }
}

/// The `[daemon]` table: how rigd itself runs (HTTP API, data log), as opposed to what it runs.
package struct DaemonConfig: Sendable, Equatable {
    /// Listen address of the HTTP API, `host:port`; nil: no HTTP server (`http = "off"`).
    package var http: ListenAddress? = ListenAddress(host: "127.0.0.1", port: 8080)
    /// Directory of the data log and (by default) the API token; nil: `DaemonConfig.defaultDataDirectory()`.
    package var dataDirectory: String?
    /// The API token file; nil: `api-token` in the data directory.
    package var tokenFile: String?
    /// The named tokens with roles (`rigd token`); nil: `tokens.json` in the data directory.
    package var tokensFile: String?
    /// Samples and events older than this many days are deleted (0: keep everything).
    package var retentionDays: Double = 90
    /// Seconds between recorded samples of each station.
    package var recordInterval: Double = 1
    /// A station loop behind its deadline by more than this many seconds counts as hung: the systemd watchdog
    /// stops being petted.
    package var watchdogStall: Double = 10
    /// The longest an operator may hold an output in hand mode, in minutes.
    package var handMaxMinutes: Double = 30

    package static let retentionLimits = 0.0...36_500
    package static let handMaxLimits = 1.0...1440.0
    package static let recordIntervalLimits = 0.01...3600.0
    package static let watchdogStallLimits = 1.0...3600.0

    /// `$STATE_DIRECTORY` (systemd's StateDirectory=), else `$XDG_STATE_HOME/rigd`, else `~/.local/state/rigd`.
    package static func defaultDataDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let state = environment["STATE_DIRECTORY"], !state.isEmpty {
            // systemd may list several, separated by colons; rigd uses the first.
            return String(state.split(separator: ":").first ?? Substring(state))
        }
        if let xdg = environment["XDG_STATE_HOME"], xdg.hasPrefix("/") { return xdg + "/rigd" }
        return (environment["HOME"] ?? NSHomeDirectory()) + "/.local/state/rigd"
    }

    package var resolvedDataDirectory: String { dataDirectory ?? Self.defaultDataDirectory() }
    package var resolvedTokenFile: String { tokenFile ?? (resolvedDataDirectory as NSString).appendingPathComponent("api-token") }
    package var resolvedTokensFile: String {
        tokensFile ?? (resolvedDataDirectory as NSString).appendingPathComponent("tokens.json")
    }

    package init(http: ListenAddress? = ListenAddress(host: "127.0.0.1", port: 8080), dataDirectory: String? = nil,
                 tokenFile: String? = nil, retentionDays: Double = 90, recordInterval: Double = 1,
                 watchdogStall: Double = 10) {
        self.http = http
        self.dataDirectory = dataDirectory
        self.tokenFile = tokenFile
        self.retentionDays = retentionDays
        self.recordInterval = recordInterval
        self.watchdogStall = watchdogStall
    }
}

/// `host:port` (IPv6 in brackets: `[::1]:8080`).
package struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    package var host: String
    package var port: Int

    package init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port`; throws a message saying what is wrong.
    package init(parsing text: String) throws(ConfigMessage) {
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
    package var isLoopback: Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    package var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// A message about one value, for a caller to attach to its key.
package struct ConfigMessage: Error, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}
