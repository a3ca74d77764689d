import Daemon
import Foundation
import GRDB
import Locking
import Logging
import MQTT
import Sparkplug

/// What a Sparkplug subscriber of the test's own received, in order.
public final class SparkplugReceived: Sendable {
    private let list = Locked<[MQTTMessage]>([])
    private let connections = Locked(0)

    public init() {}

    public func add(_ event: MQTTEvent) {
        switch event {
        case .message(let m): list.withLock { $0.append(m) }
        case .connected: connections.withLock { $0 += 1 }
        default: break
        }
    }

    public var all: [MQTTMessage] { list.withLock { $0 } }
    public var connectionCount: Int { connections.withLock { $0 } }

    /// The messages of one Sparkplug type (`NBIRTH`, `DDATA`, …).
    public func messages(_ type: String) -> [MQTTMessage] { all.filter { $0.topic.contains("/\(type)/") } }
}

/// rigd as a Sparkplug edge node against a Mosquitto broker of the test's own (tests in FleetTests and the deep tier).
public enum SparkplugHarness {
    static let logger = Logger(label: "sparkplug-test")

    /// A subscriber to the whole Sparkplug namespace that subscribes again after each reconnection, returned once the
    /// broker has its subscription (TestFailure if it does not within 10 s). Stop it when done.
    public static func subscriber(_ broker: MosquittoBroker, username: String? = nil, password: String? = nil,
                                  tls: MQTTSettings.TLS? = nil) throws -> (client: MQTTClient, received: SparkplugReceived) {
        let received = SparkplugReceived()
        let settings = MQTTSettings(host: "127.0.0.1", port: broker.port, clientID: "test-host-\(UUID().uuidString)",
                                    keepalive: 5, username: username, password: password, tls: tls,
                                    reconnectMin: 0.1, reconnectMax: 0.3)
        let box = Locked<MQTTClient?>(nil)
        let client = try MQTTClient(settings, logger: logger) { event in
            received.add(event)
            if event == .connected { try? box.withLock { $0 }?.subscribe("spBv1.0/#") }
        }
        box.withLock { $0 = client }
        client.start()
        guard subscribed(broker) else {
            client.stop()
            throw TestFailure("the subscriber did not subscribe: \(broker.log.suffix(2000))")
        }
        return (client, received)
    }

    /// Waits until the broker has logged the subscriber's subscription.
    public static func subscribed(_ broker: MosquittoBroker) -> Bool {
        broker.wait { $0.contains(" 1 spBv1.0/#") }
    }

