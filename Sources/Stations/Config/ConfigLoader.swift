import Control
import Devices
import DeviceTransports
import Foundation
import Sim
import TOMLKit

/// Reads a configuration strictly: every key is read when the station is built, unknown keys are errors (they are
/// typos), values are checked against their limits, and every problem is reported, not just the first.
package struct ConfigLoader {
    /// Loads `path`; throws `ConfigError` naming the file.
    package static func load(path: String, kinds: KindRegistry = .builtIn) throws(ConfigError) -> Configuration {
        try parse(try readText(path), source: path, kinds: kinds)
    }

    /// A configuration, map or recipe file's text; an error naming the file when it cannot be read.
    package static func readText(_ path: String) throws(ConfigError) -> String {
        var isDirectory: ObjCBool = false
        if path.isEmpty || !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            throw ConfigError(issues: [ConfigIssue(file: path.isEmpty ? "\"\"" : path,
                                                   message: "cannot read: no such file")])
        }
        if isDirectory.boolValue {
            throw ConfigError(issues: [ConfigIssue(file: path, message: "cannot read: it is a directory, not a file")])
        }
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(issues: [ConfigIssue(file: path, message: "cannot read: \(Self.reason(error))")])
        }
    }

    /// Parses configuration text; `source` names it in messages.
    package static func parse(_ text: String, source: String, kinds: KindRegistry = .builtIn) throws(ConfigError)
        -> Configuration {
        try parseReportingAbsent(text, source: source, kinds: kinds).0
    }

    /// `parse`, also returning the path of every key the loader asked for that the text does not have
    /// (`daemon.retention_days`, `station[2].control.kp`): a file that sets every key returns an empty set.
    package static func parseReportingAbsent(_ text: String, source: String, kinds: KindRegistry = .builtIn)
        throws(ConfigError) -> (Configuration, absent: Set<String>) {
        let root = try ConfigLoader.parseTOML(text, source: source)
        let reader = ConfigReader(file: source, lines: SourceLines(text))
        let top = TableReader(root, path: "", context: nil, reader: reader)
        var stations: [StationConfig] = []
        let daemonTable = top.table("daemon")
        var daemon = daemonTable.map(readDaemon) ?? DaemonConfig()
        let tables = top.arrayOfTables("station") ?? []
        for (i, table) in tables.enumerated() {
            if let station = readStation(table, index: i, kinds: kinds) { stations.append(station) }
        }
        // `[mqtt]` is optional and switches MQTT on: its absence is not a key the file lacks (`isSet`, not `has`).
        var mqtt: MQTTConfig?
        if top.isSet("mqtt"), let mqttTable = top.table("mqtt") {
            // Deadband keys name stations: those of the file, or the demo plant's when it has none. When a station
            // table could not be read, the check is skipped (its problems are reported, so the file fails anyway).
            let known = tables.isEmpty ? (try? DemoPlant.configuration())?.stations
                : stations.count == tables.count ? stations : nil
            mqtt = readMQTT(mqttTable, stations: known)
        }
        // `[[notify]]` is optional, like `[mqtt]`: its absence is not a key the file lacks.
        var notify: [NotifyTarget] = []
        if top.isSet("notify") {
            let names = tables.isEmpty ? (try? DemoPlant.configuration())?.stations.map(\.name)
                : stations.count == tables.count ? stations.map(\.name) : nil
            for (i, table) in (top.arrayOfTables("notify") ?? []).enumerated() {
                if let target = readNotify(table, index: i, stations: names) { notify.append(target) }
            }
            var seenTargets: Set<String> = []
            for (i, target) in notify.enumerated() where !seenTargets.insert(target.name).inserted {
                reader.issue(path: "notify[\(i)].name", context: "notify \"\(target.name)\"", key: "name",
                             "is used by another [[notify]] table")
            }
        }
        let calibration = top.table("calibration").map(readCalibration) ?? CalibrationSettings()
        top.finish()
        var fingerprints: [String: String] = [:]
        for key in ["daemon", "mqtt", "notify", "calibration"] {
            guard let value = root[key] else { continue }
            let one = TOMLTable()
            one[key] = value
            fingerprints[key] = one.convert(to: .json)
        }
        if tables.isEmpty && daemonTable == nil && reader.issues.isEmpty {
            reader.issue(path: nil, context: nil, key: nil,
                         "no [[station]] tables: nothing to run (a file with only a [daemon] table runs the demo plant)")
        }
        // Names are checked over every table, valid or not, so a duplicate is reported with the other problems.
        var seen: Set<String> = []
        for (i, table) in tables.enumerated() {
            guard let name = table.table["name"]?.string, !seen.insert(name).inserted else { continue }
            reader.issue(path: "station[\(i)].name", context: "station \"\(name)\"", key: "name",
                         "is used by another station")
        }
        guard reader.issues.isEmpty else { throw ConfigError(issues: reader.issues) }
        // Relative paths in [daemon] and [mqtt] are relative to the configuration file, not to wherever rigd was
        // started.
        let base = (source as NSString).deletingLastPathComponent
        func anchored(_ path: String?) -> String? {
            guard let path, !path.hasPrefix("/"), FileManager.default.fileExists(atPath: source) else { return path }
            return ((base.isEmpty ? "." : base) as NSString).appendingPathComponent(path)
        }
        daemon.dataDirectory = anchored(daemon.dataDirectory)
        daemon.tokenFile = anchored(daemon.tokenFile)
        daemon.tokensFile = anchored(daemon.tokensFile)
        if var m = mqtt {
            m.passwordFile = anchored(m.passwordFile)
            m.caFile = anchored(m.caFile)
            m.certFile = anchored(m.certFile)
            m.keyFile = anchored(m.keyFile)
            mqtt = m
        }
        if tables.isEmpty {
            // Only a [daemon] table: the embedded demo plant, run with these settings.
            var demo = try DemoPlant.configuration()
            demo.source = "embedded demo plant, with [daemon] from \(source)"
            demo.daemon = daemon
            demo.mqtt = mqtt
            demo.notify = notify
            demo.calibration = calibration
            demo.tableFingerprints = fingerprints
            return (demo, reader.absent)
        }
        var configuration = Configuration(source: source, stations: stations, daemon: daemon, mqtt: mqtt,
                                          notify: notify, calibration: calibration)
        configuration.tableFingerprints = fingerprints
        return (configuration, reader.absent)
    }

    /// `[calibration]`: stable_window_s, the bands (ph_band, do_band_mgl, conductivity_band_pct, linear_band_pct),
    /// point_timeout_min, due_days, and the acceptance (ph_slope_min_pct, ph_slope_max_pct, ph_offset_max_mv,
    /// do_gain_min_pct, do_gain_max_pct, do_zero_max_mgl, conductivity_gain_max_pct, linear_slope_min,
    /// linear_slope_max).
    private static func readCalibration(_ t: TableReader) -> CalibrationSettings {
        var c = CalibrationSettings()
        c.stableWindow = t.double("stable_window_s", default: c.stableWindow, range: 1...3600)
        c.phBand = t.double("ph_band", default: c.phBand, range: 0.001...1)
        c.doBandMgL = t.double("do_band_mgl", default: c.doBandMgL, range: 0.001...5)
        c.conductivityBandPct = t.double("conductivity_band_pct", default: c.conductivityBandPct, range: 0.01...20)
        c.linearBandPct = t.double("linear_band_pct", default: c.linearBandPct, range: 0.01...20)
        c.pointTimeout = t.double("point_timeout_min", default: c.pointTimeout / 60, range: 1...240) * 60
        c.dueDays = t.double("due_days", default: c.dueDays, range: 1...3650)
        var a = c.acceptance
        let slopeLow = t.double("ph_slope_min_pct", default: a.phSlopePct.lowerBound, range: 50...150)
        let slopeHigh = t.double("ph_slope_max_pct", default: a.phSlopePct.upperBound, range: 50...150)
        if slopeLow < slopeHigh { a.phSlopePct = slopeLow...slopeHigh } else {
            t.fail("ph_slope_max_pct", "must be above ph_slope_min_pct (\(RunRecord.format(slopeLow)))")
        }
        a.phOffsetMaxMV = t.double("ph_offset_max_mv", default: a.phOffsetMaxMV, range: 1...200)
        let gainLow = t.double("do_gain_min_pct", default: a.doGain.lowerBound * 100, range: 10...200)
        let gainHigh = t.double("do_gain_max_pct", default: a.doGain.upperBound * 100, range: 10...200)
        if gainLow < gainHigh { a.doGain = gainLow / 100...gainHigh / 100 } else {
            t.fail("do_gain_max_pct", "must be above do_gain_min_pct (\(RunRecord.format(gainLow)))")
        }
        a.doZeroMaxMgL = t.double("do_zero_max_mgl", default: a.doZeroMaxMgL, range: 0...5)
        a.conductivityGainPct = t.double("conductivity_gain_max_pct", default: a.conductivityGainPct, range: 0.1...50)
        let linearLow = t.double("linear_slope_min", default: a.linearSlope.lowerBound, range: 0.001...1000)
        let linearHigh = t.double("linear_slope_max", default: a.linearSlope.upperBound, range: 0.001...1000)
        if linearLow < linearHigh { a.linearSlope = linearLow...linearHigh } else {
            t.fail("linear_slope_max", "must be above linear_slope_min (\(RunRecord.format(linearLow)))")
        }
        c.acceptance = a
        t.finish()
        return c
    }

    /// `[daemon]`: http, data_dir, token_file, tokens_file, retention_days, record_interval_s, watchdog_stall_s,
    /// hand_max_min.
    private static func readDaemon(_ t: TableReader) -> DaemonConfig {
        var c = DaemonConfig()
        if let http = t.string("http") {
            if http == "off" {
                c.http = nil
            } else {
                do throws(ConfigMessage) {
                    c.http = try ListenAddress(parsing: http)
                } catch {
                    t.fail("http", "\(error) (or \"off\" for no HTTP server)")
                }
            }
        }
        if let dir = t.string("data_dir") {
            if dir.isEmpty { t.fail("data_dir", "must name a directory") } else { c.dataDirectory = dir }
        }
        if let file = t.string("token_file") {
            if file.isEmpty { t.fail("token_file", "must name a file") } else { c.tokenFile = file }
        }
        if let file = t.string("tokens_file") {
            if file.isEmpty { t.fail("tokens_file", "must name a file") } else { c.tokensFile = file }
        }
        c.retentionDays = t.double("retention_days", default: c.retentionDays, range: DaemonConfig.retentionLimits)
        c.recordInterval = t.double("record_interval_s", default: c.recordInterval,
                                    range: DaemonConfig.recordIntervalLimits)
        c.watchdogStall = t.double("watchdog_stall_s", default: c.watchdogStall,
                                   range: DaemonConfig.watchdogStallLimits)
        c.handMaxMinutes = t.double("hand_max_min", default: c.handMaxMinutes, range: DaemonConfig.handMaxLimits)
        t.finish()
        return c
    }

    /// `[mqtt]`: broker, group, node, protocol, username, password_file, ca_file, cert_file, key_file, primary_host,
    /// deadband_default, max_interval_s, forward_rate_per_s, keepalive_s and the `[mqtt.deadband]` table, whose
    /// `"station.channel"` keys are checked against `stations` (nil: not checked). Nil when the table has problems.
    private static func readMQTT(_ t: TableReader, stations: [StationConfig]?) -> MQTTConfig? {
        // Every problem goes to the reader, these checks' and its own (types, ranges, unknown keys) alike.
        let issuesBefore = t.reader.issues.count
        let brokerText = t.string("broker", required: true)
        let broker = brokerText.flatMap { text -> MQTTBroker? in
            do throws(ConfigMessage) {
                return try MQTTBroker(parsing: text)
            } catch {
                t.fail("broker", "\(error)")
                return nil
            }
        }
        /// A Sparkplug id (group, node, primary host) is a topic level: not empty, no `/ + #`.
        func sparkplugID(_ key: String, required: Bool) -> String? {
            guard let id = t.string(key, required: required) else { return nil }
            if id.isEmpty {
                t.fail(key, "must not be empty (a Sparkplug id)")
            } else if id.contains(where: { "/+#".contains($0) }) {
                t.fail(key, "must not contain '/', '+' or '#' (Sparkplug ids are topic levels), got \"\(id)\"")
            }
            return id
        }
        let group = sparkplugID("group", required: true)
        let node = sparkplugID("node", required: true)
        var protocolVersion5 = false
        if t.isSet("protocol"), t.table["protocol"]?.string == nil {
            t.markRead("protocol")
            t.fail("protocol", "must be \"3.1.1\" or \"5\", in quotes (a string)")
        } else if let version = t.string("protocol") {
            switch version {
            case "3.1.1": protocolVersion5 = false
            case "5": protocolVersion5 = true
            default: t.fail("protocol", "must be \"3.1.1\" or \"5\", got \"\(version)\"")
            }
        }
        /// An optional string that must not be empty when it is set.
        func nonEmpty(_ key: String, _ what: String) -> String? {
            guard let s = t.string(key) else { return nil }
            if s.isEmpty { t.fail(key, "must name \(what)") }
            return s
        }
        let username = nonEmpty("username", "the user (or be left out)")
        let passwordFile = nonEmpty("password_file", "a file")
        if t.isSet("password_file") && !t.isSet("username") {
            t.fail("password_file", "needs username (the user the password is for)")
        }
        let caFile = nonEmpty("ca_file", "a file")
        let certFile = nonEmpty("cert_file", "a file")
        let keyFile = nonEmpty("key_file", "a file")
        // The TLS keys are judged by the broker's scheme, even when the rest of the URL has problems.
        if let tls = brokerText.flatMap(MQTTBroker.tls) {
            if tls {
                if !t.isSet("ca_file") {
                    t.fail("ca_file", "is required for an mqtts:// broker (the CA that signs the broker's certificate)")
                }
                if t.isSet("cert_file") && !t.isSet("key_file") { t.fail("key_file", "is required with cert_file") }
                if t.isSet("key_file") && !t.isSet("cert_file") { t.fail("cert_file", "is required with key_file") }
            } else {
                for key in ["ca_file", "cert_file", "key_file"] where t.isSet(key) {
                    t.fail(key, "is only for an mqtts:// broker (TLS), the broker is mqtt://")
                }
            }
        }
        let primaryHost = sparkplugID("primary_host", required: false)
        let deadbandDefault = t.double("deadband_default", default: 0.001, range: MQTTConfig.deadbandDefaultLimits)
        let maxInterval = t.double("max_interval_s", default: 60, range: MQTTConfig.maxIntervalLimits)
        let forwardRate = t.double("forward_rate_per_s", default: 500, range: MQTTConfig.forwardRateLimits)
        let keepaliveLimits = Int(MQTTConfig.keepaliveLimits.lowerBound)...Int(MQTTConfig.keepaliveLimits.upperBound)
        let keepalive = t.int("keepalive_s", default: 30, range: keepaliveLimits)
        let deadbands = t.table("deadband").map { readDeadbands($0, stations: stations) } ?? [:]
        t.finish()
        guard t.reader.issues.count == issuesBefore, let broker, let group, let node else { return nil }
        var c = MQTTConfig(host: broker.host, port: broker.port, tls: broker.tls, group: group, node: node)
        c.protocolVersion5 = protocolVersion5
        c.username = username
        c.passwordFile = passwordFile
        c.caFile = caFile
        c.certFile = certFile
        c.keyFile = keyFile
        c.primaryHost = primaryHost
        c.deadbandDefault = deadbandDefault
        c.deadbands = deadbands
        c.maxInterval = maxInterval
        c.forwardRatePerS = forwardRate
        c.keepalive = keepalive
        return c
    }

    /// `[mqtt.deadband]`: `"station.channel" = deadband` in the channel's unit. The station must be one of
    /// `stations` and the channel one of its kind's (unchecked when `stations` is nil).
    private static func readDeadbands(_ t: TableReader, stations: [StationConfig]?) -> [String: Double] {
        var values: [String: Double] = [:]
        for key in t.table.keys.sorted() {
            t.markRead(key)
            // Messages quote the key: unquoted, its dot would read as a sub-table.
            func fail(_ message: String) {
                t.reader.issue(path: "\(t.path).\(key)", context: t.context, key: "\(t.prefix)\"\(key)\"", message)
            }
            guard let value = t.table[key] else { continue }
            if value.table != nil {
                fail("is a table: quote the whole key, \"station.channel\" = 0.05 (unquoted, the dot makes a table)")
                continue
            }
            guard let deadband = value.double ?? value.int.map(Double.init) else {
                fail("must be a number, got \(value.type)")
                continue
            }
            let limits = MQTTConfig.deadbandLimits
            if !deadband.isFinite || !limits.contains(deadband) {
                fail("must be within \(TableReader.format(limits.lowerBound))…\(TableReader.format(limits.upperBound))"
                     + ", got \(TableReader.format(deadband))")
            }
            guard let dot = key.firstIndex(of: "."), dot != key.startIndex, key.index(after: dot) != key.endIndex
            else {
                fail("must be \"station.channel\" (\"pond-1.do_mgl\")")
                continue
            }
            let stationName = String(key[..<dot])
            let channel = String(key[key.index(after: dot)...])
            if let stations {
                if let station = stations.first(where: { $0.name == stationName }) {
                    let channels = station.descriptor.channelSpecs.map(\.name)
                    if !channels.contains(channel) {
                        fail("names a channel \"\(channel)\" that station \"\(stationName)\" (\(station.kind)) does "
                             + "not have (channels: \(channels.joined(separator: ", ")))")
                    }
                } else {
                    fail("names no station \"\(stationName)\" (stations: "
                         + stations.map(\.name).joined(separator: ", ") + ")")
                }
            }
            values[key] = deadband
        }
        return values
    }

    private static func readStation(_ table: TableReader, index: Int, kinds: KindRegistry) -> StationConfig? {
        let name = table.string("name", required: true) ?? "#\(index + 1)"
        if name.isEmpty {
            table.fail("name", "must be 1–64 letters, digits, - or _, got an empty name")
        } else if !name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
            || name.count > 64 {
            table.fail("name", "must be 1–64 letters, digits, - or _, got \"\(name)\"")
        }
        table.context = "station \"\(name)\""
        let kindName = table.string("kind", required: true)
        var kind: (any StationKind.Type)?
        if let kindName {
            if let k = kinds.kind(named: kindName) {
                kind = k
            } else {
                table.fail("kind", "unknown kind \"\(kindName)\" (kinds: " + kinds.names.joined(separator: ", ") + ")")
            }
        }
        var address: DeviceAddress?
        var addressNamesUnit = false
        if let text = table.string("address", required: true) {
            addressNamesUnit = text.contains("unit=")
            do {
                address = try DeviceAddress(parsing: text)
            } catch {
                table.fail("address", "\(error)")
            }
        }
        var fallback = Fallback.simulate
        if let text = table.string("fallback") {
            if let f = Fallback(rawValue: text) { fallback = f } else {
                table.fail("fallback", "must be \"simulate\" or \"fail\", got \"\(text)\"")
            }
        }
        let probe = table.int("probe_timeout_ms", default: 1000, range: 50...10_000)
        let response = table.int("response_timeout_ms", default: 500, range: 10...10_000)

        var simulator = SimulatorConfig()
        if let sim = table.table("sim") {
            simulator.preset = sim.string("preset")
            if let preset = simulator.preset, let presets = kind?.presets,
               !presets.contains(preset) {
                sim.fail("preset", "unknown preset \"\(preset)\" (presets: \(presets.joined(separator: ", ")))")
            }
            if sim.has("seed") { simulator.seed = UInt64(sim.int("seed", default: 1, range: 0...Int.max)) }
            if sim.has("probe_errors"), let errors = sim.bool("probe_errors") {
                simulator.probeErrors = errors
                if errors, let kind, !kind.simulatesProbeErrors {
                    sim.fail("probe_errors", "the \(kind.kind.rawValue) simulator has no probe errors (aqua-sonde's has)")
                }
            }
            sim.finish()
        }

        let estop = table.table("estop").flatMap(readLine)
        let beacon = table.table("beacon").flatMap(readLine)
        if let estop, let beacon, estop.chip == beacon.chip, estop.line == beacon.line {
            table.fail("beacon", "uses the same line as estop (\(estop))")
        }
        var control: (any ConfiguredKind)?
        var relays: [String: GPIOLineAddress] = [:]
        let controlTable = table.table("control")
        if let kind {
            let configured = kind.configure(controlTable)
            control = configured
            if let read = kind.readRelays(table, settings: configured) {
                relays = read
                let used = [estop, beacon].compactMap { $0 } + relays.values
                for (name, address) in relays.sorted(by: { $0.key < $1.key })
                    where used.filter({ $0.chip == address.chip && $0.line == address.line }).count > 1 {
                    table.fail("relays", "\(name) uses line \(address), which another output or input uses too")
                }
            }
        }
        // Control keys depend on the kind: without a valid kind they cannot be judged, so they are not reported.
        if kind != nil { controlTable?.finish() }
        let map = kind.flatMap { readStationMap(table, kind: $0, address: address, kinds: kinds) }
        if let map {
            // A relay the map names is switched through the device (docs/maps.md, "Relays"): it cannot also be a line.
            for (name, line) in relays.sorted(by: { $0.key < $1.key })
                where map.map.command(named: name) != nil {
                table.fail("relays", "\(name) is on \(line) and is also a command in \(map.source): a relay is "
                           + "switched on a host line or through the device, not both; remove one")
            }
        }
        table.finish()
        guard let address, let control else { return nil }
        var station = StationConfig(name: name, address: address, fallback: fallback, probeTimeoutMs: probe,
                                    responseTimeoutMs: response, control: control, simulator: simulator, estop: estop,
                                    beacon: beacon, relays: relays)
        station.map = map
        station.fingerprint = table.table.convert(to: .json)
        if let map, !map.source.hasPrefix("inline "), let text = try? String(contentsOfFile: map.source, encoding: .utf8) {
            station.fingerprint += "\nmap \(map.source):\n" + text
        }
        // The map's unit is the default; an address that names its unit overrides it.
        if let unit = map?.map.unit, !addressNamesUnit {
            switch address {
            case .tcp(let host, let port, _): station.address = .tcp(host: host, port: port, unit: unit)
            case .rtu(let settings, _): station.address = .rtu(settings, unit: unit)
            case .simulated: break
            }
        }
        return station
    }

    /// `map = "FILE"` (relative to the configuration file) or an inline `[station.map]`: the map, checked against the
    /// station — its kind, the commands the controller drives, the channels a safety function needs, the line.
    private static func readStationMap(_ table: TableReader, kind: any StationKind.Type, address: DeviceAddress?,
                                       kinds: KindRegistry) -> StationMap? {
        guard table.isSet("map") else { return nil }
        let file = table.reader.file
        let map: DeviceMap
        let source: String
        if table.table["map"]?.table != nil {
            guard let inline = table.table("map") else { return nil }
            guard let read = MapLoader.read(inline, kinds: kinds, defaultKind: kind.kind.rawValue) else { return nil }
            map = read
            source = "inline [station.map] in \(file)"
        } else {
            guard let path = table.string("map") else { return nil }
            if path.isEmpty {
                table.fail("map", "must name a map file (or be an inline [station.map] table)")
                return nil
            }
            let base = (file as NSString).deletingLastPathComponent
            let resolved = path.hasPrefix("/") || base.isEmpty ? path : (base as NSString).appendingPathComponent(path)
            do throws(ConfigError) {
                map = try MapLoader.load(path: resolved, kinds: kinds)
            } catch {
                table.fail("map", "names \(resolved), which has problems (below)")
                for issue in error.issues { table.reader.append(issue) }
                return nil
            }
            source = resolved
        }
        if map.kind != kind.kind {
            table.fail("map", "\(source) is a map of \(map.kind), the station is a \(kind.kind)")
            return nil
        }
        var ok = true
        if kind.readsSampleRing {
            table.fail("map", "a \(kind.kind) reads the device's sample ring (IR 200…) on its stream loop, which a map "
                       + "cannot describe: this kind speaks rigd's built-in contract only")
            ok = false
        }
        let unmapped = kind.commandNames.filter { map.command(named: $0) == nil && !kind.optionalCommands.contains($0) }
        if !unmapped.isEmpty {
            table.fail("map", "\(source) does not map \(unmapped.joined(separator: ", ")): the \(kind.kind) controller "
                       + "drives every one of its commands, so a map must say where each goes")
            ok = false
        }
        for (channel, function) in kind.safetyChannels where map.channel(named: channel) == nil {
            table.fail("map", "\(source) does not map \(channel), needed for \(function)")
            ok = false
        }
        if case .rtu(let settings, _) = address {
            let disagreements = map.line.disagreements(settings)
            if !disagreements.isEmpty {
                table.fail("address", "the line is \(settings.summary) but \(source) says the device needs other "
                           + "settings: \(disagreements.joined(separator: "; "))")
                ok = false
            }
        }
        let missing = kind.deviceChannelSpecs.map(\.name).filter { map.channel(named: $0) == nil }
        let absentCommands = kind.optionalCommands.filter { map.command(named: $0) == nil }
        return ok ? StationMap(map: map, source: source, missingChannels: missing, missingCommands: absentCommands) : nil
    }

    /// `{ chip = "gpiochip0", line = 17, active_low = true }`
    package static func readLine(_ t: TableReader) -> GPIOLineAddress? {
        let chip = t.string("chip", required: true)
        let line = t.int("line", default: -1, range: 0...1023)
        if !t.has("line") { t.fail("line", "is required") }
        var activeLow = false
        if t.has("active_low") {
            if let b = t.bool("active_low") { activeLow = b }
        }
        t.finish()
        guard let chip, line >= 0 else { return nil }
        if chip.isEmpty { t.fail("chip", "must name a chip (gpiochip0, 0, or its label)") }
        return GPIOLineAddress(chip: chip, line: line, activeLow: activeLow)
    }

    /// Parses TOML text; a syntax error names the file and line.
    /// The largest configuration or map file rigd reads, bytes, and the most entries (keys and array elements) in it.
    package static let maximumFileBytes = 1 << 20
    package static let maximumEntries = 10_000

    package static func parseTOML(_ text: String, source: String) throws(ConfigError) -> TOMLTable {
        guard text.utf8.count <= maximumFileBytes else {
            throw ConfigError(issues: [ConfigIssue(file: source, message: "too large: \(text.utf8.count) bytes, more "
                                                   + "than the \(maximumFileBytes) (1 MiB) rigd reads")])
        }
        // toml++ gets the text as a C string: it would stop reading at a NUL and load what came before.
        if let nul = text.utf8.firstIndex(of: 0) {
            let line = text.utf8[..<nul].filter { $0 == UInt8(ascii: "\n") }.count + 1
            throw ConfigError(issues: [ConfigIssue(file: source, line: line, context: nil, key: nil,
                                                   message: "malformed TOML: a NUL character")])
        }
        // toml++ asserts (aborting the process) on a few malformed inputs instead of reporting them.
        if let problem = TOMLPreflight.firstProblem(in: text) {
            throw ConfigError(issues: [ConfigIssue(file: source, line: problem.line, context: nil, key: nil,
                                                   message: "malformed TOML: \(problem.message)")])
        }
        do {
            let table = try TOMLTable(string: text)
            let entries = countEntries(table)
            guard entries <= maximumEntries else {
                throw ConfigError(issues: [ConfigIssue(file: source, message: "too many entries: \(entries) keys and "
                                                       + "array elements, more than the \(maximumEntries) rigd reads")])
            }
            return table
        } catch let error as ConfigError {
            throw error
        } catch let error as TOMLParseError {
            throw ConfigError(issues: [ConfigIssue(file: source, line: error.source.begin.line, context: nil,
                                                   key: nil, message: "malformed TOML: \(error.description)")])
        } catch {
            throw ConfigError(issues: [ConfigIssue(file: source, message: "malformed TOML: \(error)")])
        }
    }

    /// Keys and array elements, at every depth.
    private static func countEntries(_ value: any TOMLValueConvertible) -> Int {
        if let table = value.table { return table.keys.reduce(0) { n, key in n + 1 + countEntries(table[key]!) } }
        if let array = value.array { return array.reduce(0) { $0 + 1 + countEntries($1) } }
        return 0
    }

    package static func reason(_ error: any Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        // Foundation's reading errors without a POSIX cause ("The operation could not be completed. The file doesn't
        // exist."): the system's words instead, as `ls` or `cat` would say them.
        if ns.domain == NSCocoaErrorDomain {
            switch ns.code {
            case NSFileReadNoSuchFileError, NSFileNoSuchFileError: return String(cString: strerror(ENOENT))
            case NSFileReadNoPermissionError: return String(cString: strerror(EACCES))
            default: break
            }
        }
        return ns.localizedDescription
    }
}

