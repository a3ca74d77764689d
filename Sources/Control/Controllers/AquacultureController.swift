import Devices

/// Settings of a pond's or nursery tank's host control (docs/register-contract.md §B), each with the limits
/// configuration and
/// operator requests are checked against.
public struct AquacultureControlConfig: ControlSettings, Equatable {
    /// Seconds between samples (and control decisions).
    public var sampleEvery = 10.0
    /// Seconds between logged samples.
    public var logEvery = 900.0
    /// Automatic aeration; false holds the aerators off (the safe state still switches them on).
    public var aeration = true
    /// Aerators on this pond, switched together.
    public var aerators = 2
    /// Aeration hysteresis: on below, off above, mg/L.
    public var aeratorOnBelowMgL = 4.0
    public var aeratorOffAboveMgL = 5.5
    /// An aerator the controller started runs at least this long, s.
    public var aeratorMinRun = 900.0
    /// Critical low-DO alarm, mg/L (clears 0.5 mg/L higher).
    public var criticalDOMgL = 3.0
    /// Feeding times, hours of the local day, and how long the feeder runs each time, s.
    public var feedTimes: [Double] = [7, 12, 17]
    public var feedDuration = 600.0
    /// Feeding is inhibited below this DO, mg/L, and outside this water temperature band, °C.
    public var feedMinDOMgL = 4.0
    public var feedTempC: ClosedRange<Double> = 20...32
    /// Water exchange starts above this un-ionised ammonia, mg/L, and stops below 80 % of it.
    public var nh3MaxMgL = 0.05
    /// Water exchange also runs while salinity is outside this band, ppt.
    public var salinityPpt: ClosedRange<Double> = 0...40
    /// An exchange runs at least this long, s.
    public var exchangeMinRun = 1800.0
    /// Nursery tank heater: on below `setpoint − band`, off above `setpoint + band`, °C; nil: no heater relay.
    public var heaterSetpointC: Double?
    public var heaterBandC = 0.3
    /// The heater never runs longer than this in one go, s; then it rests `heaterRest` s and an alarm says the tank
    /// did not reach its setpoint (a failed element, an open lid, a heater too small for the hall).
    public var heaterMaxOn = 7200.0
    public var heaterRest = 900.0
    /// Grow-lamp photoperiod: on from `on` to `off`, hours of the local day (may wrap midnight); nil: no light relay.
    public var photoperiod: Photoperiod?

    public struct Photoperiod: Sendable, Equatable {
        public var on: Double
        public var off: Double

        public init(_ on: Double, _ off: Double) {
            self.on = on
            self.off = off
        }

        /// Whether the lamp is on at this hour of the local day.
        public func contains(hour: Double) -> Bool {
            on < off ? (hour >= on && hour < off) : (hour >= on || hour < off)
        }
    }

    /// Identical samples in a row that make a sensor stuck.
    public var stuckSamples = 30
    /// Per checked channel (by channel index): its output resolution and how often the sonde refreshes it, for the
    /// stuck rule (`[station.control.sensors.<channel>]`); absent: a float refreshed on every read.
    public var flatlines: [Int: SensorCheck.Flatline] = [:]
    /// DO drift: |do_mgl − do_sat_pct × saturation(T, S)| above this, mg/L, for `driftWindow` s.
    public var driftToleranceMgL = 0.5
    public var driftWindow = 1800.0
    /// Local hour of day at time 0 (the wiring sets it: the wall clock's hour, or 0 for a virtual run).
    public var startHourOfDay = 0.0
    /// Night, for the report's per-night DO minimum: from this hour to `nightEndHour` the next morning.
    public var nightStartHour = 18.0
    public var nightEndHour = 6.0

    public static let doLimits: ClosedRange<Double> = 0.5...15
    public static let nh3Limits: ClosedRange<Double> = 0.001...2

    public init() {}

