import Control

/// What a station records besides its log: samples, events, alarms and runs, for the data log. The daemon's
/// `Recorder` is one; a station without one records nothing.
package protocol StationJournal: Sendable {
    /// Hands a record over without blocking the station's loop.
    func record(_ record: JournalRecord)
}

/// One thing a station measured or decided, with its Unix time.
package enum JournalRecord: Sendable {
    case samples(station: String, t: Double, channels: [StationStatus.Channel])
    /// A sample of the controller's logged series (`StepOutput.logged`), stored apart from the regular samples.
    case loggedSamples(station: String, t: Double, channels: [StationStatus.Channel])
    /// The controller's settings (a heat rig's setpoint as its ramp moves it) that changed since the last record, at the
    /// record cadence (`quality` unused).
    case settings(station: String, t: Double, values: [StationStatus.Channel])
    /// `actor`: who asked for what the event records (a token's name), nil for what rigd did by itself.
    case event(station: String?, t: Double, kind: String, message: String, actor: String? = nil)
    case alarmRaised(station: String, alarm: Alarm, t: Double)
    case alarmAcknowledged(station: String, code: String, by: String, t: Double)
    case alarmCleared(station: String, code: String, t: Double)
    case runStarted(station: String, number: Int, recipe: String, t: Double)
    case runEnded(station: String, number: Int, outcome: String, reason: String?, t: Double, results: String)
    /// A finished probe calibration (its own time inside).
    case calibration(CalibrationRecord)
    /// A station stopped while rigd runs on (a configuration reload): its running run is recorded as aborted and its
    /// open alarms as cleared, with `reason`.
    case stationStopped(station: String, t: Double, reason: String)
}
