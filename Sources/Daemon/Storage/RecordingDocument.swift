import Control
import Foundation
import GRDB
import Stations

/// What `rigd report` and `rigd view` draw from a recording (or any data log): per station, the plots its kind's
/// descriptor chooses (`StationKind.reportPlots`), each series downsampled to at most `points` buckets that keep the
/// bucket's min and max (a peak is never averaged away), the shading and marks the plot asks for, the runs and alarms;
/// and the whole log's alarm timeline. `recording.js` renders it.
package struct RecordingDocument: Encodable, Sendable {
    package struct Series: Encodable, Sendable {
        var channel: String
        var unit: String
        /// Bucket middles, Unix seconds; min, max and mean of the samples in the bucket (nil: only faults there).
        var t: [Double] = []
        var min: [Double?] = []
        var max: [Double?] = []
        var mean: [Double?] = []
        /// Samples in the recording (before downsampling).
        var samples = 0
        /// A setting: a step line, each value held until the next.
        var step = false
    }

    package struct Interval: Encodable, Sendable {
        var from: Double
        var to: Double
    }

    package struct Mark: Encodable, Sendable {
        var t: Double
        var label: String
    }

    package struct Plot: Encodable, Sendable {
        var title: String
        /// The plot's own time span (a logged decay of a few seconds); nil: the whole log's.
        var from: Double?
        var to: Double?
        var series: [Series]
        var lines: [Line]
        var shadeLabel: String?
        var shades: [Interval]
        var marks: [Mark]
    }

    package struct Line: Encodable, Sendable {
        var label: String
        var value: Double
    }

    package struct Station: Encodable, Sendable {
        var name: String
        var kind: String?
        /// How the kind is known: "recorded" (a virtual run's recording names it), "channels" (matched from the
        /// recorded channels), nil: unknown (every channel is drawn on its own).
        var kindFrom: String?
        var plots: [Plot]
        var runs: [LogQueries.RunEntry]
        var alarms: [LogQueries.AlarmEntry]
        /// The station's events in order, the first `eventLimit` (the viewer only; nil in a report).
        var events: [LogQueries.EventEntry]?
        var eventsTotal: Int?
    }

    /// The most events a station shows in the viewer (CSV has them all).
    static let eventLimit = 5000

    package struct RunInfo: Encodable, Sendable {
        var clock: String
        var seed: UInt64
        var durationS: Double
        var recordIntervalS: Double
        var configuration: String
        var rigdVersion: String
        /// The run did not end: the recording was cut short (kill -9, power), and holds what was committed.
        var cutShort: Bool
        var interrupted: Bool
        var report: ReportValue?
    }

    var title: String
    var source: String
    var from: Double
    var to: Double
    var run: RunInfo?
    /// The buckets' width, s, and how many at most per series.
    var bucketS: Double
    var points: Int
    var note: String
    var stations: [Station]
    /// Every alarm of the log, in the order raised.
    var alarms: [LogQueries.AlarmEntry]
    /// Whether the page may offer CSV downloads (`rigd view` serves them; a report file has no server).
    var exports: Bool

    package enum BuildError: Error, CustomStringConvertible {
        case empty(String)
        package var description: String {
            switch self {
            case .empty(let source): "\(source) holds no samples, events, runs or alarms: nothing to show"
            }
        }
    }

    /// Builds the document. `allChannels`: after the kind's plots, every other recorded channel on its own (the
    /// viewer); otherwise only the kind's choice (the report to mail).
    package static func build(_ db: Database, source: String, points: Int, allChannels: Bool, exports: Bool,
                              registry: KindRegistry = .builtIn) throws -> RecordingDocument {
        let info = try Recording.info(db)
        guard let span = try Recording.span(db, info: info) else { throw BuildError.empty(source) }
        let known = try LogQueries.knownStations(db)
        let names = (info?.stations.map(\.name) ?? []) + known.filter { name in info?.kind(of: name) == nil }
        var stations: [Station] = []
        var bucket = 0.0
        for name in names {
            let channels = try LogQueries.channels(db, station: name)
            var kind: (any StationKind.Type)?
            var kindFrom: String?
            if let recorded = info?.kind(of: name), let k = registry.kind(named: recorded) {
                (kind, kindFrom) = (k, "recorded")
            } else if !channels.isEmpty, let k = registry.kinds.first(where: { k in
                Set(channels.map(\.name)).isSubset(of: Set(k.channelSpecs.map(\.name)))
            }) {
                (kind, kindFrom) = (k, "channels")
            }
            let recorded = Set(channels.map(\.name))
            var chosen: [ReportPlot] = (kind?.reportPlots ?? [])
                .map { plot in
                    var plot = plot
                    plot.channels = plot.channels.filter(recorded.contains)
                    return plot
                }
                .filter { !$0.channels.isEmpty }
            if allChannels || chosen.isEmpty {
                let drawn = Set(chosen.flatMap(\.channels))
                chosen += channels.filter { !drawn.contains($0.name) }
                    .map { ReportPlot("\($0.name) (\($0.unit))", channels: [$0.name]) }
            }
            var plots: [Plot] = []
            let runs = try LogQueries.runs(db, station: name, from: -.greatestFiniteMagnitude,
                                           to: .greatestFiniteMagnitude, limit: 100_000)
                .sorted { $0.startedAt < $1.startedAt }
            let alarms = try LogQueries.alarms(db, station: name, from: -.greatestFiniteMagnitude,
                                               to: .greatestFiniteMagnitude, activeOnly: false, limit: 100_000)
                .sorted { $0.raisedAt < $1.raisedAt }
            for plot in chosen where plot.logged {
                if let drawn = try loggedPlot(db, station: name, plot: plot, runs: runs, points: points) {
                    plots.append(drawn)
                }
            }
            for plot in chosen where !plot.logged {
                var series: [Series] = []
                for channel in plot.channels {
                    let (width, buckets) = try LogQueries.summary(db, station: name, from: span.from, to: span.to,
                                                                  channel: channel, points: points)
                    bucket = width
                    var s = Series(channel: channel, unit: channels.first { $0.name == channel }?.unit ?? "")
                    for b in buckets {
                        s.t.append((b.t + b.tEnd) / 2)
                        s.min.append(b.min)
                        s.max.append(b.max)
                        s.mean.append(b.mean)
                        s.samples += b.count + b.faults
                    }
                    series.append(s)
                }
                for setting in plot.settings {
                    if let s = try settingSeries(db, station: name, setting: setting, until: span.to, points: points) {
                        series.append(s)
                    }
                }
                var shades: [Interval] = []
                var shadeLabel: String?
                if let prefix = plot.shadeRelay {
                    shades = try relayOnIntervals(db, station: name, prefix: prefix, until: span.to)
                    shadeLabel = "\(prefix.trimmingCharacters(in: CharacterSet(charactersIn: "-_")))s on"
                }
                if let code = plot.shadeAlarm {
                    shades += alarms.filter { $0.code == code }
                        .map { Interval(from: $0.raisedAt, to: $0.clearedAt ?? span.to) }
                    shadeLabel = code.replacingOccurrences(of: "_", with: " ")
                }
                let marks = alarms.filter { plot.markAlarms.contains($0.code) }
                    .map { Mark(t: $0.raisedAt, label: "\($0.code): \($0.message)") }
                plots.append(Plot(title: plot.title, from: nil, to: nil, series: series,
                                  lines: plot.lines.map { Line(label: $0.label, value: $0.value) },
                                  shadeLabel: shadeLabel, shades: shades, marks: marks))
            }
            var station = Station(name: name, kind: kind?.kind.rawValue, kindFrom: kindFrom, plots: plots, runs: runs,
                                  alarms: alarms)
            if exports {
                station.events = try LogQueries.events(db, station: name, from: -.greatestFiniteMagnitude,
                                                       to: .greatestFiniteMagnitude, limit: eventLimit)
                station.eventsTotal = try Int.fetchOne(db, sql: "SELECT count(*) FROM event WHERE station = ?",
                                                       arguments: [name])
            }
            stations.append(station)
        }
        let run = info.map { info in
            RunInfo(clock: info.clock, seed: info.seed, durationS: info.durationS, recordIntervalS: info.recordIntervalS,
                    configuration: info.configuration, rigdVersion: info.rigdVersion, cutShort: info.endedAt == nil,
                    interrupted: info.interrupted ?? false,
                    report: info.report.flatMap { try? JSONDecoder().decode(ReportValue.self, from: Data($0.utf8)) })
        }
        let allAlarms = stations.flatMap(\.alarms).sorted { $0.raisedAt < $1.raisedAt }
        let note = "Each plotted point is one of at most \(points) buckets per series (\(Self.duration(bucket)) each): "
            + "the line is the bucket's mean and the band its min to max, so no peak is lost to downsampling."
        let title = (source as NSString).lastPathComponent
        return RecordingDocument(title: title, source: source, from: span.from, to: span.to, run: run, bucketS: bucket,
                                 points: points, note: note, stations: stations, alarms: allAlarms, exports: exports)
    }

    /// The intervals in which at least one relay named `prefix…` is on, from the recording's relay events. A relay
    /// starts in its safe state and only changes are recorded, so a relay whose first event is OFF was on before it.
    static func relayOnIntervals(_ db: Database, station: String, prefix: String, until end: Double) throws -> [Interval] {
        let rows = try Row.fetchAll(db, sql: """
            SELECT t, message FROM event WHERE station = ? AND kind = 'relay' AND message LIKE ? ESCAPE '\\' ORDER BY t, id
            """, arguments: [station, prefix.replacingOccurrences(of: "_", with: "\\_") + "%"])
        var state: [String: Bool] = [:]
        var changes: [(t: Double, relay: String, on: Bool)] = []
        for row in rows {
            let message: String = row["message"]
            let parts = message.split(separator: " ")
            guard parts.count == 2 else { continue }
            changes.append((row["t"], String(parts[0]), parts[1] == "ON"))
        }
        let first = try Double.fetchOne(db, sql: "SELECT min(t) FROM sample JOIN channel ON channel.id = channel_id WHERE station = ?",
                                        arguments: [station]) ?? changes.first?.t ?? end
        for change in changes where state[change.relay] == nil { state[change.relay] = !change.on }
        var intervals: [Interval] = []
        var since: Double? = state.values.contains(true) ? first : nil
        for change in changes {
            state[change.relay] = change.on
            let anyOn = state.values.contains(true)
            if anyOn, since == nil { since = change.t }
            if !anyOn, let start = since {
                intervals.append(Interval(from: start, to: change.t))
                since = nil
            }
        }
        if let since { intervals.append(Interval(from: since, to: end)) }
        return intervals
    }

    /// A plot of the controller's logged series over the last completed run's span of it (an MSD's free decay), with
    /// the run's fitted decay envelope when asked; nil when no completed run logged any.
    static func loggedPlot(_ db: Database, station: String, plot: ReportPlot, runs: [LogQueries.RunEntry],
                           points: Int) throws -> Plot? {
        let statement = try db.cachedStatement(sql: """
            SELECT s.t, s.value, c.unit FROM logged_sample s JOIN channel c ON c.id = s.channel_id
            WHERE c.station = ? AND c.name = ? AND s.t >= ? AND s.t <= ? ORDER BY s.t
            """)
        for run in runs.reversed() where run.outcome == "completed" {
            guard let ended = run.endedAt else { continue }
            var series: [Series] = []
            for channel in plot.channels {
                let rows = try Row.fetchAll(statement, arguments: [station, channel, run.startedAt, ended])
                guard let first = rows.first else { continue }
                let every = max(1, rows.count / points)
                var s = Series(channel: channel, unit: first["unit"])
                for (i, row) in rows.enumerated() where i % every == 0 {
                    let value: Double? = row["value"]
                    s.t.append(row["t"])
                    s.min.append(value)
                    s.max.append(value)
                    s.mean.append(value)
                }
                s.samples = s.t.count
                series.append(s)
            }
            guard let decay = series.first, let from = decay.t.first, let to = decay.t.last, to > from else { continue }
            if plot.decayEnvelope, case .number(let fn)? = run.results["fn_hz"], case .number(let zeta)? = run.results["zeta"],
               fn > 0 {
                // Around the decay's mean (the rest position); A: the largest swing in the first cycle.
                let values = decay.mean.compactMap { $0 }
                let center = values.reduce(0, +) / Double(max(1, values.count))
                let amplitude = zip(decay.t, decay.mean).filter { $0.0 <= from + 1 / fn }
                    .compactMap { $0.1.map { abs($0 - center) } }.max() ?? 0
                var upper = Series(channel: "fitted envelope (f_n \(String(format: "%.3f", fn)) Hz, ζ \(String(format: "%.4f", zeta)))",
                                   unit: decay.unit)
                var lower = Series(channel: "fitted envelope, lower", unit: decay.unit)
                for i in 0...200 {
                    let t = from + (to - from) * Double(i) / 200
                    let e = amplitude * exp(-zeta * 2 * Double.pi * fn * (t - from))
                    upper.t.append(t)
                    upper.mean.append(center + e)
                    lower.t.append(t)
                    lower.mean.append(center - e)
                }
                upper.min = upper.mean
                upper.max = upper.mean
                upper.samples = upper.t.count
                lower.min = lower.mean
                lower.max = lower.mean
                lower.samples = lower.t.count
                series += [upper, lower]
            }
            return Plot(title: plot.title + " — run #\(run.number)", from: from, to: to, series: series, lines: [],
                        shadeLabel: nil, shades: [], marks: [])
        }
        return nil
    }

    /// A setting's recorded values (each held until the next) as a step series, thinned to about `points` changes.
    static func settingSeries(_ db: Database, station: String, setting: String, until end: Double,
                              points: Int) throws -> Series? {
        guard try db.tableExists("setting_sample") else { return nil }
        let rows = try Row.fetchAll(db, sql: """
            SELECT t, value, unit FROM setting_sample WHERE station = ? AND name = ? ORDER BY t
            """, arguments: [station, setting])
        guard let last = rows.last else { return nil }
        let every = max(1, rows.count / points)
        var s = Series(channel: setting, unit: last["unit"], step: true)
        for (i, row) in rows.enumerated() where i % every == 0 || i == rows.count - 1 {
            let value: Double? = row["value"]
            s.t.append(row["t"])
            s.min.append(value)
            s.max.append(value)
            s.mean.append(value)
        }
        // Held to the end of the run.
        s.t.append(end)
        s.min.append(s.min.last!)
        s.max.append(s.max.last!)
        s.mean.append(s.mean.last!)
        s.samples = rows.count
        return s
    }

    static func duration(_ seconds: Double) -> String {
        switch seconds {
        case ..<120: String(format: "%.3g s", seconds)
        case ..<7200: String(format: "%.3g min", seconds / 60)
        default: String(format: "%.3g h", seconds / 3600)
        }
    }

    /// The document as JSON for a page's script (`<` escaped so it cannot end the script element).
    package func json() throws -> String {
        let encoder = StationStatus.encoder()
        let data = try encoder.encode(self)
        return String(decoding: data, as: UTF8.self).replacingOccurrences(of: "<", with: "\\u003c")
    }
}
