import Devices
import Histogram

/// Tuning and limits of the extraction controller (docs/register-contract.md §A "Host control").
public struct ExtractionControlConfig: Sendable {
    /// The recipe a run uses when none is given.
    public var defaultRecipe = ExtractionRecipe()
    /// Start a run with the default recipe as soon as the station is up.
    public var startRun = false
    public var lift = FrictionCompensatedPositioner()
    public var push = FrictionCompensatedPositioner()
    /// Flow PI on pump speed (%/(L/min), %/(L/min·s)); the plant gives ≈ 0.17 L/min per % with a 0.5 s lag.
    public var flowKp = 3.0
    public var flowKi = 6.0
    /// Box temperature PI on the fan (%/K, %/(K·s)), reverse acting; the box gives ≈ 0.06 K per % with τ ≈ 50 s.
    public var fanKp = 24.0
    public var fanKi = 0.5
    public var boxHighAlarmC = 35.0
    public var boxTripC = 38.0
    public var backflushAtBar = 0.8
    public var backflushDurationS = 20.0
    /// A backflush is not repeated sooner than this.
    public var backflushMinIntervalS = 300.0
    public var replaceCheckDelayS = 60.0
    public var replaceElementBar = 0.5
    public var filterTripBar = 2.0
    public var dryRunFlowLPM = 2.0
    public var dryRunSeconds = 5.0
    /// After the pump starts or a backflush ends, flow is not judged for this long.
    public var flowSettleS = 15.0
    public var homingValvePercent = 40.0
    public var homingTimeoutS = 60.0
    public var positioningTimeoutS = 120.0
    public var stopTimeoutS = 30.0
    public var parkLiftMM = 750.0
    /// Low-pass on the ultrasonic level (s): its noise would otherwise move the nozzle.
    public var levelFilterTau = 5.0
    /// Box temperature is judged after this much circulation (the box starts at ambient).
    public var warmUpS = 1800.0

    public init() {}

    public static let positionLoop = LoopSpec(name: "position", period: .milliseconds(10))
    public static let flowLoop = LoopSpec(name: "flow", period: .milliseconds(100))
    public static let temperatureLoop = LoopSpec(name: "temperature", period: .seconds(1))
    public static let filterLoop = LoopSpec(name: "filter", period: .seconds(1))
}

/// The extraction device's host control (docs/register-contract.md §A): lift tracking of the surface and push
/// positioning at
/// 100 Hz, flow PI at 10 Hz, box temperature PI on the fan at 1 Hz, the filter supervisor at 1 Hz; alarms and
/// interlocks; and the run sequence home → position → circulate (backflushes, residue returns) → stop pump → park
/// → done. Any trip aborts the run into the safe state with the reason recorded; a run never resumes by itself.
///
/// A run's results give the host's soft-sensor yield (`yield_estimate`, from its own readings) and, on a simulated
/// device, the plant's (`yield_true`, the rise of the simulator-only lab assay over the run). The assay is reported,
/// never used for control.
public struct ExtractionController: StationController {
    public typealias Profile = ExtractionProfile
    public typealias Snapshot = ExtractionProfile.Snapshot
    public typealias Commands = ExtractionProfile.Commands

    public enum Phase: String, Sendable {
        case idle, homing, positioning, circulating, stoppingPump = "stopping_pump", parking, done, aborted
        var isRunning: Bool { ![.idle, .done, .aborted].contains(self) }
    }

    static let checks = DeviceChecks()
    public let loops = [ExtractionControlConfig.positionLoop, ExtractionControlConfig.flowLoop,
                        ExtractionControlConfig.temperatureLoop, ExtractionControlConfig.filterLoop]
    public var alarms = AlarmBook()
    public private(set) var config: ExtractionControlConfig
    public private(set) var phase = Phase.idle
    public private(set) var recipe: ExtractionRecipe
    public private(set) var runs: [RunRecord] = []
    public var safeCommands: Commands { .safe }
    /// The recipe's parameters (but the nozzle mode, fixed for a run): those of the running recipe during a run,
    /// of the default recipe otherwise.
    public var settings: [SettingSpec] {
        let current = (phase.isRunning ? recipe : config.defaultRecipe).parameters
        return ExtractionRecipe.specs.filter { $0.name != "fixed_nozzle" }.map { $0.with(value: current[$0.name] ?? .nan) }
    }

