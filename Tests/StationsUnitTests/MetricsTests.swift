import Control
import Daemon
import Foundation
import Stations
import Testing

/// `MetricsExporter`: the series and labels of /metrics, counters from absolute totals, cleared alarms, the lateness
/// histogram, label escaping, and `promtool check metrics` on the output. Every test has its own exporter.
@Suite struct MetricsTests {
    @Test func seriesAndLabels() throws {
        let exporter = MetricsExporter()
        let m = try MetricsText(exporter.render([simulatedHeatRig(), realExtractor(), realPond()]))

        // Loops.
        #expect(m.value("rigd_loop_period_seconds", ["station": "sim-heat", "loop": "control"]) == 0.1)
        #expect(m.value("rigd_loop_ticks_total", ["station": "sim-heat", "loop": "control"]) == 1000)
        #expect(m.value("rigd_loop_overruns_total", ["station": "sim-heat", "loop": "control"]) == 0)
        #expect(m.value("rigd_loop_period_seconds", ["station": "extractor-1", "loop": "fast"]) == 0.001)
        #expect(m.value("rigd_loop_ticks_total", ["station": "extractor-1", "loop": "fast"]) == 90000)
        #expect(m.value("rigd_loop_overruns_total", ["station": "extractor-1", "loop": "fast"]) == 12)
        #expect(m.value("rigd_loop_missed_deadlines_total", ["station": "extractor-1", "loop": "fast"]) == 15)
        #expect(m.value("rigd_loop_period_seconds", ["station": "extractor-1", "loop": "slow"]) == 1)
        #expect(m.value("rigd_loop_ticks_total", ["station": "extractor-1", "loop": "slow"]) == 90)
        #expect(m.samples("rigd_loop_ticks_total").count == 3)

        // Link.
        #expect(m.value("rigd_modbus_transactions_total", ["station": "extractor-1"]) == 5000)
        #expect(m.value("rigd_modbus_transactions_total", ["station": "sim-heat"]) == 200)
        #expect(m.value("rigd_modbus_errors_total", ["station": "extractor-1", "kind": "timeout"]) == 7)
        #expect(m.value("rigd_modbus_errors_total", ["station": "extractor-1", "kind": "crc"]) == 2)
        #expect(m.value("rigd_modbus_errors_total", ["station": "extractor-1", "kind": "exception_02"]) == 1)
        // One series per key of errorsByKind, none for a station without errors.
        #expect(m.samples("rigd_modbus_errors_total").count == 3)
        #expect(m.value("rigd_modbus_reconnects_total", ["station": "extractor-1"]) == 3)
        #expect(m.value("rigd_modbus_reconnects_total", ["station": "sim-heat"]) == 0)
        #expect(m.value("rigd_link_up", ["station": "sim-heat", "mode": "simulated"]) == 1)
        #expect(m.value("rigd_link_up", ["station": "extractor-1", "mode": "real"]) == 0)
        #expect(m.value("rigd_link_up", ["station": "pond", "mode": "real"]) == 1)
        #expect(m.value("rigd_station_info", [
            "station": "sim-heat", "kind": "heat-rig", "mode": "simulated", "address": "sim://heat-rig",
        ]) == 1)
        #expect(m.value("rigd_station_info", [
            "station": "extractor-1", "kind": "extraction", "mode": "real", "address": "rtu:///dev/ttyUSB0?unit=2",
        ]) == 1)
        #expect(m.value("rigd_station_info", [
            "station": "pond", "kind": "aquaculture", "mode": "real", "address": "tcp://127.0.0.1:1502",
        ]) == 1)

        // Alarms.
        #expect(m.value("rigd_alarms_active", ["station": "extractor-1"]) == 1)
        #expect(m.value("rigd_alarms_active", ["station": "sim-heat"]) == 0)
        #expect(m.value("rigd_alarm_active", [
            "station": "extractor-1", "code": "pressure_high", "severity": "critical",
        ]) == 1)
        #expect(m.samples("rigd_alarm_active").count == 1)

        // Channels: a reading with a non-ASCII unit, a fault (nil → NaN) with its quality word.
        #expect(m.value("rigd_channel_value", ["station": "sim-heat", "channel": "temperature", "unit": "°C"]) == 42.5)
        #expect(m.value("rigd_channel_quality", ["station": "sim-heat", "channel": "temperature"]) == 0)
        let fault = m.value("rigd_channel_value", ["station": "extractor-1", "channel": "pressure", "unit": "bar"])
        #expect(fault?.isNaN == true)
        #expect(m.value("rigd_channel_quality", ["station": "extractor-1", "channel": "pressure"]) == 128)
        #expect(m.value("rigd_channel_value", ["station": "extractor-1", "channel": "flow", "unit": "L/min"]) == 1.25)

        // Every station metric has a station label; every family has its type and a help text.
        for sample in m.samples where sample.name.hasPrefix("rigd_") {
            #expect(sample.labels["station"] != nil, "\(sample.name) without station")
        }
        let types = [
            "rigd_loop_period_seconds": "gauge", "rigd_loop_ticks_total": "counter",
            "rigd_loop_overruns_total": "counter", "rigd_loop_missed_deadlines_total": "counter",
            "rigd_modbus_transactions_total": "counter", "rigd_modbus_errors_total": "counter",
            "rigd_modbus_reconnects_total": "counter", "rigd_link_up": "gauge", "rigd_station_info": "gauge",
            "rigd_alarms_active": "gauge", "rigd_alarm_active": "gauge", "rigd_channel_value": "gauge",
            "rigd_channel_quality": "gauge",
        ]
        #expect(m.types == types)
        for name in types.keys {
            #expect(!(m.help[name] ?? "").isEmpty, "\(name) has no help text")
        }
        try expectPromtoolAccepts(m.text)
    }

    @Test func countersFollowAbsoluteTotals() throws {
        let exporter = MetricsExporter()
        var extractor = realExtractor()
        _ = exporter.render([extractor])

        extractor.loops[0].ticks = 95000
        extractor.link.transactions = 5600
        extractor.link.errorsByKind["timeout"] = 9
        extractor.link.errorsByKind["connection"] = 1
        var m = try MetricsText(exporter.render([extractor]))
        // The new total, not the sum of both renders.
        #expect(m.value("rigd_loop_ticks_total", ["station": "extractor-1", "loop": "fast"]) == 95000)
        #expect(m.value("rigd_modbus_transactions_total", ["station": "extractor-1"]) == 5600)
        #expect(m.value("rigd_modbus_errors_total", ["station": "extractor-1", "kind": "timeout"]) == 9)
        #expect(m.value("rigd_modbus_errors_total", ["station": "extractor-1", "kind": "crc"]) == 2)
        #expect(m.value("rigd_modbus_errors_total", ["station": "extractor-1", "kind": "connection"]) == 1)

        // Unchanged totals: unchanged counters.
        m = try MetricsText(exporter.render([extractor]))
        #expect(m.value("rigd_loop_ticks_total", ["station": "extractor-1", "loop": "fast"]) == 95000)
        #expect(m.value("rigd_modbus_transactions_total", ["station": "extractor-1"]) == 5600)

        // A restarted station counts from 0 again: the counter never goes down, it goes up by the new total.
        extractor.loops[0].ticks = 300
        m = try MetricsText(exporter.render([extractor]))
        #expect(m.value("rigd_loop_ticks_total", ["station": "extractor-1", "loop": "fast"]) == 95300)
        extractor.loops[0].ticks = 500
        m = try MetricsText(exporter.render([extractor]))
        #expect(m.value("rigd_loop_ticks_total", ["station": "extractor-1", "loop": "fast"]) == 95500)
        try expectPromtoolAccepts(m.text)
    }

    @Test func clearedAlarmGoesAway() throws {
        let exporter = MetricsExporter()
        var extractor = realExtractor()
        var m = try MetricsText(exporter.render([extractor, simulatedHeatRig()]))
        let pressureHigh = ["station": "extractor-1", "code": "pressure_high", "severity": "critical"]
        #expect(m.value("rigd_alarm_active", pressureHigh) == 1)

        // pressure_high clears, flow_low is raised.
        extractor.alarms = [activeAlarm("flow_low", "warning")]
        m = try MetricsText(exporter.render([extractor, simulatedHeatRig()]))
        #expect(m.value("rigd_alarm_active", pressureHigh) == nil)
        let flowLow = ["station": "extractor-1", "code": "flow_low", "severity": "warning"]
        #expect(m.value("rigd_alarm_active", flowLow) == 1)
        #expect(m.samples("rigd_alarm_active").count == 1)
        #expect(m.value("rigd_alarms_active", ["station": "extractor-1"]) == 1)

        // All clear.
        extractor.alarms = []
        m = try MetricsText(exporter.render([extractor, simulatedHeatRig()]))
        #expect(m.samples("rigd_alarm_active").isEmpty)
        #expect(m.value("rigd_alarms_active", ["station": "extractor-1"]) == 0)
        try expectPromtoolAccepts(m.text)

        // Series of a station that is gone go away too.
        m = try MetricsText(exporter.render([simulatedHeatRig()]))
        #expect(!m.samples.contains { $0.labels["station"] == "extractor-1" })
        #expect(m.value("rigd_station_info", [
            "station": "sim-heat", "kind": "heat-rig", "mode": "simulated", "address": "sim://heat-rig",
        ]) == 1)
    }

    @Test func latenessHistogram() throws {
        let exporter = MetricsExporter()
        let fast = exporter.latenessObserver(station: "extractor-1", loop: "fast")
        let slow = exporter.latenessObserver(station: "extractor-1", loop: "slow")
        // ns: below the first bound, exactly on it (le is inclusive), between bounds, beyond 1 s, clamped negative.
        let observations: [Int64] = [5_000, 10_000, 30_000, 30_000, 2_000_000, 2_000_000_000, -5]
        for ns in observations { fast(ns) }
        slow(400_000)
        // A second observer for the same loop feeds the same histogram.
        exporter.latenessObserver(station: "extractor-1", loop: "fast")(700_000)

        let m = try MetricsText(exporter.render([realExtractor()]))
        #expect(m.types["rigd_loop_lateness_seconds"] == "histogram")
        #expect(!(m.help["rigd_loop_lateness_seconds"] ?? "").isEmpty)

        let seconds = (observations + [700_000]).map { Double(max(0, $0)) / 1e9 }
        let labels = ["station": "extractor-1", "loop": "fast"]
        let buckets = m.buckets("rigd_loop_lateness_seconds", labels)
        let bounds = [1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 1]
        #expect(buckets.map(\.le) == bounds + [.infinity])
        for (le, count) in buckets {
            #expect(count == Double(seconds.filter { $0 <= le }.count), "le=\(le)")
        }
        #expect(buckets.map(\.count) == buckets.map(\.count).sorted(), "buckets are cumulative")
        #expect(buckets.last?.count == Double(seconds.count))
        #expect(m.value("rigd_loop_lateness_seconds_count", labels) == Double(seconds.count))
        let sum = try #require(m.value("rigd_loop_lateness_seconds_sum", labels))
        #expect(abs(sum - seconds.reduce(0, +)) < 1e-12)

        let slowLabels = ["station": "extractor-1", "loop": "slow"]
        #expect(m.value("rigd_loop_lateness_seconds_count", slowLabels) == 1)
        #expect(m.value("rigd_loop_lateness_seconds_sum", slowLabels) == 0.0004)
        #expect(m.buckets("rigd_loop_lateness_seconds", slowLabels).map(\.count)
                == [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1])
        try expectPromtoolAccepts(m.text)
    }

    @Test func observersAndRendersFromManyThreads() throws {
        let exporter = MetricsExporter()
        let observers = (0..<4).map { exporter.latenessObserver(station: "pond", loop: "loop-\($0)") }
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            if i < 4 {
                for _ in 0..<1000 { observers[i](1_000) }
            } else {
                var pond = realPond()
                for n in 1...50 {
                    pond.link.transactions = UInt64(n)
                    _ = exporter.render([pond])
                }
            }
        }
        let m = try MetricsText(exporter.render([realPond()]))
        for i in 0..<4 {
            #expect(m.value("rigd_loop_lateness_seconds_count", ["station": "pond", "loop": "loop-\(i)"]) == 1000)
        }
    }

    @Test func labelValuesAreEscaped() throws {
        var odd = realPond()
        odd.name = #"pond "B"\2"#
        odd.address = "rtu:///dev/ttyUSB0?unit=2&note=\"a\\b\"\nsecond line"
        odd.channels = [.init(name: "o2, dissolved", unit: "mg/L {x=1}", value: 7.5, quality: 0)]
        let m = try MetricsText(MetricsExporter().render([odd]))
        #expect(m.text.contains(#"station="pond \"B\"\\2""#))
        #expect(m.text.contains(#"address="rtu:///dev/ttyUSB0?unit=2&note=\"a\\b\"\nsecond line""#))
        #expect(m.value("rigd_station_info", [
            "station": odd.name, "kind": "aquaculture", "mode": "real", "address": odd.address,
        ]) == 1)
        #expect(m.value("rigd_channel_value", [
            "station": odd.name, "channel": "o2, dissolved", "unit": "mg/L {x=1}",
        ]) == 7.5)
        try expectPromtoolAccepts(m.text)
    }
}

