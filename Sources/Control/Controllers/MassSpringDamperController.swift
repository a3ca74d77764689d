import Devices

/// Settings of the mass-spring-damper experiment (docs/register-contract.md §C3): a free-decay test, then a
/// stepped-sine sweep.
public struct MassSpringDamperControlConfig: ControlSettings, Equatable {
    /// Free decay: drive at this frequency and amplitude to build up motion, then switch the shaker off and record.
    public var exciteFrequencyHz = 3.2
    public var exciteAmplitudeN = 0.4
    public var exciteDuration = 8.0
    public var decayDuration = 12.0
    /// Stepped sine: from…to in `sweepSteps` steps, each held `sweepDwell` s, of which the last `sweepMeasure` s are
    /// measured (the rest lets the transient die away).
    public var sweepFromHz = 2.5
    public var sweepToHz = 4.0
    public var sweepSteps = 16
    public var sweepAmplitudeN = 0.2
    public var sweepDwell = 10.0
    public var sweepMeasure = 2.0
    /// Skip the sweep (free decay only).
    public var sweep = true
    public var startRun = false

    public static let frequencyLimits: ClosedRange<Double> = 0.1...50
    public static let amplitudeLimits: ClosedRange<Double> = 0...20

    public init() {}

    public static let keys: [ControlKey<MassSpringDamperControlConfig>] = [
        .number("excite_frequency_hz", "Hz", \.exciteFrequencyHz, frequencyLimits),
        .number("excite_amplitude_n", "N", \.exciteAmplitudeN, amplitudeLimits),
        .number("excite_s", "s", \.exciteDuration, 0.5...600),
        .number("decay_s", "s", \.decayDuration, 1...600),
        .flag("sweep", \.sweep),
        .number("sweep_from_hz", "Hz", \.sweepFromHz, frequencyLimits),
        .number("sweep_to_hz", "Hz", \.sweepToHz, frequencyLimits),
        .integer("sweep_steps", \.sweepSteps, 3...200),
        .number("sweep_amplitude_n", "N", \.sweepAmplitudeN, amplitudeLimits),
        .number("sweep_dwell_s", "s", \.sweepDwell, 1...600),
        .number("sweep_measure_s", "s", \.sweepMeasure, 0.5...600),
        .flag("start_run", \.startRun),
    ]

    public func problems() -> [ControlProblem] {
        var out: [ControlProblem] = []
        if sweepToHz <= sweepFromHz { out.append(ControlProblem("sweep_to_hz", "must be above sweep_from_hz (\(sweepFromHz))")) }
        if sweepMeasure >= sweepDwell {
            out.append(ControlProblem("sweep_measure_s", "must be shorter than sweep_dwell_s (\(sweepDwell))"))
        }
        return out
    }
}

/// The students' experiment on the mass-spring-damper rig: free decay (f_n and ζ from the logarithmic decrement of
/// the 1 kHz position ring) and a stepped-sine sweep (f_n and ζ from the resonance peak and its half-power width),
/// each with its uncertainty, in the run's results. Safe state: shaker off. The E-stop, a lost device and the end
/// stops abort the run.
public struct MassSpringDamperController: StationController {
    public typealias Profile = MassSpringDamperProfile
    public typealias Snapshot = MassSpringDamperProfile.Snapshot
    public typealias Commands = MassSpringDamperProfile.Commands

    /// 50 Hz: 20 ring samples per read.
    public static let experimentLoop = LoopSpec(name: "experiment", period: .milliseconds(20))

    public enum Phase: String, Sendable { case idle, exciting, decaying, sweeping, done }

    public let loops = [MassSpringDamperController.experimentLoop]
    static let checks = DeviceChecks(noun: "rig")
    public let streamLoop: Int? = 0
    public var alarms = AlarmBook()
    public private(set) var config: MassSpringDamperControlConfig
    public private(set) var runs: [RunRecord] = []
    public private(set) var phase = Phase.idle
    public var safeCommands: Commands { .safe }
    public var settings: [SettingSpec] {
        [SettingSpec("excite_frequency_hz", unit: "Hz", limits: MassSpringDamperControlConfig.frequencyLimits,
                     value: config.exciteFrequencyHz),
         SettingSpec("excite_amplitude_n", unit: "N", limits: MassSpringDamperControlConfig.amplitudeLimits,
                     value: config.exciteAmplitudeN)]
    }