/// Collects issues for one file.
package final class ConfigReader {
    package let file: String
    package let lines: SourceLines
    package private(set) var issues: [ConfigIssue] = []
    /// Paths of keys that were asked for but are not in the file.
    package private(set) var absent: Set<String> = []

    package init(file: String, lines: SourceLines) {
        self.file = file
        self.lines = lines
    }

    package func issue(path: String?, context: String?, key: String?, _ message: String) {
        issues.append(ConfigIssue(file: file, line: path.flatMap(lines.line), context: context, key: key,
                                  message: message))
    }

    /// An issue found by another reader of the same file.
    package func append(_ issue: ConfigIssue) {
        issues.append(issue)
    }

    package func noteAbsent(_ path: String) {
        absent.insert(path)
    }
}

/// One TOML table being read: remembers which keys were read so the rest can be reported as unknown.
package final class TableReader {
    package let table: TOMLTable
    /// Source path, e.g. "station[0].control".
    package let path: String
    /// Key prefix shown in messages, e.g. "control.".
    package let prefix: String
    package var context: String?
    package let reader: ConfigReader
    private var used: Set<String> = []

    package init(_ table: TOMLTable, path: String, context: String?, reader: ConfigReader, prefix: String = "") {
        self.table = table
        self.path = path
        self.context = context
        self.reader = reader
        self.prefix = prefix
    }

    private func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    package func fail(_ key: String, _ message: String) {
        reader.issue(path: keyPath(key), context: context, key: prefix + key, message)
    }

    /// Whether an optional key whose absence switches a feature off is present. Unlike `has`, an absent key is not
    /// noted as missing (examples need not set it on every station).
    package func isSet(_ key: String) -> Bool { table.contains(key: key) }

    package func has(_ key: String) -> Bool {
        let present = table.contains(key: key)
        if !present { reader.noteAbsent(keyPath(key)) }
        return present
    }

    private func value(_ key: String) -> (any TOMLValueConvertible)? {
        used.insert(key)
        guard let v = table[key] else {
            reader.noteAbsent(keyPath(key))
            return nil
        }
        return v
    }

    package func string(_ key: String, required: Bool = false) -> String? {
        guard let v = value(key) else {
            if required { reader.issue(path: path, context: context, key: prefix + key, "is required") }
            return nil
        }
        guard let s = v.string else {
            fail(key, "must be a string, got \(v.type)")
            return nil
        }
        return s
    }

    package func double(_ key: String, default fallback: Double, range: ClosedRange<Double>) -> Double {
        guard let v = value(key) else { return fallback }
        guard let d = v.double ?? v.int.map(Double.init) else {
            fail(key, "must be a number, got \(v.type)")
            return fallback
        }
        guard d.isFinite, range.contains(d) else {
            fail(key, "must be within \(Self.format(range.lowerBound))…\(Self.format(range.upperBound)), "
                 + "got \(Self.format(d))")
            return fallback
        }
        return d
    }

    package func int(_ key: String, default fallback: Int, range: ClosedRange<Int>) -> Int {
        guard let v = value(key) else { return fallback }
        guard let i = v.int else {
            fail(key, "must be an integer, got \(v.type)")
            return fallback
        }
        guard range.contains(i) else {
            fail(key, "must be within \(range.lowerBound)…\(range.upperBound), got \(i)")
            return fallback
        }
        return i
    }

    /// Reads every key of a table-driven settings type, in order, each checked against its limits; a key that is
    /// absent or wrong leaves its setting at what `settings` held.
    package func read<Settings>(_ keys: [ControlKey<Settings>], into settings: inout Settings) {
        for key in keys {
            switch key.value {
            case .number(_, let limits, _):
                key.set(double(key.name, default: key.fileValue(of: settings), range: limits), in: &settings)
            case .integer(_, let limits):
                key.set(Double(int(key.name, default: Int(key.fileValue(of: settings)), range: limits)), in: &settings)
            case .flag:
                if let b = bool(key.name) { key.set(b ? 1 : 0, in: &settings) }
            }
        }
    }

    package func stringArray(_ key: String) -> [String]? {
        guard let v = value(key) else { return nil }
        guard let array = v.array else {
            fail(key, "must be an array of strings, got \(v.type)")
            return nil
        }
        var out: [String] = []
        for (i, element) in array.enumerated() {
            guard let s = element.string else {
                fail(key, "element \(i + 1) must be a string, got \(element.type)")
                return nil
            }
            out.append(s)
        }
        return out
    }

    package func bool(_ key: String) -> Bool? {
        guard let v = value(key) else { return nil }
        guard let b = v.bool else {
            fail(key, "must be true or false, got \(v.type)")
            return nil
        }
        return b
    }

    package func table(_ key: String) -> TableReader? {
        guard let v = value(key) else { return nil }
        guard let t = v.table else {
            fail(key, "must be a table, got \(v.type)")
            return nil
        }
        return TableReader(t, path: keyPath(key), context: context, reader: reader, prefix: prefix + key + ".")
    }

    package func arrayOfTables(_ key: String) -> [TableReader]? {
        guard let v = value(key) else { return nil }
        guard let array = v.array else {
            fail(key, "must be an array of tables ([[\(key)]]), got \(v.type)")
            return nil
        }
        var out: [TableReader] = []
        for (i, element) in array.enumerated() {
            guard let t = element.table else {
                fail(key, "element \(i + 1) must be a table")
                continue
            }
            out.append(TableReader(t, path: "\(keyPath(key))[\(i)]", context: nil, reader: reader))
        }
        return out
    }

    /// Marks a key read by hand (from `table`), so `finish` does not report it.
    package func markRead(_ key: String) { used.insert(key) }

    /// Reports every key that was not read.
    package func finish() {
        for key in table.keys.sorted() where !used.contains(key) {
            fail(key, "is not a known key here (a typo?)")
        }
    }

    package static func format(_ d: Double) -> String {
        d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : String(d)
    }
}

