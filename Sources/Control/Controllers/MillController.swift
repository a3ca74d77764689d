import Devices

/// Settings of the CNC mill's host control (docs/register-contract.md §C1).
public struct MillControlConfig: ControlSettings, Equatable {
    /// Spindle speed and feed override of a cut.
    public var spindleRPM = 8000.0
    public var feedOverridePercent = 100.0
    /// How long a cut runs, s.
    public var cutDuration = 60.0
    /// Start a cut when the station comes up.
    public var startRun = false
    /// Torque that is an overload, N·m, held for `overloadSamples` ring samples in a row.
    public var overloadNm = 1.5
    public var overloadSamples = 3
    /// After an overload the feed holds at once and the spindle stops this much later, s.
    public var spindleStopDelay = 0.05
    /// Tool breakage: while cutting, the torque's mean over `breakageWindow` samples falls below this fraction of
    /// its mean over the preceding `referenceWindow` samples, which was at least `breakageMinNm`.
    public var breakageFraction = 0.3
    public var breakageWindow = 10
    public var referenceWindow = 200
    public var breakageMinNm = 0.05
    /// Samples in the published torque mean and variance.
    public var statisticsWindow = 1000

    public static let rpmLimits: ClosedRange<Double> = 0...24000
    public static let overrideLimits: ClosedRange<Double> = 0...150

    public init() {}

    public static let keys: [ControlKey<MillControlConfig>] = [
        .number("spindle_rpm", "rpm", \.spindleRPM, rpmLimits),
        .number("feed_override_pct", "%", \.feedOverridePercent, overrideLimits),
        .number("cut_duration_s", "s", \.cutDuration, 1...86400),
        .flag("start_run", \.startRun),
        .number("overload_nm", "N·m", \.overloadNm, 0.01...50),
        .integer("overload_ms", \.overloadSamples, 1...1000, unit: "ms"),
        .number("spindle_stop_delay_ms", "ms", \.spindleStopDelay, 0...10_000, scale: .milliseconds),
        .number("breakage_fraction", "", \.breakageFraction, 0.01...0.9),
        .integer("statistics_window_samples", \.statisticsWindow, 10...600_000),
    ]
}

/// The CNC mill's host control: torque supervision at 200 Hz from the 1 kHz ring (overload → feed hold → spindle
/// stop), tool-breakage detection, guard door and E-stop → spindle stop, torque mean and variance over a window, and
/// a cut as a run (spindle up to speed, feed released, stop after its duration).
public struct MillController: StationController {
    public typealias Profile = MillProfile
    public typealias Snapshot = MillProfile.Snapshot
    public typealias Commands = MillProfile.Commands

    /// 200 Hz: a ring sample is seen at most 5 ms after it was taken; the E-stop and the guard door within 5 ms.
    public static let supervisionLoop = LoopSpec(name: "supervision", period: .milliseconds(5))
    /// 10 Hz: the device's status word, the channels (spindle speed, motor temperature) and the outputs read back.
    public static let statusLoop = LoopSpec(name: "status", period: .milliseconds(100))

    public let loops = [MillController.supervisionLoop, MillController.statusLoop]
    static let checks = DeviceChecks(noun: "mill")
    public let streamLoop: Int? = 0
    public var alarms = AlarmBook()
    public private(set) var config: MillControlConfig
    public private(set) var runs: [RunRecord] = []
    public var safeCommands: Commands { .safe(keeping: commands) }
    public var settings: [SettingSpec] {
        [SettingSpec("spindle_rpm", unit: "rpm", limits: MillControlConfig.rpmLimits, value: config.spindleRPM),
         SettingSpec("feed_override_pct", unit: "%", limits: MillControlConfig.overrideLimits,
                     value: config.feedOverridePercent)]
    }

    private var commands: Commands
    private var pendingStart: Bool
    private var cutting = false
    private var cutStartedAt: Double?
    private var stopSpindleAt: Double?
    // Ring supervision state.
    private var overRun = 0
    private var recent: RingWindow
    private var reference: RingWindow
    private var statistics: RingWindow
    private var sampleTime = 0.0
    private var overloads = 0
    private var breakages = 0
    private var lostSamples: UInt64 = 0
    private var feedReleasedAt: Double?
    /// What `receive` found in the last chunk, for the next step.
    private var overloadSeen = false
    private var breakageSeen = false