    private var commands = Commands.safe
    private var pendingStart: Bool
    private var phaseStartedAt = 0.0
    private var recording: [Double] = []
    private var samplePeriod = 0.001
    private var sweepIndex = 0
    private var sweepPoints: [(frequencyHz: Double, amplitude: Double)] = []
    private var stepLow = Double.infinity
    private var stepHigh = -Double.infinity
    private var lost: UInt64 = 0
    private var now = 0.0

    public init(config: MassSpringDamperControlConfig = MassSpringDamperControlConfig()) {
        self.config = config
        pendingStart = config.startRun
    }

    public mutating func receive(_ chunk: SampleRingReader.Chunk, now: Double) {
        samplePeriod = chunk.period > 0 ? chunk.period : samplePeriod
        if let gap = chunk.gap { lost += gap.count }
        switch phase {
        case .decaying:
            if chunk.gap != nil, !recording.isEmpty {
                // A hole in the record would bend the decrement: the test starts its record again.
                recording.removeAll()
            }
            recording.append(contentsOf: chunk.samples.map(Double.init))
        case .sweeping where now - phaseStartedAt >= config.sweepDwell - config.sweepMeasure:
            for s in chunk.samples {
                stepLow = min(stepLow, Double(s))
                stepHigh = max(stepHigh, Double(s))
            }
        default:
            break
        }
    }

    public mutating func step(loop: Int, tick: LoopTick, input: DeviceInput<Snapshot>,
                              host: HostSignals) -> StepOutput<Commands> {
        now = tick.now
        guard case let (s, facts)? = alarms.checkDevice(input, host: host, Self.checks, now: now,
                                                        deviceEstopOK: { $0.estopOK }) else {
            abort("device not answering")
            return StepOutput(commands: .safe)
        }
        alarms.set("end_stop", s.atEndStop, .warning, "mass at an end stop (±25 mm)", now: now)
        // A device whose own watchdog tripped (the host was away longer than HR 3) holds its safe state until told
        // otherwise: `facts.resetDevice` resets it once the link is back, unless the E-stop holds it.
        let reset = facts.resetDevice
        if alarms.isTripped { abort("E-stop") }
        if s.atEndStop, phase == .exciting || phase == .sweeping {
            abort("mass hit an end stop: lower the excitation amplitude")
        }
        if pendingStart, !alarms.isTripped {
            pendingStart = false
            start()
        }
        advance()
        // The free decay is the controller's logged series: every 50 Hz snapshot while the mass rings down, so a
        // recording shows the decay itself (rigd report draws it with the fitted envelope), not a 1 s sample of it.
        return StepOutput(commands: commands, resetDeviceFaults: reset, logged: phase == .decaying)
    }

    private mutating func start() {
        runs.begin("experiment", at: now)
        sweepPoints = []
        enter(.exciting)
    }

    private mutating func enter(_ next: Phase) {
        phase = next
        phaseStartedAt = now
        switch next {
        case .exciting:
            commands = Commands(amplitudeN: Float(config.exciteAmplitudeN), frequencyHz: Float(config.exciteFrequencyHz),
                                shakerEnable: true)
        case .decaying:
            recording.removeAll(keepingCapacity: true)
            commands = .safe
        case .sweeping:
            stepLow = .infinity
            stepHigh = -.infinity
            commands = Commands(amplitudeN: Float(config.sweepAmplitudeN), frequencyHz: Float(sweepFrequency),
                                shakerEnable: true)
        case .idle, .done:
            commands = .safe
        }
    }

    private var sweepFrequency: Double {
        config.sweepSteps <= 1 ? config.sweepFromHz
            : config.sweepFromHz + (config.sweepToHz - config.sweepFromHz) * Double(sweepIndex)
                / Double(config.sweepSteps - 1)
    }

