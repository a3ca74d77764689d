import Devices

/// Settings of the stream station's host control (docs/register-contract.md §D).
public struct StreamControlConfig: ControlSettings, Equatable {
    /// Seconds between readings (storm detection and loads run on every one).
    public var sampleEvery = 60.0
    /// Logged sample interval outside and inside a storm event, s (the paper's 15 → 5 min).
    public var logEvery = 900.0
    public var logEveryInEvent = 300.0
    /// The autosampler fills a bottle when an event starts and then this often while it lasts, s.
    public var autosamplerEvery = 3600.0
    /// The paper's storm-event rule.
    public var stormThresholdMmH = 0.5
    public var stormMaxBreak = 7200.0
    /// Watershed area for yields, ha (the paper's 89 km²).
    public var areaHa = 8900.0
    /// Day of the year at time 0 (seasons and years count from it).
    public var startDayOfYear = 0.0

    public init() {}

    public static let keys: [ControlKey<StreamControlConfig>] = [
        .number("sample_every_s", "s", \.sampleEvery, 1...3600),
        .number("log_every_s", "s", \.logEvery, 1...86400),
        .number("log_every_event_s", "s", \.logEveryInEvent, 1...86400),
        .number("autosampler_every_min", "min", \.autosamplerEvery, 1...1440, scale: .minutes),
        .number("area_ha", "ha", \.areaHa, 1...10_000_000),
        .number("start_day_of_year", "d", \.startDayOfYear, 0...364),
    ]
}

/// The stream station's host control: storm events by the paper's rule, event-triggered sampling (15 → 5 min and
/// the autosampler), running loads and flow-weighted mean concentrations per season and per year next to the
/// arithmetic means. Safe state: the autosampler trigger low.
public struct StreamStationController: StationController {
    public typealias Profile = StreamStationProfile
    public typealias Snapshot = StreamStationProfile.Snapshot
    public typealias Commands = StreamStationProfile.Commands

    /// The nutrients loads are kept for, with their channels.
    static let nutrients: [(name: String, channel: StreamStationProfile.Channel)] = [
        ("no3", .no3), ("srp", .srp), ("tp", .tp),
    ]

    /// A logger with nothing to stop: a lost station is an alarm, not a trip; no E-stop, no watchdog of its own.
    static let checks = DeviceChecks(noun: "station", lossSeverity: .alarm, hostEstop: false, deviceWatchdog: false)
    public let loops: [LoopSpec]
    public var alarms = AlarmBook()
    public let config: StreamControlConfig
    public var safeCommands: Commands { .safe }
    public var settings: [SettingSpec] { [] }

    public private(set) var detector: StormEventDetector
    /// Accounts by period ("year 1", "year 1 winter") and nutrient.
    public private(set) var accounts: [String: [String: LoadAccount]] = [:]
    private var periodOrder: [String] = []
    public private(set) var loggedSamples = 0
    public private(set) var autosamples = 0
    private var nextLogAt = 0.0
    private var nextAutosampleAt: Double?
    private var trigger = false

    public init(config: StreamControlConfig = StreamControlConfig()) {
        self.config = config
        loops = [LoopSpec(name: "sample", period: .milliseconds(Int64((config.sampleEvery * 1000).rounded())))]
        detector = StormEventDetector(thresholdMmH: config.stormThresholdMmH, maxBreak: config.stormMaxBreak)
        nextLogAt = config.logEvery
    }

    /// Year (from 1) and season of plant time `now`.
    public func period(_ now: Double) -> (year: Int, season: Season) {
        let days = config.startDayOfYear + now / 86400
        let year = Int((days / 365).rounded(.down))
        return (year + 1, Season.of(dayOfYear: days - Double(year) * 365))
    }

