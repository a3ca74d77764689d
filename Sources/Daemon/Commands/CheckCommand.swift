import ArgumentParser
import Devices
import Foundation
import Stations
import DeviceTransports
import SimServe
import Locking

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate a configuration file or a device map without starting anything.",
        discussion: """
            Exits 0 and summarises the stations, or prints every problem (file:line: station: key …) and exits 78. \
            With --map, validates a device map (docs/maps.md) instead and lists what it maps, every register as the \
            0-based protocol address rigd sends (with its one-based and reference forms, the usual off-by-one), and \
            the read plan: the requests one snapshot takes. With --config --plans, prints each station's read plan: \
            what each of its loops reads on a tick (docs/maps.md, "Read plans").
            """
    )

    @Option(name: .long, help: "The configuration file (TOML).")
    var config: String?

    @Option(name: .long, help: "A device map file (TOML, docs/maps.md) to validate.")
    var map: String?

    @Flag(name: .long, help: "With --config: print each station's read plan (what each loop reads on a tick).")
    var plans = false

    func validate() throws {
        if (config == nil) == (map == nil) { throw ValidationError("give --config FILE or --map FILE (one of them)") }
    }

    func run() throws {
        if let map {
            do {
                say(MapSummary.lines(try MapLoader.load(path: map), file: map).joined(separator: "\n"))
            } catch {
                throw failConfiguration(error)
            }
            return
        }
        guard let config else { return }
        do {
            let configuration = try ConfigLoader.load(path: config)
            let daemon = configuration.daemon
            // What `rigd run` would refuse although every key is valid: a network listener without a token file.
            if let http = daemon.http, !http.isLoopback,
               !FileManager.default.fileExists(atPath: daemon.resolvedTokenFile) {
                throw ConfigError(issues: [ConfigIssue(
                    file: config, line: nil, context: nil, key: "daemon.http",
                    message: "\(http) is reachable from other machines and the token file \(daemon.resolvedTokenFile) "
                        + "does not exist; rigd run would refuse to start (create the token file first)")])
            }
            // Stations that share a serial line must agree on it (rigd run refuses them otherwise).
            let conflicts = Wiring.lineConflicts(configuration.stations)
            if !conflicts.isEmpty {
                throw ConfigError(issues: conflicts.map {
                    ConfigIssue(file: config, line: nil, context: "station \"\($0.station)\"", key: "address",
                                message: $0.reason)
                })
            }
            // What rigd run's edge node would refuse: a file it cannot read.
            if let mqtt = configuration.mqtt {
                let issues = Self.mqttProblems(mqtt).map {
                    ConfigIssue(file: config, line: nil, context: nil, key: $0.key, message: $0.message)
                }
                if !issues.isEmpty { throw ConfigError(issues: issues) }
                if let file = mqtt.passwordFile,
                   let warning = FilePermissions.secretTooOpen(file, what: "the MQTT password file",
                                                              risk: "may publish as this node") {
                    warn("warning: \(warning)")
                }
            }
            if let warning = FilePermissions.writableByOthers(config, what: "the configuration file") {
                warn("warning: \(warning)")
            }
            if let token = daemon.http.map({ _ in daemon.resolvedTokenFile }),
               let warning = FilePermissions.tokenTooOpen(token) {
                warn("warning: \(warning)")
            }
            say("\(config): ok, \(configuration.stations.count) station(s)"
                + (configuration.source == config ? "" : " (\(configuration.source))"))
            for s in configuration.stations {
                say("  \(s.name): \(s.kind) at \(s.address), fallback \(s.fallback.rawValue)"
                    + (s.map.map { ", map \"\($0.map.name)\" (\($0.source))" } ?? ""))
                guard plans else { continue }
                // What each loop reads on its ticks: the requests on the wire (through the map, if any).
                let loops = s.control.readPlan(map: s.map?.map)
                say("    read plan, each loop's requests a tick"
                    + (s.map == nil ? " (rigd's register contract, docs/register-contract.md):" : " (through the map):")
                    + (s.map?.map.locates == true ? " without the values found at connect ([[map.locate]]), which "
                       + "are read where the device says" : ""))
                say(loops.map { "      " + $0 }.joined(separator: "\n"))
                if let map = s.map {
                    say(MapSummary.planLines(map.map, indent: "    ").joined(separator: "\n"))
                }
            }
            let retention = daemon.retentionDays > 0 ? "\(daemon.retentionDays) days" : "forever"
            say("  daemon: http \(daemon.http?.description ?? "off"), data log in \(daemon.resolvedDataDirectory) "
                + "(a sample every \(daemon.recordInterval) s, kept \(retention)), token \(daemon.resolvedTokenFile), "
                + "watchdog stall \(daemon.watchdogStall) s")
            if let mqtt = configuration.mqtt {
                let broker = "\(mqtt.tls ? "mqtts" : "mqtt")://\(mqtt.host):\(mqtt.port)"
                let commands = mqtt.primaryHost.map { "commands while primary host \($0) is online" }
                    ?? "commands from any host (no primary_host)"
                say("  mqtt: Sparkplug B edge node \(mqtt.group)/\(mqtt.node) on \(broker)"
                    + (mqtt.username.map { " as \($0)" } ?? " (anonymous)") + ", \(commands); deadband "
                    + "\(mqtt.deadbandDefault * 100) % of each channel's range (\(mqtt.deadbands.count) set per channel), "
                    + "at least every \(mqtt.maxInterval) s; backlog at most \(mqtt.forwardRatePerS) records/s")
            }
        } catch let error as ConfigError {
            throw failConfiguration(error)
        }
    }
}

