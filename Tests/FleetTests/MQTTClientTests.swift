import Foundation
import Locking
import Logging
import MQTT
import RigdTestKit
import Testing

/// The libmosquitto client against a real Mosquitto broker of the test's own: QoS 1 both ways, the broker's
/// acknowledgement, an outage with backoff and the reconnect, a refused login, and the will.
@Suite struct MQTTClientTests {
    /// Everything a client reported, in order.
    final class Events: Sendable {
        private let list = Locked<[MQTTEvent]>([])

        func add(_ event: MQTTEvent) { list.withLock { $0.append(event) } }
        var all: [MQTTEvent] { list.withLock { $0 } }

        var messages: [MQTTMessage] {
            all.compactMap { if case .message(let m) = $0 { m } else { nil } }
        }

        var connections: Int { all.filter { $0 == .connected }.count }

        var disconnections: [(reason: String, retryIn: Double)] {
            all.compactMap { if case let .disconnected(reason, retryIn) = $0 { (reason, retryIn) } else { nil } }
        }

        var delivered: [Int32] {
            all.compactMap { if case .delivered(let id) = $0 { id } else { nil } }
        }

        /// Waits up to `timeout` s for `predicate`.
        func wait(_ timeout: Double = 10, until predicate: (Events) -> Bool) -> Bool {
            eventually(timeout) { predicate(self) }
        }
    }

    static let logger = Logger(label: "mqtt-test")

    func client(_ broker: MosquittoBroker, id: String, username: String? = nil, password: String? = nil,
                will: MQTTWill? = nil, events: Events) throws -> MQTTClient {
        let settings = MQTTSettings(host: "127.0.0.1", port: broker.port, clientID: id, keepalive: 5,
                                    username: username, password: password, reconnectMin: 0.2, reconnectMax: 0.8)
        let willProvider: (@Sendable () -> MQTTWill?)? = will.map { w in { @Sendable in w } }
        return try MQTTClient(settings, logger: Self.logger, will: willProvider) { events.add($0) }
    }