// MARK: - Statuses

private func activeAlarm(_ code: String, _ severity: String) -> StationStatus.Alarm {
    .init(code: code, severity: severity, message: "\(code) is active", raisedAt: 1_700_000_000,
          acknowledgedAt: nil, acknowledgedBy: nil)
}

private func loopStatus(_ name: String, period: Double, ticks: UInt64, overruns: UInt64 = 0, missed: UInt64 = 0)
    -> StationStatus.Loop {
    .init(name: name, periodS: period, ticks: ticks, overruns: overruns, missedDeadlines: missed,
          latenessP50S: 0.00002, latenessP99S: 0.0004, latenessMaxS: 0.003)
}

/// A simulated station, link up, no errors, no alarms.
private func simulatedHeatRig() -> StationStatus {
    StationStatus(
        name: "sim-heat", kind: "heat-rig", mode: "simulated", address: "sim://heat-rig", updatedAt: 1_700_000_100,
        link: .init(up: true, transactions: 200, linkErrors: 0, transactionErrors: 0, errorsByKind: [:],
                    reconnects: 0, lastError: nil),
        loops: [loopStatus("control", period: 0.1, ticks: 1000)], deviceStatus: [],
        channels: [.init(name: "temperature", unit: "°C", value: 42.5, quality: 0)],
        alarms: [], run: nil, phase: nil, relays: ["heater": true], settings: [], results: [:])
}