    /// The keys of `[station.control]` that map to one setting each; `feed_times` and the two bands
    /// (`feed_temp_min_c`/`feed_temp_max_c`, `salinity_min_ppt`/`salinity_max_ppt`) are read by the kind's reader.
    public static let keys: [ControlKey<AquacultureControlConfig>] = [
        .number("sample_every_s", "s", \.sampleEvery, 0.5...3600),
        .number("log_every_s", "s", \.logEvery, 1...86400),
        .flag("aeration", \.aeration),
        .integer("aerators", \.aerators, 1...8),
        .number("aerator_on_below_mgl", "mg/L", \.aeratorOnBelowMgL, doLimits),
        .number("aerator_off_above_mgl", "mg/L", \.aeratorOffAboveMgL, doLimits),
        .number("aerator_min_run_min", "min", \.aeratorMinRun, 0...240, scale: .minutes),
        .number("critical_do_mgl", "mg/L", \.criticalDOMgL, doLimits),
        .number("feed_minutes", "min", \.feedDuration, 0...240, scale: .minutes),
        .number("feed_min_do_mgl", "mg/L", \.feedMinDOMgL, doLimits),
        .number("nh3_max_mgl", "mg/L", \.nh3MaxMgL, nh3Limits),
        .number("exchange_min_run_min", "min", \.exchangeMinRun, 0...1440, scale: .minutes),
        .integer("stuck_samples", \.stuckSamples, 2...100_000),
        .number("drift_tolerance_mgl", "mg/L", \.driftToleranceMgL, 0.05...10),
        .number("drift_window_min", "min", \.driftWindow, 1...1440, scale: .minutes),
        .number("night_start_hour", "h", \.nightStartHour, 12...23.99),
        .number("night_end_hour", "h", \.nightEndHour, 0...12),
    ]

    /// What is wrong with this combination, if anything (each check names the key).
    public func problems() -> [ControlProblem] {
        var out: [ControlProblem] = []
        if aeratorOffAboveMgL <= aeratorOnBelowMgL {
            out.append(ControlProblem("aerator_off_above_mgl", "must be above aerator_on_below_mgl (\(aeratorOnBelowMgL))"))
        }
        if criticalDOMgL >= aeratorOnBelowMgL {
            out.append(ControlProblem("critical_do_mgl", "must be below aerator_on_below_mgl (\(aeratorOnBelowMgL))"))
        }
        if logEvery < sampleEvery {
            out.append(ControlProblem("log_every_s", "must be at least sample_every_s (\(sampleEvery))"))
        }
        if feedDuration >= 86400 / Double(max(1, feedTimes.count)) {
            out.append(ControlProblem("feed_minutes", "feedings would overlap"))
        }
        if let setpoint = heaterSetpointC, !feedTempC.contains(setpoint) {
            out.append(ControlProblem("heater_setpoint_c", "must lie in the feeding temperature band "
                                      + "\(feedTempC.lowerBound)…\(feedTempC.upperBound) °C, or the heater would "
                                      + "hold the tank where feeding is inhibited"))
        }
        return out
    }
}

/// A pond's or nursery tank's host control (docs/register-contract.md §B): aeration hysteresis with a minimum run time,
/// critical
/// low-DO alarm, scheduled feeding inhibited on low DO or a bad temperature, water exchange on ammonia or salinity,
/// bad-sensor detection, and the safe state on a lost sonde or a pressed host E-stop (aerators ON, feeder OFF,
/// exchange held).
///
/// Two loops: `sample` (every `sampleEvery`, reads and decides) and `log` (every `logEvery`, records a logged sample).
/// Relays, in `relayNames` order: the aerators, then exchange, then feeder, then (where configured) heater and light.
/// A nursery tank's heater holds the water on a hysteresis band with a maximum on-time; its grow lamp follows a
/// photoperiod. In the safe state the heater is OFF and the lamp keeps its schedule.
public struct AquacultureController: StationController {
    public typealias Profile = AquaSondeProfile
    public typealias Snapshot = AquaSondeProfile.Snapshot
    public typealias Commands = AquaSondeProfile.Commands
    typealias Channel = AquaSondeProfile.Channel

