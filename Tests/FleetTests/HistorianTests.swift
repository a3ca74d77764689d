import Daemon
import Foundation
import GRDB
import Historian
import Locking
import Logging
import MQTT
import RigdTestKit
import Sparkplug
import Testing

/// The Sparkplug host rules of `rigd historian`, message by message (no broker, no database).
@Suite struct HostRulesTests {
    let node = NodeKey(group: "g", node: "n")
    var device: DeviceKey { DeviceKey(node: node, device: "d") }

    func payload(seq: UInt64?, _ metrics: [SpBPayload.Metric], timestamp: UInt64 = 1_000) -> [UInt8] {
        var p = SpBPayload()
        p.timestamp = timestamp
        if let seq { p.seq = seq }
        p.metrics = metrics
        return try! p.encoded()
    }

    func nbirth(_ state: inout HostState, bdSeq: Int64 = 3) -> HostState.Outcome {
        state.handle(topic: "spBv1.0/g/NBIRTH/n", payload: payload(seq: 0, [
            SpBPayload.Metric(name: "bdSeq", .int64(bdSeq)),
            SpBPayload.Metric(name: "Node Control/Rebirth", .boolean(false)),
        ]), now: 1)
    }

    func dbirth(_ state: inout HostState, seq: UInt64 = 1) -> HostState.Outcome {
        state.handle(topic: "spBv1.0/g/DBIRTH/n/d", payload: payload(seq: seq, [
            SpBPayload.Metric(name: "Channels/t", alias: 7, .double(20.5),
                              properties: SpBPayload.PropertySet(["engUnit": .string("°C"), "Quality": .int32(192)])),
            SpBPayload.Metric(name: "Alarms/Active", .string("")),
            SpBPayload.Metric(name: "Mode", .string("simulated")),
        ]), now: 1)
    }