    /// Two simulated stations (a pond sonde and a heat rig) recording every `record` s, as edge node host-t of
    /// group site-t.
    public static func configuration(brokerPort: Int, record: Double = 0.2, extra: String = "") -> String {
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

    public static func decode(_ message: MQTTMessage) throws -> SpBPayload { try SpBPayload.decoded(message.payload) }

    /// A node's messages (NDEATH aside; commands and STATE are not the node's) carry seq 0 on each NBIRTH and one
    /// more on each message after, wrapping at 256.
    public static func sequenceProblems(_ messages: [MQTTMessage]) throws -> [String] {
        var problems: [String] = []
        var previous: UInt64?
        let sequenced = ["/NBIRTH/", "/NDATA/", "/DBIRTH/", "/DDATA/", "/DDEATH/"]
        for message in messages where sequenced.contains(where: { message.topic.contains($0) }) {
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

    /// What an outage run found.
    public struct OutageFindings: Sendable {
        /// Samples the data log recorded during the outage (`station/channel@ms`).
        public var recorded: [String] = []
        /// Of those, the ones that did not arrive as historical.
        public var missing: [String] = []
        public var historicalCount = 0
        /// Historical samples that arrived more than once, or both live and historical.
        public var duplicates: [String] = []
        /// Samples that arrived live and again historical, other than those sent in the 2 s before the cut.
        public var bothLiveAndHistorical: [String] = []
        /// Samples sent live just before the cut and again historical: QoS 1's documented duplicate (docs/fleet.md,
        /// store-and-forward: the broker had the message, its acknowledgement was lost with the link). A slow machine
        /// (ThreadSanitizer) shows it; the historian keeps such a sample once.
        public var duplicatedAtTheCut: [String] = []
        /// Historical samples of a channel that arrived after a later one of the same channel.
        public var outOfOrder: [String] = []
        public var sequenceProblems: [String] = []
        /// With a historian: samples recorded during the outage that are not in its PostgreSQL as historical rows,
        /// and the historian's sequence gaps (it asks for a rebirth on each).
        public var historianMissing: [String] = []
        public var historianRows = 0
        public var historianChecked = false
        /// rigd's log lines about the link, for messages.
        public var log = ""

        /// What breaks the promise, one line each (none when it holds): every sample the data log recorded during an
        /// outage of `outage` s (at least ten a second) arrived as historical, once, in order, not also live, and the
        /// node's sequence numbers have no gap.
        public func problems(outage: Double) -> [String] {
            var problems: [String] = []
            if recorded.count <= Int(outage) * 10 {
                problems.append("too few samples recorded during the outage: \(recorded.count)")
            }
            if !missing.isEmpty {
                problems.append("\(missing.count) of \(recorded.count) samples recorded during the outage did not "
                                + "arrive as historical: \(missing.prefix(5))\n\(log)")
            }
            if !duplicates.isEmpty { problems.append("historical samples arrived twice: \(duplicates.prefix(5))") }
            if !bothLiveAndHistorical.isEmpty {
                problems.append("arrived live and historical: \(bothLiveAndHistorical.prefix(5))")
            }
            if !outOfOrder.isEmpty { problems.append("historical samples out of order: \(outOfOrder.prefix(5))") }
            if historianChecked, !historianMissing.isEmpty {
                problems.append("\(historianMissing.count) of \(recorded.count) samples recorded during the outage are "
                                + "not historical rows in the historian's PostgreSQL (\(historianRows) rows): "
                                + "\(historianMissing.prefix(5))")
            }
            return problems + sequenceProblems
        }
    }

    /// The broker stopped for `outage` s while rigd runs two simulated stations; rigd reaches the broker through a
    /// proxy that comes back only once the test's subscriber is back, so the subscriber sees everything rigd sends.
    /// With `killDuringOutage`, rigd is killed with -9 halfway and started again on the same data log. Returns what
    /// the data log recorded during the outage against what arrived.
    public static func outage(seconds outage: Double, killDuringOutage: Bool, historian withHistorian: Bool = false)
        throws -> OutageFindings {
        let broker = try MosquittoBroker()
        let (host, received) = try subscriber(broker)
        defer { host.stop() }
        // The historian subscribes to the broker itself (not through the proxy): it loses the broker too.
        let historian = withHistorian ? try HistorianProcess(brokerPort: broker.port) : nil
        let proxy = try SocatProxy(upstreamPort: broker.port)
        let config = try temporaryFile(configuration(brokerPort: proxy.port, extra: "deadband_default = 0"))
        defer { unlink(config) }
        let dataDir = NSTemporaryDirectory() + "rigd-edge-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let arguments = ["run", "--config", config, "--status-every", "0", "--http", "off", "--data-dir", dataDir]
        var rigd = try ChildProcess(try rigdBinary(), arguments)
        defer {
            rigd.signal(SIGKILL)
            _ = rigd.waitForExit(timeout: 10, drain: false)
        }
        guard eventually(30, { received.messages("DDATA").count > 10 }) else {
            throw TestFailure("no data before the outage: \(rigd.stderr.suffix(3000))")
        }
        Thread.sleep(forTimeInterval: 1)

        let cutAt = Date().timeIntervalSince1970
        proxy.cut()
        broker.stop()
        Thread.sleep(forTimeInterval: outage / 2)
        if killDuringOutage {
            rigd.signal(SIGKILL)
            _ = rigd.waitForExit(timeout: 10, drain: false)
            rigd = try ChildProcess(try rigdBinary(), arguments)
            guard rigd.wait(for: 30, until: { _, err in err.contains("rigd running") }) else {
                throw TestFailure("rigd did not start again: \(rigd.stderr.suffix(3000))")
            }
        }
        Thread.sleep(forTimeInterval: outage / 2)
        try broker.restart()
        guard eventually(20, { received.connectionCount >= 2 }), subscribed(broker) else {
            throw TestFailure("the subscriber did not come back: \(broker.log.suffix(2000))")
        }
        if let historian, !eventually(30, { historian.connections >= 2 }) {
            throw TestFailure("the historian did not come back: \(historian.process.stderr.suffix(2000))")
        }
        let backAt = Date().timeIntervalSince1970
        try proxy.restore()
        // Both stations log when their backlog is through.
        guard rigd.wait(for: 60 + outage, until: { _, err in
            err.components(separatedBy: "forwarded the backlog").count > 2
        }) else {
            throw TestFailure("the backlog was not forwarded: \(rigd.stderr.suffix(3000))")
        }
        Thread.sleep(forTimeInterval: 1)
        rigd.signal(SIGKILL)
        _ = rigd.waitForExit(timeout: 10)

        var findings = OutageFindings()
        findings.log = rigd.stderr.split(separator: "\n").filter { $0.contains("MQTT") }.joined(separator: "\n")
        let db = try DataLog.openForReading(path: DataLog.path(in: dataDir))
        findings.recorded = try db.read { db in
            try Row.fetchAll(db, sql: """
                SELECT c.station, c.name, s.t FROM sample s JOIN channel c ON c.id = s.channel_id
                WHERE s.t > ? AND s.t < ? ORDER BY s.t
                """, arguments: [cutAt + 0.5, backAt - 0.5])
                .map { "\($0[0] as String)/\($0[1] as String)@\(EdgeNode.ms($0[2] as Double))" }
        }
        var historical: [String] = []
        var live: Set<String> = []
        var lastTime: [String: UInt64] = [:]
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
                if let last = lastTime[key], metric.timestamp <= last { findings.outOfOrder.append(sample) }
                lastTime[key] = metric.timestamp
            }
        }
        findings.historicalCount = historical.count
        findings.missing = Array(Set(findings.recorded).subtracting(historical)).sorted()
        var seen: Set<String> = []
        findings.duplicates = historical.filter { !seen.insert($0).inserted }
        let cutMs = EdgeNode.ms(cutAt)
        for sample in live.intersection(historical).sorted() {
            let t = UInt64(sample.split(separator: "@").last ?? "") ?? 0
            if t + 2_000 >= cutMs, t <= cutMs {
                findings.duplicatedAtTheCut.append(sample)
            } else {
                findings.bothLiveAndHistorical.append(sample)
            }
        }
        findings.sequenceProblems = try sequenceProblems(received.all)
        if let historian {
            // The historian writes what it has received within a moment of receiving it.
            let query = """
                SELECT d.device_id, substr(m.name, 10), round(extract(epoch FROM s.t) * 1000)::bigint
                FROM samples s JOIN devices d ON d.id = s.device JOIN metrics m ON m.id = s.metric
                WHERE m.name LIKE 'Channels/%' AND s.historical
                  AND s.t > to_timestamp(\(cutAt)) AND s.t < to_timestamp(\(backAt))
                """
            var stored: Set<String> = []
            _ = eventually(20) {
                stored = Set(((try? historian.query(query)) ?? []).map { $0.joined(separator: "/").replacingOccurrences(
                    of: "/(\\d+)$", with: "@$1", options: .regularExpression) })
                return Set(findings.recorded).isSubset(of: stored)
            }
            findings.historianChecked = true
            findings.historianRows = stored.count
            findings.historianMissing = Array(Set(findings.recorded).subtracting(stored)).sorted()
        }
        return findings
    }
}

/// A test certificate authority and a broker certificate for 127.0.0.1 (openssl, EC P-256, valid 2 days), in
/// `directory`: `ca.crt`, `broker.crt`, `broker.key`.
public func makeTestCertificates(in directory: String, caName: String = "rigd test CA") throws {
    let ext = directory + "/san.ext"
    try "subjectAltName=IP:127.0.0.1\n".write(toFile: ext, atomically: true, encoding: .utf8)
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    let steps: [[String]] = [
        ["req", "-x509"] + ec + ["-keyout", "\(directory)/ca.key", "-out", "\(directory)/ca.crt", "-days", "2",
                                 "-subj", "/CN=\(caName)"],
        ["req"] + ec + ["-keyout", "\(directory)/broker.key", "-out", "\(directory)/broker.csr", "-subj", "/CN=127.0.0.1"],
        ["x509", "-req", "-in", "\(directory)/broker.csr", "-CA", "\(directory)/ca.crt", "-CAkey", "\(directory)/ca.key",
         "-CAcreateserial", "-out", "\(directory)/broker.crt", "-days", "2", "-extfile", ext],
    ]
    for step in steps {
        let run = try runToCompletion("/usr/bin/openssl", step)
        guard run.status == 0 else { throw TestFailure("openssl \(step.joined(separator: " ")): \(run.stderr)") }
    }
}

/// Whether `condition` holds within `timeout` s (asked every 20 ms, and once more at the end).
public func eventually(_ timeout: Double, _ condition: () -> Bool) -> Bool {
    let end = Date().addingTimeInterval(timeout)
    while Date() < end {
        if condition() { return true }
        Thread.sleep(forTimeInterval: 0.02)
    }
    return condition()
}