    /// A sonde has no E-stop or watchdog of its own; the host's E-stop line drives the pond's safe state.
    static let checks = DeviceChecks(noun: "sonde", lossCode: "sonde_lost",
                                     safeStateNote: "aerators ON, feeder OFF, exchange held, heater OFF",
                                     deviceWatchdog: false)
    public let loops: [LoopSpec]
    public var alarms = AlarmBook()
    public private(set) var config: AquacultureControlConfig
    public var safeCommands: Commands { Commands() }
    public let relayNames: [String]

    /// Checked channels and their checks.
    public private(set) var checks: [Int: SensorCheck]
    public private(set) var aeratorsOn = false
    public private(set) var exchangeOn = false
    public private(set) var feederOn = false
    public private(set) var heaterOn = false
    public private(set) var lightOn = false
    public private(set) var inSafeState = false
    /// When the heater last switched on (its on-time counts from here), and until when it rests.
    private var heaterOnSince: Double?
    private var heaterRestUntil = -Double.infinity
    private var heaterSeconds = 0.0
    private var heaterCycles = 0
    private var heaterTimeouts = 0
    private var lightSeconds = 0.0
    /// When the running aerators were started (the minimum run counts from here).
    private var aeratorOnSince: Double?
    private var exchangeOnSince: Double?

    // Figures for the report.
    public private(set) var loggedSamples = 0
    public private(set) var lastLogged: [String: Double] = [:]
    private var aeratorSeconds = 0.0
    private var aeratorStarts = 0
    private var shortestAeratorRun: Double?
    private var exchangeSeconds = 0.0
    private var feederSeconds = 0.0
    private var feedingsInhibited = 0
    private var inhibitedWindow: Int?
    private var lastSampleAt: Double?
    /// Night index → (minimum DO, plant time of it).
    private var nightMinimum: [Int: (Double, Double)] = [:]

    public static let checkedChannels: [AquaSondeProfile.Channel] = [.doMgL, .waterTemp, .pH, .salinity, .tan, .nh3]

    public init(config: AquacultureControlConfig = AquacultureControlConfig()) {
        self.config = config
        loops = [LoopSpec(name: "sample", period: .milliseconds(Int64((config.sampleEvery * 1000).rounded()))),
                 LoopSpec(name: "log", period: .milliseconds(Int64((config.logEvery * 1000).rounded())))]
        relayNames = (1...max(1, config.aerators)).map { "aerator-\($0)" } + ["exchange", "feeder"]
            + (config.heaterSetpointC != nil ? ["heater"] : []) + (config.photoperiod != nil ? ["light"] : [])
        var checks: [Int: SensorCheck] = [:]
        for channel in Self.checkedChannels {
            let flatline = config.flatlines[channel.rawValue] ?? SensorCheck.Flatline()
            checks[channel.rawValue] = channel == .doMgL
                ? SensorCheck(stuckSamples: config.stuckSamples, flatline: flatline,
                              driftTolerance: config.driftToleranceMgL, driftWindow: config.driftWindow)
                : SensorCheck(stuckSamples: config.stuckSamples, flatline: flatline)
        }
        self.checks = checks
    }

    public var settings: [SettingSpec] {
        [SettingSpec("aerator_on_below_mgl", unit: "mg/L", limits: AquacultureControlConfig.doLimits,
                     value: config.aeratorOnBelowMgL),
         SettingSpec("aerator_off_above_mgl", unit: "mg/L", limits: AquacultureControlConfig.doLimits,
                     value: config.aeratorOffAboveMgL),
         SettingSpec("nh3_max_mgl", unit: "mg/L", limits: AquacultureControlConfig.nh3Limits, value: config.nh3MaxMgL)]
            + (config.heaterSetpointC.map { [SettingSpec("heater_setpoint_c", unit: "°C", limits: 5...40, value: $0)] }
                ?? [])
    }

