import Control
import Devices
import Locking

/// What a station shows: its status for the API, dashboard and metrics (published under a lock for other threads),
/// its channel statistics for the run report, and its samples for the data log, each at its own interval.
///
/// - Important: `status()` is safe from any thread; everything else is confined to the station's thread.
final class StationPublisher: @unchecked Sendable {
    /// Seconds of station clock between status publications (channel values for the API and metrics).
    static var publishInterval: Double { 0.1 }
    /// Seconds of station clock between refreshes of the controller's results in the status.
    static var resultsInterval: Double { 1 }

    private let station: String
    private let channelSpecs: [ChannelSpec]
    private(set) var channelStats: [ChannelStatistics]
    /// What `status()` shows besides the live counters, published by the station's thread.
    private let published: Locked<StationStatus>
    /// The loops' statistics, for `status()` from other threads.
    let loopStatistics = Locked<[LoopStatistics]>([])
    var recorder: (any StationJournal)?
    /// Unix time of the station clock's zero.
    var epoch = 0.0
    /// Runs the station had before a reload restarted it (the status numbers runs on from there).
    var runsBefore = 0
    /// Seconds of station clock between recorded samples.
    var recordInterval = 1.0
    /// Seconds between status lines in the log; 0 for none.
    private let statusInterval: Double
    private var lastRecordAt = -Double.infinity
    /// The settings as last recorded.
    private var lastSettings: [String: Double] = [:]
    private var lastPublishAt = -Double.infinity
    private var lastResultsAt = -Double.infinity
    private var lastStatusAt = -Double.infinity

    init(initial: StationStatus, channels: [ChannelSpec], statusInterval: Double) {
        station = initial.name
        channelSpecs = channels
        channelStats = channels.map { ChannelStatistics(spec: $0) }
        published = Locked(initial)
        self.statusInterval = statusInterval
    }

    private func unix(_ t: Double) -> Double { t + epoch }

    /// Adds a read's values to the channel statistics of the run report: the channels the read refreshed (`fresh`, by
    /// index; nil: all), so that a channel's statistics are over its readings, not over the ticks of loops that
    /// handed on its last reading.
    func count(_ snapshot: some DeviceSnapshot, fresh: Set<Int>?) {
        for (i, reading) in snapshot.channels.enumerated() where i < channelStats.count {
            if let fresh, !fresh.contains(i) { continue }
            channelStats[i].record(reading)
        }
    }

    /// Records the channels every `recordInterval` and refreshes the published values every `publishInterval`.
    /// Returns whether it recorded.
    @discardableResult
    func recordAndPublish(_ snapshot: some DeviceSnapshot, now: Double) -> Bool {
        let dueRecord = recorder != nil && now - lastRecordAt >= recordInterval - 1e-9
        let duePublish = now - lastPublishAt >= Self.publishInterval
        guard dueRecord || duePublish else { return false }
        let channels = zip(channelSpecs, snapshot.channels).map { spec, reading in
            StationStatus.Channel(name: spec.name, unit: spec.unit, value: reading.value,
                                  quality: reading.quality.rawValue)
        }
        if dueRecord {
            lastRecordAt = now
            recorder?.record(.samples(station: station, t: unix(now), channels: channels))
        }
        if duePublish {
            let status = snapshot.header.status.names
            published.withLock { s in
                s.channels = channels
                s.deviceStatus = status
            }
        }
        return dueRecord
    }

    /// Records the settings that changed since the last call (all of them the first time).
    func recordSettings(_ settings: [SettingSpec], now: Double) {
        guard let recorder else { return }
        var changed: [StationStatus.Channel] = []
        for setting in settings {
            guard let value = setting.value, lastSettings[setting.name] != value else { continue }
            lastSettings[setting.name] = value
            changed.append(StationStatus.Channel(name: setting.name, unit: setting.unit, value: value, quality: 0))
        }
        if !changed.isEmpty { recorder.record(.settings(station: station, t: unix(now), values: changed)) }
    }

    /// Records a sample of the controller's logged series (whatever the record interval).
    func recordLogged(_ snapshot: some DeviceSnapshot, now: Double) {
        guard let recorder else { return }
        let channels = zip(channelSpecs, snapshot.channels).map { spec, reading in
            StationStatus.Channel(name: spec.name, unit: spec.unit, value: reading.value,
                                  quality: reading.quality.rawValue)
        }
        recorder.record(.loggedSamples(station: station, t: unix(now), channels: channels))
    }