    private var phaseStartedAt = 0.0
    private var levelFilter: LowPass
    private var liftInPosition = InPositionTracker()
    private var pushInPosition = InPositionTracker()
    private var fixedLiftTarget: Double?
    private var flowPID: PID
    private var fanPID: PID
    private var out = Commands(fanEnable: true)
    private var circulationStartedAt = 0.0
    private var backflushStartedAt: Double?
    private var lastBackflushEndedAt = -Double.infinity
    private var replaceCheckAt: Double?
    private var nextResidueAt = Double.infinity
    private var residueEndsAt: Double?
    private var dryRunSince: Double?
    private var operatorStop = false
    private var resetRequested = false
    private var lastEnergy: Double?
    /// The liquid level at the last reading, mm: a recipe's nozzle height must be reachable from it.
    private var lastLevel: Double?
    private var stats = CirculationStatistics()
    private var pendingStart: Bool

    public init(config: ExtractionControlConfig = ExtractionControlConfig()) {
        self.config = config
        recipe = config.defaultRecipe
        levelFilter = LowPass(tau: config.levelFilterTau)
        flowPID = PID(PIDParameters(kp: config.flowKp, ki: config.flowKi, outputMin: 0, outputMax: 100))
        fanPID = PID(PIDParameters(kp: config.fanKp, ki: config.fanKi, outputMin: 0, outputMax: 100))
        pendingStart = config.startRun
    }

    // MARK: Step

    public mutating func step(loop: Int, tick: LoopTick, input: DeviceInput<Snapshot>,
                              host: HostSignals) -> StepOutput<Commands> {
        let now = tick.now
        guard case let (s, facts)? = alarms.checkDevice(input, host: host, Self.checks, now: now,
                                                        deviceEstopOK: { $0[.estopOK] }) else {
            return tripped(now: now, reset: false)
        }
        let estop = facts.estop
        evaluateInterlocks(s, estop: estop, now: now)
        // The device's own watchdog trip is reset once the host is back; an E-stop latch only on acknowledgement.
        var reset = facts.resetDevice
        if resetRequested && !estop && s.header.status.contains(.safeState) {
            reset = true
            resetRequested = false
        }
        if let energy = s[.energy].value { lastEnergy = energy }
        if let level = s[.level].value { lastLevel = level }
        // The simulator's lab assay goes into the run's report and nowhere else: no decision reads it (a real
        // device does not have it, and control must not depend on a figure only a simulation knows).
        if phase.isRunning, let assay = s[.yieldTrue].value { stats.recordAssay(assay) }
        if alarms.isTripped { return tripped(now: now, reset: reset) }
        if pendingStart && phase == .idle {
            pendingStart = false
            do throws(CommandRejection) {
                try start(recipe: nil, now: now)
            } catch {
                alarms.raise("run_refused", .warning, "start_run: \(error.reason)", now: now)
            }
        }
        switch loop {
        case 0: positionLoop(s, tick: tick)
        case 1: flowLoop(s, now: now)
        case 2: temperatureLoop(s, now: now)
        default: filterLoop(s, now: now)
        }
        if alarms.isTripped { return tripped(now: now, reset: reset) }
        return StepOutput(commands: commands, resetDeviceFaults: reset, beacon: beacon)
    }

    /// Each loop reads what it decides on: the position loop the axes, the level and the switches (E-stop, leak,
    /// limits: the E-stop is seen within one 10 ms tick), the flow loop the status word with flow and ΔP, the
    /// temperature loop every channel (the log's and the sensor check's), the filter loop ΔP and the outputs read back.
    /// At 100 Hz that is two reads a tick instead of five; the status word is read at 10 Hz, every channel at 1 Hz.
    public func reads(loop: Int) -> ReadNeeds { Self.loopReads[Swift.min(loop, Self.loopReads.count - 1)] }

    /// What each loop reads (asked every tick: made once).
    private static let loopReads: [ReadNeeds] = {
        func channels(_ list: [ExtractionProfile.Channel]) -> Set<Int> { Set(list.map(\.rawValue)) }
        return [
            ReadNeeds(channels: channels([.lift, .push, .level]), inputs: true),
            ReadNeeds(header: true, channels: channels([.flow, .filterDP])),
            ReadNeeds(channels: nil),
            ReadNeeds(channels: channels([.filterDP]), outputs: true),
        ]
    }()

    private var commands: Commands {
        var c = out
        c.fanEnable = true
        if !c.pumpEnable { c.pumpSpeed = 0 }
        if !c.axesEnable {
            c.liftValve = 0
            c.pushValve = 0
        }
        return c
    }