    private var relays: [Bool] {
        Array(repeating: aeratorsOn, count: max(1, config.aerators)) + [exchangeOn, feederOn] + optionalRelays(heaterOn)
    }

    public var safeRelays: [Bool] {
        Array(repeating: true, count: max(1, config.aerators)) + [exchangeOn, false] + optionalRelays(false)
    }

    /// The heater and light relays where configured, the heater as given.
    private func optionalRelays(_ heater: Bool) -> [Bool] {
        (config.heaterSetpointC != nil ? [heater] : []) + (config.photoperiod != nil ? [lightOn] : [])
    }

    /// Local hour of day at plant time `now` (0..<24).
    public func hourOfDay(_ now: Double) -> Double {
        let h = (config.startHourOfDay + now / 3600).truncatingRemainder(dividingBy: 24)
        return h < 0 ? h + 24 : h
    }

    /// Which night `now` falls in (night n starts at `nightStartHour` on day n), or nil in daytime.
    public func night(_ now: Double) -> Int? {
        let absolute = config.startHourOfDay + now / 3600
        let day = (absolute / 24).rounded(.down)
        let hour = absolute - day * 24
        if hour >= config.nightStartHour { return Int(day) }
        if hour < config.nightEndHour { return Int(day) - 1 }
        return nil
    }

    // MARK: Step

    public mutating func step(loop: Int, tick: LoopTick, input: DeviceInput<Snapshot>,
                              host: HostSignals) -> StepOutput<Commands> {
        let now = tick.now
        accumulate(now: now)
        light(now: now)
        guard case let (s, facts)? = alarms.checkDevice(input, host: host, Self.checks, now: now) else {
            enterSafeState(now: now)
            return StepOutput(commands: Commands(), relays: relays)
        }
        if facts.estop {
            enterSafeState(now: now)
            return StepOutput(commands: Commands(), relays: relays)
        }
        inSafeState = false
        if loop == 1 {
            // A logged sample closes a logging interval: the first is due one interval after the start.
            guard tick.index > 0 else { return StepOutput(commands: Commands(), relays: relays) }
            record(s)
            return StepOutput(commands: Commands(), relays: relays, logged: true)
        }
        let trusted = judgeSensors(s, now: now)
        let doValue = trusted[Channel.doMgL.rawValue]
        if let doValue, let n = night(now) {
            if let (least, _) = nightMinimum[n], least <= doValue {} else { nightMinimum[n] = (doValue, now) }
        }
        if let doValue {
            if doValue < config.criticalDOMgL {
                alarms.raise("do_critical", .alarm, "DO \(Self.format(doValue)) mg/L below \(config.criticalDOMgL) mg/L",
                             now: now)
            } else if doValue >= config.criticalDOMgL + 0.5 {
                alarms.clear("do_critical", now: now)
            }
        }
        aerate(doValue, now: now)
        feed(doValue, temperature: trusted[Channel.waterTemp.rawValue], now: now)
        heat(trusted[Channel.waterTemp.rawValue], now: now)
        exchange(nh3: trusted[Channel.nh3.rawValue], salinity: trusted[Channel.salinity.rawValue],
                 nh3Trusted: checks[Channel.nh3.rawValue]?.isTrusted == true
                     && checks[Channel.tan.rawValue]?.isTrusted == true
                     && checks[Channel.pH.rawValue]?.isTrusted == true,
                 now: now)
        return StepOutput(commands: Commands(), relays: relays)
    }

