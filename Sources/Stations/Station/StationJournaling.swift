import Control
import Foundation
import Logging

/// What a station logs and hands to its recorder besides samples: events, alarm changes, and each run's start and
/// end. Times go out as Unix time (station clock + `epoch`).
///
/// - Important: Confined to the station's thread.
struct StationJournaling {
    private let station: String
    private let logger: Logger
    var recorder: (any StationJournal)?
    /// Unix time of the station clock's zero.
    var epoch = 0.0
    /// Runs this station had before a reload restarted it: the first run of this station object is the next number.
    var runsBefore = 0
    /// The outcome of each run as last logged and recorded.
    private var loggedRuns: [RunOutcome] = []

    init(station: String, logger: Logger) {
        self.station = station
        self.logger = logger
    }

    /// Unix time of a station-clock time.
    func unix(_ t: Double) -> Double { t + epoch }

    func event(_ kind: String, _ message: String, actor: String? = nil, now: Double) {
        recorder?.record(.event(station: station, t: unix(now), kind: kind, message: message, actor: actor))
    }

    /// Records a finished calibration.
    func calibration(_ record: CalibrationRecord) {
        recorder?.record(.calibration(record))
    }

    /// Logs and records alarm changes. Returns whether there were any.
    func alarmChanges(_ changes: [AlarmChange], now: Double) -> Bool {
        for change in changes {
            switch change {
            case .raised(let a):
                logger.log(level: a.severity == .warning ? .warning : .error,
                           "station \(station): ALARM \(a.code) raised (\(a.severity.rawValue)): \(a.message)")
                recorder?.record(.alarmRaised(station: station, alarm: a, t: unix(a.raisedAt)))
            case .cleared(let a):
                logger.notice("station \(station): alarm \(a.code) cleared")
                recorder?.record(.alarmCleared(station: station, code: a.code, t: unix(a.clearedAt ?? now)))
            case .acknowledged(let a):
                let by = a.acknowledgedBy ?? "?"
                logger.notice("station \(station): alarm \(a.code) acknowledged by \(by)")
                recorder?.record(.alarmAcknowledged(station: station, code: a.code, by: by,
                                                    t: unix(a.acknowledgedAt ?? now)))
            }
        }
        return !changes.isEmpty
    }

    /// Logs and records each run's start and end (a run may start and end between two looks); `summary` gives a
    /// completed run's figures. Returns whether anything changed.
    mutating func runChanges(_ runs: [RunRecord], now: Double, summary: (RunRecord) -> String) -> Bool {
        guard runs.count != loggedRuns.count || runs.last?.outcome != loggedRuns.last else { return false }
        for (i, run) in runs.enumerated() {
            let number = runsBefore + i + 1
            if i >= loggedRuns.count {
                loggedRuns.append(.running)
                logger.notice("station \(station): run \(number) started with recipe \"\(run.recipe)\"")
                recorder?.record(.runStarted(station: station, number: number, recipe: run.recipe,
                                             t: unix(run.startedAt)))
            }
            guard run.outcome != loggedRuns[i] else { continue }
            loggedRuns[i] = run.outcome
            switch run.outcome {
            case .running:
                continue
            case .completed:
                let figures = summary(run)
                logger.notice("station \(station): run \(number) completed\(figures.isEmpty ? " (no results)" : ": \(figures)")")
            case .aborted:
                logger.error("station \(station): run \(number) ABORTED: \(run.reason ?? "no reason recorded")")
            }
            let results = (try? StationStatus.encoder().encode(run.results)).flatMap { String(data: $0, encoding: .utf8) }
            recorder?.record(.runEnded(station: station, number: number, outcome: run.outcome.rawValue,
                                       reason: run.reason, t: unix(run.endedAt ?? now), results: results ?? "{}"))
        }
        return true
    }
}