extension CheckCommand {
    /// What would stop `rigd run`'s edge node at start although every key is valid: a file of `[mqtt]` it cannot
    /// read, or a password file whose first line is empty. (Station names are Sparkplug device ids as they are:
    /// letters, digits, `-` and `_`.)
    static func mqttProblems(_ mqtt: MQTTConfig) -> [(key: String, message: String)] {
        var problems: [(key: String, message: String)] = []
        do {
            _ = try EdgeNode.password(mqtt)
        } catch {
            problems.append(("mqtt.password_file", "\(error.file): \(error.reason); rigd run would refuse to start"))
        }
        let files = [("ca_file", mqtt.caFile), ("cert_file", mqtt.certFile), ("key_file", mqtt.keyFile)]
        for case let (key, file?) in files where !FileManager.default.isReadableFile(atPath: file) {
            problems.append(("mqtt.\(key)", "\(file) cannot be read; rigd run would refuse to start"))
        }
        return problems
    }
}

/// What `rigd check --map` prints of a valid map.
package enum MapSummary {
    package static func lines(_ map: DeviceMap, file: String) -> [String] {
        func at(_ f: DeviceMap.Field) -> String {
            let prefix = ["coil": "0", "discrete": "1", "input": "3", "holding": "4"][f.table.rawValue]!
            let span = f.length > 1 ? "\(f.register)–\(f.register + f.length - 1)" : "\(f.register)"
            let n = f.register + 1
            let reference = prefix + String(format: n <= 9999 ? "%04d" : "%05d", n)
            var text = f.place.map { "\($0), offset \(span)" }
                ?? (f.unit.map { "unit \($0) " } ?? "") + "\(f.table) \(span) (one-based \(n), reference \(reference))"
            text += " \(f.type)"
            if f.table.holdsBits == false && f.length > 1 { text += " \(f.order)" }
            if let bit = f.bit { text += " bit \(bit)" }
            if f.scale != 1 || f.offset != 0 {
                text += " × \(TableReader.format(f.scale))" + (f.offset != 0 ? " + \(TableReader.format(f.offset))" : "")
            }
            return text
        }
        let others = map.otherUnits.isEmpty ? ""
            : " (and units " + map.otherUnits.map(String.init).joined(separator: ", ") + " of the same line)"
        var out = ["\(file): ok, map \"\(map.name)\" for kind \(map.kind): unit \(map.unit)\(others), reads of at most "
                   + "\(map.maxReadRegisters) registers, "
                   + (map.maxWriteRegisters == 0 ? "no FC 16 (writes one register at a time)"
                      : "writes of at most \(map.maxWriteRegisters)")
                   + (map.fc23 ? ", FC 23 (a write carries the next read)" : "")
                   + ", gaps up to \(map.maxGap), \(map.interRequestMs) ms between requests"]
        if let identity = map.identity { out.append("  identity: \(at(identity.field)) = \(TableReader.format(identity.equals))") }
        for b in map.blocks {
            var text = "  locate \(b.name): \(b.count) block(s) of \(b.stride) registers in \(b.unit.map { "unit \($0) " } ?? "")"
                + "\(b.table)"
            if let p = b.pointer {
                text += ", from where \(at(p)) points" + (b.pointerOneBased ? " (a one-based register number)" : "")
            } else if let from = b.from {
                text += " from \(from) (one-based \(from + 1))"
            }
            if let id = b.idOffset { text += ", each with its parameter ID at offset \(id)" }
            if let v = b.version { text += "; found again when \(at(v)) (the layout version) changes" }
            out.append(text + "; found at every connect")
        }
        for c in map.channels {
            var text = "  channel \(c.name): \(at(c.field))"
            if !c.nanIf.isEmpty { text += ", no reading if raw " + c.nanIf.map(TableReader.format).joined(separator: " or ") }
            if !c.nanIfBits.isEmpty {
                text += ", no reading when " + c.nanIfBits.map { "0x" + String($0, radix: 16, uppercase: true) }
                    .joined(separator: " or ")
            }
            if let q = c.quality {
                let place = q.place.map { "\($0) + \(q.register)" }
                text += q.good == nil ? ", bad when \(place ?? "\(q.location)") bit \(q.bit) is \(q.badWhen ? 1 : 0)"
                    : ", status " + (place.map { q.description.replacingOccurrences(of: "\(q.table) \(q.register)", with: $0) }
                                     ?? q.description)
            }
            if let f = c.fallback { text += ", the device's fallback value at \(f.name)" }
            if let w = c.qualityWord { text += ", quality word \(w.name)" }
            if let f = c.freshness {
                text += f.field.map { ", stale when \($0.name) stands still for \(TableReader.format(f.maxAgeMs)) ms" }
                    ?? ", stale when its last acquisition is \(TableReader.format(f.maxAgeMs)) ms old"
            }
            out.append(text)
        }
        for c in map.commands {
            out.append("  command \(c.name): \(at(c.field)), \(TableReader.format(c.limits.lowerBound))…"
                       + TableReader.format(c.limits.upperBound))
        }
        for c in map.calibrations {
            let parts = [c.slope.map { "slope \(at($0))" }, c.offset.map { "offset \(at($0))" }].compactMap { $0 }
            out.append("  calibration of \(c.channel) kept by the device: " + parts.joined(separator: ", ")
                       + " (a calibration of \(c.channel) is written there, not applied on the host)")
        }
        if let w = map.watchdog {
            var text = "  watchdog: timeout \(at(w.timeout)) = \(TableReader.format(w.timeoutMs)) ms, heartbeat "
                + at(w.heartbeat)
            if let reset = w.reset, let value = w.resetValue { text += ", reset \(at(reset)) = \(TableReader.format(value))" }
            if let t = w.tripped { text += ", tripped when \(t.table) \(t.register) bit \(t.bit) is \(t.badWhen ? 1 : 0)" }
            out.append(text)
        } else {
            out.append("  no device watchdog: the device relies on the host for its safe state")
        }
        if let w = map.wake {
            var parts: [String] = []
            if let ms = w.firstTimeoutMs { parts.append("may take \(TableReader.format(ms)) ms") }
            if w.retries > 0 { parts.append("is sent again up to \(w.retries) time(s) when unanswered") }
            if w.settleMs > 0 { parts.append("is followed by \(TableReader.format(w.settleMs)) ms of quiet") }
            out.append("  wake: the first request after a connect"
                       + (w.sleepsAfterMs.map { " or after \(TableReader.format($0)) ms of silence (the device sleeps)" } ?? "")
                       + (parts.isEmpty ? " is sent as any other" : " " + parts.joined(separator: ", ")))
        }
        for (i, setup) in map.setup.enumerated() {
            out.append("  setup \(i + 1), after every connect: \(setup.description)"
                       + (setup.settleMs > 0 ? ", then \(TableReader.format(setup.settleMs)) ms to settle" : ""))
        }
        for e in map.expectations {
            out.append("  expect \(e.what): \(at(e.field)) = \(e.equals), "
                       + (e.channels.isEmpty ? "the whole device's (checked at connect)"
                          : "vouching for " + e.channels.joined(separator: ", ") + " (read with them)"))
        }
        for a in map.acquisitions {
            out.append("  acquire \(a.channels.joined(separator: ", ")) before reading them: "
                       + a.steps.map(\.description).joined(separator: ", ")
                       + " (simulated measurement \(TableReader.format(a.simulateMs)) ms)")
        }
        return out + planLines(map, indent: "  ")
    }

    /// The read plan of a station's snapshot: one line per request.
    package static func planLines(_ map: DeviceMap, indent: String) -> [String] {
        // Values found at start-up are read where discovery finds them: the plan here is of the others.
        let located = map.channels.filter { $0.field.place != nil }.map(\.name)
        let map = map.located(DeviceMap.Layout()).map
        let plan = map.snapshotPlan
        let spans = map.snapshotSpans
        var out = ["\(indent)read plan of a whole snapshot: \(plan.requests.count) request(s), \(plan.unused(for: spans)) "
                   + "register(s) read through gaps" + (map.readTwice ? ", each read twice (read_twice)" : "")
                   + (map.evenAlignment ? ", even-aligned" : "")]
        for request in plan.requests {
            let read = request.location
            func holds(_ l: DeviceMap.Location?) -> Bool { l.map { read.overlaps($0) } ?? false }
            let inside = (map.channels.map { ($0.name, $0.field) } + map.commands.map { ($0.name, $0.field) })
                .filter { holds($0.1.location) }.map(\.0)
            let quality = map.channels.filter { c in
                holds(c.quality?.location) || holds(c.qualityWord?.location) || holds(c.fallback?.location)
            }.map(\.name)
            let fresh = map.channels.filter { holds($0.freshness?.field?.location) }.map(\.name)
            let tripped = holds(map.watchdog?.tripped?.location)
            let expected = map.expectations.filter { !$0.channels.isEmpty && holds($0.field.location) }.map(\.what)
            var parts: [String] = []
            if !inside.isEmpty { parts.append(inside.joined(separator: ", ")) }
            if !expected.isEmpty { parts.append("expected " + expected.joined(separator: ", ")) }
            if !quality.isEmpty { parts.append("quality of " + quality.joined(separator: ", ")) }
            if !fresh.isEmpty { parts.append("freshness of " + fresh.joined(separator: ", ")) }
            if tripped { parts.append("the watchdog's trip bit") }
            out.append("\(indent)  \(request): \(parts.joined(separator: "; "))")
        }
        if !located.isEmpty {
            out.append("\(indent)  and \(located.joined(separator: ", ")) where the device says at connect ([[map.locate]]; "
                       + "rigd probe shows the layout found)")
        }
        return out
    }
}
