import Foundation
import Locking
import Logging
import MQTT
import PostgresNIO
import ServiceLifecycle
import Sparkplug

/// What the historian reports about itself (`/api/status`, the overview page's footer).
package struct HistorianStatus: Sendable, Codable, Equatable {
    package var broker: String
    package var database: String
    package var subscription: String
    package var primaryHost: String?
    package var connected = false
    package var counters = HostCounters()
    /// Sample rows written, and rows skipped because their (device, metric, t) was already stored.
    package var samplesWritten = 0
    package var duplicateSamples = 0
    /// Messages received and not yet written.
    package var queued = 0
    /// Messages PostgreSQL refused for their data (a data or constraint error): dropped, not retried.
    package var rejectedMessages = 0
    /// The last PostgreSQL error, while writes are being retried; nil once they succeed again.
    package var writeError: String?
}

/// `rigd historian`'s work: an MQTT subscription (libmosquitto, on the client's own thread) feeds a queue; one writer
/// task applies the Sparkplug host rules (`HostState`) to each message in order and writes the result into
/// PostgreSQL (`HistorianStore`), batching samples while messages keep coming. Rebirth requests go back to the edge
/// nodes as NCMD. When PostgreSQL fails, the writer keeps the messages and retries every 2 s; they wait in memory.
package final class Historian: Service, @unchecked Sendable {
    package struct Options: Sendable {
        package var mqtt: MQTTSettings
        /// Shown in status (the broker URL without credentials).
        package var brokerDescription: String
        package var databaseDescription: String
        /// A group id, or nil for every group (`spBv1.0/#`).
        package var group: String?
        /// This host application's id: it publishes `spBv1.0/STATE/<id>` (online, retained; offline as its will), so
        /// edge nodes whose `primary_host` names it accept commands while it runs.
        package var hostID: String?
        package var maxPayloadBytes: Int

        package init(mqtt: MQTTSettings, brokerDescription: String, databaseDescription: String, group: String?,
                     hostID: String?, maxPayloadBytes: Int) {
            self.mqtt = mqtt
            self.brokerDescription = brokerDescription
            self.databaseDescription = databaseDescription
            self.group = group
            self.hostID = hostID
            self.maxPayloadBytes = maxPayloadBytes
        }
    }

    private struct Received: Sendable {
        var topic: String
        var payload: [UInt8]
        var at: Double
    }

    private let options: Options
    private let database: PostgresClient
    private let logger: Logger
    private let inbox = Locked<[Received]>([])
    private let doorbell: AsyncStream<Void>
    private let ring: AsyncStream<Void>.Continuation
    private let statusBox: Locked<HistorianStatus>
    private let clientBox = Locked<MQTTClient?>(nil)
    private var client: MQTTClient? { clientBox.withLock { $0 } }
    /// Set at shutdown: a write that keeps failing is given up after a few attempts, not retried forever.
    private let stopping = Locked(false)

    package var subscription: String { "\(SparkplugTopic.namespace)/\(options.group ?? "#")\(options.group == nil ? "" : "/#")" }

    package init(options: Options, database: PostgresClient, logger: Logger) {
        self.options = options
        self.database = database
        self.logger = logger
        (doorbell, ring) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        statusBox = Locked(HistorianStatus(broker: options.brokerDescription, database: options.databaseDescription,
                                           subscription: "", primaryHost: options.hostID))
        statusBox.withLock { $0.subscription = subscription }
    }

    package var status: HistorianStatus {
        let queued = inbox.withLock { $0.count }
        var status = statusBox.withLock { $0 }
        status.queued += queued
        status.connected = client?.isConnected ?? false
        return status
    }

    private var stateTopic: String? { options.hostID.map { SparkplugTopic.state(host: $0).description } }

    private static func statePayload(online: Bool, at: Double) -> [UInt8] {
        Array(#"{"online":\#(online),"timestamp":\#(UInt64(max(0, at * 1000)))}"#.utf8)
    }

    package func run() async throws {
        let connectedAt = Locked(Date().timeIntervalSince1970)
        let stateTopic = self.stateTopic
        let client = try MQTTClient(options.mqtt, logger: logger, will: {
            // Sparkplug 3.0: the will carries the timestamp of the connection it belongs to.
            stateTopic.map { MQTTWill(topic: $0, payload: Self.statePayload(online: false, at: connectedAt.withLock { $0 }),
                                      qos: 1, retain: true) }
        }) { [weak self] event in
            self?.handle(event, connectedAt: connectedAt)
        }
        clientBox.withLock { $0 = client }
        client.start()
        logger.notice("subscribing to \(subscription) on \(options.brokerDescription), writing to \(options.databaseDescription)")
        var state = HostState(maxPayloadBytes: options.maxPayloadBytes)
        let store = HistorianStore(client: database, logger: logger)
        var problemsLogged = 0
        await withGracefulShutdownHandler {
            for await _ in doorbell {
                await drain(&state, store, problemsLogged: &problemsLogged)
            }
        } onGracefulShutdown: { [ring, stopping] in
            stopping.withLock { $0 = true }
            ring.finish()
        }
        // Stopping: no more messages; what was received is written before the historian exits.
        if let stateTopic {
            _ = try? client.publish(topic: stateTopic, payload: Self.statePayload(online: false, at: connectedAt.withLock { $0 }),
                                    qos: 1, retain: true)
        }
        client.stop()
        await drain(&state, store, problemsLogged: &problemsLogged)
        let final = status
        logger.notice("stopped: \(final.counters.messages) messages, \(final.samplesWritten) samples written")
    }

    /// On the MQTT client's thread: queue the message and wake the writer.
    private func handle(_ event: MQTTEvent, connectedAt: Locked<Double>) {
        switch event {
        case .connected:
            do {
                if let stateTopic {
                    // Sparkplug 3.0 (5.3): subscribe to its own STATE, then publish itself online, retained.
                    try client?.subscribe(stateTopic)
                    try client?.publish(topic: stateTopic,
                                        payload: Self.statePayload(online: true, at: connectedAt.withLock { $0 }),
                                        qos: 1, retain: true)
                }
                try client?.subscribe(subscription)
                logger.notice("connected to \(options.brokerDescription)")
            } catch {
                logger.error("\(error)")
            }
        case let .disconnected(reason, retryIn):
            connectedAt.withLock { $0 = Date().timeIntervalSince1970 + retryIn }
            logger.warning("broker \(options.brokerDescription) lost (\(reason)); retrying in \(String(format: "%.1f", retryIn)) s")
        case .delivered:
            break
        case let .message(message):
            inbox.withLock { $0.append(Received(topic: message.topic, payload: message.payload,
                                                 at: Date().timeIntervalSince1970)) }
            ring.yield()
        }
    }

    private func drain(_ state: inout HostState, _ store: HistorianStore, problemsLogged: inout Int) async {
        while true {
            let batch = inbox.withLock { inbox -> [Received] in
                defer { inbox.removeAll(keepingCapacity: true) }
                return inbox
            }
            if batch.isEmpty { return }
            statusBox.withLock { $0.queued = batch.count }
            defer { statusBox.withLock { $0.queued = 0 } }
            var events: [StoreEvent] = []
            var perMessage: [[StoreEvent]] = []
            for message in batch {
                let outcome = state.handle(topic: message.topic, payload: message.payload, now: message.at)
                if let problem = outcome.problem {
                    // Every problem is counted; the log gets the first 50 and then every 1000th.
                    problemsLogged += 1
                    if problemsLogged <= 50 || problemsLogged % 1000 == 0 {
                        logger.warning("\(problem) (problem \(problemsLogged))")
                    }
                }
                for node in outcome.rebirths { askRebirth(node) }
                events.append(contentsOf: outcome.events)
                perMessage.append(outcome.events)
            }
            // One transaction for the batch: while messages keep coming, each commit carries all that came meanwhile.
            await retrying("writing \(batch.count) message(s)") {
                do {
                    try await store.write(events)
                } catch where HistorianError.isDataError(error) {
                    // PostgreSQL refused the data itself: retrying the batch would refuse it forever. Each message
                    // alone instead; the ones it refuses are dropped, counted and logged.
                    for (message, events) in zip(batch, perMessage) {
                        do {
                            try await store.write(events)
                        } catch where HistorianError.isDataError(error) {
                            let n = statusBox.withLock { $0.rejectedMessages += 1; return $0.rejectedMessages }
                            if n <= 50 || n % 1000 == 0 {
                                logger.error("\(message.topic): \(HistorianError.describe(error)): dropped (refused \(n))")
                            }
                        }
                    }
                }
            }
            let counters = state.counters
            let (inserted, duplicates) = await (store.inserted, store.duplicates)
            statusBox.withLock {
                $0.counters = counters
                $0.samplesWritten = inserted
                $0.duplicateSamples = duplicates
            }
        }
    }

    /// Runs `write` until it succeeds: a PostgreSQL outage holds the messages in memory, it does not drop them.
    private func retrying(_ what: String, _ write: () async throws -> Void) async {
        var failures = 0
        while true {
            do {
                try await write()
                if failures > 0 {
                    logger.notice("PostgreSQL writes work again (after \(failures) failed attempts)")
                    statusBox.withLock { $0.writeError = nil }
                }
                return
            } catch {
                failures += 1
                let text = HistorianError.describe(error)
                statusBox.withLock { $0.writeError = text }
                if failures == 1 || failures % 30 == 0 {
                    logger.error("\(what): \(text); retrying every 2 s, messages wait in memory")
                }
                if stopping.withLock({ $0 }), failures >= 3 {
                    logger.error("stopping with \(what) not done: \(text)")
                    return
                }
                try? await Task.sleep(for: .seconds(2))
            }
        }
    }

    /// NCMD `Node Control/Rebirth` = true (Sparkplug 3.0, 6.4.19: the node republishes all its births).
    private func askRebirth(_ node: NodeKey) {
        var payload = SpBPayload()
        payload.timestamp = UInt64(Date().timeIntervalSince1970 * 1000)
        payload.metrics = [SpBPayload.Metric(name: "Node Control/Rebirth", .boolean(true))]
        let topic = SparkplugTopic.node(.command, group: node.group, node: node.node).description
        do {
            try client?.publish(topic: topic, payload: payload.encoded(), qos: 0)
            logger.info("asked \(node) for a rebirth")
        } catch {
            logger.warning("cannot ask \(node) for a rebirth: \(error)")
        }
    }
}