    /// The beacon shows the device is active: pump running or axes moving.
    private var beacon: Bool { out.pumpEnable || out.axesEnable }

    /// Trips that hold whatever the phase, beyond the E-stop and the watchdog that `checkDevice` sets.
    private mutating func evaluateInterlocks(_ s: Snapshot, estop: Bool, now: Double) {
        alarms.set("leak", s[.leak], .trip, "leak detected", now: now)
        let critical: [ExtractionProfile.Channel] = [.lift, .push, .level, .boxTemp, .flow, .filterDP]
        let failed = critical.filter { s[$0].value == nil }.map { ExtractionProfile.channels[$0.rawValue].name }
        alarms.set("sensor_fault", !failed.isEmpty, .trip, "sensor failed: \(failed.joined(separator: ", "))",
                   now: now)
        alarms.set("device_safe_state", s.header.status.contains(.safeState) && !estop, .trip,
                   "the device is in its own safe state (status \(s.header.status))", now: now)
    }

    /// Safe commands; a running run is aborted with the first active trip as its reason.
    private mutating func tripped(now: Double, reset: Bool) -> StepOutput<Commands> {
        if phase.isRunning {
            let trip = alarms.active.first { $0.severity == .trip }
            finishRun(.aborted, reason: trip.map { "\($0.code): \($0.message)" } ?? "trip", now: now)
        }
        out = .safe
        backflushStartedAt = nil
        residueEndsAt = nil
        flowPID.clear()
        fanPID.clear()
        return StepOutput(commands: .safe, resetDeviceFaults: reset, beacon: false)
    }

    // MARK: Loops

    /// 100 Hz: the sequence and both axes.
    private mutating func positionLoop(_ s: Snapshot, tick: LoopTick) {
        let now = tick.now
        guard let lift = s[.lift].value, let push = s[.push].value, let rawLevel = s[.level].value else { return }
        let level = levelFilter.update(rawLevel, dt: tick.dt)
        switch phase {
        case .idle, .done, .aborted:
            out.axesEnable = false
        case .homing:
            out.axesEnable = true
            let liftHome = s[.liftUpperLimit], pushHome = s[.pushHome]
            out.liftValve = liftHome ? 0 : Float(config.homingValvePercent)
            out.pushValve = pushHome ? 0 : -Float(config.homingValvePercent)
            if liftHome && pushHome {
                fixedLiftTarget = level + recipe.heightMM
                enter(.positioning, now: now)
            } else if now - phaseStartedAt > config.homingTimeoutS {
                abortRun("homing did not reach the limit switches in \(Int(config.homingTimeoutS)) s", now: now)
            }
        case .positioning, .circulating, .stoppingPump, .parking:
            out.axesEnable = true
            let liftTarget: Double
            let pushTarget: Double
            if phase == .parking {
                liftTarget = config.parkLiftMM
                pushTarget = 0
            } else {
                liftTarget = recipe.fixedNozzle ? (fixedLiftTarget ?? level + recipe.heightMM) : level + recipe.heightMM
                pushTarget = recipe.strokeMM
            }
            out.liftValve = Float(config.lift.output(error: liftTarget - lift))
            out.pushValve = Float(config.push.output(error: pushTarget - push))
            let liftIn = liftInPosition.update(error: liftTarget - lift, now: now)
            let pushIn = pushInPosition.update(error: pushTarget - push, now: now)
            switch phase {
            case .positioning:
                if liftIn && pushIn { startCirculating(s, now: now) }
                else if now - phaseStartedAt > config.positioningTimeoutS {
                    abortRun("nozzle not in position within \(Int(config.positioningTimeoutS)) s", now: now)
                }
            case .circulating:
                let height = lift - level
                stats.recordPosition(heightError: height - recipe.heightMM, strokeError: push - recipe.strokeMM)
                stats.yield.record(heightMM: height, strokeMM: push, dt: tick.dt)
            case .parking:
                if liftIn && pushIn {
                    if operatorStop { finishRun(.aborted, reason: "stopped by operator", now: now) }
                    else { finishRun(.completed, reason: nil, now: now) }
                } else if now - phaseStartedAt > config.positioningTimeoutS {
                    abortRun("axes did not reach the park position", now: now)
                }
            default:
                break
            }
        }
    }