    private mutating func advance() {
        let elapsed = now - phaseStartedAt
        switch phase {
        case .exciting where elapsed >= config.exciteDuration:
            enter(.decaying)
        case .decaying where elapsed >= config.decayDuration:
            recordDecay()
            if config.sweep {
                sweepIndex = 0
                enter(.sweeping)
            } else {
                finish()
            }
        case .sweeping where elapsed >= config.sweepDwell:
            sweepPoints.append((sweepFrequency, (stepHigh - stepLow) / 2))
            sweepIndex += 1
            if sweepIndex < config.sweepSteps {
                enter(.sweeping)
            } else {
                recordSweep()
                finish()
            }
        default:
            break
        }
    }

    private mutating func recordDecay() {
        var results: [String: ReportValue] = [:]
        switch ModalEstimator.freeDecay(recording, samplePeriod: samplePeriod) {
        case .success(let e):
            results["fn_hz"] = .number(e.naturalFrequencyHz)
            results["zeta"] = .number(e.dampingRatio)
            results["fn_uncertainty_hz"] = .number(e.frequencyUncertaintyHz)
            results["zeta_uncertainty"] = .number(e.dampingUncertainty)
            results["decay_cycles"] = .number(Double(e.cyclesUsed))
        case .failure(let failure):
            results["decay_error"] = .string(failure.reason)
        }
        results["decay_samples"] = .number(Double(recording.count))
        runs.addResults(results)
    }

    private mutating func recordSweep() {
        var results: [String: ReportValue] = [:]
        switch ModalEstimator.sweepPeak(sweepPoints) {
        case .success(let e):
            results["sweep_fn_hz"] = .number(e.naturalFrequencyHz)
            results["sweep_zeta"] = .number(e.dampingRatio)
        case .failure(let failure):
            results["sweep_error"] = .string(failure.reason)
        }
        results["sweep"] = .array(sweepPoints.map {
            .object(["frequency_hz": .number($0.frequencyHz), "amplitude_mm": .number($0.amplitude)])
        })
        runs.addResults(results)
    }

    private mutating func finish() {
        enter(.done)
        runs.finish(.completed, at: now, results: ["ring_samples_lost": .number(Double(lost))])
    }

    private mutating func abort(_ reason: String) {
        commands = .safe
        guard phase == .exciting || phase == .decaying || phase == .sweeping else { return }
        phase = .idle
        runs.finish(.aborted, reason: reason, at: now)
    }

    public mutating func apply(_ request: OperatorRequest, now: Double) throws(CommandRejection) {
        self.now = now
        switch request {
        case .startRun:
            guard phase != .exciting && phase != .decaying && phase != .sweeping else {
                throw CommandRejection("an experiment is running (\(phase.rawValue))")
            }
            guard !alarms.isTripped else { throw CommandRejection("cannot start while a trip is active") }
            pendingStart = false
            start()
        case .stopRun:
            guard phase == .exciting || phase == .decaying || phase == .sweeping else {
                throw CommandRejection("no experiment running")
            }
            abort("stopped by the operator")
        case .set(let name, let value):
            try validatedSetting(name, value)
            if name == "excite_frequency_hz" { config.exciteFrequencyHz = value } else { config.exciteAmplitudeN = value }
        case .acknowledge(let code, let by):
            try acknowledgeAlarm(code, by: by, now: now)
        }
    }

    public var phaseName: String? { phase.rawValue }

    /// Natural frequency and damping from the free decay and from the sweep.
    public func runSummary(_ run: RunRecord) -> String {
        run.summary(["fn_hz", "zeta", "sweep_fn_hz", "sweep_zeta", "ring_samples_lost"])
    }

    public func results() -> [String: ReportValue] {
        var out: [String: ReportValue] = ["phase": .string(phase.rawValue),
                                          "ring_samples_lost": .number(Double(lost))]
        if let last = runs.last {
            for key in ["fn_hz", "zeta", "fn_uncertainty_hz", "zeta_uncertainty", "sweep_fn_hz", "sweep_zeta"] {
                if let v = last.results[key] { out[key] = v }
            }
        }
        return out
    }
}