/// A real RTU station with link errors by kind, the link down, an active alarm and a faulted channel.
private func realExtractor() -> StationStatus {
    StationStatus(
        name: "extractor-1", kind: "extraction", mode: "real", address: "rtu:///dev/ttyUSB0?unit=2",
        updatedAt: 1_700_000_100,
        link: .init(up: false, transactions: 5000, linkErrors: 3, transactionErrors: 7,
                    errorsByKind: ["timeout": 7, "crc": 2, "exception_02": 1], reconnects: 3,
                    lastError: "timeout"),
        loops: [loopStatus("fast", period: 0.001, ticks: 90000, overruns: 12, missed: 15),
                loopStatus("slow", period: 1, ticks: 90)], deviceStatus: ["high_alarm"],
        channels: [
            .init(name: "pressure", unit: "bar", value: nil, quality: 0x80),
            .init(name: "flow", unit: "L/min", value: 1.25, quality: 0),
        ],
        alarms: [activeAlarm("pressure_high", "critical")],
        run: .init(number: 1, recipe: "extract-standard", outcome: "running", reason: nil, startedAt: 1_700_000_000,
                   endedAt: nil, results: ["yield": ReportValue(0.93), "note": .string("warming up")]),
        phase: "extract", relays: ["pump": false, "valve": nil], settings: [], results: [:])
}

