import Control
import Devices

/// The test bioreactor's host control (layer 3 of 4: Control): proportional base dosing up to a pH setpoint,
/// proportional air to a DO setpoint; the safe state when the device is unavailable.
struct BioreactorController: StationController {
    typealias Profile = BioreactorProfile

    /// Its `[station.control]` keys, read by the shared table-driven reader (no reader code in the descriptor).
    struct Config: ControlSettings, Equatable {
        var phSetpoint = 7.0
        var doSetpointPct = 30.0
        static let phLimits: ClosedRange<Double> = 5...9
        static let keys: [ControlKey<Config>] = [
            .number("ph_setpoint", "pH", \.phSetpoint, phLimits),
            .number("do_setpoint_pct", "%", \.doSetpointPct, 5...90),
        ]
    }

    let loops = [LoopSpec(name: "control", period: .milliseconds(500))]
    var alarms = AlarmBook()
    var config: Config
    var safeCommands: Profile.Commands { .safe }
    var settings: [SettingSpec] { [SettingSpec("ph_setpoint", unit: "pH", limits: Config.phLimits, value: config.phSetpoint)] }
    private var lastPH: Double?

    init(config: Config) {
        self.config = config
    }

    mutating func step(loop: Int, tick: LoopTick, input: DeviceInput<Profile.Snapshot>,
                       host: HostSignals) -> StepOutput<Profile.Commands> {
        // The shared prologue: the loss alarm, the host E-stop line and the device's watchdog.
        guard case let (s, facts)? = alarms.checkDevice(input, host: host, DeviceChecks(noun: "bioreactor"),
                                                        now: tick.now),
              !facts.estop, let ph = s.channels[0].value, let dissolved = s.channels[1].value else {
            return StepOutput(commands: .safe)
        }
        lastPH = ph
        let pump = min(100, max(0, 400 * (config.phSetpoint - ph)))
        let air = min(100, max(0, 5 * (config.doSetpointPct - dissolved)))
        return StepOutput(commands: .init(basePumpPercent: Float(pump), airPercent: Float(air)),
                          resetDeviceFaults: facts.resetDevice)
    }

    mutating func apply(_ request: OperatorRequest, now: Double) throws(CommandRejection) {
        switch request {
        case .set(let name, let value):
            try validatedSetting(name, value)  // ph_setpoint, its only setting
            config.phSetpoint = value
        case .acknowledge(let code, let user):
            try acknowledgeAlarm(code, by: user, now: now)
        case .startRun, .stopRun:
            throw CommandRejection("the test bioreactor has no runs")
        }
    }

    func results() -> [String: ReportValue] {
        ["ph_setpoint": .number(config.phSetpoint), "final_ph": ReportValue(lastPH)]
    }
}
