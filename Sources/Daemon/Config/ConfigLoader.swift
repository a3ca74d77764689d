import Control
import Devices
import Foundation
import Sim
import TOMLKit

/// Reads a configuration strictly: every key is read when the station is built, unknown keys are errors (they are
/// typos), values are checked against their limits, and every problem is reported, not just the first.
struct ConfigLoader {
    /// Loads `path`; throws `ConfigError` naming the file.
    static func load(path: String) throws(ConfigError) -> Configuration {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(issues: [ConfigIssue(file: path, message: "cannot read: \(Self.reason(error))")])
        }
        return try parse(text, source: path)
    }

    /// Parses configuration text; `source` names it in messages.
    static func parse(_ text: String, source: String) throws(ConfigError) -> Configuration {
        try parseReportingAbsent(text, source: source).0
    }

    /// `parse`, also returning the path of every key the loader asked for that the text does not have
    /// (`daemon.retention_days`, `station[2].control.kp`): a file that sets every key returns an empty set.
    static func parseReportingAbsent(_ text: String, source: String) throws(ConfigError)
        -> (Configuration, absent: Set<String>) {
        let root = try ConfigLoader.parseTOML(text, source: source)
        let reader = ConfigReader(file: source, lines: SourceLines(text))
        let top = TableReader(root, path: "", context: nil, reader: reader)
        var stations: [StationConfig] = []
        let daemonTable = top.table("daemon")
        var daemon = daemonTable.map(readDaemon) ?? DaemonConfig()
        let tables = top.arrayOfTables("station") ?? []
        for (i, table) in tables.enumerated() {
            if let station = readStation(table, index: i, reader: reader) { stations.append(station) }
        }
        top.finish()
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
        // Relative paths in [daemon] are relative to the configuration file, not to wherever rigd was started.
        let base = (source as NSString).deletingLastPathComponent
        func anchored(_ path: String?) -> String? {
            guard let path, !path.hasPrefix("/"), FileManager.default.fileExists(atPath: source) else { return path }
            return ((base.isEmpty ? "." : base) as NSString).appendingPathComponent(path)
        }
        daemon.dataDirectory = anchored(daemon.dataDirectory)
        daemon.tokenFile = anchored(daemon.tokenFile)
        if tables.isEmpty {
            // Only a [daemon] table: the embedded demo plant, run with these settings.
            var demo = try DemoPlant.configuration()
            demo.source = "embedded demo plant, with [daemon] from \(source)"
            demo.daemon = daemon
            return (demo, reader.absent)
        }
        return (Configuration(source: source, stations: stations, daemon: daemon), reader.absent)
    }

    /// `[daemon]`: http, data_dir, token_file, retention_days, record_interval_s, watchdog_stall_s.
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
        c.retentionDays = t.double("retention_days", default: c.retentionDays, range: DaemonConfig.retentionLimits)
        c.recordInterval = t.double("record_interval_s", default: c.recordInterval,
                                    range: DaemonConfig.recordIntervalLimits)
        c.watchdogStall = t.double("watchdog_stall_s", default: c.watchdogStall,
                                   range: DaemonConfig.watchdogStallLimits)
        t.finish()
        return c
    }

    private static func readStation(_ table: TableReader, index: Int, reader: ConfigReader) -> StationConfig? {
        let name = table.string("name", required: true) ?? "#\(index + 1)"
        if name.isEmpty {
            table.fail("name", "must be 1–64 letters, digits, - or _, got an empty name")
        } else if !name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
            || name.count > 64 {
            table.fail("name", "must be 1–64 letters, digits, - or _, got \"\(name)\"")
        }
        table.context = "station \"\(name)\""
        let kindName = table.string("kind", required: true)
        var kind: DeviceKind?
        if let kindName {
            if let k = DeviceKind(rawValue: kindName) {
                kind = k
            } else {
                table.fail("kind", "unknown kind \"\(kindName)\" (kinds: "
                           + DeviceKind.allCases.map(\.rawValue).joined(separator: ", ") + ")")
            }
        }
        var address: DeviceAddress?
        if let text = table.string("address", required: true) {
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
            if let preset = simulator.preset, let presets = kind.map(SimulatorCatalog.presets(for:)),
               !presets.contains(preset) {
                sim.fail("preset", "unknown preset \"\(preset)\" (presets: \(presets.joined(separator: ", ")))")
            }
            if sim.has("seed") { simulator.seed = UInt64(sim.int("seed", default: 1, range: 0...Int.max)) }
            sim.finish()
        }

        let estop = table.table("estop").flatMap(readLine)
        let beacon = table.table("beacon").flatMap(readLine)
        if let estop, let beacon, estop.chip == beacon.chip, estop.line == beacon.line {
            table.fail("beacon", "uses the same line as estop (\(estop))")
        }
        var control: ControlConfig?
        var relays: [String: GPIOLineAddress] = [:]
        let controlTable = table.table("control")
        switch kind {
        case .heatRig?:
            control = .heatRig(readHeatRig(controlTable))
        case .extraction?:
            control = .extraction(readExtraction(controlTable))
        case .cncMill?:
            control = .mill(readMill(controlTable))
        case .msdRig?:
            control = .massSpringDamper(readMassSpringDamper(controlTable))
        case .streamStation?:
            control = .stream(readStream(controlTable))
        case .aquaSonde?:
            let aqua = readAquaculture(controlTable, station: table)
            control = .aquaculture(aqua)
            relays = table.table("relays").map { readRelays($0, aerators: aqua.aerators) } ?? [:]
            let used = [estop, beacon].compactMap { $0 } + relays.values
            for (name, address) in relays.sorted(by: { $0.key < $1.key })
                where used.filter({ $0.chip == address.chip && $0.line == address.line }).count > 1 {
                table.fail("relays", "\(name) uses line \(address), which another output or input uses too")
            }
        default:
            break
        }
        // Control keys depend on the kind: without a valid kind they cannot be judged, so they are not reported.
        if kind != nil { controlTable?.finish() }
        table.finish()
        guard let kind, let address, let control else { return nil }
        return StationConfig(name: name, kind: kind, address: address, fallback: fallback, probeTimeoutMs: probe,
                             responseTimeoutMs: response, control: control, simulator: simulator, estop: estop,
                             beacon: beacon, relays: relays)
    }

    /// `{ chip = "gpiochip0", line = 17, active_low = true }`
    private static func readLine(_ t: TableReader) -> GPIOLineAddress? {
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

    /// The default recipe and start-up behaviour of an extraction station.
    private static func readExtraction(_ t: TableReader?) -> ExtractionControlConfig {
        var c = ExtractionControlConfig()
        guard let t else { return c }
        var parameters: [String: Double] = [:]
        for spec in ExtractionRecipe.specs {
            if spec.name == "fixed_nozzle" {
                if t.has("fixed_nozzle"), let b = t.bool("fixed_nozzle") { parameters["fixed_nozzle"] = b ? 1 : 0 }
            } else if t.has(spec.name) {
                parameters[spec.name] = t.double(spec.name, default: 0, range: spec.limits)
            }
        }
        if t.has("start_run"), let b = t.bool("start_run") { c.startRun = b }
        do {
            c.defaultRecipe = try ExtractionRecipe.make(RunRecipe(name: "default", parameters: parameters),
                                                        base: c.defaultRecipe)
        } catch {
            t.fail("residue_duration_s", error.reason)
        }
        return c
    }

    /// `[station.relays]`: `aerators = [{ chip, line }, …]` (one per aerator), `exchange = { … }`, `feeder = { … }`.
    private static func readRelays(_ t: TableReader, aerators: Int) -> [String: GPIOLineAddress] {
        var out: [String: GPIOLineAddress] = [:]
        if let list = t.arrayOfTables("aerators") {
            if list.count != aerators {
                t.fail("aerators", "lists \(list.count) line(s) but control.aerators is \(aerators)")
            }
            for (i, line) in list.enumerated() {
                line.context = t.context
                if let address = readLine(line) { out["aerator-\(i + 1)"] = address }
            }
        }
        for name in ["exchange", "feeder"] {
            if let address = t.table(name).flatMap(readLine) { out[name] = address }
        }
        t.finish()
        return out
    }

    /// The CNC mill's cut and supervision (DEVICES.md §C1).
    private static func readMill(_ t: TableReader?) -> MillControlConfig {
        var c = MillControlConfig()
        guard let t else { return c }
        c.spindleRPM = t.double("spindle_rpm", default: c.spindleRPM, range: MillControlConfig.rpmLimits)
        c.feedOverridePercent = t.double("feed_override_pct", default: c.feedOverridePercent,
                                         range: MillControlConfig.overrideLimits)
        c.cutDuration = t.double("cut_duration_s", default: c.cutDuration, range: 1...86400)
        if t.has("start_run"), let b = t.bool("start_run") { c.startRun = b }
        c.overloadNm = t.double("overload_nm", default: c.overloadNm, range: 0.01...50)
        c.overloadSamples = t.int("overload_ms", default: c.overloadSamples, range: 1...1000)
        c.spindleStopDelay = t.double("spindle_stop_delay_ms", default: c.spindleStopDelay * 1000, range: 0...10_000)
            / 1000
        c.breakageFraction = t.double("breakage_fraction", default: c.breakageFraction, range: 0.01...0.9)
        c.statisticsWindow = t.int("statistics_window_samples", default: c.statisticsWindow, range: 10...600_000)
        return c
    }

    /// The mass-spring-damper experiment (DEVICES.md §C3).
    private static func readMassSpringDamper(_ t: TableReader?) -> MassSpringDamperControlConfig {
        var c = MassSpringDamperControlConfig()
        guard let t else { return c }
        let f = MassSpringDamperControlConfig.frequencyLimits
        let a = MassSpringDamperControlConfig.amplitudeLimits
        c.exciteFrequencyHz = t.double("excite_frequency_hz", default: c.exciteFrequencyHz, range: f)
        c.exciteAmplitudeN = t.double("excite_amplitude_n", default: c.exciteAmplitudeN, range: a)
        c.exciteDuration = t.double("excite_s", default: c.exciteDuration, range: 0.5...600)
        c.decayDuration = t.double("decay_s", default: c.decayDuration, range: 1...600)
        if t.has("sweep"), let b = t.bool("sweep") { c.sweep = b }
        c.sweepFromHz = t.double("sweep_from_hz", default: c.sweepFromHz, range: f)
        c.sweepToHz = t.double("sweep_to_hz", default: c.sweepToHz, range: f)
        c.sweepSteps = t.int("sweep_steps", default: c.sweepSteps, range: 3...200)
        c.sweepAmplitudeN = t.double("sweep_amplitude_n", default: c.sweepAmplitudeN, range: a)
        c.sweepDwell = t.double("sweep_dwell_s", default: c.sweepDwell, range: 1...600)
        c.sweepMeasure = t.double("sweep_measure_s", default: c.sweepMeasure, range: 0.5...600)
        if t.has("start_run"), let b = t.bool("start_run") { c.startRun = b }
        if c.sweepToHz <= c.sweepFromHz { t.fail("sweep_to_hz", "must be above sweep_from_hz (\(c.sweepFromHz))") }
        if c.sweepMeasure >= c.sweepDwell { t.fail("sweep_measure_s", "must be shorter than sweep_dwell_s (\(c.sweepDwell))") }
        return c
    }

    /// The stream station's sampling and accounting (DEVICES.md §D).
    private static func readStream(_ t: TableReader?) -> StreamControlConfig {
        var c = StreamControlConfig()
        guard let t else { return c }
        c.sampleEvery = t.double("sample_every_s", default: c.sampleEvery, range: 1...3600)
        c.logEvery = t.double("log_every_s", default: c.logEvery, range: 1...86400)
        c.logEveryInEvent = t.double("log_every_event_s", default: c.logEveryInEvent, range: 1...86400)
        c.autosamplerEvery = 60 * t.double("autosampler_every_min", default: c.autosamplerEvery / 60, range: 1...1440)
        c.areaHa = t.double("area_ha", default: c.areaHa, range: 1...10_000_000)
        c.startDayOfYear = t.double("start_day_of_year", default: c.startDayOfYear, range: 0...364)
        return c
    }

    /// A pond's or tank's control keys (DEVICES.md §B).
    private static func readAquaculture(_ t: TableReader?, station: TableReader) -> AquacultureControlConfig {
        var c = AquacultureControlConfig()
        guard let t else { return c }
        let doLimits = AquacultureControlConfig.doLimits
        c.sampleEvery = t.double("sample_every_s", default: c.sampleEvery, range: 0.5...3600)
        c.logEvery = t.double("log_every_s", default: c.logEvery, range: 1...86400)
        if t.has("aeration"), let b = t.bool("aeration") { c.aeration = b }
        c.aerators = t.int("aerators", default: c.aerators, range: 1...8)
        c.aeratorOnBelowMgL = t.double("aerator_on_below_mgl", default: c.aeratorOnBelowMgL, range: doLimits)
        c.aeratorOffAboveMgL = t.double("aerator_off_above_mgl", default: c.aeratorOffAboveMgL, range: doLimits)
        c.aeratorMinRun = 60 * t.double("aerator_min_run_min", default: c.aeratorMinRun / 60, range: 0...240)
        c.criticalDOMgL = t.double("critical_do_mgl", default: c.criticalDOMgL, range: doLimits)
        if t.has("feed_times") {
            c.feedTimes = t.stringArray("feed_times")?.compactMap { text in
                let parts = text.split(separator: ":")
                guard parts.count == 2, let h = Int(parts[0]), let m = Int(parts[1]), (0..<24).contains(h),
                      (0..<60).contains(m) else {
                    t.fail("feed_times", "\"\(text)\" is not a time of day HH:MM")
                    return nil
                }
                return Double(h) + Double(m) / 60
            } ?? c.feedTimes
        }
        c.feedDuration = 60 * t.double("feed_minutes", default: c.feedDuration / 60, range: 0...240)
        c.feedMinDOMgL = t.double("feed_min_do_mgl", default: c.feedMinDOMgL, range: doLimits)
        let feedLow = t.double("feed_temp_min_c", default: c.feedTempC.lowerBound, range: 0...40)
        let feedHigh = t.double("feed_temp_max_c", default: c.feedTempC.upperBound, range: 0...40)
        if feedLow < feedHigh { c.feedTempC = feedLow...feedHigh } else {
            t.fail("feed_temp_max_c", "must be above feed_temp_min_c (\(feedLow))")
        }
        c.nh3MaxMgL = t.double("nh3_max_mgl", default: c.nh3MaxMgL, range: AquacultureControlConfig.nh3Limits)
        let salinityLow = t.double("salinity_min_ppt", default: c.salinityPpt.lowerBound, range: 0...45)
        let salinityHigh = t.double("salinity_max_ppt", default: c.salinityPpt.upperBound, range: 0...45)
        if salinityLow < salinityHigh { c.salinityPpt = salinityLow...salinityHigh } else {
            t.fail("salinity_max_ppt", "must be above salinity_min_ppt (\(salinityLow))")
        }
        c.exchangeMinRun = 60 * t.double("exchange_min_run_min", default: c.exchangeMinRun / 60, range: 0...1440)
        c.stuckSamples = t.int("stuck_samples", default: c.stuckSamples, range: 2...100_000)
        c.driftToleranceMgL = t.double("drift_tolerance_mgl", default: c.driftToleranceMgL, range: 0.05...10)
        c.driftWindow = 60 * t.double("drift_window_min", default: c.driftWindow / 60, range: 1...1440)
        c.nightStartHour = t.double("night_start_hour", default: c.nightStartHour, range: 12...23.99)
        c.nightEndHour = t.double("night_end_hour", default: c.nightEndHour, range: 0...12)
        for problem in c.problems() { t.fail(problem.key, problem.message) }
        return c
    }

    private static func readHeatRig(_ t: TableReader?) -> HeatRigControlConfig {
        var c = HeatRigControlConfig()
        guard let t else { return c }
        c.setpointC = t.double("setpoint_c", default: c.setpointC, range: HeatRigControlConfig.setpointLimits)
        c.fanPercent = t.double("fan_pct", default: c.fanPercent, range: HeatRigControlConfig.fanLimits)
        c.alarmHighC = t.double("alarm_high_c", default: c.alarmHighC, range: HeatRigControlConfig.alarmLimits)
        c.kp = t.double("kp", default: c.kp, range: HeatRigControlConfig.gainLimits)
        c.ki = t.double("ki", default: c.ki, range: HeatRigControlConfig.gainLimits)
        c.kd = t.double("kd", default: c.kd, range: HeatRigControlConfig.gainLimits)
        c.settleBandC = t.double("settle_band_c", default: c.settleBandC, range: 0.05...10)
        if c.setpointC >= c.alarmHighC {
            t.fail("setpoint_c", "must be below alarm_high_c (\(c.alarmHighC)), got \(c.setpointC)")
        }
        return c
    }

    /// Parses TOML text; a syntax error names the file and line.
    static func parseTOML(_ text: String, source: String) throws(ConfigError) -> TOMLTable {
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
            return try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigError(issues: [ConfigIssue(file: source, line: error.source.begin.line, context: nil,
                                                   key: nil, message: "malformed TOML: \(error.description)")])
        } catch {
            throw ConfigError(issues: [ConfigIssue(file: source, message: "malformed TOML: \(error)")])
        }
    }

    static func reason(_ error: any Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        return ns.localizedDescription
    }
}