/// A real TCP station, link up.
private func realPond() -> StationStatus {
    StationStatus(
        name: "pond", kind: "aquaculture", mode: "real", address: "tcp://127.0.0.1:1502", updatedAt: nil,
        link: .init(up: true, transactions: 10, linkErrors: 0, transactionErrors: 0, errorsByKind: [:],
                    reconnects: 0, lastError: nil),
        loops: [], deviceStatus: [], channels: [], alarms: [], run: nil, phase: nil, relays: [:], settings: [], results: [:])
}

// MARK: - Reading the exposition text

/// The rendered text, parsed independently of the library: samples (label values unescaped), `# TYPE` and `# HELP`.
private struct MetricsText {
    struct Sample {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    let text: String
    var samples: [Sample] = []
    var types: [String: String] = [:]
    var help: [String: String] = [:]

    init(_ text: String) throws {
        self.text = text
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) where !line.isEmpty {
            if line.hasPrefix("# TYPE ") || line.hasPrefix("# HELP ") {
                let parts = line.dropFirst(7).split(separator: " ", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { throw MetricsTextError("bad line: \(line)") }
                if line.hasPrefix("# TYPE ") { types[parts[0]] = parts[1] } else { help[parts[0]] = parts[1] }
            } else if line.hasPrefix("#") {
                continue
            } else {
                samples.append(try Self.sample(Array(line)))
            }
        }
    }