    public init(config: MillControlConfig = MillControlConfig()) {
        self.config = config
        commands = .safe()
        commands.spindleRPM = Float(config.spindleRPM)
        commands.feedOverridePercent = Float(config.feedOverridePercent)
        pendingStart = config.startRun
        recent = RingWindow(capacity: config.breakageWindow)
        reference = RingWindow(capacity: config.referenceWindow)
        statistics = RingWindow(capacity: config.statisticsWindow)
    }

    // MARK: Ring

    public mutating func receive(_ chunk: SampleRingReader.Chunk, now: Double) {
        if let gap = chunk.gap {
            lostSamples += gap.count
            // The windows would mix samples across the hole: start them again.
            recent.clear()
            reference.clear()
        }
        for raw in chunk.samples {
            let torque = Double(raw)
            guard torque.isFinite else { continue }
            statistics.add(torque)
            overRun = torque >= config.overloadNm ? overRun + 1 : 0
            if overRun >= config.overloadSamples { overloadSeen = true }
            // Breakage is judged only while the tool is meant to be cutting, with the feed moving for a while.
            if cutting, let released = feedReleasedAt, now - released > Double(config.referenceWindow) / 1000 {
                if recent.isFull { reference.add(recent.oldest) }
                recent.add(torque)
                if recent.isFull, reference.isFull, reference.mean >= config.breakageMinNm,
                   recent.mean < config.breakageFraction * reference.mean {
                    breakageSeen = true
                }
            } else {
                recent.clear()
                reference.clear()
            }
        }
    }

    /// The supervision loop reads the ring and the switches (E-stop, guard door): on a contract 1.01 device one
    /// request, the switch word just below the ring (docs/register-contract.md). The status loop reads the rest: the
    /// header, the channels and the outputs read back, so the feed is released up to 100 ms after the spindle is up to
    /// speed, and the device's status bits are seen within 100 ms (its own trips act at once, on the device).
    public func reads(loop: Int) -> ReadNeeds {
        loop == 0 ? ReadNeeds(inputs: true) : ReadNeeds(header: true, channels: nil, outputs: true)
    }

    // MARK: Step

    public mutating func step(loop: Int, tick: LoopTick, input: DeviceInput<Snapshot>,
                              host: HostSignals) -> StepOutput<Commands> {
        let now = tick.now
        guard case let (s, facts)? = alarms.checkDevice(input, host: host, Self.checks, now: now,
                                                        deviceEstopOK: { $0.estopOK }) else {
            abort("device not answering", now: now)
            return StepOutput(commands: commands)
        }
        alarms.set("guard_open", !s.guardClosed, .trip, "guard door open: spindle stopped", now: now)
        // A device whose own watchdog tripped holds its safe state until told otherwise: `facts.resetDevice` resets
        // it once the link is back, unless the E-stop holds it.
        let reset = facts.resetDevice
        if overloadSeen {
            overloadSeen = false
            if !alarms.isActive("torque_overload") { overloads += 1 }
            alarms.raise("torque_overload", .trip, "spindle torque at or above \(config.overloadNm) N·m for "
                         + "\(config.overloadSamples) ms: feed hold, spindle stop", now: now)
            commands.feedHold = true
            if stopSpindleAt == nil { stopSpindleAt = now + config.spindleStopDelay }
            finishRun(.aborted, reason: "torque overload", now: now)
        }
        if breakageSeen {
            breakageSeen = false
            if !alarms.isActive("tool_broken") { breakages += 1 }
            alarms.raise("tool_broken", .trip, "torque collapsed while cutting: tool breakage suspected", now: now)
            commands.feedHold = true
            commands.spindleEnable = false
            finishRun(.aborted, reason: "tool breakage", now: now)
        }
        if alarms.isActive("estop") || alarms.isActive("guard_open") {
            commands.feedHold = true
            commands.spindleEnable = false
            finishRun(.aborted, reason: alarms.isActive("estop") ? "E-stop" : "guard door opened", now: now)
        }
        if let at = stopSpindleAt, now >= at - 1e-9 {
            commands.spindleEnable = false
            stopSpindleAt = nil
        }
        if pendingStart, !alarms.isTripped {
            pendingStart = false
            startCut(now: now)
        }
        runCut(s, now: now)
        return StepOutput(commands: commands, resetDeviceFaults: reset)
    }

