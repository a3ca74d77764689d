import Devices

/// What a controller gets from its device on a tick.
public enum DeviceInput<Snapshot: Sendable>: Sendable {
    case snapshot(Snapshot)
    /// No fresh snapshot: the link is down or the read failed (the reason says which).
    case unavailable(reason: String)
}

/// What the host's own lines say on a tick (GPIO on the host, not on the device).
public struct HostSignals: Sendable, Equatable {
    /// The host E-stop line is asserted (or could not be read: a broken E-stop circuit counts as pressed).
    public var estopPressed: Bool

    public init(estopPressed: Bool = false) {
        self.estopPressed = estopPressed
    }
}

/// What a controller decides on a tick.
public struct StepOutput<Commands: Sendable>: Sendable {
    public var commands: Commands
    /// Ask the device to reset its latched faults (HR 5 = 0xA5), e.g. after its watchdog tripped while the link
    /// was down. The station writes it after the commands.
    public var resetDeviceFaults: Bool
    /// The host's beacon output, if the station has one.
    public var beacon: Bool
    /// The host's relay outputs, in the order of the controller's `relayNames` (empty for a kind without relays).
    public var relays: [Bool]
    /// This tick's snapshot is a sample of the controller's logged series (the regulatory or logbook cadence: a
    /// pond's 15-min sample, a stream's 15 → 5 min event sampling); the station stores it as such in the data log,
    /// apart from the regular `record_interval_s` samples.
    public var logged: Bool

    public init(commands: Commands, resetDeviceFaults: Bool = false, beacon: Bool = false, relays: [Bool] = [],
                logged: Bool = false) {
        self.commands = commands
        self.resetDeviceFaults = resetDeviceFaults
        self.beacon = beacon
        self.relays = relays
        self.logged = logged
    }
}

/// A run's recipe: a name and numeric parameters (booleans as 0/1), validated by the controller that runs it.
public struct RunRecipe: Sendable, Equatable {
    public var name: String
    public var parameters: [String: Double]

    public init(name: String, parameters: [String: Double] = [:]) {
        self.name = name
        self.parameters = parameters
    }
}

/// How a run ended.
public enum RunOutcome: String, Sendable, Codable {
    case running, completed, aborted
}

/// One run of a station's sequence, for the report (and later the database).
public struct RunRecord: Sendable, Equatable {
    public var recipe: String
    public var outcome: RunOutcome
    public var reason: String?
    public var startedAt: Double
    public var endedAt: Double?
    public var results: [String: ReportValue]

    public init(recipe: String, startedAt: Double) {
        self.recipe = recipe
        self.outcome = .running
        self.startedAt = startedAt
        self.results = [:]
    }

    /// `key value` for each of `keys` the results hold as a number, four significant digits, comma-separated:
    /// the figures of a completed run's log line. "" when none is there.
    public func summary(_ keys: [String]) -> String {
        keys.compactMap { key in results[key]?.number.map { "\(key) \(Self.format($0))" } }
            .joined(separator: ", ")
    }

    /// A count as an integer, anything else to four significant digits.
    public static func format(_ v: Double) -> String {
        if v.isFinite, v == v.rounded(), abs(v) < 1e15 { return String(Int(v)) }
        return "\(significant(v))"
    }

    static func significant(_ v: Double) -> Double {
        guard v.isFinite, v != 0 else { return v }
        var magnitude = abs(v)
        var exponent = 0
        while magnitude >= 10 { magnitude /= 10; exponent += 1 }
        while magnitude < 1 { magnitude *= 10; exponent -= 1 }
        return rounded(v, max(0, 3 - exponent))
    }

    public var report: ReportValue {
        .object(["recipe": .string(recipe), "outcome": .string(outcome.rawValue),
                 "reason": reason.map { .string($0) } ?? .null, "started_s": .number(startedAt),
                 "ended_s": ReportValue(endedAt), "results": .object(results)])
    }
}

/// Run bookkeeping, the same for every kind: a controller keeps its runs in an array, oldest first, the current one
/// last with outcome `running`.
extension Array where Element == RunRecord {
    /// Starts a run.
    public mutating func begin(_ recipe: String, at now: Double) {
        append(RunRecord(recipe: recipe, startedAt: now))
    }

    /// Adds results to the current (last) run, e.g. one stage's figures before the next stage.
    public mutating func addResults(_ results: [String: ReportValue]) {
        guard !isEmpty else { return }
        self[count - 1].results.merge(results) { _, new in new }
    }

    /// Ends the current (last) run: its outcome, the reason for an abort, when, and its last results.
    public mutating func finish(_ outcome: RunOutcome, reason: String? = nil, at now: Double,
                                results: [String: ReportValue] = [:]) {
        guard !isEmpty else { return }
        self[count - 1].outcome = outcome
        self[count - 1].reason = reason
        self[count - 1].endedAt = now
        addResults(results)
    }
}

/// An operator's request, delivered through the station's mailbox and validated before it changes anything.
public enum OperatorRequest: Sendable, Equatable {
    /// Sets a named setting (e.g. `setpoint_c`).
    case set(name: String, value: Double)
    /// Starts a run; nil: the station's default recipe.
    case startRun(RunRecipe?)
    case stopRun
    case acknowledge(code: String, by: String)
}

