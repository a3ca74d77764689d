import Control
import Foundation

/// What a station shows the outside world (HTTP API, Server-Sent Events, Prometheus, `rigd status`): a copy taken
/// at one moment, safe to hand to any thread. Times are Unix seconds. Encoded with snake_case keys.
struct StationStatus: Sendable, Codable, Equatable {
    struct Channel: Sendable, Codable, Equatable {
        var name: String
        var unit: String
        /// nil when the reading is a fault (NaN or quality 0x80) or nothing was read yet.
        var value: Double?
        /// The channel block's quality word (docs/register-contract.md §0); 0 = good.
        var quality: UInt16
    }

    struct Link: Sendable, Codable, Equatable {
        var up: Bool
        var transactions: UInt64
        var linkErrors: UInt64
        var transactionErrors: UInt64
        /// Failures by kind: `timeout`, `connection`, `exception_02`, `crc`, `bad_data`, … (link and transaction).
        var errorsByKind: [String: UInt64]
        var reconnects: UInt64
        var lastError: String?
    }

    struct Loop: Sendable, Codable, Equatable {
        var name: String
        var periodS: Double
        var ticks: UInt64
        var overruns: UInt64
        var missedDeadlines: UInt64
        var latenessP50S: Double
        var latenessP99S: Double
        var latenessMaxS: Double

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

        func encode(to encoder: any Encoder) throws {
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
    }

    struct Alarm: Sendable, Codable, Equatable {
        var code: String
        var severity: String
        var message: String
        var raisedAt: Double
        var acknowledgedAt: Double?
        var acknowledgedBy: String?
    }

    struct Run: Sendable, Codable, Equatable {
        /// Sequence number of the run on this station since rigd started (1 = first).
        var number: Int
        var recipe: String
        var outcome: String
        var reason: String?
        var startedAt: Double
        var endedAt: Double?
        var results: [String: ReportValue]
    }

    struct Setting: Sendable, Codable, Equatable {
        var name: String
        var unit: String
        var min: Double
        var max: Double
    }

    var name: String
    var kind: String
    /// `real` or `simulated`.
    var mode: String
    var address: String
    /// When the station last published (Unix seconds); nil before its first tick.
    var updatedAt: Double?
    var link: Link
    var loops: [Loop]
    /// The device's own status bits as last read (IR 4–5: `high_alarm`, `interlock`, `estop`, `watchdog_tripped`,
    /// `safe_state`, …).
    var deviceStatus: [String]
    var channels: [Channel]
    /// Active alarms only (the history is in the data log).
    var alarms: [Alarm]
    /// The current run, or the last one if none is running; nil if none was started.
    var run: Run?
    /// Phase of the station's sequence, when the controller reports one.
    var phase: String?
    /// Host relay outputs by name; nil where the state is unknown.
    var relays: [String: Bool?]
    /// The settings an operator may change, with their limits.
    var settings: [Setting]
    /// What the controller computes (as in the run report's `results`: current setpoints, figures), refreshed at
    /// least every second.
    var results: [String: ReportValue]
}

extension StationStatus {
    /// The encoder every status document goes through: snake_case keys, stable key order.
    static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.sortedKeys]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf",
                                                                nan: "nan")
        return e
    }

    static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }
}