/// Collects issues for one file.
final class ConfigReader {
    let file: String
    let lines: SourceLines
    private(set) var issues: [ConfigIssue] = []
    /// Paths of keys that were asked for but are not in the file.
    private(set) var absent: Set<String> = []

    init(file: String, lines: SourceLines) {
        self.file = file
        self.lines = lines
    }

    func issue(path: String?, context: String?, key: String?, _ message: String) {
        issues.append(ConfigIssue(file: file, line: path.flatMap(lines.line), context: context, key: key,
                                  message: message))
    }

    func noteAbsent(_ path: String) {
        absent.insert(path)
    }
}

/// One TOML table being read: remembers which keys were read so the rest can be reported as unknown.
final class TableReader {
    let table: TOMLTable
    /// Source path, e.g. "station[0].control".
    let path: String
    /// Key prefix shown in messages, e.g. "control.".
    let prefix: String
    var context: String?
    let reader: ConfigReader
    private var used: Set<String> = []

    init(_ table: TOMLTable, path: String, context: String?, reader: ConfigReader, prefix: String = "") {
        self.table = table
        self.path = path
        self.context = context
        self.reader = reader
        self.prefix = prefix
    }

    private func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func fail(_ key: String, _ message: String) {
        reader.issue(path: keyPath(key), context: context, key: prefix + key, message)
    }

    func has(_ key: String) -> Bool {
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

    func string(_ key: String, required: Bool = false) -> String? {
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

    func double(_ key: String, default fallback: Double, range: ClosedRange<Double>) -> Double {
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

    func int(_ key: String, default fallback: Int, range: ClosedRange<Int>) -> Int {
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

    func stringArray(_ key: String) -> [String]? {
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

    func bool(_ key: String) -> Bool? {
        guard let v = value(key) else { return nil }
        guard let b = v.bool else {
            fail(key, "must be true or false, got \(v.type)")
            return nil
        }
        return b
    }

    func table(_ key: String) -> TableReader? {
        guard let v = value(key) else { return nil }
        guard let t = v.table else {
            fail(key, "must be a table, got \(v.type)")
            return nil
        }
        return TableReader(t, path: keyPath(key), context: context, reader: reader, prefix: prefix + key + ".")
    }

    func arrayOfTables(_ key: String) -> [TableReader]? {
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
    func markRead(_ key: String) { used.insert(key) }

    /// Reports every key that was not read.
    func finish() {
        for key in table.keys.sorted() where !used.contains(key) {
            fail(key, "is not a known key here (a typo?)")
        }
    }

    static func format(_ d: Double) -> String {
        d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : String(d)
    }
}