    /// 10 Hz: flow PI on the pump, dry-run protection.
    private mutating func flowLoop(_ s: Snapshot, now: Double) {
        guard let flow = s[.flow].value else { return }
        switch phase {
        case .circulating:
            let backflushing = backflushStartedAt != nil
            if !backflushing {
                out.pumpSpeed = Float(flowPID.update(now: now, measurement: flow, setpoint: recipe.flowLPM))
            }
            let settled = now - circulationStartedAt >= config.flowSettleS
                && now - lastBackflushEndedAt >= config.flowSettleS
            if settled && !backflushing {
                stats.flow.add(flow)
                if s[.lowLevel] || flow < config.dryRunFlowLPM {
                    if dryRunSince == nil { dryRunSince = now }
                    if now - (dryRunSince ?? now) >= config.dryRunSeconds {
                        alarms.raise("dry_run", .trip, s[.lowLevel] ? "low liquid level with the pump on"
                                     : "flow \(rounded(flow, 1)) L/min < \(config.dryRunFlowLPM) with the pump on", now: now)
                    }
                } else {
                    dryRunSince = nil
                }
            } else {
                dryRunSince = nil
            }
        case .stoppingPump:
            dryRunSince = nil
            // The pump is off; park once the flow has stopped (or after a bounded wait).
            if flow < 0.5 || now - phaseStartedAt >= config.stopTimeoutS { enter(.parking, now: now) }
        default:
            dryRunSince = nil
            if alarms.isActive("dry_run") && !s[.lowLevel] { alarms.clear("dry_run", now: now) }
        }
    }

    /// 1 Hz: box temperature on the fan, high alarm and trip.
    private mutating func temperatureLoop(_ s: Snapshot, now: Double) {
        guard let box = s[.boxTemp].value else { return }
        let (trip, high) = (config.boxTripC, config.boxHighAlarmC)
        alarms.highLimit("box_temp_trip", .trip, value: box, raiseAt: trip, clearBelow: high,
                         "box \(rounded(box, 1)) °C ≥ \(trip) °C: pump off", now: now)
        alarms.highLimit("box_temp_high", .alarm, value: box, raiseAt: high, clearBelow: high - 0.5,
                         "box \(rounded(box, 1)) °C ≥ \(high) °C: fan forced to 100 %", now: now)
        // Reverse acting: more fan for a hotter box, so the law sees the negated temperature.
        let fan = fanPID.update(now: now, measurement: -box, setpoint: -recipe.boxTempC)
        out.fanSpeed = alarms.isActive("box_temp_high") ? 100 : Float(fan)
        if phase == .circulating && now - circulationStartedAt >= config.warmUpS { stats.box.add(box) }
    }

    /// 1 Hz: filter supervisor, residue returns, circulation time.
    private mutating func filterLoop(_ s: Snapshot, now: Double) {
        guard let dp = s[.filterDP].value else { return }
        let (trip, backflushAt) = (config.filterTripBar, config.backflushAtBar)
        alarms.highLimit("filter_dp_trip", .trip, value: dp, raiseAt: trip, clearBelow: backflushAt,
                         "filter ΔP \(rounded(dp, 2)) bar ≥ \(trip) bar", now: now)
        if let started = backflushStartedAt, now - started >= config.backflushDurationS {
            backflushStartedAt = nil
            out.backflush = false
            lastBackflushEndedAt = now
            replaceCheckAt = now + config.replaceCheckDelayS
            stats.backflushes += 1
        }
        if let check = replaceCheckAt, now >= check {
            replaceCheckAt = nil
            if dp >= config.replaceElementBar {
                alarms.raise("replace_element", .alarm, "filter ΔP \(rounded(dp, 2)) bar ≥ \(config.replaceElementBar) bar "
                             + "\(Int(config.replaceCheckDelayS)) s after a backflush: replace the element", now: now)
            } else {
                alarms.clear("replace_element", now: now)
            }
        }
        guard phase == .circulating else { return }
        // Backflushing a spent element only churns: once it needs replacing, ΔP is left to rise to the trip.
        if backflushStartedAt == nil, dp >= config.backflushAtBar, !alarms.isActive("replace_element"),
           now - lastBackflushEndedAt >= config.backflushMinIntervalS {
            backflushStartedAt = now
            out.backflush = true
        }
        if recipe.residueIntervalS > 0 {
            if let ends = residueEndsAt, now >= ends {
                residueEndsAt = nil
                out.residueReturn = false
            } else if residueEndsAt == nil, now >= nextResidueAt {
                residueEndsAt = now + recipe.residueDurationS
                nextResidueAt += recipe.residueIntervalS
                out.residueReturn = true
                stats.residueReturns += 1
            }
        }
        if now - circulationStartedAt >= recipe.circulationS { enter(.stoppingPump, now: now) }
    }