    func markUpdated(now: Double) {
        let updated = unix(now)
        published.withLock { $0.updatedAt = updated }
    }

    /// The outputs in hand mode (times in station clock seconds), at once.
    func setHand(_ holds: [StationStatus.Hand]) {
        let shown = holds.map { h in
            var h = h
            h.since = unix(h.since)
            h.until = unix(h.until)
            return h
        }
        published.withLock { $0.hand = shown }
    }

    /// The calibration status, at once (times already Unix seconds).
    func setCalibration(_ status: CalibrationStatus) {
        published.withLock { $0.calibration = status }
    }

    /// What may be put in hand mode, and for how long at most.
    func setHandOutputs(_ outputs: [StationStatus.HandOutput], maxSeconds: Double) {
        published.withLock { s in
            s.handOutputs = outputs
            s.handMaxS = maxSeconds
        }
    }

    /// Each loop's read plan as the API shows it (`read_plan`), once the device's channels are known.
    func setReadPlan(_ lines: [String]) {
        published.withLock { $0.readPlan = lines }
    }

    /// What the API shows must not pass for current: the values are unknown until a read succeeds again.
    func markValuesUnknown() {
        published.withLock { s in
            for i in s.channels.indices {
                s.channels[i].value = nil
                s.channels[i].quality = ChannelQuality.notAvailable.rawValue
            }
        }
    }

    /// Whether the status line is due (and if so, it is counted as written).
    func statusLineDue(now: Double) -> Bool {
        guard statusInterval > 0, now - lastStatusAt >= statusInterval else { return false }
        lastStatusAt = now
        return true
    }

    /// Whether the state is due for publication: something changed, or `publishInterval` passed.
    func stateDue(now: Double, changed: Bool) -> Bool {
        changed || now - lastPublishAt >= Self.publishInterval
    }

    /// Whether the controller's results (and phase) are due again in the published status.
    func resultsDue(now: Double) -> Bool {
        now - lastResultsAt >= Self.resultsInterval
    }

    /// Publishes alarms, the run and the relays for `status()`; with `results`, the results and the phase too.
    func publishState(now: Double, alarms active: [Alarm], runs: [RunRecord], results: [String: ReportValue]?,
                      settings: [StationStatus.Setting]? = nil, phase: String?, relays: [String: Bool?]) {
        lastPublishAt = now
        if results != nil { lastResultsAt = now }
        let alarms = active.map { a in
            StationStatus.Alarm(code: a.code, severity: a.severity.rawValue, message: a.message,
                                raisedAt: unix(a.raisedAt), acknowledgedAt: a.acknowledgedAt.map(unix),
                                acknowledgedBy: a.acknowledgedBy)
        }
        let run = runs.last.map { r in
            StationStatus.Run(number: runsBefore + runs.count, recipe: r.recipe, outcome: r.outcome.rawValue, reason: r.reason,
                              startedAt: unix(r.startedAt), endedAt: r.endedAt.map(unix), results: r.results)
        }
        let updated = unix(now)
        published.withLock { s in
            s.alarms = alarms
            s.run = run
            if let results {
                s.results = results
                s.phase = phase
            }
            if let settings { s.settings = settings }
            s.relays = relays
            s.updatedAt = updated
        }
    }

    /// The station as the API shows it, with the live link counters.
    func status(link: LinkCounters, transactions: UInt64) -> StationStatus {
        var s = published.withLock { $0 }
        s.link = StationStatus.Link(up: link.linkUp, transactions: transactions, linkErrors: link.linkErrors,
                                    transactionErrors: link.transactionErrors, errorsByKind: link.errorsByKind,
                                    reconnects: link.reconnects, lastError: link.lastError)
        s.loops = loopStatistics.withLock { $0 }.map { statistics in
            let l = statistics.snapshot()
            return StationStatus.Loop(name: l.name, periodS: l.period, ticks: l.ticks, overruns: l.overruns,
                                      missedDeadlines: l.missedDeadlines,
                                      latenessP50S: l.lateness(atPercentile: 50),
                                      latenessP99S: l.lateness(atPercentile: 99), latenessMaxS: l.maxLateness)
        }
        return s
    }
}
