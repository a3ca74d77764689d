import Control
import Daemon
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Locking
import Logging
import MQTT
import RigdTestKit
import Sparkplug
import Stations
import Testing

/// rigd as a Sparkplug B edge node against a Mosquitto broker of the test's own, watched by a subscriber of the
/// test's own: births and data read back by pysparkplug; an outage (the broker stopped, rigd behind a proxy it
/// cannot reach meanwhile) after which every sample recorded during it arrives once, in order, flagged historical;
/// the same with rigd killed with -9 during the outage.
@Suite struct EdgeNodeTests {
    /// Births and data as pysparkplug (PyPI) reads them: names, datatypes, values, seq order and bdSeq.
    @Test(.timeLimit(.minutes(2)))
    func birthsAndDataReadByPysparkplug() throws {
        let broker = try MosquittoBroker()
        let (host, received) = try SparkplugHarness.subscriber(broker)
        defer { host.stop() }
        let config = try temporaryFile(SparkplugHarness.configuration(brokerPort: broker.port))
        defer { unlink(config) }
        let rigd = try ChildProcess(try rigdBinary(), ["run", "--config", config, "--for", "6s", "--status-every", "0",
                                                       "--http", "off"])
        #expect(rigd.waitForExit(timeout: 60) == 0, "\(rigd.stderr.suffix(3000))")
        try #require(eventually(5) { !received.messages("NDEATH").isEmpty }, "\(received.all.map(\.topic))")
        let all = received.all
        #expect(try SparkplugHarness.sequenceProblems(all) == [])

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
        let ours = try SparkplugHarness.decode(dbirth)
        let doMetric = try #require(ours.metrics.first { $0.name == "Channels/do_mgl" })
        #expect(doMetric.properties["engUnit"] == .string("mg/L"))
        #expect(doMetric.properties["Quality"] == .int32(192))

        // Every DDATA names only metrics its device's DBIRTH named, with the births' datatypes. The heat rig records
        // every 0.2 s; the sonde records at its own, slower interval (its first reading may be in its birth).
        for device in ["pond-e", "heat-e"] {
            let birth = try #require(received.messages("DBIRTH").first { $0.topic.hasSuffix("/\(device)") })
            var born: [String: String] = [:]
            for m in try #require(try pysparkplug("DBIRTH", birth)["metrics"] as? [[String: Any]]) {
                born[m["name"] as? String ?? ""] = m["datatype"] as? String
            }
            var channelValues = 0
            for message in received.messages("DDATA").filter({ $0.topic.hasSuffix("/\(device)") }).prefix(10) {
                for m in try #require(try pysparkplug("DDATA", message)["metrics"] as? [[String: Any]]) {
                    let name = m["name"] as? String ?? ""
                    #expect(born[name] == m["datatype"] as? String, "\(device) \(name) not born as \(m["datatype"] ?? "?")")
                    if name.hasPrefix("Channels/") { channelValues += 1 }
                }
            }
            if device == "heat-e" { #expect(channelValues > 0, "no channel values in heat-e's first DDATA messages") }
        }
    }

    /// A real station (a simulated device over Modbus TCP, with faults injected): a channel whose sensor is lost
    /// goes out as null with its new quality; the device going offline is the station's DDEATH, its return a new
    /// DBIRTH.
    @Test(.timeLimit(.minutes(2)))
    func aRealStationsQualityTravelsAndItsLinkLossIsADeviceDeath() throws {
        let broker = try MosquittoBroker()
        let (host, received) = try SparkplugHarness.subscriber(broker)
        defer { host.stop() }
        let (sim, port) = try startSimulator(["--control", "127.0.0.1:0"])
        defer { sim.signal(SIGKILL) }
        let control = try #require(controlAddress(sim), "\(sim.stdout)")
        let config = try temporaryFile("""
            [[station]]
            name = "heat-r"
            kind = "heat-rig"
            address = "tcp://127.0.0.1:\(port)"
            [daemon]
            record_interval_s = 0.2
            [mqtt]
            broker = "mqtt://127.0.0.1:\(broker.port)"
            group = "site-t"
            node = "host-t"
            """)
        defer { unlink(config) }
        let rigd = try ChildProcess(try rigdBinary(), ["run", "--config", config, "--status-every", "0", "--http", "off"])
        defer { rigd.signal(SIGKILL) }
        try #require(eventually(30) { received.messages("DBIRTH").count == 1 }, "\(rigd.stderr.suffix(3000))")
        let birth = try SparkplugHarness.decode(received.messages("DBIRTH")[0])
        #expect(birth.metrics.first { $0.name == "Mode" }?.sparkplugValue == .string("real"))
        func fault(_ words: [String]) throws {
            let run = try runToCompletion(try rigdBinary(), ["fault", "--control", control] + words)
            try #require(run.status == 0, "rigd fault \(words): \(run.stderr)")
        }

        try fault(["channel", "block_temp_c", "lost"])
        func lostReading() -> SpBPayload.Metric? {
            received.messages("DDATA").compactMap { try? SparkplugHarness.decode($0) }.flatMap(\.metrics)
                .first { $0.name == "Channels/block_temp_c" && $0.isNull }
        }
        #expect(eventually(15) { lostReading() != nil }, "\(rigd.stderr.suffix(2000))")
        #expect(lostReading()?.properties["Quality"] == .int32(0))
        #expect(lostReading()?.properties["rigdQuality"].map { if case .uint32(let q) = $0 { q & 0x80 != 0 } else { false } }
                == true, "\(String(describing: lostReading()?.properties))")

        try fault(["device", "offline"])
        #expect(eventually(30) { received.messages("DDEATH").count == 1 }, "\(rigd.stderr.suffix(3000))")
        try fault(["device", "online"])
        #expect(eventually(30) { received.messages("DBIRTH").count == 2 }, "\(rigd.stderr.suffix(3000))")
        #expect(try SparkplugHarness.sequenceProblems(received.all) == [])
        #expect(rigd.stderr.contains("MQTT: heat-r is dead to the fleet (DDEATH): its device link is down"))
    }

    /// `rigd check` says what the edge node will do, and refuses what `rigd run` would: an unreadable password file.
    @Test func checkSummarisesTheEdgeNodeAndRefusesWhatRunWould() throws {
        let good = try temporaryFile(SparkplugHarness.configuration(brokerPort: 1883, extra: "primary_host = \"scada-t\""))
        defer { unlink(good) }
        let ok = try runToCompletion(try rigdBinary(), ["check", "--config", good])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("mqtt: Sparkplug B edge node site-t/host-t on mqtt://127.0.0.1:1883 (anonymous), "
                                   + "commands while primary host scada-t is online"), "\(ok.stdout)")
        let bad = try temporaryFile(SparkplugHarness.configuration(brokerPort: 1883, extra: """
            username = "host-t"
            password_file = "/nonexistent/mqtt-password"
            """))
        defer { unlink(bad) }
        let refused = try runToCompletion(try rigdBinary(), ["check", "--config", bad])
        #expect(refused.status == 78)
        #expect(refused.stderr.contains("mqtt.password_file /nonexistent/mqtt-password: cannot read"), "\(refused.stderr)")
    }

    /// DCMDs go through the station's own validation: in range → applied and echoed in DDATA; out of range →
    /// refused, not applied, the reason published; while the primary host is not online → ignored and counted.
    @Test(.timeLimit(.minutes(2)))
    func commandsAreTheStationsToJudgeAndCountOnlyWhileThePrimaryHostIsOnline() throws {
        let broker = try MosquittoBroker()
        let (host, received) = try SparkplugHarness.subscriber(broker)
        defer { host.stop() }
        let config = try temporaryFile(SparkplugHarness.configuration(brokerPort: broker.port,
                                                                      extra: "primary_host = \"scada-t\""))
        defer { unlink(config) }
        let rigd = try ChildProcess(try rigdBinary(), ["run", "--config", config, "--status-every", "0"])
        defer { rigd.signal(SIGKILL) }
        let api = try rigd.apiBase()
        try #require(eventually(30) { received.messages("DBIRTH").contains { $0.topic.hasSuffix("/heat-e") } },
                     "\(rigd.stderr.suffix(3000))")
        func metric(_ name: String, in message: MQTTMessage) -> SparkplugValue? {
            (try? SparkplugHarness.decode(message))?.metrics.first { $0.name == name }?.sparkplugValue
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

        // No STATE from scada-t yet: commands, node or device, are ignored and counted.
        func rebirth() throws {
            var payload = SpBPayload()
            payload.metrics = [SpBPayload.Metric(name: "Node Control/Rebirth", .boolean(true))]
            try host.publish(topic: "spBv1.0/site-t/NCMD/host-t", payload: try payload.encoded())
        }
        try command([SpBPayload.Metric(name: "Settings/setpoint_c", .double(41))])
        try rebirth()
        #expect(rigd.wait(for: 10) { _, err in err.contains("DCMD for heat-e ignored: the primary host scada-t is not online")
            && err.contains("NCMD ignored: the primary host scada-t is not online") }, "\(rigd.stderr.suffix(2000))")
        #expect(eventually(5) { rejectedTotal() == 2 }, "rejected: \(String(describing: rejectedTotal()))")
        #expect(received.messages("NBIRTH").count == 1)

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
        #expect(eventually(5) { rejectedTotal() == 3 }, "rejected: \(String(describing: rejectedTotal()))")

        // A command for a device this node does not have is counted and dropped; the node carries on.
        try host.publish(topic: "spBv1.0/site-t/DCMD/host-t/no-such", payload: [0xFF, 0x00])
        #expect(eventually(5) { rejectedTotal() == 4 })
        try command([SpBPayload.Metric(name: "Run/Stop", .boolean(true))])
        #expect(rigd.wait(for: 10) { _, err in err.contains("DCMD Run/Stop") }, "\(rigd.stderr.suffix(2000))")

        // The primary host online, a rebirth request is answered: NBIRTH (seq 0) and the DBIRTHs again.
        try rebirth()
        #expect(eventually(10) { received.messages("NBIRTH").count == 2 && received.messages("DBIRTH").count == 4 },
                "\(received.all.map(\.topic).suffix(10))")
        #expect(try SparkplugHarness.sequenceProblems(received.all) == [])
    }

    /// docs/fleet.md's broker: no anonymous clients, one user per node, an ACL that lets a node publish only under
    /// its own group and node. rigd logs in with its password file and its births arrive; a rigd that claims another
    /// node id with the same user is denied by the broker, and its open password file is warned about.
    @Test(.timeLimit(.minutes(2)))
    func aBrokerWithPasswordsAndThePerNodeACL() throws {
        let directory = NSTemporaryDirectory() + "rigd-acl-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let passwd = directory + "/passwd", acl = directory + "/acl"
        for (user, password) in [("host-t", "node-secret"), ("scada-t", "scada-secret")] {
            let made = try runToCompletion("/usr/bin/mosquitto_passwd", (user == "host-t" ? ["-c"] : []) + ["-b", passwd,
                                                                                                            user, password])
            try #require(made.status == 0, "mosquitto_passwd: \(made.stderr)")
        }
        try """
            user host-t
            topic write spBv1.0/site-t/NBIRTH/host-t
            topic write spBv1.0/site-t/NDEATH/host-t
            topic write spBv1.0/site-t/DBIRTH/host-t/+
            topic write spBv1.0/site-t/DDATA/host-t/+
            topic write spBv1.0/site-t/DDEATH/host-t/+
            topic read spBv1.0/site-t/NCMD/host-t
            topic read spBv1.0/site-t/DCMD/host-t/+
            topic read spBv1.0/STATE/scada-t

            user scada-t
            topic readwrite spBv1.0/#

            """.write(toFile: acl, atomically: true, encoding: .utf8)
        let broker = try MosquittoBroker(allowAnonymous: false, configuration: "password_file \(passwd)\nacl_file \(acl)")
        let (host, received) = try SparkplugHarness.subscriber(broker, username: "scada-t", password: "scada-secret")
        defer { host.stop() }
        let secret = directory + "/mqtt-password"
        try "node-secret\n".write(toFile: secret, atomically: true, encoding: .utf8)
        chmod(secret, 0o600)
        let credentials = "username = \"host-t\"\npassword_file = \"\(secret)\""
        let config = try temporaryFile(SparkplugHarness.configuration(brokerPort: broker.port, extra: credentials))
        defer { unlink(config) }
        let rigd = try ChildProcess(try rigdBinary(), ["run", "--config", config, "--for", "4s", "--status-every", "0",
                                                       "--http", "off"])
        #expect(rigd.waitForExit(timeout: 60) == 0, "\(rigd.stderr.suffix(3000))")
        #expect(received.messages("DBIRTH").count == 2, "\(received.all.map(\.topic))\n\(broker.log.suffix(2000))")
        #expect(!received.messages("DDATA").isEmpty)
        #expect(!broker.log.contains("Denied PUBLISH from rigd-site-t-host-t"), "\(broker.log.suffix(2000))")
        #expect(!rigd.stderr.contains("open to other users"))

        // Same user, another node's id: the broker drops what it publishes.
        chmod(secret, 0o644)
        let intruder = try temporaryFile(SparkplugHarness.configuration(brokerPort: broker.port, extra: credentials)
            .replacingOccurrences(of: "node = \"host-t\"", with: "node = \"intruder\""))
        defer { unlink(intruder) }
        let other = try ChildProcess(try rigdBinary(), ["run", "--config", intruder, "--for", "3s", "--status-every",
                                                        "0", "--http", "off"])
        #expect(other.waitForExit(timeout: 60) == 0, "\(other.stderr.suffix(3000))")
        #expect(broker.wait { $0.contains("Denied PUBLISH from rigd-site-t-intruder") }, "\(broker.log.suffix(2000))")
        #expect(!received.all.contains { $0.topic.contains("/intruder") })
        #expect(other.stderr.contains("the MQTT password file \(secret) is open to other users (mode 0644)"),
                "\(other.stderr.suffix(2000))")
    }

    /// An mqtts:// broker: rigd checks the broker's certificate against its ca_file and publishes over TLS; with
    /// another CA it does not connect, says why, and keeps running (and recording).
    @Test(.timeLimit(.minutes(2)))
    func tlsWithTheSitesCertificateAuthority() throws {
        let directory = NSTemporaryDirectory() + "rigd-tls-\(UUID().uuidString)"
        let stranger = directory + "/other"
        try FileManager.default.createDirectory(atPath: stranger, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try makeTestCertificates(in: directory)
        try makeTestCertificates(in: stranger, caName: "some other CA")
        let broker = try MosquittoBroker(configuration: """
            cafile \(directory)/ca.crt
            certfile \(directory)/broker.crt
            keyfile \(directory)/broker.key
            """)
        let (host, received) = try SparkplugHarness.subscriber(
            broker, tls: MQTTSettings.TLS(caFile: directory + "/ca.crt"))
        defer { host.stop() }
        func configuration(ca: String) throws -> String {
            try temporaryFile(SparkplugHarness.configuration(brokerPort: broker.port, extra: "ca_file = \"\(ca)\"")
                .replacingOccurrences(of: "mqtt://", with: "mqtts://"))
        }
        let good = try configuration(ca: directory + "/ca.crt")
        defer { unlink(good) }
        let rigd = try ChildProcess(try rigdBinary(), ["run", "--config", good, "--for", "4s", "--status-every", "0",
                                                       "--http", "off"])
        #expect(rigd.waitForExit(timeout: 60) == 0, "\(rigd.stderr.suffix(3000))")
        #expect(rigd.stderr.contains("broker mqtts://127.0.0.1:\(broker.port)"))
        #expect(received.messages("DBIRTH").count == 2, "\(received.all.map(\.topic))\n\(rigd.stderr.suffix(2000))")

        let bad = try configuration(ca: stranger + "/ca.crt")
        defer { unlink(bad) }
        let before = received.all.count
        let refused = try ChildProcess(try rigdBinary(), ["run", "--config", bad, "--for", "4s", "--status-every", "0",
                                                          "--http", "off"])
        #expect(refused.waitForExit(timeout: 60) == 0, "\(refused.stderr.suffix(3000))")
        #expect(refused.stderr.contains("MQTT: cannot reach the broker 127.0.0.1:\(broker.port)"),
                "\(refused.stderr.suffix(2000))")
        #expect(received.all.count == before, "a node that does not trust the broker published")
    }

    /// A configuration reload (`replaceStations`) on a node that is born: a replaced station (same name, a new
    /// station, of another kind) gets a DDEATH then a new DBIRTH, an added one a DBIRTH, an unchanged one nothing;
    /// removing stations gives their DDEATHs. In process: simulated stations run on a virtual clock until they have
    /// read their channels (alive), then stand still.
    @Test(.timeLimit(.minutes(2)))
    func aReloadKillsAndBirthsOnlyTheDevicesItChanges() throws {
        let broker = try MosquittoBroker()
        let (host, received) = try SparkplugHarness.subscriber(broker)
        defer { host.stop() }
        let first = try ConfigLoader.parse("""
            [[station]]
            name = "pond-a"
            kind = "aqua-sonde"
            address = "sim://"
            [[station]]
            name = "rig-b"
            kind = "heat-rig"
            address = "sim://"
            [[station]]
            name = "pond-c"
            kind = "aqua-sonde"
            address = "sim://"
            [mqtt]
            broker = "mqtt://127.0.0.1:\(broker.port)"
            group = "site-t"
            node = "host-t"
            """, source: "first.toml")
        // The reload's rig-b: another station of the name, of another kind.
        let second = try ConfigLoader.parse("""
            [[station]]
            name = "rig-b"
            kind = "aqua-sonde"
            address = "sim://"
            """, source: "second.toml")
        let lines = Locked<[String]>([])
        let logger = Logger(label: "edge-node-test") { _ in LineCollector(lines: lines) }
        func alive(_ config: StationConfig) throws -> any AnyStation {
            let clock = VirtualClock()
            let station = try Wiring.simulatedStation(config, seed: 1, clock: clock, logger: logger)
            station.start(now: 0)
            LoopRunner(clock: clock, loops: station.makeLoops()).run(until: 30_000_000_000)
            return station
        }
        let (a, b, c) = (try alive(first.stations[0]), try alive(first.stations[1]), try alive(first.stations[2]))
        let newB = try alive(second.stations[0])
        for station in [a, b, c, newB] {
            try #require(station.status().channels.contains { $0.value != nil }, "\(station.name) read no channel")
        }

        let directory = NSTemporaryDirectory() + "rigd-reload-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = try DataLog.openForWriting(path: DataLog.path(in: directory))
        let node = try EdgeNode(config: try #require(first.mqtt), password: nil, stations: [a, b], log: log,
                                software: "rigd test", logger: logger)
        node.start()
        defer { node.stop() }
        func device(_ message: MQTTMessage) -> String { String(message.topic.split(separator: "/").last ?? "") }
        /// The device messages (DBIRTH, DDEATH) from index `from` on, as "TYPE device".
        func deviceEvents(from: Int) -> [String] {
            received.all.dropFirst(from).compactMap { m in
                ["DBIRTH", "DDEATH"].first { m.topic.contains("/\($0)/") }.map { "\($0) \(device(m))" }
            }
        }
        try #require(eventually(30) { Set(deviceEvents(from: 0)) == ["DBIRTH pond-a", "DBIRTH rig-b"] },
                     "\(received.all.map(\.topic))\n\(lines.withLock { $0 }.suffix(20))")

        let beforeReplace = received.all.count
        node.replaceStations([a, newB, c])
        #expect(eventually(10) { deviceEvents(from: beforeReplace).count >= 3 }, "\(deviceEvents(from: beforeReplace))")
        Thread.sleep(forTimeInterval: 1)  // four looks more: nothing else follows (pond-a above all)
        #expect(deviceEvents(from: beforeReplace) == ["DDEATH rig-b", "DBIRTH rig-b", "DBIRTH pond-c"])
        let rebirth = try #require(received.all.dropFirst(beforeReplace)
            .last { $0.topic.hasSuffix("/DBIRTH/host-t/rig-b") })
        #expect(try SparkplugHarness.decode(rebirth).metrics.first { $0.name == "Kind" }?.sparkplugValue
                == .string("aqua-sonde"))

        let beforeRemove = received.all.count
        node.replaceStations([a])
        #expect(eventually(10) { deviceEvents(from: beforeRemove).count >= 2 }, "\(deviceEvents(from: beforeRemove))")
        Thread.sleep(forTimeInterval: 1)
        #expect(deviceEvents(from: beforeRemove) == ["DDEATH rig-b", "DDEATH pond-c"])
        #expect(received.messages("NBIRTH").count == 1, "a reload is no node rebirth")
        #expect(try SparkplugHarness.sequenceProblems(received.all) == [])
        let notices = lines.withLock { $0 }.filter { $0.hasPrefix("MQTT: reload:") }
        #expect(notices == [
            "MQTT: reload: DDEATH for rig-b (replaced); DBIRTH follows for rig-b (replaced), pond-c (added)",
            "MQTT: reload: DDEATH for rig-b (removed), pond-c (removed)",
        ], "\(notices)")
    }

    /// A 12-s broker outage, with and without rigd killed with -9 halfway (the deep tier's is 2 minutes). The
    /// historian (PostgreSQL) loses the broker too, and ends with every sample recorded meanwhile as a historical row.
    @Test(.timeLimit(.minutes(3)), arguments: [false, true])
    func aBrokerOutageLosesNoSample(killDuringOutage: Bool) throws {
        let f = try SparkplugHarness.outage(seconds: 12, killDuringOutage: killDuringOutage, historian: true)
        #expect(f.historianChecked)
        #expect(f.problems(outage: 12) == [])
    }
}

/// Keeps what a logger writes, for assertions on log lines.
private struct LineCollector: LogHandler {
    let lines: Locked<[String]>
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        lines.withLock { $0.append("\(event.message)") }
    }
}
