import Daemon
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import GRDB
import Locking
import Logging
import MQTT
import RigdTestKit
import Sparkplug
import Testing

/// rigd as a Sparkplug B edge node against a Mosquitto broker of the test's own, watched by a subscriber of the
/// test's own: births and data read back by pysparkplug; an outage (the broker stopped, rigd behind a proxy it
/// cannot reach meanwhile) after which every sample recorded during it arrives once, in order, flagged historical;
/// the same with rigd killed with -9 during the outage.
@Suite struct EdgeNodeTests {
    /// What the subscriber received, in order.
    final class Received: Sendable {
        private let list = Locked<[MQTTMessage]>([])
        private let connections = Locked(0)

        func add(_ event: MQTTEvent) {
            switch event {
            case .message(let m): list.withLock { $0.append(m) }
            case .connected: connections.withLock { $0 += 1 }
            default: break
            }
        }

        var all: [MQTTMessage] { list.withLock { $0 } }
        var connectionCount: Int { connections.withLock { $0 } }

        func messages(_ type: String) -> [MQTTMessage] { all.filter { $0.topic.contains("/\(type)/") } }
    }

    static let logger = Logger(label: "edge-test")

    /// A subscriber to the whole Sparkplug namespace that subscribes again after each reconnection.
    static func subscriber(_ broker: MosquittoBroker, received: Received) throws -> MQTTClient {
        let settings = MQTTSettings(host: "127.0.0.1", port: broker.port, clientID: "test-host-\(UUID().uuidString)",
                                    keepalive: 5, reconnectMin: 0.1, reconnectMax: 0.3)
        let box = Locked<MQTTClient?>(nil)
        let client = try MQTTClient(settings, logger: logger) { event in
            received.add(event)
            if event == .connected { try? box.withLock { $0 }?.subscribe("spBv1.0/#") }
        }
        box.withLock { $0 = client }
        client.start()
        return client
    }

    /// Waits until the broker has the subscriber's subscription (the `n`-th time it logs it).
    static func subscribed(_ broker: MosquittoBroker) -> Bool {
        broker.wait { $0.contains(" 1 spBv1.0/#") }
    }

    static func configuration(brokerPort: Int, record: Double = 0.2, extra: String = "") -> String {
        """
        [[station]]
        name = "pond-e"
        kind = "aqua-sonde"
        address = "sim://"
        [[station]]
        name = "heat-e"
        kind = "heat-rig"
        address = "sim://"
        [daemon]
        record_interval_s = \(record)
        [mqtt]
        broker = "mqtt://127.0.0.1:\(brokerPort)"
        group = "site-t"
        node = "host-t"
        \(extra)
        """
    }

    static func decode(_ message: MQTTMessage) throws -> SpBPayload { try SpBPayload.decoded(message.payload) }

    /// Node messages (NDEATH aside) carry seq 0 on each NBIRTH and one more on each message after, wrapping at 256.
    static func sequenceProblems(_ messages: [MQTTMessage]) throws -> [String] {
        var problems: [String] = []
        var previous: UInt64?
        for message in messages where !message.topic.contains("/NDEATH/") {
            let seq = try decode(message).seq
            if message.topic.contains("/NBIRTH/") {
                if seq != 0 { problems.append("NBIRTH with seq \(seq)") }
            } else if let p = previous, !SparkplugSequence.follows(seq, after: p) {
                problems.append("\(message.topic): seq \(seq) after \(p)")
            }
            previous = seq
        }
        return problems
    }

