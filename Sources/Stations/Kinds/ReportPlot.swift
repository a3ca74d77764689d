/// One plot a person wants first when looking at a recorded run of a kind (`rigd report`, `rigd view`): the kind's
/// descriptor chooses them (`StationKind.reportPlots`); the report draws each from the recording.
package struct ReportPlot: Sendable, Equatable {
    /// A horizontal line: a limit or threshold the controller works to.
    package struct Line: Sendable, Equatable {
        package var label: String
        package var value: Double
        package init(_ label: String, _ value: Double) {
            self.label = label
            self.value = value
        }
    }

    package var title: String
    /// The channels drawn (those the recording lacks are left out; a plot with none is not drawn).
    package var channels: [String]
    /// The controller's settings drawn as steps where they changed (a heat rig's setpoint), from the recording.
    package var settings: [String]
    package var lines: [Line]
    /// Shaded while a relay whose name starts with this is on (a pond's `aerator-`), from the recording's relay events.
    package var shadeRelay: String?
    /// Shaded while this alarm is active (a stream's `storm_event`).
    package var shadeAlarm: String?
    /// Marked where these alarms were raised (a mill's `torque_overload` and `tool_broken`).
    package var markAlarms: [String]
    /// Draw the controller's logged series of the channels (not the regular samples), over the last completed run's
    /// span of it: an MSD's free decay at 50 Hz.
    package var logged = false
    /// With `logged`: the envelope ±A·exp(−ζ·2π·f_n·(t − t₀)) of the run's fit (results `fn_hz`, `zeta`), A the
    /// largest displacement in the first cycle.
    package var decayEnvelope = false

    package init(_ title: String, channels: [String], settings: [String] = [], lines: [Line] = [],
                 shadeRelay: String? = nil, shadeAlarm: String? = nil, markAlarms: [String] = [], logged: Bool = false,
                 decayEnvelope: Bool = false) {
        self.logged = logged
        self.decayEnvelope = decayEnvelope
        self.title = title
        self.channels = channels
        self.settings = settings
        self.lines = lines
        self.shadeRelay = shadeRelay
        self.shadeAlarm = shadeAlarm
        self.markAlarms = markAlarms
    }
}
