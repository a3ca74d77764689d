import Control
import Devices

/// The test bioreactor's host control (layer 3 of 4: Control): proportional base dosing up to a pH setpoint,
/// proportional air to a DO setpoint; the safe state when the device is unavailable.
struct BioreactorController: StationController {
    typealias Profile = BioreactorProfile

    struct Config: Sendable, Equatable {
        var phSetpoint = 7.0
        var doSetpointPct = 30.0
        static let phLimits: ClosedRange<Double> = 5...9
    }

    let loops = [LoopSpec(name: "control", period: .milliseconds(500))]
    var alarms = AlarmBook()
    var config: Config
    var safeCommands: Profile.Commands { .safe }
    var settings: [SettingSpec] { [SettingSpec("ph_setpoint", unit: "", limits: Config.phLimits)] }
    private var lastPH: Double?

    init(config: Config) {
        self.config = config
    }

    mutating func step(loop: Int, tick: LoopTick, input: DeviceInput<Profile.Snapshot>,
                       host: HostSignals) -> StepOutput<Profile.Commands> {
        guard case .snapshot(let s) = input, let ph = s.channels[0].value, let dissolved = s.channels[1].value else {
            alarms.raise("device_unavailable", .trip, "device not answering", now: tick.now)
            return StepOutput(commands: .safe)
        }
        alarms.clear("device_unavailable", now: tick.now)
        lastPH = ph
        let pump = min(100, max(0, 400 * (config.phSetpoint - ph)))
        let air = min(100, max(0, 5 * (config.doSetpointPct - dissolved)))
        return StepOutput(commands: .init(basePumpPercent: Float(pump), airPercent: Float(air)))
    }

    mutating func apply(_ request: OperatorRequest, now: Double) throws(CommandRejection) {
        switch request {
        case .set("ph_setpoint", let value):
            try settings[0].validate(value)
            config.phSetpoint = value
        case .acknowledge(let code, let user):
            try acknowledgeAlarm(code, by: user, now: now)
        default:
            throw CommandRejection("the test bioreactor takes only ph_setpoint")
        }
    }

    func results() -> [String: ReportValue] {
        ["ph_setpoint": .number(config.phSetpoint), "final_ph": ReportValue(lastPH)]
    }
}