    private static func sample(_ c: [Character]) throws -> Sample {
        var i = 0
        var name = ""
        while i < c.count, c[i] != "{", c[i] != " " { name.append(c[i]); i += 1 }
        var labels: [String: String] = [:]
        if i < c.count, c[i] == "{" {
            i += 1
            while i < c.count, c[i] != "}" {
                var key = ""
                while i < c.count, c[i] != "=" { key.append(c[i]); i += 1 }
                guard i + 1 < c.count, c[i + 1] == "\"" else { throw MetricsTextError("bad labels: \(String(c))") }
                i += 2
                var value = ""
                while i < c.count, c[i] != "\"" {
                    if c[i] == "\\", i + 1 < c.count {
                        i += 1
                        value.append(c[i] == "n" ? "\n" : c[i])
                    } else {
                        value.append(c[i])
                    }
                    i += 1
                }
                guard i < c.count else { throw MetricsTextError("unterminated label value: \(String(c))") }
                i += 1
                labels[key] = value
                if i < c.count, c[i] == "," { i += 1 }
            }
            i += 1
        }
        let rest = String(c[i...]).trimmingCharacters(in: .whitespaces)
        let value: Double? = switch rest.lowercased() {
        case "nan": .nan
        case "+inf", "inf": .infinity
        case "-inf": -.infinity
        default: Double(rest)
        }
        guard let value else { throw MetricsTextError("bad value in: \(String(c))") }
        return Sample(name: name, labels: labels, value: value)
    }

    func samples(_ name: String) -> [Sample] { samples.filter { $0.name == name } }

    /// The value of the series with exactly these labels; nil if there is none.
    func value(_ name: String, _ labels: [String: String]) -> Double? {
        let found = samples.filter { $0.name == name && $0.labels == labels }
        #expect(found.count <= 1, "\(name)\(labels) appears \(found.count) times")
        return found.first?.value
    }

    /// `name_bucket` series with these labels (plus `le`), sorted by bound.
    func buckets(_ name: String, _ labels: [String: String]) -> [(le: Double, count: Double)] {
        samples("\(name)_bucket").compactMap { s in
            var rest = s.labels
            guard let le = rest.removeValue(forKey: "le"), rest == labels else { return nil }
            let bound = le == "+Inf" ? Double.infinity : Double(le)
            return bound.map { (le: $0, count: s.value) }
        }.sorted { $0.le < $1.le }
    }
}

private struct MetricsTextError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

// MARK: - promtool

/// Runs `promtool check metrics` on the text (stdin) and expects exit 0 and nothing reported.
private func expectPromtoolAccepts(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    // PATH first, then where Debian's package puts it (in case PATH is minimal).
    let candidates = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/promtool" }
        + ["/usr/bin/promtool"]
    let promtool = try #require(
        candidates.first { FileManager.default.isExecutableFile(atPath: $0) },
        "promtool not found: install Debian's prometheus package (apt-get install --no-install-recommends prometheus)",
        sourceLocation: sourceLocation)

    // stdin from a file: promtool reads all of it before it reports, and nothing can block on a full pipe.
    let input = FileManager.default.temporaryDirectory.appendingPathComponent("rigd-metrics-\(UUID().uuidString).prom")
    try Data(text.utf8).write(to: input)
    defer { try? FileManager.default.removeItem(at: input) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: promtool)
    process.arguments = ["check", "metrics"]
    process.standardInput = try FileHandle(forReadingFrom: input)
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let said = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus == 0, "promtool check metrics exited \(process.terminationStatus): \(said)",
            sourceLocation: sourceLocation)
    #expect(said.isEmpty, "promtool check metrics reported: \(said)", sourceLocation: sourceLocation)
}
