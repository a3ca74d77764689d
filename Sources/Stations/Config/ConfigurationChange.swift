/// What a configuration reload changes (issue 23 part 6, docs/operations.md "Reloading the configuration"): which
/// stations keep running, which restart, stop or start, and which other tables changed but take effect only at the
/// next start of rigd.
///
/// Stations are compared by their table as read and their map file's text (`StationConfig.fingerprint`): a station
/// whose table and map did not change keeps running, with the same loops and link. The stations of one serial line
/// share the line and its thread, so when one of them changes, is added or is removed, every station of that line
/// restarts with it.
package struct ConfigurationChange: Sendable, Equatable {
    /// Stations that keep running as they are.
    package var unchanged: [String] = []
    /// Stations that drive their safe state, stop and start again with their new table.
    package var changed: [String] = []
    /// Stations of the new configuration that were not running.
    package var added: [String] = []
    /// Stations that stop (safe state) for good.
    package var removed: [String] = []
    /// Stations that restart only because a station of their serial line changed (a subset of `changed`).
    package var restartedWithTheirLine: [String] = []
    /// Stations that were refused (their device answered as something else) and are probed again though their table
    /// did not change: the device may have been fixed since (a subset of `changed`).
    package var retriedRefused: [String] = []
    /// Top-level tables other than `[[station]]` that changed (`daemon`, `mqtt`, `notify`, `calibration`): rigd
    /// keeps running with the old ones until it is restarted.
    package var needsRestart: [String] = []

    /// Whether the reload touches any station.
    package var touchesStations: Bool { !(changed.isEmpty && added.isEmpty && removed.isEmpty) }

    package init() {}

    package init(from old: Configuration, to new: Configuration) {
        let before = Dictionary(old.stations.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let after = Set(new.stations.map(\.name))
        var restart: Set<String> = []
        for station in new.stations {
            guard let previous = before[station.name] else { continue }
            if previous.fingerprint != station.fingerprint || station.fingerprint.isEmpty { restart.insert(station.name) }
        }
        let gone = old.stations.filter { !after.contains($0.name) }
        // Serial lines touched by a change, before or after it.
        var lines: Set<String> = []
        for station in old.stations where restart.contains(station.name) || !after.contains(station.name) {
            if let bus = station.bus { lines.insert(bus) }
        }
        for station in new.stations where restart.contains(station.name) || before[station.name] == nil {
            if let bus = station.bus { lines.insert(bus) }
        }
        for station in new.stations where before[station.name] != nil && !restart.contains(station.name) {
            let busBefore = before[station.name]?.bus
            if let bus = station.bus, lines.contains(bus) || (busBefore.map { lines.contains($0) } ?? false) {
                restart.insert(station.name)
                restartedWithTheirLine.append(station.name)
            }
        }
        for station in new.stations {
            if before[station.name] == nil {
                added.append(station.name)
            } else if restart.contains(station.name) {
                changed.append(station.name)
            } else {
                unchanged.append(station.name)
            }
        }
        removed = gone.map(\.name)
        let keys = Set(old.tableFingerprints.keys).union(new.tableFingerprints.keys)
        needsRestart = keys.filter { old.tableFingerprints[$0] != new.tableFingerprints[$0] }.sorted()
    }

    /// Probes again the unchanged stations among `refused` (stations that run nothing, so restarting them costs
    /// nothing, and their device may have been fixed).
    package mutating func retry(refused: Set<String>) {
        let again = unchanged.filter { refused.contains($0) }
        guard !again.isEmpty else { return }
        unchanged.removeAll { refused.contains($0) }
        changed += again
        retriedRefused = again
    }

    /// One line for the log and the event: "2 unchanged; restarted: pond-2; added: pond-9; removed: none".
    package var summary: String {
        func list(_ names: [String]) -> String { names.isEmpty ? "none" : names.joined(separator: ", ") }
        var parts = ["\(unchanged.count) unchanged", "restarted: \(list(changed))", "added: \(list(added))",
                     "removed: \(list(removed))"]
        if !restartedWithTheirLine.isEmpty {
            parts.append("restarted with their serial line: \(list(restartedWithTheirLine))")
        }
        if !retriedRefused.isEmpty {
            parts.append("refused before, probed again: \(list(retriedRefused))")
        }
        if !needsRestart.isEmpty {
            parts.append("changed but applied at the next start of rigd: "
                         + needsRestart.map { $0 == "notify" ? "[[notify]]" : "[\($0)]" }.joined(separator: ", "))
        }
        return parts.joined(separator: "; ")
    }
}