    public mutating func step(loop: Int, tick: LoopTick, input: DeviceInput<Snapshot>,
                              host: HostSignals) -> StepOutput<Commands> {
        let now = tick.now
        guard case let (s, _)? = alarms.checkDevice(input, host: host, Self.checks, now: now) else {
            trigger = false
            return StepOutput(commands: .safe)
        }
        // A trigger pulse lasts one reading.
        if trigger {
            trigger = false
            return StepOutput(commands: Commands(trigger: false))
        }
        guard let rain = s[.rain].value, let discharge = s[.discharge].value else {
            alarms.raise("sensor_fault", .warning, "rain or discharge reading failed: events and loads paused",
                         now: now)
            return StepOutput(commands: Commands(trigger: false))
        }
        alarms.clear("sensor_fault", now: now)
        let wasInEvent = detector.inEvent
        detector.add(now: now, rainMmH: rain, dischargeM3s: discharge, dt: config.sampleEvery)
        let (year, season) = period(now)
        let keys = ["year \(year)", "year \(year) \(season.rawValue)"]
        for key in keys where accounts[key] == nil {
            accounts[key] = [:]
            periodOrder.append(key)
        }
        for nutrient in Self.nutrients {
            guard let c = s[nutrient.channel].value else { continue }
            for key in keys {
                accounts[key]![nutrient.name, default: LoadAccount()].add(concentrationMgL: c, dischargeM3s: discharge,
                                                                           dt: config.sampleEvery)
            }
        }
        // Event-triggered sampling.
        if detector.inEvent, !wasInEvent {
            fire()
            nextAutosampleAt = now + config.autosamplerEvery
            nextLogAt = min(nextLogAt, now)
        } else if detector.inEvent, let at = nextAutosampleAt, now >= at - 1e-9 {
            fire()
            nextAutosampleAt = at + config.autosamplerEvery
        }
        if !detector.inEvent { nextAutosampleAt = nil }
        var logged = false
        if now >= nextLogAt - 1e-9 {
            loggedSamples += 1
            logged = true
            nextLogAt = now + (detector.inEvent ? config.logEveryInEvent : config.logEvery)
        }
        alarms.set("storm_event", detector.inEvent, .warning, "storm event in progress: sampling every "
                   + "\(Int(config.logEveryInEvent / 60)) min", now: now)
        return StepOutput(commands: Commands(trigger: trigger), logged: logged)
    }

    private mutating func fire() {
        trigger = true
        autosamples += 1
    }

    public mutating func apply(_ request: OperatorRequest, now: Double) throws(CommandRejection) {
        switch request {
        case .acknowledge(let code, let by):
            try acknowledgeAlarm(code, by: by, now: now)
        case .set(let name, let value):
            try validatedSetting(name, value)
        case .startRun, .stopRun:
            throw CommandRejection("the stream station records continuously; it has no runs")
        }
    }

    public func results() -> [String: ReportValue] {
        let events: [ReportValue] = detector.events.map { e in
            .object(["start_s": .number(e.start), "end_s": ReportValue(e.end), "rain_mm": .number(e.totalRainMm),
                     "flow_m3": .number(e.totalFlowM3), "peak_m3s": .number(e.peakDischargeM3s)])
        }
        var periods: [String: ReportValue] = [:]
        for key in periodOrder {
            var entry: [String: ReportValue] = [:]
            for (name, account) in accounts[key] ?? [:] {
                entry[name] = .object(["load_kg": .number(account.loadKg),
                                       "yield_kg_ha": .number(account.yieldKgPerHa(areaHa: config.areaHa)),
                                       "fwmc_mgl": .number(account.fwmcMgL),
                                       "mean_mgl": .number(account.arithmeticMeanMgL),
                                       "samples": .number(Double(account.samples))])
            }
            periods[key] = .object(entry)
        }
        return ["storm_events": .array(events), "event_count": .number(Double(detector.events.count)),
                "loads": .object(periods), "logged_samples": .number(Double(loggedSamples)),
                "autosamples": .number(Double(autosamples)), "area_ha": .number(config.areaHa)]
    }
}