    @Test func publishesAndReceivesWithQoS1AndTheBrokersAcknowledgement() throws {
        let broker = try MosquittoBroker()
        let (aEvents, bEvents) = (Events(), Events())
        let a = try client(broker, id: "node-a", events: aEvents)
        let b = try client(broker, id: "host-b", events: bEvents)
        a.start()
        b.start()
        defer {
            a.stop()
            b.stop()
        }
        try #require(aEvents.wait { $0.connections == 1 } && bEvents.wait { $0.connections == 1 },
                     "not connected: \(aEvents.all) \(bEvents.all)\n\(broker.log.suffix(2000))")
        try b.subscribe("spBv1.0/test/#")
        // The broker logs the subscription once it has it; publish after, or the message is before the subscription.
        try #require(broker.wait { $0.contains("host-b 1 spBv1.0/test/#") }, "\(broker.log.suffix(2000))")
        let payload: [UInt8] = [0, 1, 2, 0xFF, 0x80]
        let id = try a.publish(topic: "spBv1.0/test/NDATA/node-a", payload: payload, qos: 1)
        #expect(aEvents.wait { $0.delivered.contains(id) }, "no PUBACK for message \(id): \(aEvents.all)")
        try #require(bEvents.wait { !$0.messages.isEmpty })
        #expect(bEvents.messages.first == MQTTMessage(topic: "spBv1.0/test/NDATA/node-a", payload: payload, qos: 1,
                                                       retain: false))
        #expect(aEvents.disconnections.isEmpty)
    }

    @Test func anOutageIsReportedWithBackoffAndTheClientComesBackOnItsOwn() throws {
        let broker = try MosquittoBroker()
        let events = Events()
        let a = try client(broker, id: "node-a", events: events)
        a.start()
        defer { a.stop() }
        try #require(events.wait { $0.connections == 1 })
        broker.stop()
        try #require(events.wait { $0.disconnections.count >= 3 }, "\(events.all)")
        #expect(!a.isConnected)
        #expect(throws: MQTTError.self) { try a.publish(topic: "t", payload: [1]) }
        // Backoff: each wait about twice the one before (0.2, 0.4, 0.8 s, ±25 % jitter), never past the maximum.
        let waits = events.disconnections.map(\.retryIn)
        #expect(waits.allSatisfy { $0 <= 0.8 * 1.25 + 1e-9 }, "\(waits)")
        #expect(waits[1] > waits[0] * 1.1 || waits[2] > waits[1] * 1.1, "no backoff: \(waits)")
        #expect(events.disconnections.allSatisfy { !$0.reason.isEmpty })
        try broker.restart()
        #expect(events.wait { $0.connections == 2 }, "\(events.all)\n\(broker.log.suffix(2000))")
        #expect(a.isConnected)
    }

    @Test func theWillIsPublishedWhenTheConnectionDiesButNotOnACleanStop() throws {
        let broker = try MosquittoBroker()
        let hostEvents = Events()
        let host = try client(broker, id: "host", events: hostEvents)
        host.start()
        defer { host.stop() }
        try #require(hostEvents.wait { $0.connections == 1 })
        try host.subscribe("spBv1.0/test/NDEATH/#")
        try #require(broker.wait { $0.contains("host 1 spBv1.0/test/NDEATH/#") }, "\(broker.log.suffix(2000))")

        // A clean stop sends DISCONNECT: no will.
        let cleanEvents = Events()
        let clean = try client(broker, id: "node-clean", will: MQTTWill(topic: "spBv1.0/test/NDEATH/node-clean",
                                                                         payload: [1]), events: cleanEvents)
        clean.start()
        try #require(cleanEvents.wait { $0.connections == 1 })
        clean.stop()

        // A node whose connection dies (its process killed): the broker publishes the will.
        let broken = try ChildProcess("/usr/bin/mosquitto_sub", [
            "-h", "127.0.0.1", "-p", "\(broker.port)", "-i", "node-dead", "-t", "unused",
            "--will-topic", "spBv1.0/test/NDEATH/node-dead", "--will-payload", "dead", "--will-qos", "1",
        ])
        try #require(broker.wait { $0.contains("New client connected") && $0.contains("node-dead") },
                     "\(broker.log.suffix(2000))")
        broken.signal(SIGKILL)
        #expect(hostEvents.wait { $0.messages.contains { $0.topic == "spBv1.0/test/NDEATH/node-dead" } },
                "\(hostEvents.all)\n\(broker.log.suffix(2000))")
        #expect(!hostEvents.messages.contains { $0.topic == "spBv1.0/test/NDEATH/node-clean" })
    }

    @Test func aBrokerThatRefusesTheLoginIsReportedAndRetried() throws {
        let passwords = NSTemporaryDirectory() + "rigd-mqtt-passwords-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: passwords) }
        let made = try runToCompletion("/usr/bin/mosquitto_passwd", ["-c", "-b", passwords, "node-a", "right"])
        try #require(made.status == 0, "mosquitto_passwd: \(made.stderr)")
        let strict = try MosquittoBroker(allowAnonymous: false, configuration: "password_file \(passwords)")
        let events = Events()
        let a = try client(strict, id: "node-a", username: "node-a", password: "wrong", events: events)
        a.start()
        defer { a.stop() }
        #expect(events.wait { $0.disconnections.count >= 2 }, "\(events.all)")
        #expect(events.connections == 0)
        let good = Events()
        let b = try client(strict, id: "node-b", username: "node-a", password: "right", events: good)
        b.start()
        defer { b.stop() }
        #expect(good.wait { $0.connections == 1 }, "\(good.all)\n\(strict.log.suffix(2000))")
    }

    /// A "broker" that takes the TCP connection and never answers: the attempt is given up after `connectTimeout`
    /// and retried, instead of waiting for ever.
    @Test func anAttemptWithoutAnswerIsGivenUpAndRetried() throws {
        let (fd, port) = loopbackSocket(listening: true)
        defer { close(fd) }
        var settings = MQTTSettings(host: "127.0.0.1", port: port, clientID: "node-a", keepalive: 5,
                                    reconnectMin: 0.2, reconnectMax: 0.4)
        settings.connectTimeout = 1
        let events = Events()
        let a = try MQTTClient(settings, logger: Self.logger) { events.add($0) }
        a.start()
        defer { a.stop() }
        #expect(events.wait(10) { $0.disconnections.count >= 2 }, "\(events.all)")
        #expect(events.disconnections.first?.reason.contains("no answer within 1 s") == true, "\(events.all)")
        #expect(events.connections == 0)
    }
}