    @Test func birthsAndDataBecomeDefinitionsSamplesAndState() {
        var state = HostState()
        #expect(nbirth(&state).events == [.nodeBirth(node, at: 1_000, bdSeq: 3, software: nil)])
        let birth = dbirth(&state)
        #expect(birth.rebirths.isEmpty && birth.problem == nil)
        #expect(birth.events.contains(.deviceBirth(device, at: 1_000, metrics: [
            MetricDefinition(name: "Channels/t", datatype: "double", unit: "°C", engLow: nil, engHigh: nil),
            MetricDefinition(name: "Alarms/Active", datatype: "string", unit: nil, engLow: nil, engHigh: nil),
            MetricDefinition(name: "Mode", datatype: "string", unit: nil, engLow: nil, engHigh: nil),
        ])))
        #expect(state.isOnline(device))
        // By name and by alias; a null keeps the last quality it was told.
        let data = state.handle(topic: "spBv1.0/g/DDATA/n/d", payload: payload(seq: 2, [
            SpBPayload.Metric(name: "Channels/t", timestamp: 2_000, .double(21)),
            SpBPayload.Metric(alias: 7, timestamp: 3_000, .null(.double),
                              properties: SpBPayload.PropertySet(["Quality": .int32(0)])),
            SpBPayload.Metric(name: "Alarms/Active", timestamp: 3_000, .string("sensor_fault")),
        ]), now: 3)
        #expect(data.problem == nil)
        #expect(data.events.contains(.samples([
            SampleRow(device: device, metric: "Channels/t", t: 2_000, value: 21, text: nil, quality: 192, historical: false),
            SampleRow(device: device, metric: "Channels/t", t: 3_000, value: nil, text: nil, quality: 0, historical: false),
            SampleRow(device: device, metric: "Alarms/Active", t: 3_000, value: nil, text: "sensor_fault", quality: nil,
                      historical: false),
        ])))
        #expect(data.events.contains(.alarms(device, at: 1_000, active: "sensor_fault", count: nil, unacknowledged: nil)))
        #expect(state.counters.samples == 6 && state.counters.sequenceGaps == 0)
    }

    @Test func aSequenceGapAsksForOneRebirth() {
        var state = HostState(rebirthInterval: 5)
        _ = nbirth(&state)
        _ = dbirth(&state)
        let gap = state.handle(topic: "spBv1.0/g/DDATA/n/d",
                               payload: payload(seq: 5, [SpBPayload.Metric(name: "Channels/t", .double(1))]), now: 2)
        #expect(gap.rebirths == [node])
        #expect(gap.events.contains { if case .samples = $0 { true } else { false } }, "the data that came is kept")
        // A second gap within the interval does not ask again; after it, it does.
        #expect(state.handle(topic: "spBv1.0/g/DDATA/n/d",
                             payload: payload(seq: 9, [SpBPayload.Metric(name: "Channels/t", .double(1))]), now: 3)
            .rebirths.isEmpty)
        #expect(state.handle(topic: "spBv1.0/g/DDATA/n/d",
                             payload: payload(seq: 20, [SpBPayload.Metric(name: "Channels/t", .double(1))]), now: 8)
            .rebirths == [node])
        #expect(state.counters.sequenceGaps == 3 && state.counters.rebirthRequests == 2)
        // Sequence numbers wrap from 255 to 0 without a gap.
        var wrap = HostState()
        _ = nbirth(&wrap)
        _ = dbirth(&wrap)
        for seq in UInt64(2)...300 {
            _ = wrap.handle(topic: "spBv1.0/g/DDATA/n/d",
                            payload: payload(seq: seq % 256, [SpBPayload.Metric(name: "Channels/t", .double(1))]), now: 2)
        }
        #expect(wrap.counters.sequenceGaps == 0)
    }

    @Test func dataWithoutBirthUnknownMetricsAndStaleDeaths() {
        var state = HostState()
        let early = state.handle(topic: "spBv1.0/g/DDATA/n/d", payload: payload(seq: 4, []), now: 1)
        #expect(early.rebirths == [node] && early.events.isEmpty)
        _ = nbirth(&state, bdSeq: 3)
        let noDevice = state.handle(topic: "spBv1.0/g/DDATA/n/other", payload: payload(seq: 1, []), now: 10)
        #expect(noDevice.rebirths == [node] && !noDevice.events.contains { if case .samples = $0 { true } else { false } })
        _ = dbirth(&state, seq: 2)
        let unknown = state.handle(topic: "spBv1.0/g/DDATA/n/d", payload: payload(seq: 3, [
            SpBPayload.Metric(name: "Channels/nope", .double(1)), SpBPayload.Metric(alias: 99, .double(2)),
        ]), now: 20)
        #expect(state.counters.unknownMetrics == 2 && unknown.rebirths == [node])
        // An NDEATH of an older session (another bdSeq) does not kill the current one.
        _ = state.handle(topic: "spBv1.0/g/NDEATH/n", payload: payload(seq: nil, [SpBPayload.Metric(name: "bdSeq", .int64(2))]),
                         now: 21)
        #expect(state.isOnline(node) && state.counters.staleDeaths == 1)
        let death = state.handle(topic: "spBv1.0/g/NDEATH/n",
                                 payload: payload(seq: nil, [SpBPayload.Metric(name: "bdSeq", .int64(3))]), now: 22)
        #expect(death.events == [.nodeDeath(node, at: 1_000, bdSeq: 3)])
        #expect(!state.isOnline(node) && !state.isOnline(device))
        #expect(state.counters.withoutBirth == 2)
    }

    @Test func badInputIsCountedAndDropped() {
        var state = HostState(maxPayloadBytes: 2048)
        #expect(state.handle(topic: "spBv1.0/g/DDATA/n/d", payload: [0xff, 0xff, 0xff], now: 1).events.isEmpty)
        #expect(state.handle(topic: "elsewhere/x", payload: [], now: 1).events.isEmpty)
        #expect(state.handle(topic: "spBv1.0/g/NBIRTH/n", payload: payload(seq: 0, []), now: 1).events.isEmpty)
        #expect(state.handle(topic: "spBv1.0/g/DDATA/n/d", payload: [UInt8](repeating: 0, count: 4096), now: 1)
            .events.isEmpty)
        #expect(state.handle(topic: "spBv1.0/g/DCMD/n/d", payload: [1, 2], now: 1).events.isEmpty)
        #expect(state.counters.malformed == 3 && state.counters.oversized == 1 && state.counters.commandsIgnored == 1)
        // Numbers no Int32 holds (NaN, 1e300) in the state metrics do not trap.
        _ = nbirth(&state)
        _ = dbirth(&state)
        _ = state.handle(topic: "spBv1.0/g/DDATA/n/d", payload: payload(seq: 2, [
            SpBPayload.Metric(name: "Channels/t", .double(.nan), properties: SpBPayload.PropertySet(["Quality": .double(1e300)])),
        ]), now: 2)
    }

    /// Strings go to PostgreSQL without NUL characters (its text cannot hold them); a timestamp past the year 9999 is
    /// malformed. Either would fail the insert of the batch it is in.
    @Test func nulCharactersAndImpossibleTimestamps() {
        var state = HostState()
        _ = nbirth(&state)
        let birth = state.handle(topic: "spBv1.0/g/DBIRTH/n/d", payload: payload(seq: 1, [
            SpBPayload.Metric(name: "Channels/\u{0}t", .string("a\u{0}b"),
                              properties: SpBPayload.PropertySet(["engUnit": .string("°\u{0}C")])),
        ]), now: 1)
        #expect(birth.events.contains(.deviceBirth(device, at: 1_000, metrics: [
            MetricDefinition(name: "Channels/t", datatype: "string", unit: "°C"),
        ])))
        #expect(birth.events.contains(.samples([
            SampleRow(device: device, metric: "Channels/t", t: 1_000, value: nil, text: "ab", quality: nil, historical: false),
        ])))
        let late = state.handle(topic: "spBv1.0/g/DDATA/n/d", payload: payload(seq: 2, [
            SpBPayload.Metric(name: "Channels/t", timestamp: UInt64.max, .string("x")),
        ]), now: 2)
        #expect(!late.events.contains { if case .samples = $0 { true } else { false } })
        #expect(state.counters.malformed == 1)
    }

    /// Every payload of the Sparkplug fuzz corpus, on every message type, through the host rules: none traps.
    @Test func theFuzzCorpusThroughTheHostRules() throws {
        let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("fuzz/corpus/sparkplug_payload")
        let files = try FileManager.default.contentsOfDirectory(at: corpus, includingPropertiesForKeys: nil)
        #expect(files.count > 5)
        var state = HostState()
        for file in files {
            let bytes = [UInt8](try Data(contentsOf: file))
            for type in ["NBIRTH", "NDEATH", "NDATA"] { _ = state.handle(topic: "spBv1.0/g/\(type)/n", payload: bytes, now: 1) }
            for type in ["DBIRTH", "DDATA", "DDEATH"] { _ = state.handle(topic: "spBv1.0/g/\(type)/n/d", payload: bytes, now: 1) }
        }
        #expect(state.counters.messages == files.count * 6)
    }
}