    /// Runs every check; returns the values control may use (nil: the channel is bad) by channel index.
    private mutating func judgeSensors(_ s: Snapshot, now: Double) -> [Int: Double] {
        let temperature = s[.waterTemp].value
        let salinity = s[.salinity].value
        // Saturation only from readings that are themselves numbers; their own checks run below.
        let saturation = temperature.flatMap { t in
            salinity.map { AquaChemistry.oxygenSaturationMgL(tempC: t, salinityPpt: $0) }
        }
        var trusted: [Int: Double] = [:]
        for channel in Self.checkedChannels {
            let reading = s[channel]
            var plausible: ClosedRange<Double>
            var residual: Double?
            switch channel {
            case .doMgL:
                plausible = 0...(saturation.map { 1.5 * $0 } ?? 25)
                if let saturation, let pct = s[.doSatPct].value {
                    residual = (reading.value ?? .nan) - pct / 100 * saturation
                    if !(residual?.isFinite ?? false) { residual = nil }
                }
            case .pH: plausible = 4...11
            case .waterTemp: plausible = 0...40
            case .salinity: plausible = 0...45
            case .tan: plausible = 0...50
            case .nh3: plausible = 0...5
            default: plausible = -Double.infinity...Double.infinity
            }
            let verdict = checks[channel.rawValue]!.judge(reading, plausible: plausible, residual: residual, now: now)
            let name = AquaSondeProfile.channels[channel.rawValue].name
            for other in [SensorCheck.Verdict.fault, .implausible, .stuck, .drift] where other != verdict {
                alarms.clear("\(name)_\(other.rawValue)", now: now)
            }
            if verdict == .ok {
                trusted[channel.rawValue] = reading.value
            } else {
                alarms.raise("\(name)_\(verdict.rawValue)", .alarm,
                             message(name, verdict, reading, check: checks[channel.rawValue]!), now: now)
            }
        }
        return trusted
    }

    private func message(_ name: String, _ verdict: SensorCheck.Verdict, _ reading: ChannelReading,
                         check: SensorCheck) -> String {
        switch verdict {
        case .fault: "\(name) sensor failed (reads \(reading)); control uses its safe rule"
        case .implausible: "\(name) reads an implausible \(reading); control uses its safe rule"
        case .stuck:
            "\(name) stuck at \(reading) for \(config.stuckSamples) samples"
                + (check.flatline.resolution > 0 ? " (within ±\(check.flatline.resolution / 2))" : "")
                + (check.stuckSeconds > 0 ? " and \(Int(check.stuckSeconds)) s of sonde updates" : "")
                + "; control uses its safe rule"
        case .drift: "\(name) disagrees with do_sat_pct × saturation by more than \(config.driftToleranceMgL) mg/L "
            + "for \(Int(config.driftWindow / 60)) min (drift); control uses its safe rule"
        case .ok: ""
        }
    }

    /// Aeration hysteresis with a minimum run; a bad DO sensor forces the aerators on (the safe rule).
    private mutating func aerate(_ doValue: Double?, now: Double) {
        guard let doValue else {
            switchAerators(true, now: now)
            return
        }
        guard config.aeration else {
            switchAerators(false, now: now, force: true)
            return
        }
        if doValue < config.aeratorOnBelowMgL {
            switchAerators(true, now: now)
        } else if doValue > config.aeratorOffAboveMgL {
            switchAerators(false, now: now)
        }
    }

    private mutating func switchAerators(_ on: Bool, now: Double, force: Bool = false) {
        guard on != aeratorsOn else { return }
        if on {
            aeratorsOn = true
            aeratorOnSince = now
            aeratorStarts += 1
        } else {
            if let since = aeratorOnSince {
                guard force || now - since >= config.aeratorMinRun - 1e-6 else { return }
                shortestAeratorRun = min(shortestAeratorRun ?? .infinity, now - since)
            }
            aeratorsOn = false
            aeratorOnSince = nil
        }
    }

