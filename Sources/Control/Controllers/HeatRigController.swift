import Devices

/// Settings of the heat-rig controller, each with the limits configuration and operator requests are checked
/// against.
public struct HeatRigControlConfig: ControlSettings, Equatable {
    public static let setpointLimits: ClosedRange<Double> = 0...85
    public static let fanLimits: ClosedRange<Double> = 0...100
    /// The alarm must stay below the rig's 90 °C hardware thermostat so the host acts first.
    public static let alarmLimits: ClosedRange<Double> = 30...89
    public static let gainLimits: ClosedRange<Double> = 0...1000

    /// Block temperature setpoint, °C.
    public var setpointC = 60.0
    /// Fan command during normal operation, % (0 = off).
    public var fanPercent = 0.0
    /// Over-temperature alarm (trip: heater off, fan on), °C; it clears 5 °C lower.
    public var alarmHighC = 85.0
    /// Heater PID, output in %. Tuned on the standard rig's simulator (virtual 2 h runs, seeds 1–3): from ambient to
    /// 60 °C it reaches the band at ≈ 445 s, overshoots ≈ 0.25 °C and stays within ±0.5 °C from ≈ 490 s.
    public var kp = 10.0
    public var ki = 0.04
    public var kd = 0.0
    /// Half-width of the band the block must stay in to count as settled, °C.
    public var settleBandC = 0.5
    /// The default run (a run started without a recipe): ramp to `setpointC` at this rate, °C/min, then soak there
    /// for `runSoakS` s.
    public var runRampCPerMin = 2.0
    public var runSoakS = 600.0
    /// Start the default run as soon as the station is up.
    public var startRun = false

    public init() {}

    /// The default run as a one-segment ramp/soak recipe.
    public var defaultRecipe: RunRecipe {
        RunRecipe(name: "default", parameters: ["ramp1_c_per_min": runRampCPerMin, "target1_c": setpointC,
                                                "soak1_s": runSoakS])
    }

    /// The alarm clears this far below `alarmHighC`.
    public static let alarmHysteresisC = 5.0

    public static let keys: [ControlKey<HeatRigControlConfig>] = [
        .number("setpoint_c", "°C", \.setpointC, setpointLimits),
        .number("fan_pct", "%", \.fanPercent, fanLimits),
        .number("alarm_high_c", "°C", \.alarmHighC, alarmLimits),
        .number("kp", "%/°C", \.kp, gainLimits),
        .number("ki", "%/(°C·s)", \.ki, gainLimits),
        .number("kd", "%·s/°C", \.kd, gainLimits),
        .number("settle_band_c", "°C", \.settleBandC, 0.05...10),
        .number("run_ramp_c_per_min", "°C/min", \.runRampCPerMin, RampSoakProfile.rateLimits),
        .number("run_soak_s", "s", \.runSoakS, RampSoakProfile.soakLimits),
        .flag("start_run", \.startRun),
    ]

    public func problems() -> [ControlProblem] {
        setpointC < alarmHighC ? []
            : [ControlProblem("setpoint_c", "must be below alarm_high_c (\(alarmHighC)), got \(setpointC)")]
    }
}

/// The heat-transfer rig's host control (docs/register-contract.md §C2): heater PID at 2 Hz to a setpoint,
/// over-temperature
/// alarm, safe state (heater off, fan on) on any fault — lost link, failed block sensor, E-stop, tripped thermostat,
/// over-temperature.
public struct HeatRigController: StationController {
    public typealias Profile = HeatRigProfile
    public typealias Snapshot = HeatRigProfile.Snapshot
    public typealias Commands = HeatRigProfile.Commands

    /// 2 Hz; an exact binary fraction of a second keeps virtual runs exactly repeatable.
    public static let heaterLoop = LoopSpec(name: "heater", period: .milliseconds(500))

    public let loops = [HeatRigController.heaterLoop]
    static let checks = DeviceChecks(noun: "rig")
    public var alarms = AlarmBook()
    public private(set) var config: HeatRigControlConfig
    public private(set) var pid: PID
    public var safeCommands: Commands { .safe }
    public private(set) var tracker: SettlingTracker
    public private(set) var runs: [RunRecord] = []
    /// The ramp/soak profile being run, when it started and from which block temperature.
    private var profile: (profile: RampSoakProfile, startedAt: Double, fromC: Double)?
    private var pendingProfile: RampSoakProfile?
    private var maxTrackingError = 0.0
    private var maxSoakError = 0.0
    /// `startRun`: the default run starts at the first tick with a block reading and no trip.
    private var pendingStart: Bool

    public var settings: [SettingSpec] {
        [SettingSpec("setpoint_c", unit: "°C", limits: HeatRigControlConfig.setpointLimits, value: config.setpointC),
         SettingSpec("fan_pct", unit: "%", limits: HeatRigControlConfig.fanLimits, value: config.fanPercent)]
    }

    public init(config: HeatRigControlConfig = HeatRigControlConfig()) {
        self.config = config
        pid = PID(PIDParameters(kp: config.kp, ki: config.ki, kd: config.kd, outputMin: 0, outputMax: 100))
        tracker = SettlingTracker(setpoint: config.setpointC, band: config.settleBandC)
        pendingStart = config.startRun
    }

