import Foundation
import Sim
import TOMLKit
import Stations
import DeviceTransports
import SimServe
import Locking

/// Faults at plant times, for `rigd run --virtual --faults FILE` (HIL scenarios use the same `[[fault]]` tables):
///
/// ```toml
/// [[fault]]
/// at = "2h"              # plant time from the start (90s, 2h, 1d12h, or seconds)
/// station = "pond-1"
/// channel = "do_mgl"
/// fault = "stuck"
/// value = 7.5
///
/// [[fault]]
/// at = "30h"
/// station = "extractor-1"
/// disturbance = "filter_clog"
/// active = true
/// ```
///
/// Every key of a `FaultRequest` may appear (`channel`/`fault`/`value`/`per_hour`/`sigma`/`size`,
/// `device_fault` (or `device`)/`ms`/`code`, `disturbance`/`active`, `clear_all`) — the `[[fault]]` tables of a HIL
/// scenario, with `station` (a station of the plant) where a scenario names its `device`. Read strictly: unknown keys
/// and bad values stop rigd (exit 78).
package struct FaultTimeline: Sendable {
    package struct Entry: Sendable {
        package var at: Double
        package var request: FaultRequest

        package init(at: Double, request: FaultRequest) {
            self.at = at
            self.request = request
        }
    }

    package var entries: [Entry]
    package var source: String

    /// The latest plant time a fault may name, s.
    package static let latestTime = 1e9

    package static func load(path: String) throws(ConfigError) -> FaultTimeline {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(issues: [ConfigIssue(file: path, message: "cannot read: \(ConfigLoader.reason(error))")])
        }
        return try parse(text, source: path)
    }

    package static func parse(_ text: String, source: String) throws(ConfigError) -> FaultTimeline {
        let root = try ConfigLoader.parseTOML(text, source: source)
        let reader = ConfigReader(file: source, lines: SourceLines(text))
        let top = TableReader(root, path: "", context: nil, reader: reader)
        var entries: [Entry] = []
        for (i, t) in (top.arrayOfTables("fault") ?? []).enumerated() {
            t.context = "fault \(i + 1)"
            var at: Double?
            if let v = t.table["at"] {
                if let text = v.string, let d = PlantDuration(argument: text) {
                    at = d.seconds
                } else if let n = v.double ?? v.int.map(Double.init), n >= 0, n.isFinite {
                    at = n
                }
            }
            var r = FaultRequest()
            r.station = t.string("station", required: true)
            r.unit = t.has("unit") ? t.int("unit", default: 1, range: 1...247) : nil
            r.channel = t.string("channel")
            r.fault = t.string("fault")
            if t.has("value") { r.value = t.double("value", default: 0, range: -1e12...1e12) }
            if t.has("per_hour") { r.perHour = t.double("per_hour", default: 0, range: -1e9...1e9) }
            if t.has("sigma") { r.sigma = t.double("sigma", default: 0, range: 0...1e9) }
            if t.has("size") { r.size = t.double("size", default: 0, range: -1e12...1e12) }
            // `device_fault` as in HIL scenarios (where `device` names the scenario's device); `device` also works.
            r.device = t.string("device_fault") ?? t.string("device")
            if t.has("ms") { r.ms = t.double("ms", default: 0, range: 0...60_000) }
            if t.has("code") { r.code = t.int("code", default: 4, range: 1...255) }
            r.disturbance = t.string("disturbance")
            r.active = t.bool("active")
            r.clearAll = t.bool("clear_all")
            if let a = at, a > Self.latestTime {
                // The virtual run schedules faults in Int64 nanoseconds: later than 292 years would trap there.
                t.fail("at", "must be at most \(Int(Self.latestTime)) s (about 31 years), got \(a)")
                at = 0
            } else if at == nil {
                t.fail("at", "is required: a plant time such as \"90s\", \"2h\" or a number of seconds")
                at = 0
            }
            markUsed(t, "at")
            t.finish()
            entries.append(Entry(at: at ?? 0, request: r))
        }
        top.finish()
        guard reader.issues.isEmpty else { throw ConfigError(issues: reader.issues) }
        // Stable: faults at the same time apply in file order.
        let sorted = entries.enumerated().sorted { ($0.element.at, $0.offset) < ($1.element.at, $1.offset) }.map(\.element)
        return FaultTimeline(entries: sorted, source: source)
    }

    /// Checks every entry against the stations (a simulated device of that name, and a fault it can take).
    package func validate(against stations: [any AnyStation]) throws(ConfigError) {
        var issues: [ConfigIssue] = []
        for (i, entry) in entries.enumerated() {
            let name = entry.request.station ?? ""
            guard let station = stations.first(where: { $0.name == name }) else {
                issues.append(ConfigIssue(file: source, line: nil, context: nil, key: "fault[\(i)].station",
                                          message: "no station named \"\(name)\" (stations: "
                                              + stations.map(\.name).joined(separator: ", ") + ")"))
                continue
            }
            guard let device = (station.simulation?.instrument ?? station.simulation?.device) as? any FaultInjectable
            else {
                issues.append(ConfigIssue(file: source, line: nil, context: "station \"\(name)\"", key: "fault[\(i)]",
                                          message: "the station is not simulated: faults go into simulated devices only"))
                continue
            }
            do throws(FaultRequest.Invalid) {
                try entry.request.validate(for: device)
            } catch {
                issues.append(ConfigIssue(file: source, line: nil, context: "station \"\(name)\"", key: "fault[\(i)]",
                                          message: error.description))
            }
        }
        if !issues.isEmpty { throw ConfigError(issues: issues) }
    }

    /// `at` is read by hand (a string or a number); this tells the reader it was read.
    private static func markUsed(_ t: TableReader, _ key: String) {
        t.markRead(key)
    }

    package init(entries: [Entry], source: String) {
        self.entries = entries
        self.source = source
    }
}