    /// The feeding schedule; inhibited while DO is low or bad, or the temperature is out of band or bad.
    private mutating func feed(_ doValue: Double?, temperature: Double?, now: Double) {
        let hour = hourOfDay(now)
        let window = config.feedTimes.firstIndex { start in
            let into = (hour - start + 24).truncatingRemainder(dividingBy: 24) * 3600
            return into < config.feedDuration
        }
        guard let window else {
            feederOn = false
            inhibitedWindow = nil
            alarms.clear("feeding_inhibited", now: now)
            return
        }
        var reasons: [String] = []
        if let doValue {
            if doValue < config.feedMinDOMgL { reasons.append("DO \(Self.format(doValue)) mg/L < \(config.feedMinDOMgL)") }
        } else {
            reasons.append("DO sensor bad")
        }
        if let temperature {
            if !config.feedTempC.contains(temperature) {
                reasons.append("water \(Self.format(temperature)) °C outside \(Self.format(config.feedTempC.lowerBound))…"
                               + "\(Self.format(config.feedTempC.upperBound)) °C")
            }
        } else {
            reasons.append("temperature sensor bad")
        }
        if reasons.isEmpty {
            feederOn = true
            alarms.clear("feeding_inhibited", now: now)
        } else {
            feederOn = false
            if inhibitedWindow != window {
                inhibitedWindow = window
                feedingsInhibited += 1
            }
            alarms.raise("feeding_inhibited", .warning, "feeding inhibited: " + reasons.joined(separator: ", "),
                         now: now)
        }
    }

    /// The nursery heater: hysteresis around the setpoint on the trusted water temperature (OFF while the sensor is
    /// bad), at most `heaterMaxOn` in one go, then a rest of `heaterRest` with alarm `heater_max_on`.
    private mutating func heat(_ temperature: Double?, now: Double) {
        guard let setpoint = config.heaterSetpointC else { return }
        guard let temperature else {
            switchHeater(false, now: now)
            return
        }
        if heaterOn, let since = heaterOnSince, now - since >= config.heaterMaxOn - 1e-6 {
            switchHeater(false, now: now)
            heaterRestUntil = now + config.heaterRest
            heaterTimeouts += 1
            alarms.raise("heater_max_on", .alarm,
                         "heater on for \(Int(config.heaterMaxOn / 60)) min without bringing the water to "
                         + "\(Self.format(setpoint + config.heaterBandC)) °C (now \(Self.format(temperature)) °C); "
                         + "resting \(Int(config.heaterRest / 60)) min", now: now)
            return
        }
        if temperature < setpoint - config.heaterBandC, now >= heaterRestUntil {
            switchHeater(true, now: now)
        } else if temperature > setpoint + config.heaterBandC {
            switchHeater(false, now: now)
            alarms.clear("heater_max_on", now: now)
        }
    }

    private mutating func switchHeater(_ on: Bool, now: Double) {
        guard on != heaterOn else { return }
        heaterOn = on
        heaterOnSince = on ? now : nil
        if on { heaterCycles += 1 }
    }

    /// The grow lamp's photoperiod (kept in the safe state too: light harms nothing).
    private mutating func light(now: Double) {
        guard let photoperiod = config.photoperiod else { return }
        lightOn = photoperiod.contains(hour: hourOfDay(now))
    }

    /// Water exchange on ammonia or salinity; held (left as it is) while a sensor it needs is bad.
    private mutating func exchange(nh3: Double?, salinity: Double?, nh3Trusted: Bool, now: Double) {
        guard let nh3, let salinity, nh3Trusted else { return }
        let salinityOut = !config.salinityPpt.contains(salinity)
        if nh3 > config.nh3MaxMgL || salinityOut {
            if !exchangeOn {
                exchangeOn = true
                exchangeOnSince = now
            }
        } else if exchangeOn, nh3 < 0.8 * config.nh3MaxMgL,
                  now - (exchangeOnSince ?? -Double.infinity) >= config.exchangeMinRun - 1e-6 {
            exchangeOn = false
            exchangeOnSince = nil
        }
        alarms.set("nh3_high", nh3 > config.nh3MaxMgL, .warning,
                   "un-ionised ammonia \(Self.format(nh3)) mg/L above \(config.nh3MaxMgL) mg/L: exchanging water", now: now)
    }