/// `broker = "mqtt://host[:port]"` or `"mqtts://host[:port]"`, parsed with `URLComponents`.
private struct MQTTBroker {
    var host: String
    var port: Int
    var tls: Bool

    /// Whether `text` names an mqtts:// (true) or mqtt:// (false) broker; nil for another scheme or none.
    static func tls(_ text: String) -> Bool? {
        switch URLComponents(string: text)?.scheme?.lowercased() {
        case "mqtts": true
        case "mqtt": false
        default: nil
        }
    }

    /// Parses a broker URL; throws a message naming every problem with it.
    init(parsing text: String) throws(ConfigMessage) {
        let example = "(mqtt://broker.local:1883 or mqtts://broker.local:8883)"
        guard let url = URLComponents(string: text) else {
            // Text with an `@` may hold a password: it is not repeated into a message that goes to logs.
            throw ConfigMessage("is not a URL" + (text.contains("@") ? "" : ": \"\(text)\"") + " \(example)")
        }
        var problems: [String] = []
        let scheme = url.scheme?.lowercased()
        if scheme != "mqtt" && scheme != "mqtts" {
            problems.append(url.scheme.map { "has scheme \"\($0)\", must be mqtt:// or mqtts://" }
                            ?? "must start with mqtt:// or mqtts://")
        }
        var host = url.host ?? ""
        if host.hasPrefix("[") && host.hasSuffix("]") && host.count >= 2 { host = String(host.dropFirst().dropLast()) }
        if host.isEmpty { problems.append("names no host") }
        if url.user != nil || url.password != nil {
            problems.append("must not hold a user or password: use username and password_file")
        }
        if !url.path.isEmpty && url.path != "/" { problems.append("must not have a path, got \"\(url.path)\"") }
        if url.query != nil || url.fragment != nil { problems.append("must not have a query (?…) or a fragment (#…)") }
        let tls = scheme == "mqtts"
        let port = url.port ?? (tls ? 8883 : 1883)
        if !(1...65_535).contains(port) { problems.append("port must be 1…65535, got \(port)") }
        guard problems.isEmpty else {
            // A password in the URL is not repeated into a message that goes to logs.
            let shown = url.password == nil ? "\"\(text)\" " : ""
            throw ConfigMessage(shown + problems.joined(separator: "; ") + " \(example)")
        }
        self.host = host
        self.port = port
        self.tls = tls
    }
}