    private mutating func startCut(now: Double) {
        runs.begin("cut", at: now)
        cutting = true
        cutStartedAt = now
        feedReleasedAt = nil
        commands.spindleRPM = Float(config.spindleRPM)
        commands.feedOverridePercent = Float(config.feedOverridePercent)
        commands.spindleEnable = true
        commands.feedHold = true
    }

    /// Spindle up to speed, then the feed; after the cut's duration, feed hold and spindle off.
    private mutating func runCut(_ s: Snapshot, now: Double) {
        guard cutting, let started = cutStartedAt else { return }
        if feedReleasedAt == nil, let rpm = s[.spindleRPM].value, rpm >= 0.95 * config.spindleRPM {
            commands.feedHold = false
            feedReleasedAt = now
        }
        if now - started >= config.cutDuration {
            commands.feedHold = true
            commands.spindleEnable = false
            finishRun(.completed, reason: nil, now: now)
        }
    }

    private mutating func abort(_ reason: String, now: Double) {
        commands.feedHold = true
        commands.spindleEnable = false
        finishRun(.aborted, reason: reason, now: now)
    }

    private mutating func finishRun(_ outcome: RunOutcome, reason: String?, now: Double) {
        guard cutting else { return }
        cutting = false
        cutStartedAt = nil
        feedReleasedAt = nil
        runs.finish(outcome, reason: reason, at: now,
                    results: ["torque_mean_nm": .number(statistics.mean),
                              "torque_std_nm": .number(statistics.standardDeviation)])
    }

    // MARK: Requests and results

    public mutating func apply(_ request: OperatorRequest, now: Double) throws(CommandRejection) {
        switch request {
        case .startRun(let recipe):
            guard !cutting else { throw CommandRejection("a cut is already running") }
            guard !alarms.isTripped else {
                throw CommandRejection("cannot start: " + alarms.active.filter { $0.severity == .trip }.map(\.code)
                    .joined(separator: ", ") + " active")
            }
            if let recipe {
                if let d = recipe.parameters["duration_s"] {
                    guard d > 0, d <= 86400 else { throw CommandRejection("duration_s must be within 0…86400") }
                    config.cutDuration = d
                }
                for spec in settings {
                    if let v = recipe.parameters[spec.name] { try spec.validate(v) }
                }
                if let v = recipe.parameters["spindle_rpm"] { config.spindleRPM = v }
                if let v = recipe.parameters["feed_override_pct"] { config.feedOverridePercent = v }
            }
            pendingStart = false
            startCut(now: now)
        case .stopRun:
            guard cutting else { throw CommandRejection("no cut in progress") }
            commands.feedHold = true
            commands.spindleEnable = false
            finishRun(.aborted, reason: "stopped by the operator", now: now)
        case .set(let name, let value):
            try validatedSetting(name, value)
            if name == "spindle_rpm" {
                config.spindleRPM = value
                commands.spindleRPM = Float(value)
            } else {
                config.feedOverridePercent = value
                commands.feedOverridePercent = Float(value)
            }
        case .acknowledge(let code, let by):
            try acknowledgeAlarm(code, by: by, now: now)
            // Restarting after a trip is a deliberate act: acknowledging it clears the latched trip alarms.
            if ["torque_overload", "tool_broken"].contains(code) { alarms.clear(code, now: now) }
        }
    }

    public func runSummary(_ run: RunRecord) -> String { run.summary(["torque_mean_nm", "torque_std_nm"]) }

    public func results() -> [String: ReportValue] {
        ["torque_mean_nm": .number(statistics.mean), "torque_std_nm": .number(statistics.standardDeviation),
         "torque_var_nm2": .number(statistics.variance), "torque_window_samples": .number(Double(statistics.count)),
         "overloads": .number(Double(overloads)), "tool_breakages": .number(Double(breakages)),
         "ring_samples_lost": .number(Double(lostSamples)), "cutting": .bool(cutting)]
    }
}
