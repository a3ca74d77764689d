import Control
import Foundation
import DeviceTransports
import Locking

/// What a station shows the outside world (HTTP API, Server-Sent Events, Prometheus, `rigd status`): a copy taken
/// at one moment, safe to hand to any thread. Times are Unix seconds. Encoded with snake_case keys.
package struct StationStatus: Sendable, Codable, Equatable {
    package struct Channel: Sendable, Codable, Equatable {
        package var name: String
        package var unit: String
        /// nil when the reading is a fault (NaN or quality 0x80) or nothing was read yet.
        package var value: Double?
        /// The channel block's quality word (docs/register-contract.md §0); 0 = good.
        package var quality: UInt16

        package init(name: String, unit: String, value: Double? = nil, quality: UInt16) {
            self.name = name
            self.unit = unit
            self.value = value
            self.quality = quality
        }
    }

    package struct Link: Sendable, Codable, Equatable {
        package var up: Bool
        package var transactions: UInt64
        package var linkErrors: UInt64
        package var transactionErrors: UInt64
        /// Failures by kind: `timeout`, `connection`, `exception_02`, `crc`, `bad_data`, … (link and transaction).
        package var errorsByKind: [String: UInt64]
        package var reconnects: UInt64
        package var lastError: String?

        package init(up: Bool, transactions: UInt64, linkErrors: UInt64, transactionErrors: UInt64,
                     errorsByKind: [String: UInt64], reconnects: UInt64, lastError: String? = nil) {
            self.up = up
            self.transactions = transactions
            self.linkErrors = linkErrors
            self.transactionErrors = transactionErrors
            self.errorsByKind = errorsByKind
            self.reconnects = reconnects
            self.lastError = lastError
        }
    }

    package struct Loop: Sendable, Codable, Equatable {
        package var name: String
        package var periodS: Double
        package var ticks: UInt64
        package var overruns: UInt64
        package var missedDeadlines: UInt64
        package var latenessP50S: Double
        package var latenessP99S: Double
        package var latenessMaxS: Double

        /// Encoded with keys spelled out: the encoder's snake_case conversion would make `lateness_p50s` of
        /// `latenessP50S`. (Decoding with `convertFromSnakeCase` maps `lateness_p50_s` back to `latenessP50S`.)
        private enum EncodingKeys: String, CodingKey {
            case name, ticks, overruns
            case periodS = "period_s"
            case missedDeadlines = "missed_deadlines"
            case latenessP50S = "lateness_p50_s"
            case latenessP99S = "lateness_p99_s"
            case latenessMaxS = "lateness_max_s"
        }

        package func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: EncodingKeys.self)
            try c.encode(name, forKey: .name)
            try c.encode(periodS, forKey: .periodS)
            try c.encode(ticks, forKey: .ticks)
            try c.encode(overruns, forKey: .overruns)
            try c.encode(missedDeadlines, forKey: .missedDeadlines)
            try c.encode(latenessP50S, forKey: .latenessP50S)
            try c.encode(latenessP99S, forKey: .latenessP99S)
            try c.encode(latenessMaxS, forKey: .latenessMaxS)
        }

        package init(name: String, periodS: Double, ticks: UInt64, overruns: UInt64, missedDeadlines: UInt64,
                     latenessP50S: Double, latenessP99S: Double, latenessMaxS: Double) {
            self.name = name
            self.periodS = periodS
            self.ticks = ticks
            self.overruns = overruns
            self.missedDeadlines = missedDeadlines
            self.latenessP50S = latenessP50S
            self.latenessP99S = latenessP99S
            self.latenessMaxS = latenessMaxS
        }
    }

    package struct Alarm: Sendable, Codable, Equatable {
        package var code: String
        package var severity: String
        package var message: String
        package var raisedAt: Double
        package var acknowledgedAt: Double?
        package var acknowledgedBy: String?

        package init(code: String, severity: String, message: String, raisedAt: Double, acknowledgedAt: Double? = nil,
                     acknowledgedBy: String? = nil) {
            self.code = code
            self.severity = severity
            self.message = message
            self.raisedAt = raisedAt
            self.acknowledgedAt = acknowledgedAt
            self.acknowledgedBy = acknowledgedBy
        }
    }

    package struct Run: Sendable, Codable, Equatable {
        /// Sequence number of the run on this station since rigd started (1 = first).
        package var number: Int
        package var recipe: String
        package var outcome: String
        package var reason: String?
        package var startedAt: Double
        package var endedAt: Double?
        package var results: [String: ReportValue]

        package init(number: Int, recipe: String, outcome: String, reason: String? = nil, startedAt: Double,
                     endedAt: Double? = nil, results: [String: ReportValue]) {
            self.number = number
            self.recipe = recipe
            self.outcome = outcome
            self.reason = reason
            self.startedAt = startedAt
            self.endedAt = endedAt
            self.results = results
        }
    }

    package struct Setting: Sendable, Codable, Equatable {
        package var name: String
        package var unit: String
        package var min: Double
        package var max: Double
        /// The value the controller holds now (absent where none is known).
        package var value: Double?

        package init(name: String, unit: String, min: Double, max: Double, value: Double? = nil) {
            self.name = name
            self.unit = unit
            self.min = min
            self.max = max
            self.value = value
        }

        package init(_ spec: SettingSpec) {
            self.init(name: spec.name, unit: spec.unit, min: spec.limits.lowerBound, max: spec.limits.upperBound,
                      value: spec.value.flatMap { $0.isFinite ? $0 : nil })
        }
    }

    /// An output in hand mode (`Station+Hand.swift`): held at `value` until `until`, whatever the controller decides.
    package struct Hand: Sendable, Codable, Equatable {
        package var output: String
        /// `relay` (a host relay, or one the device's map switches), `coil` or `setpoint` (a device command).
        package var kind: String
        package var value: Double
        /// The set-point's unit; "" for a relay or coil (0 off, 1 on).
        package var unit: String
        package var since: Double
        package var until: Double
        /// The token's name that put it in hand mode.
        package var by: String?
        package var why: String?

        package init(output: String, kind: String, value: Double, unit: String, since: Double, until: Double,
                     by: String?, why: String?) {
            self.output = output
            self.kind = kind
            self.value = value
            self.unit = unit
            self.since = since
            self.until = until
            self.by = by
            self.why = why
        }
    }

    /// An output an operator may put in hand mode: a relay or a device command, with its limits.
    package struct HandOutput: Sendable, Codable, Equatable {
        package var name: String
        /// `relay`, `coil` or `setpoint`.
        package var kind: String
        package var unit: String
        package var min: Double
        package var max: Double

        package init(name: String, kind: String, unit: String, min: Double, max: Double) {
            self.name = name
            self.kind = kind
            self.unit = unit
            self.min = min
            self.max = max
        }
    }

    /// A station's device map, as the API shows it.
    package struct DeviceMapInfo: Sendable, Codable, Equatable {
        package var name: String
        /// The device has outputs but no watchdog of its own: it relies on the host for its safe state.
        package var reliesOnHost: Bool
        /// Channels of the kind the map lacks (they read "not available").
        package var missingChannels: [String]

        package init(name: String, reliesOnHost: Bool, missingChannels: [String]) {
            self.name = name
            self.reliesOnHost = reliesOnHost
            self.missingChannels = missingChannels
        }
    }

    package var name: String
    package var kind: String
    /// `real` or `simulated`.
    package var mode: String
    package var address: String
    /// For a station simulated because its device did not answer (`fallback = "simulate"`): the configured address
    /// of the device that is missing. nil for a real station and for one configured as `sim://`.
    package var missingAddress: String?
    /// For a refused station (mode `refused`): why it was not started. nil otherwise.
    package var refusedReason: String?
    /// The device's map, when the station has one (nil: rigd's register contract).
    package var deviceMap: DeviceMapInfo?
    /// The requests one snapshot takes through the map (`FC 04 input 256…261 (6)`); nil without a map.
    package var readPlan: [String]?
    /// When the station last published (Unix seconds); nil before its first tick.
    package var updatedAt: Double?
    package var link: Link
    package var loops: [Loop]
    /// The device's own status bits as last read (IR 4–5: `high_alarm`, `interlock`, `estop`, `watchdog_tripped`,
    /// `safe_state`, …).
    package var deviceStatus: [String]
    package var channels: [Channel]
    /// Active alarms only (the history is in the data log).
    package var alarms: [Alarm]
    /// The current run, or the last one if none is running; nil if none was started.
    package var run: Run?
    /// Phase of the station's sequence, when the controller reports one.
    package var phase: String?
    /// Host relay outputs by name; nil where the state is unknown.
    package var relays: [String: Bool?]
    /// The settings an operator may change, with their limits.
    package var settings: [Setting]
    /// What the controller computes (as in the run report's `results`: current setpoints, figures), refreshed at
    /// least every second.
    package var results: [String: ReportValue]
    /// The outputs in hand mode now (empty: every output follows the controller).
    package var hand: [Hand] = []
    /// The outputs that may be put in hand mode, and the longest hold in seconds.
    package var handOutputs: [HandOutput] = []
    package var handMaxS: Double = 0
    /// Probe calibration: the one in progress, the corrections applied, the channels that may be calibrated.
    package var calibration = CalibrationStatus()

    package init(name: String, kind: String, mode: String, address: String, updatedAt: Double? = nil, link: Link,
                 loops: [Loop], deviceStatus: [String], channels: [Channel], alarms: [Alarm], run: Run? = nil,
                 phase: String? = nil, relays: [String: Bool?], settings: [Setting], results: [String: ReportValue],
                 missingAddress: String? = nil, refusedReason: String? = nil) {
        self.name = name
        self.refusedReason = refusedReason
        self.kind = kind
        self.mode = mode
        self.address = address
        self.missingAddress = missingAddress
        self.updatedAt = updatedAt
        self.link = link
        self.loops = loops
        self.deviceStatus = deviceStatus
        self.channels = channels
        self.alarms = alarms
        self.run = run
        self.phase = phase
        self.relays = relays
        self.settings = settings
        self.results = results
    }
}

extension StationStatus {
    /// The encoder every status document goes through: snake_case keys, stable key order.
    package static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.sortedKeys]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf",
                                                                nan: "nan")
        return e
    }

    package static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }
}