    // MARK: Sequence

    private mutating func enter(_ next: Phase, now: Double) {
        phase = next
        phaseStartedAt = now
        liftInPosition.reset()
        pushInPosition.reset()
        if next == .stoppingPump || next == .parking {
            out.pumpEnable = false
            out.backflush = false
            out.residueReturn = false
            backflushStartedAt = nil
            residueEndsAt = nil
        }
    }

    private mutating func startCirculating(_ s: Snapshot, now: Double) {
        enter(.circulating, now: now)
        circulationStartedAt = now
        out.pumpEnable = true
        // Bumpless start at the speed that gives the recipe's flow on a clean filter (10 L/min at ≈ 60 %).
        flowPID.reset(output: 6 * recipe.flowLPM, measurement: recipe.flowLPM, setpoint: recipe.flowLPM, now: now)
        lastBackflushEndedAt = -Double.infinity
        nextResidueAt = recipe.residueIntervalS > 0 ? now + recipe.residueIntervalS : .infinity
        stats.energyAtStart = s[.energy].value
        stats.filteredAtStart = s[.filtered].value
    }

    private mutating func start(recipe requested: RunRecipe?, now: Double) throws(CommandRejection) {
        guard !phase.isRunning else { throw CommandRejection("a run is already in progress (\(phase.rawValue))") }
        guard !alarms.isTripped else {
            let trips = alarms.active.filter { $0.severity == .trip }.map(\.code).joined(separator: ", ")
            throw CommandRejection("cannot start a run while tripped (\(trips))")
        }
        let chosen = try requested.map { r throws(CommandRejection) in
            try ExtractionRecipe.make(r, base: config.defaultRecipe)
        } ?? config.defaultRecipe
        try checkReachable(heightMM: chosen.heightMM)
        recipe = chosen
        runs.begin(chosen.name, at: now)
        stats = CirculationStatistics()
        operatorStop = false
        fixedLiftTarget = nil
        enter(.homing, now: now)
    }

    /// The lift must be able to hold the nozzle `heightMM` above the liquid at its last reading (lift travel 0…800
    /// mm, docs/register-contract.md §A): a setpoint it cannot reach would leave the run positioning for ever.
    private func checkReachable(heightMM: Double) throws(CommandRejection) {
        guard let level = lastLevel else { return }
        let travel = ExtractionProfile.channels[ExtractionProfile.Channel.lift.rawValue].range
        let target = level + heightMM
        guard travel.contains(target) else {
            throw CommandRejection("height_mm \(heightMM) cannot be reached: the liquid is at \(rounded(level, 1)) mm, so "
                                   + "the lift would have to reach \(rounded(target, 1)) mm, outside its travel "
                                   + "\(Int(travel.lowerBound))…\(Int(travel.upperBound)) mm")
        }
    }

    private mutating func abortRun(_ reason: String, now: Double) {
        alarms.raise("run_aborted", .warning, reason, now: now)
        finishRun(.aborted, reason: reason, now: now)
        out = .safe
    }

    private mutating func finishRun(_ outcome: RunOutcome, reason: String?, now: Double) {
        phase = outcome == .completed ? .done : .aborted
        phaseStartedAt = now
        out.pumpEnable = false
        out.axesEnable = false
        out.backflush = false
        out.residueReturn = false
        runs.finish(outcome, reason: reason, at: now, results: runResults())
    }

    private func runResults() -> [String: ReportValue] {
        var r = stats.report()
        r["yield_estimate"] = .number(rounded(stats.yield.yield, 4))
        r["yield_estimate_max"] = .number(rounded(stats.yield.maximumYield, 4))
        r["yield_estimate_placement_error_mm"] = .number(rounded(stats.yield.averagePlacementError, 3))
        r["circulation_s"] = .number(rounded(stats.yield.circulationTime, 2))
        if let start = stats.assayAtStart, let end = stats.assayLast {
            r["yield_true"] = .number(rounded(end - start, 4))
        }
        if let start = stats.energyAtStart, let end = lastEnergy { r["energy_kwh"] = .number(rounded(end - start, 4)) }
        r["fixed_nozzle"] = .bool(recipe.fixedNozzle)
        r["recipe"] = .object(recipe.parameters.mapValues { .number($0) })
        return r
    }