    /// Births and data as pysparkplug (PyPI) reads them: names, datatypes, values, seq order and bdSeq.
    @Test(.timeLimit(.minutes(2)))
    func birthsAndDataReadByPysparkplug() throws {
        let broker = try MosquittoBroker()
        let received = Received()
        let host = try Self.subscriber(broker, received: received)
        defer { host.stop() }
        try #require(Self.subscribed(broker), "\(broker.log.suffix(2000))")
        let config = try temporaryFile(Self.configuration(brokerPort: broker.port))
        defer { unlink(config) }
        let rigd = try ChildProcess(try rigdBinary(), ["run", "--config", config, "--for", "6s", "--status-every", "0",
                                                       "--http", "off"])
        #expect(rigd.waitForExit(timeout: 60) == 0, "\(rigd.stderr.suffix(3000))")
        try #require(eventually(5) { !received.messages("NDEATH").isEmpty }, "\(received.all.map(\.topic))")
        let all = received.all
        #expect(try Self.sequenceProblems(all) == [])

        let directory = NSTemporaryDirectory() + "rigd-edge-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        func pysparkplug(_ type: String, _ message: MQTTMessage) throws -> [String: Any] {
            let file = directory + "/\(UUID().uuidString).bin"
            try Data(message.payload).write(to: URL(fileURLWithPath: file))
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .appendingPathComponent("sparkplug_decode.py").path
            let run = try runToCompletion("/usr/bin/env", ["python3", script, type, file])
            try #require(run.status == 0, "sparkplug_decode.py \(type): \(run.stderr)")
            return try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        }
        let nbirth = try #require(received.messages("NBIRTH").first)
        #expect(nbirth.topic == "spBv1.0/site-t/NBIRTH/host-t")
        let n = try pysparkplug("NBIRTH", nbirth)
        #expect(n["seq"] as? Int == 0)
        let nodeMetrics = try #require(n["metrics"] as? [[String: Any]])
        #expect(nodeMetrics.first { $0["name"] as? String == "Node Control/Rebirth" }?["datatype"] as? String
                == "BOOLEAN")
        let death = try pysparkplug("NDEATH", try #require(received.messages("NDEATH").last))
        let birthSeq = nodeMetrics.first { $0["name"] as? String == "bdSeq" }
        #expect(birthSeq?["datatype"] as? String == "INT64")
        let (born, died) = (birthSeq?["value"] as? Int, death["bdSeq"] as? Int)
        #expect(born != nil && born == died, "NBIRTH bdSeq \(String(describing: born)), NDEATH \(String(describing: died))")

        let dbirth = try #require(received.messages("DBIRTH").first { $0.topic.hasSuffix("/pond-e") })
        let d = try pysparkplug("DBIRTH", dbirth)
        let birthMetrics = try #require(d["metrics"] as? [[String: Any]])
        var types: [String: String] = [:]
        for m in birthMetrics { types[m["name"] as? String ?? ""] = m["datatype"] as? String }
        for channel in ["do_mgl", "water_temp_c", "ph", "salinity_ppt", "tan_mgl", "chl_ugl"] {
            #expect(types["Channels/\(channel)"] == "DOUBLE", "\(channel): \(types.keys.sorted())")
        }
        #expect(types["Mode"] == "STRING" && types["Kind"] == "STRING" && types["Alarms/Active"] == "STRING")
        #expect(birthMetrics.first { $0["name"] as? String == "Mode" }?["value"] as? String == "simulated")
        #expect(birthMetrics.first { $0["name"] as? String == "Kind" }?["value"] as? String == "aqua-sonde")
        #expect(types.keys.contains { $0.hasPrefix("Settings/") }, "no settings in \(types.keys.sorted())")
        // Our own decoder for what pysparkplug's output leaves out: the properties.
        let ours = try Self.decode(dbirth)
        let doMetric = try #require(ours.metrics.first { $0.name == "Channels/do_mgl" })
        #expect(doMetric.properties["engUnit"] == .string("mg/L"))
        #expect(doMetric.properties["Quality"] == .int32(192))

        // Every DDATA names only metrics its device's DBIRTH named, with the births' datatypes.
        let ddata = received.messages("DDATA").filter { $0.topic.hasSuffix("/pond-e") }
        try #require(!ddata.isEmpty, "no DDATA for pond-e: \(all.map(\.topic))")
        var sawChannel = false
        for message in ddata.prefix(10) {
            let decoded = try pysparkplug("DDATA", message)
            for m in try #require(decoded["metrics"] as? [[String: Any]]) {
                let name = m["name"] as? String ?? ""
                #expect(types[name] == m["datatype"] as? String, "\(name) not born as \(m["datatype"] ?? "?")")
                if name.hasPrefix("Channels/") { sawChannel = true }
            }
        }
        #expect(sawChannel, "no channel values in the first DDATA messages")
    }

    /// The broker stopped for `outage` s: rigd keeps recording; once it reaches the broker again, every sample
    /// recorded meanwhile arrives once, in order, flagged historical. With `killDuringOutage`, rigd is killed with -9
    /// in the middle of the outage and started again on the same data log.
    static func outage(seconds outage: Double, killDuringOutage: Bool) throws {
        let broker = try MosquittoBroker()
        let received = Received()
        let host = try subscriber(broker, received: received)
        defer { host.stop() }
        try #require(subscribed(broker), "\(broker.log.suffix(2000))")
        // rigd reaches the broker through a proxy: after the outage it comes back only once the subscriber is back.
        let proxy = try SocatProxy(upstreamPort: broker.port)
        let config = try temporaryFile(configuration(brokerPort: proxy.port, extra: "deadband_default = 0"))
        defer { unlink(config) }
        let dataDir = NSTemporaryDirectory() + "rigd-edge-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let arguments = ["run", "--config", config, "--status-every", "0", "--http", "off", "--data-dir", dataDir]
        var rigd = try ChildProcess(try rigdBinary(), arguments)
        defer { rigd.signal(SIGKILL) }
        try #require(eventually(30) { received.messages("DDATA").count > 10 }, "\(rigd.stderr.suffix(3000))")
        Thread.sleep(forTimeInterval: 1)

        let cutAt = Date().timeIntervalSince1970
        proxy.cut()
        broker.stop()
        Thread.sleep(forTimeInterval: outage / 2)
        if killDuringOutage {
            rigd.signal(SIGKILL)
            #expect(rigd.waitForExit(timeout: 10) == SIGKILL)
            rigd = try ChildProcess(try rigdBinary(), arguments)
            try #require(rigd.wait(for: 30) { _, err in err.contains("rigd running") }, "\(rigd.stderr.suffix(3000))")
        }
        Thread.sleep(forTimeInterval: outage / 2)
        try broker.restart()
        try #require(eventually(20) { received.connectionCount >= 2 } && subscribed(broker),
                     "the subscriber did not come back: \(broker.log.suffix(2000))")
        let backAt = Date().timeIntervalSince1970
        try proxy.restore()
        try #require(rigd.wait(for: 60) { _, err in
            err.components(separatedBy: "forwarded the backlog").count > 2
        }, "\(rigd.stderr.suffix(3000))")
        Thread.sleep(forTimeInterval: 1)
        rigd.signal(SIGKILL)
        _ = rigd.waitForExit(timeout: 10)

        // What the data log recorded during the outage, per station and channel, in ms like the metrics.
        let db = try DataLog.openForReading(path: DataLog.path(in: dataDir))
        let recorded = try db.read { db in
            try Row.fetchAll(db, sql: """
                SELECT c.station, c.name, s.t FROM sample s JOIN channel c ON c.id = s.channel_id
                WHERE s.t > ? AND s.t < ? ORDER BY s.t
                """, arguments: [cutAt + 0.5, backAt - 0.5])
                .map { "\($0[0] as String)/\($0[1] as String)@\(EdgeNode.ms($0[2] as Double))" }
        }
        try #require(recorded.count > Int(outage) * 10, "too few samples recorded during the outage: \(recorded.count)")
        var historical: [String] = []
        var live: Set<String> = []
        var lastTime: [String: UInt64] = [:]
        var outOfOrder: [String] = []
        for message in received.messages("DDATA") {
            let device = String(message.topic.split(separator: "/").last ?? "")
            for metric in try decode(message).metrics where metric.name.hasPrefix("Channels/") {
                let key = "\(device)/\(metric.name.dropFirst("Channels/".count))"
                let sample = "\(key)@\(metric.timestamp)"
                guard metric.isHistorical else {
                    live.insert(sample)
                    continue
                }
                historical.append(sample)
                if let last = lastTime[key], metric.timestamp <= last { outOfOrder.append(sample) }
                lastTime[key] = metric.timestamp
            }
        }
        let missing = Set(recorded).subtracting(historical)
        let lost = "\(missing.count) of \(recorded.count) samples recorded during the outage did not arrive as "
            + "historical: \(missing.sorted().prefix(5))"
        #expect(missing.isEmpty, "\(lost)")
        #expect(historical.count == Set(historical).count, "historical samples arrived twice")
        #expect(live.isDisjoint(with: historical), "samples arrived both live and historical")
        #expect(outOfOrder.isEmpty, "historical samples out of order: \(outOfOrder.prefix(5))")
        #expect(try sequenceProblems(received.all) == [])
    }

    /// DCMDs go through the station's own validation: in range → applied and echoed in DDATA; out of range →
    /// refused, not applied, the reason published; while the primary host is not online → ignored and counted.
    @Test(.timeLimit(.minutes(2)))
    func commandsAreTheStationsToJudgeAndCountOnlyWhileThePrimaryHostIsOnline() throws {
        let broker = try MosquittoBroker()
        let received = Received()
        let host = try Self.subscriber(broker, received: received)
        defer { host.stop() }
        try #require(Self.subscribed(broker), "\(broker.log.suffix(2000))")
        let config = try temporaryFile(Self.configuration(brokerPort: broker.port, extra: "primary_host = \"scada-t\""))
        defer { unlink(config) }
        let rigd = try ChildProcess(try rigdBinary(), ["run", "--config", config, "--status-every", "0"])
        defer { rigd.signal(SIGKILL) }
        let api = try rigd.apiBase()
        try #require(eventually(30) { received.messages("DBIRTH").contains { $0.topic.hasSuffix("/heat-e") } },
                     "\(rigd.stderr.suffix(3000))")
        func metric(_ name: String, in message: MQTTMessage) -> SparkplugValue? {
            (try? Self.decode(message))?.metrics.first { $0.name == name }?.sparkplugValue
        }
        func heatData(_ name: String) -> [SparkplugValue] {
            received.messages("DDATA").filter { $0.topic.hasSuffix("/heat-e") }.compactMap { metric(name, in: $0) }
        }
        func command(_ metrics: [SpBPayload.Metric]) throws {
            var payload = SpBPayload()
            payload.timestamp = EdgeNode.ms(Date().timeIntervalSince1970)
            payload.metrics = metrics
            try host.publish(topic: "spBv1.0/site-t/DCMD/host-t/heat-e", payload: try payload.encoded())
        }
        func rejectedTotal() -> Double? {
            guard let data = try? Data(contentsOf: URL(string: "\(api)/metrics")!) else { return nil }
            let line = String(decoding: data, as: UTF8.self).split(separator: "\n")
                .first { $0.hasPrefix("rigd_mqtt_rejected_commands_total ") }
            return line.flatMap { Double($0.split(separator: " ").last ?? "") }
        }
        #expect(rejectedTotal() == 0)

        // No STATE from scada-t yet: the command is ignored and counted.
        try command([SpBPayload.Metric(name: "Settings/setpoint_c", .double(41))])
        #expect(rigd.wait(for: 10) { _, err in err.contains("ignored: the primary host scada-t is not online") },
                "\(rigd.stderr.suffix(2000))")
        #expect(eventually(5) { rejectedTotal() == 1 }, "rejected: \(String(describing: rejectedTotal()))")

        try host.publish(topic: "spBv1.0/STATE/scada-t", payload: Array(#"{"online": true, "timestamp": 1}"#.utf8),
                         retain: true)
        try #require(rigd.wait(for: 10) { _, err in err.contains("primary host scada-t is online") },
                     "\(rigd.stderr.suffix(2000))")
        try command([SpBPayload.Metric(name: "Settings/setpoint_c", .double(41))])
        #expect(eventually(10) { heatData("Settings/setpoint_c").contains(.double(41)) },
                "no DDATA echo of the new setpoint: \(heatData("Settings/setpoint_c"))")

        try command([SpBPayload.Metric(name: "Settings/setpoint_c", .double(999))])
        #expect(eventually(10) {
            heatData("Commands/Last Rejection").contains { if case .string(let s) = $0 { s.contains("setpoint_c") } else { false } }
        }, "no rejection published: \(heatData("Commands/Last Rejection"))\n\(rigd.stderr.suffix(2000))")
        #expect(!heatData("Settings/setpoint_c").contains(.double(999)))
        let status = try Data(contentsOf: URL(string: "\(api)/api/stations/heat-e")!)
        let settings = (try JSONSerialization.jsonObject(with: status) as? [String: Any])?["settings"] as? [[String: Any]]
        #expect(settings?.first { $0["name"] as? String == "setpoint_c" }?["value"] as? Double == 41)
        #expect(eventually(5) { rejectedTotal() == 2 }, "rejected: \(String(describing: rejectedTotal()))")

        // A command for a device this node does not have is counted and dropped; the node carries on.
        try host.publish(topic: "spBv1.0/site-t/DCMD/host-t/no-such", payload: [0xFF, 0x00])
        #expect(eventually(5) { rejectedTotal() == 3 })
        try command([SpBPayload.Metric(name: "Run/Stop", .boolean(true))])
        #expect(rigd.wait(for: 10) { _, err in err.contains("DCMD Run/Stop") }, "\(rigd.stderr.suffix(2000))")
    }

    @Test(.timeLimit(.minutes(3)))
    func aBrokerOutageLosesNoSample() throws {
        try Self.outage(seconds: 12, killDuringOutage: false)
    }

    @Test(.timeLimit(.minutes(3)))
    func rigdKilledDuringAnOutageLosesNoSample() throws {
        try Self.outage(seconds: 12, killDuringOutage: true)
    }
}