    public mutating func step(loop: Int, tick: LoopTick, input: DeviceInput<Snapshot>,
                              host: HostSignals) -> StepOutput<Commands> {
        let now = tick.now
        guard case let (s, facts)? = alarms.checkDevice(input, host: host, Self.checks, now: now,
                                                        deviceEstopOK: { $0.estopOK }) else {
            pid.clear()
            return StepOutput(commands: .safe)
        }
        alarms.set("thermostat_tripped", s.thermostatTripped, .trip,
                   "hardware over-temperature thermostat tripped (\(HeatRigProfile.thermostatTripC) °C)", now: now)

        let block = s[.blockTemp].value
        alarms.set("block_sensor_fault", block == nil, .trip,
                   "block thermocouple failed (quality \(s[.blockTemp].quality))", now: now)
        if let block {
            let limit = config.alarmHighC
            alarms.highLimit("block_temp_high", .trip, value: block, raiseAt: limit,
                             clearBelow: limit - HeatRigControlConfig.alarmHysteresisC,
                             "block \(Control.rounded(block, 1)) °C ≥ \(limit) °C", now: now)
            tracker.observe(block, at: now)
        }
        let reset = facts.resetDevice
        guard let block, !alarms.isTripped else {
            pid.clear()
            if profile != nil || pendingProfile != nil {
                pendingProfile = nil
                let trips = alarms.active.filter { $0.severity == .trip }.map(\.code).joined(separator: ", ")
                finishRun(.aborted, reason: trips.isEmpty ? "block sensor failed" : trips, now: now)
            }
            return StepOutput(commands: .safe, resetDeviceFaults: reset)
        }
        if pendingStart {
            pendingStart = false
            try? apply(.startRun(nil), now: now)
        }
        if let pending = pendingProfile {
            pendingProfile = nil
            profile = (pending, now, block)
            maxTrackingError = 0
            maxSoakError = 0
        }
        if let running = profile {
            let point = running.profile.point(at: now - running.startedAt, from: running.fromC)
            let error = abs(block - point.setpointC)
            maxTrackingError = max(maxTrackingError, error)
            if point.soaking { maxSoakError = max(maxSoakError, error) }
            if point.setpointC != config.setpointC { config.setpointC = point.setpointC }
            if point.done {
                tracker = SettlingTracker(setpoint: point.setpointC, band: config.settleBandC, startedAt: now)
                finishRun(.completed, reason: nil, now: now)
            }
        }
        let heater = pid.update(now: now, measurement: block, setpoint: config.setpointC)
        let fan = Float(config.fanPercent)
        return StepOutput(commands: Commands(heaterPercent: Float(heater), fanPercent: fan, heaterEnable: true,
                                             fanEnable: fan > 0),
                          resetDeviceFaults: reset)
    }

    public mutating func apply(_ request: OperatorRequest, now: Double) throws(CommandRejection) {
        switch request {
        case .set(let name, let value):
            try validatedSetting(name, value)
            if name == "fan_pct" {
                config.fanPercent = value
                return
            }
            guard value < config.alarmHighC else {
                throw CommandRejection("setpoint_c must be below alarm_high_c (\(config.alarmHighC) °C), got \(value)")
            }
            pid.changeSetpoint(from: config.setpointC, to: value)
            config.setpointC = value
            tracker = SettlingTracker(setpoint: value, band: config.settleBandC, startedAt: now)
        case .acknowledge(let code, let user):
            try acknowledgeAlarm(code, by: user, now: now)
        case .startRun(let requested):
            // Without a recipe: the default run, a ramp to the setpoint and a soak there.
            let recipe = requested ?? config.defaultRecipe
            pendingStart = false
            guard profile == nil, pendingProfile == nil else { throw CommandRejection("a profile is already running") }
            guard !alarms.isTripped else { throw CommandRejection("cannot start while a trip is active") }
            let limit = min(HeatRigControlConfig.setpointLimits.upperBound, config.alarmHighC - 1)
            let made = try RampSoakProfile.make(from: recipe, targetLimits: HeatRigControlConfig.setpointLimits.lowerBound...limit)
            pendingProfile = made
            runs.begin(recipe.name, at: now)
        case .stopRun:
            guard profile != nil || pendingProfile != nil else { throw CommandRejection("no profile running") }
            pendingProfile = nil
            finishRun(.aborted, reason: "stopped by the operator", now: now)
        }
    }

    /// Ends the running profile; the setpoint stays where the profile left it.
    private mutating func finishRun(_ outcome: RunOutcome, reason: String?, now: Double) {
        let segments = profile?.profile.segments.count ?? 0
        profile = nil
        runs.finish(outcome, reason: reason, at: now,
                    results: ["segments": .number(Double(segments)), "final_setpoint_c": .number(config.setpointC),
                              "max_abs_tracking_error_c": .number(maxTrackingError),
                              "max_abs_soak_error_c": .number(maxSoakError)])
    }

    public func runSummary(_ run: RunRecord) -> String {
        run.summary(["final_setpoint_c", "max_abs_tracking_error_c", "max_abs_soak_error_c"])
    }

    public func results() -> [String: ReportValue] {
        var out = tracker.results()
        if profile != nil { out["profile_running"] = .bool(true) }
        return out
    }
}