    // MARK: Requests

    public mutating func apply(_ request: OperatorRequest, now: Double) throws(CommandRejection) {
        switch request {
        case .startRun(let requested):
            pendingStart = false
            try start(recipe: requested, now: now)
        case .stopRun:
            guard phase.isRunning else { throw CommandRejection("no run in progress (\(phase.rawValue))") }
            operatorStop = true
            if phase != .parking { enter(phase == .homing || phase == .positioning ? .parking : .stoppingPump, now: now) }
        case .set(let name, let value):
            try validatedSetting(name, value)
            if name == "height_mm" { try checkReachable(heightMM: value) }
            var changed = try ExtractionRecipe.make(RunRecipe(name: recipe.name, parameters: [name: value]),
                                                    base: recipe)
            changed.name = recipe.name
            recipe = changed
            if !phase.isRunning {
                config.defaultRecipe = try ExtractionRecipe.make(RunRecipe(name: config.defaultRecipe.name,
                                                                           parameters: [name: value]),
                                                                 base: config.defaultRecipe)
            }
        case .acknowledge(let code, let user):
            try acknowledgeAlarm(code, by: user, now: now)
            // Leaving a latched E-stop is a deliberate act: the operator's acknowledgement requests the reset.
            if code == "estop" { resetRequested = true }
        }
    }

    public var phaseName: String? { phase.rawValue }

    /// The plant's yield (simulated devices only) and the host's estimate, energy, in-position fraction and
    /// backflushes, where the run has them.
    public func runSummary(_ run: RunRecord) -> String {
        run.summary(["yield_true", "yield_estimate", "energy_kwh", "in_position_fraction", "backflushes"])
    }

    public func results() -> [String: ReportValue] {
        let completed = runs.filter { $0.outcome == .completed }.count
        let aborted = runs.filter { $0.outcome == .aborted }.count
        return ["phase": .string(phase.rawValue), "runs_completed": .number(Double(completed)),
                "runs_aborted": .number(Double(aborted))]
    }
}

/// What a run's circulation did, for its results.
struct CirculationStatistics: Sendable {
    var positionTicks = 0
    var heightInPosition = 0
    var strokeInPosition = 0
    /// |height error| in µm, up to 600 mm.
    var heightError = Histogram<UInt64>(highestTrackableValue: 600_000, numberOfSignificantValueDigits: .two)
    var heightErrorMax = 0.0
    var box = RunningStatistics()
    var flow = RunningStatistics()
    var backflushes = 0
    var residueReturns = 0
    var energyAtStart: Double?
    var filteredAtStart: Double?
    /// The host's soft-sensor estimate of the yield, from its own readings (`yield_estimate`).
    var yield = ExtractionYieldEstimator()
    /// The simulator's lab assay (channel `yield_true`, the batch's extracted fraction) at the first and the last
    /// reading of the run; a real device has none.
    var assayAtStart: Double?
    var assayLast: Double?

    mutating func recordAssay(_ value: Double) {
        if assayAtStart == nil { assayAtStart = value }
        assayLast = value
    }

    mutating func recordPosition(heightError e: Double, strokeError: Double) {
        positionTicks += 1
        if abs(e) <= 1 { heightInPosition += 1 }
        if abs(strokeError) <= 1 { strokeInPosition += 1 }
        heightErrorMax = max(heightErrorMax, abs(e))
        _ = heightError.record(UInt64(min(abs(e), 600) * 1000))
    }

    func report() -> [String: ReportValue] {
        let ticks = Double(max(positionTicks, 1))
        return [
            "in_position_fraction": .number(rounded(Double(heightInPosition) / ticks, 4)),
            "stroke_in_position_fraction": .number(rounded(Double(strokeInPosition) / ticks, 4)),
            "height_error_p95_mm": positionTicks == 0 ? .null
                : .number(rounded(Double(heightError.valueAtPercentile(95)) / 1000, 3)),
            "height_error_max_mm": .number(rounded(heightErrorMax, 3)),
            "box_temp_after_warm_up_c": box.report,
            "flow_outside_backflush_lpm": flow.report,
            "backflushes": .number(Double(backflushes)),
            "residue_returns": .number(Double(residueReturns)),
        ]
    }
}