    private mutating func enterSafeState(now: Double) {
        inSafeState = true
        feederOn = false
        switchHeater(false, now: now)
        if !aeratorsOn {
            aeratorsOn = true
            aeratorOnSince = now
            aeratorStarts += 1
        }
    }

    /// Integrates relay run times up to `now`.
    private mutating func accumulate(now: Double) {
        if let last = lastSampleAt, now > last {
            let dt = now - last
            if aeratorsOn { aeratorSeconds += dt }
            if exchangeOn { exchangeSeconds += dt }
            if feederOn { feederSeconds += dt }
            if heaterOn { heaterSeconds += dt }
            if lightOn { lightSeconds += dt }
        }
        lastSampleAt = now
    }

    private mutating func record(_ s: Snapshot) {
        loggedSamples += 1
        var values: [String: Double] = [:]
        for (spec, reading) in zip(AquaSondeProfile.channels, s.channels) {
            if let v = reading.value { values[spec.name] = v }
        }
        lastLogged = values
    }

    // MARK: Requests and results

    public mutating func apply(_ request: OperatorRequest, now: Double) throws(CommandRejection) {
        switch request {
        case .set(let name, let value):
            try validatedSetting(name, value)
            var changed = config
            switch name {
            case "aerator_on_below_mgl": changed.aeratorOnBelowMgL = value
            case "aerator_off_above_mgl": changed.aeratorOffAboveMgL = value
            case "nh3_max_mgl": changed.nh3MaxMgL = value
            case "heater_setpoint_c": changed.heaterSetpointC = value
            default: break  // `validatedSetting` accepted only the settings above
            }
            if let problem = changed.problems().first {
                throw CommandRejection("\(name) = \(value) rejected: \(problem.key) \(problem.message)")
            }
            config = changed
        case .startRun, .stopRun:
            throw CommandRejection("an aquaculture station runs continuously; it has no runs to start or stop")
        case .acknowledge(let code, let by):
            try acknowledgeAlarm(code, by: by, now: now)
        }
    }

    public func results() -> [String: ReportValue] {
        let nights: [ReportValue] = nightMinimum.keys.sorted().map { n in
            let (least, at) = nightMinimum[n]!
            return .object(["night": .number(Double(n)), "do_min_mgl": .number(least),
                            "at_s": .number(at), "at_hour": .number(hourOfDay(at))])
        }
        let bad = checks.filter { !$0.value.isTrusted }.keys.sorted()
            .map { ReportValue.string(AquaSondeProfile.channels[$0].name) }
        var out: [String: ReportValue] = [
            "logged_samples": .number(Double(loggedSamples)),
            "do_min_per_night": .array(nights),
            "aerator_hours": .number(aeratorSeconds / 3600),
            "aerator_starts": .number(Double(aeratorStarts)),
            "aerator_shortest_run_min": shortestAeratorRun.map { .number($0 / 60) } ?? .null,
            "exchange_hours": .number(exchangeSeconds / 3600),
            "feeder_minutes": .number(feederSeconds / 60),
            "feedings_inhibited": .number(Double(feedingsInhibited)),
            "safe_state": .bool(inSafeState),
            "bad_channels": .array(bad),
            "relays": .object(Dictionary(uniqueKeysWithValues: zip(relayNames, relays.map { ReportValue.bool($0) }))),
        ]
        if config.heaterSetpointC != nil {
            out["heater_hours"] = .number(heaterSeconds / 3600)
            out["heater_cycles"] = .number(Double(heaterCycles))
            out["heater_timeouts"] = .number(Double(heaterTimeouts))
        }
        if config.photoperiod != nil { out["light_hours"] = .number(lightSeconds / 3600) }
        return out
    }

    private static func format(_ value: Double) -> String {
        let scaled = (value * 100).rounded() / 100
        return String(describing: scaled)
    }
}