/// A rejected request: nothing changed, and `reason` says why in terms an operator can act on.
public struct CommandRejection: Error, Sendable, Equatable, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// A setting an operator may change, with its limits and the value the controller holds now.
public struct SettingSpec: Sendable, Equatable {
    public let name: String
    public let unit: String
    public let limits: ClosedRange<Double>
    /// The current value (nil only where a spec describes a parameter, not a running controller's setting).
    public let value: Double?

    public init(_ name: String, unit: String, limits: ClosedRange<Double>, value: Double? = nil) {
        self.name = name
        self.unit = unit
        self.limits = limits
        self.value = value
    }

    /// This spec with `value` as the current value.
    public func with(value: Double) -> SettingSpec { SettingSpec(name, unit: unit, limits: limits, value: value) }

    /// Checks `value` against the limits, with a message naming the setting.
    public func validate(_ value: Double) throws(CommandRejection) {
        guard value.isFinite, limits.contains(value) else {
            throw CommandRejection("\(name) must be within \(limits.lowerBound)…\(limits.upperBound) \(unit), "
                                   + "got \(value)")
        }
    }
}

/// One device kind's control: its loops, interlocks and alarms. Pure: it knows Snapshots and Commands, never a
/// socket, and is handed `now`.
///
/// - Important: `step` must return safe commands whenever its input is unavailable or a trip is active.
public protocol StationController: Sendable {
    associatedtype Profile: DeviceProfile

    /// The loops the station runs, fastest first; `step(loop:)` gets an index into this list.
    var loops: [LoopSpec] { get }
    var alarms: AlarmBook { get set }
    /// The commands of the station's safe state.
    var safeCommands: Profile.Commands { get }
    /// The settings an operator may change, each with its current value.
    var settings: [SettingSpec] { get }

    mutating func step(loop: Int, tick: LoopTick, input: DeviceInput<Profile.Snapshot>,
                       host: HostSignals) -> StepOutput<Profile.Commands>
    /// Validates and applies a request, or throws and changes nothing.
    mutating func apply(_ request: OperatorRequest, now: Double) throws(CommandRejection)
    /// What the controller computed, for the run report's `results`.
    func results() -> [String: ReportValue]
    /// The sequence's phase as the API and the status line show it (nil for a kind without phases). Named
    /// `phaseName` because controllers keep their typed `phase`.
    var phaseName: String? { get }
    /// The figures of a completed run for the log line `run N completed: …` ("" for none).
    func runSummary(_ run: RunRecord) -> String
    /// The runs so far, oldest first (the current one last, outcome `running`).
    var runs: [RunRecord] { get }
    /// The host relay outputs the controller drives (aerators, pumps, feeders on the host's GPIO), in output order.
    var relayNames: [String] { get }
    /// The relays' safe state, driven when the host stops or loses its device.
    var safeRelays: [Bool] { get }
    /// The loop on whose ticks the station reads the device's sample ring and hands the new samples to `receive`
    /// just before `step` (nil: the controller does not use the ring).
    var streamLoop: Int? { get }
    /// New ring samples (and any gap before them), in order, before the `step` of `streamLoop`.
    mutating func receive(_ chunk: SampleRingReader.Chunk, now: Double)
    /// What loop `loop` reads from the device on every tick (docs/maps.md, "Read plans"); the rest of the snapshot
    /// it is handed is as the loops that read it last read it. Every part of the snapshot must be read by some loop.
    /// Asked once per loop, when the station is made: a loop reads the same parts on every tick.
    /// Default: everything, on every tick of every loop.
    func reads(loop: Int) -> ReadNeeds
}

extension StationController {
    public var runs: [RunRecord] { [] }
    public var relayNames: [String] { [] }
    public var safeRelays: [Bool] { [] }
    public var streamLoop: Int? { nil }
    public var phaseName: String? { nil }
    /// Every number among the run's results, by name (a kind names the few that matter instead).
    public func runSummary(_ run: RunRecord) -> String { run.summary(run.results.keys.sorted()) }
    public mutating func receive(_ chunk: SampleRingReader.Chunk, now: Double) {}
    public func reads(loop: Int) -> ReadNeeds { .everything }
}

extension StationController {
    /// The setting called `name`, with `value` checked against its limits. An unknown name is rejected naming the
    /// settings there are, the same way for every kind.
    @discardableResult
    public func validatedSetting(_ name: String, _ value: Double) throws(CommandRejection) -> SettingSpec {
        guard let spec = settings.first(where: { $0.name == name }) else {
            if settings.isEmpty {
                throw CommandRejection("unknown setting \(name): a \(Profile.kind.rawValue) station has no run-time "
                                       + "settings; its [station.control] keys are set in the configuration file")
            }
            throw CommandRejection("unknown setting \(name); \(Profile.kind.rawValue) settings are "
                                   + settings.map(\.name).joined(separator: ", "))
        }
        try spec.validate(value)
        return spec
    }

    /// Acknowledges an alarm through the alarm book, with an operator-facing reason when it cannot.
    public mutating func acknowledgeAlarm(_ code: String, by user: String, now: Double) throws(CommandRejection) {
        do throws(AlarmBook.AcknowledgeError) {
            try alarms.acknowledge(code, by: user, now: now)
        } catch {
            switch error {
            case .notActive(let c): throw CommandRejection("alarm \(c) is not active")
            case .alreadyAcknowledged(let c): throw CommandRejection("alarm \(c) is already acknowledged")
            }
        }
    }
}