/// `rigd historian` against a Mosquitto broker and a PostgreSQL server of the test run's own, with rigd publishing
/// two simulated stations; read back through psql and Chromium.
@Suite struct HistorianTests {
    @Test(.timeLimit(.minutes(3)))
    func aFleetInPostgreSQLAndOnTheOverviewPage() throws {
        let broker = try MosquittoBroker()
        let historian = try HistorianProcess(brokerPort: broker.port, hostID: "scada-t")
        let config = try temporaryFile(SparkplugHarness.configuration(brokerPort: broker.port,
                                                                      extra: "primary_host = \"scada-t\"\nkeepalive_s = 5"))
        defer { unlink(config) }
        let dataDir = NSTemporaryDirectory() + "rigd-hist-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let rigd = try ChildProcess(try rigdBinary(), ["run", "--config", config, "--status-every", "0", "--http", "off",
                                                       "--data-dir", dataDir])
        defer {
            rigd.signal(SIGKILL)
            _ = rigd.waitForExit(timeout: 10, drain: false)
        }
        // Births: the node, both devices with kind, mode and link, the channels with their units.
        try #require(eventually(30) {
            (try? historian.value("SELECT count(*) FROM devices WHERE online AND kind IS NOT NULL")) == "2"
        }, "\(historian.process.stderr.suffix(2000))\n\(rigd.stderr.suffix(2000))")
        #expect(try historian.query("SELECT group_id, node_id, online, software FROM nodes")
                == [["site-t", "host-t", "t", "rigd 0.1.0"]])
        #expect(try historian.query("SELECT device_id, kind, mode, link_up FROM devices ORDER BY device_id")
                == [["heat-e", "heat-rig", "simulated", "t"], ["pond-e", "aqua-sonde", "simulated", "t"]])
        #expect(try historian.value("""
            SELECT m.datatype || ' ' || m.unit FROM metrics m JOIN devices d ON d.id = m.device
            WHERE d.device_id = 'pond-e' AND m.name = 'Channels/do_mgl'
            """) == "double mg/L")
        // Samples: the values rigd's own data log recorded at the same instants (the data after the births: a birth
        // carries the station's current values, which are not data log records).
        let data = """
            FROM samples s JOIN devices d ON d.id = s.device JOIN metrics m ON m.id = s.metric
            WHERE m.name LIKE 'Channels/%' AND s.value IS NOT NULL AND s.t > d.birth_at
            """
        try #require(eventually(30) { Int((try? historian.value("SELECT count(*) \(data)")) ?? "0") ?? 0 > 20 })
        let stored = try historian.query("""
            SELECT d.device_id, substr(m.name, 10), round(extract(epoch FROM s.t) * 1000)::bigint, s.value \(data)
            ORDER BY s.t LIMIT 200
            """)
        var recorded: [String: Double] = [:]  // "station/channel@ms" → value
        let db = try DataLog.openForReading(path: DataLog.path(in: dataDir))
        try db.read { db in
            for row in try Row.fetchAll(db, sql: """
                SELECT c.station, c.name, s.t, s.value FROM sample s JOIN channel c ON c.id = s.channel_id
                WHERE s.value IS NOT NULL
                """) {
                recorded["\(row[0] as String)/\(row[1] as String)@\(EdgeNode.ms(row[2] as Double))"] = row[3] as Double
            }
        }
        var compared = 0
        for row in stored {
            guard let value = recorded["\(row[0])/\(row[1])@\(row[2])"] else { continue }
            compared += 1
            #expect(abs(value - (Double(row[3]) ?? .nan)) <= 1e-9 * max(1, abs(value)), "\(row)")
        }
        #expect(compared == stored.count, "only \(compared) of \(stored.count) stored samples found in the data log")

        // A lost message (a DDATA with a seq out of turn, as if one went missing): the historian asks for a rebirth,
        // which the node accepts from its primary host, and births again.
        let forger = try MQTTClient(MQTTSettings(host: "127.0.0.1", port: broker.port, clientID: "forger"),
                                    logger: Logger(label: "forger")) { _ in }
        forger.start()
        defer { forger.stop() }
        try #require(eventually(10) { forger.isConnected })
        var gap = SpBPayload()
        gap.timestamp = UInt64(Date().timeIntervalSince1970 * 1000)
        gap.seq = 100
        // Twice: the second cannot follow the first, whatever the node's own count is.
        try forger.publish(topic: "spBv1.0/site-t/DDATA/host-t/pond-e", payload: gap.encoded())
        try forger.publish(topic: "spBv1.0/site-t/DDATA/host-t/pond-e", payload: gap.encoded())
        #expect(eventually(30) { (try? historian.value("SELECT births FROM nodes")) == "2" },
                "no rebirth after the gap: \(historian.process.stderr.suffix(2000))\n\(rigd.stderr.suffix(1500))")
        #expect(historian.counter("sequenceGaps") >= 1 && historian.counter("rebirthRequests") >= 1)
        #expect(try historian.value("SELECT count(*) FROM lifecycle WHERE event = 'NBIRTH'") == "2")

        // Bad input is counted and dropped; the historian goes on.
        try forger.publish(topic: "spBv1.0/site-t/DDATA/host-t/pond-e", payload: [0xff, 0x01, 0x02])
        try forger.publish(topic: "spBv1.0/site-t/DDATA/host-t/pond-e", payload: [UInt8](repeating: 7, count: 2 << 20))
        try forger.publish(topic: "spBv1.0/site-t/DCMD/host-t/nobody", payload: [1])
        #expect(eventually(10) { historian.counter("malformed") >= 1 && historian.counter("oversized") >= 1 },
                "\(String(describing: try? historian.status()))")
        // A metric name PostgreSQL cannot index (9 000 random characters; a btree entry holds about 2 700 bytes): the
        // database refuses that message alone, and what follows is written.
        var poison = SpBPayload()
        poison.timestamp = UInt64(Date().timeIntervalSince1970 * 1000)
        poison.seq = 100
        let letters = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        poison.metrics = [SpBPayload.Metric(name: String((0..<9000).map { _ in letters.randomElement()! }), .double(1))]
        let rows = { Int((try? historian.value("SELECT count(*) FROM samples")) ?? "0") ?? 0 }
        try forger.publish(topic: "spBv1.0/site-t/DBIRTH/host-t/poison", payload: poison.encoded())
        #expect(eventually(20) { (try? historian.status())?["rejectedMessages"] as? Int == 1 },
                "\(String(describing: try? historian.status()))\n\(historian.process.stderr.suffix(1500))")
        let after = rows()
        #expect(eventually(20) { rows() > after }, "nothing written after the refused message")

        // The overview page, rendered by Chromium.
        let dom = try chromiumDOM(historian.base + "/")
        #expect(dom.contains("data-device=\"site-t/host-t/pond-e\""), "\(dom.prefix(2000))")
        #expect(dom.contains("aqua-sonde") && dom.contains("heat-rig") && dom.contains("simulated"))
        #expect(dom.contains("1 site · 1 edge node (1 online) · 2 devices (2 online)"), "\(dom.prefix(2000))")
        #expect(dom.contains("do_mgl <b>") && dom.contains(" mg/L</b>"))

        // rigd killed: its will (NDEATH) takes the node and its devices offline.
        rigd.signal(SIGKILL)
        _ = rigd.waitForExit(timeout: 10, drain: false)
        #expect(eventually(30) { (try? historian.value("SELECT online FROM nodes")) == "f" },
                "\(historian.process.stderr.suffix(2000))")
        #expect(try historian.value("SELECT count(*) FROM devices WHERE online") == "0")
        #expect(try chromiumDOM(historian.base + "/").contains("(0 online)"))
        historian.process.signal(SIGTERM)
        #expect(historian.process.waitForExit(timeout: 20) == 0, "\(historian.process.stderr.suffix(2000))")
    }

    /// Usage and reachability errors name what is wrong.
    @Test(.timeLimit(.minutes(2)))
    func badArgumentsAndAnUnreachableDatabase() throws {
        let rigd = try rigdBinary()
        for (arguments, expected) in [
            (["--mqtt", "http://x", "--postgres", "postgres://u@h/d"], "--mqtt must be mqtt://"),
            (["--mqtt", "mqtt://h", "--postgres", "postgres://h/d"], "--postgres names no user"),
            (["--mqtt", "mqtt://h", "--postgres", "postgres://u:secret@h/d?sslmode=require"], "sslmode=require is not supported"),
            (["--mqtt", "mqtts://h", "--postgres", "postgres://u@h/d"], "mqtts:// needs --ca-file"),
            (["--mqtt", "mqtt://h", "--postgres", "postgres://u@h/d", "--group", "a/b"], "--group \"a/b\" contains \"/\""),
        ] {
            let run = try runToCompletion(rigd, ["historian"] + arguments)
            #expect(run.status == 64, "\(arguments): \(run.stderr)")
            #expect(run.stderr.contains(expected), "\(arguments): \(run.stderr)")
            #expect(!run.stderr.contains("secret"))
        }
        let secret = try runToCompletion(rigd, ["historian", "--mqtt", "mqtt://127.0.0.1:1", "--postgres",
                                                "postgres://rigd@127.0.0.1:1/fleet", "--username", "u",
                                                "--password-file", "/nonexistent/mqtt-password"])
        #expect(secret.status == 78, "\(secret.stderr)")
        #expect(secret.stderr.contains("MQTT password file /nonexistent/mqtt-password: cannot read: No such file"),
                "\(secret.stderr)")
        let closed = loopbackSocket(listening: false)
        close(closed.fd)
        let run = try runToCompletion(rigd, ["historian", "--mqtt", "mqtt://127.0.0.1:1", "--postgres",
                                             "postgres://rigd@127.0.0.1:\(closed.port)/fleet", "--http", "127.0.0.1:0"],
                                      timeout: 60)
        #expect(run.status == 69, "\(run.stderr)")
        #expect(run.stderr.contains("cannot use PostgreSQL at postgres://rigd@127.0.0.1:\(closed.port)/fleet"), "\(run.stderr)")
    }

    func chromiumDOM(_ url: String) throws -> String {
        guard let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first(where: {
            FileManager.default.isExecutableFile(atPath: $0)
        }) else { throw TestFailure("chromium not found: install Debian's chromium") }
        let run = try runToCompletion(chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", url],
                                      timeout: 60)
        guard run.status == 0 else { throw TestFailure("chromium --dump-dom \(url): \(run.stderr.suffix(1000))") }
        return run.stdout
    }
}
