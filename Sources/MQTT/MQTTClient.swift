#if canImport(Glibc)
import Glibc
#endif
import CMosquitto
import Foundation
import Locking
import Dispatch
import Logging
import Synchronization

/// Where and how an `MQTTClient` connects.
public struct MQTTSettings: Sendable, Equatable {
    public enum ProtocolVersion: Sendable, Equatable {
        case v311, v5
    }

    /// TLS: the CA that signs the broker's certificate, and optionally the client's own certificate and key.
    public struct TLS: Sendable, Equatable {
        public var caFile: String
        public var certFile: String?
        public var keyFile: String?

        public init(caFile: String, certFile: String? = nil, keyFile: String? = nil) {
            self.caFile = caFile
            self.certFile = certFile
            self.keyFile = keyFile
        }
    }

    public var host: String
    public var port: Int
    public var clientID: String
    public var protocolVersion: ProtocolVersion
    /// Seconds between the client's pings when nothing else is sent; the broker drops the client (and publishes its
    /// will) after 1.5 times this without a word.
    public var keepalive: Int
    public var username: String?
    public var password: String?
    public var tls: TLS?
    /// The wait before the first reconnect, doubled after each failure up to `reconnectMax`, each wait moved by up to
    /// `reconnectJitter` of itself either way (a site's hosts do not all come back at the same instant).
    public var reconnectMin: Double
    public var reconnectMax: Double
    public var reconnectJitter: Double
    /// An attempt the broker has not accepted (CONNACK) within this many seconds is given up and retried with backoff:
    /// a broker that takes the TCP connection and never answers, or a TLS connection that never completes (libmosquitto
    /// 2.0.11 reports no error for a TLS connection to a closed port).
    public var connectTimeout: Double = 10

    public init(host: String, port: Int, clientID: String, protocolVersion: ProtocolVersion = .v311,
                keepalive: Int = 30, username: String? = nil, password: String? = nil, tls: TLS? = nil,
                reconnectMin: Double = 1, reconnectMax: Double = 60, reconnectJitter: Double = 0.25) {
        self.host = host
        self.port = port
        self.clientID = clientID
        self.protocolVersion = protocolVersion
        self.keepalive = keepalive
        self.username = username
        self.password = password
        self.tls = tls
        self.reconnectMin = reconnectMin
        self.reconnectMax = reconnectMax
        self.reconnectJitter = reconnectJitter
    }
}

/// A message the broker delivered.
public struct MQTTMessage: Sendable, Equatable {
    public var topic: String
    public var payload: [UInt8]
    public var qos: Int
    public var retain: Bool

    public init(topic: String, payload: [UInt8], qos: Int, retain: Bool) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
    }
}

/// The will the broker publishes when the client's connection ends without a DISCONNECT (the Sparkplug NDEATH).
public struct MQTTWill: Sendable, Equatable {
    public var topic: String
    public var payload: [UInt8]
    public var qos: Int
    public var retain: Bool

    public init(topic: String, payload: [UInt8], qos: Int = 1, retain: Bool = false) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
    }
}

/// What libmosquitto said, with its own message (`mosquitto_strerror`, `mosquitto_connack_string`).
public struct MQTTError: Error, Sendable, CustomStringConvertible, Equatable {
    public let code: Int32
    public let description: String

    init(_ code: Int32, during what: String) {
        self.code = code
        description = "\(what): \(String(cString: mosquitto_strerror(code)))"
    }

    init(_ description: String) {
        code = -1
        self.description = description
    }
}

/// What the client reports to its owner, on the client's own thread, in order.
/// The libmosquitto rigd runs with, as the loaded library reports it (`mosquitto_lib_version`), e.g. "2.0.11".
public var libmosquittoVersion: String {
    var major: Int32 = 0
    var minor: Int32 = 0
    var revision: Int32 = 0
    _ = mosquitto_lib_version(&major, &minor, &revision)
    return "\(major).\(minor).\(revision)"
}

public enum MQTTEvent: Sendable, Equatable {
    /// The broker accepted the connection (CONNACK 0). The owner subscribes and publishes its births here.
    case connected
    /// The connection ended or could not be made; the client tries again after `retryIn` s.
    case disconnected(reason: String, retryIn: Double)
    /// The broker acknowledged the QoS 1 message `publish` returned this id for (PUBACK): it is the broker's now.
    case delivered(messageID: Int32)
    case message(MQTTMessage)
}

/// An MQTT client on libmosquitto (Debian's libmosquitto1), on a thread of its own (`mqtt`), never a station's.
///
/// The thread runs libmosquitto's network loop (`mosquitto_loop`) and reconnects with exponential backoff and jitter
/// (libmosquitto's own threaded loop backs off without jitter). `publish` and `subscribe` may be called from any
/// thread; libmosquitto locks its own state. Events reach `onEvent` on the client's thread.
public final class MQTTClient: @unchecked Sendable {
    public let settings: MQTTSettings
    /// `struct mosquitto *`, owned: destroyed in `deinit`.
    private let handle: OpaquePointer
    private let logger: Logger
    private let onEvent: @Sendable (MQTTEvent) -> Void
    /// Asked before each connection attempt: the will for that connection (Sparkplug's NDEATH carries the bdSeq of
    /// the connection it ends, so it changes with each).
    private let willForNextConnection: (@Sendable () -> MQTTWill?)?
    /// Held by `publish`, `subscribe`, `stop` and `freshSession`: the handle is not reset under another call.
    private let handleLock = Locked(())
    private let stopping = Atomic<Bool>(false)
    private let connectedNow = Atomic<Bool>(false)
    /// The current attempt got its CONNACK (stays true after a disconnect until the loop ends the attempt).
    private let everConnected = Atomic<Bool>(false)
    /// Signalled when the thread has left its loop.
    private let finished = DispatchSemaphore(value: 0)
    private var started = false
    private static let ok = Int32(MOSQ_ERR_SUCCESS.rawValue)

    private static let libraryInitialized: Bool = {
        mosquitto_lib_init()
        return true
    }()

    public init(_ settings: MQTTSettings, logger: Logger, will: (@Sendable () -> MQTTWill?)? = nil,
                onEvent: @escaping @Sendable (MQTTEvent) -> Void) throws {
        _ = Self.libraryInitialized
        guard let handle = mosquitto_new(settings.clientID, true, nil) else {
            throw MQTTError("mosquitto_new for client id \"\(settings.clientID)\": \(String(cString: strerror(errno)))")
        }
        self.handle = handle
        self.settings = settings
        self.logger = logger
        self.onEvent = onEvent
        self.willForNextConnection = will
        do {
            try setUp()
        } catch {
            mosquitto_destroy(handle)
            throw error
        }
    }

    deinit {
        mosquitto_destroy(handle)
    }

    private static func from(_ context: UnsafeMutableRawPointer?) -> MQTTClient? {
        context.map { Unmanaged<MQTTClient>.fromOpaque($0).takeUnretainedValue() }
    }

    /// Options, credentials, TLS and callbacks: on a new handle, and again after `mosquitto_reinitialise`.
    private func setUp() throws {
        // Publishes and the DISCONNECT come from other threads than the one in `mosquitto_loop`: told so, libmosquitto
        // queues their packets for the loop to write (and wakes it) instead of writing from the caller's thread; two
        // threads in one TLS session corrupt OpenSSL's state (a double free at stop, seen in the TLS test).
        try check(mosquitto_threaded_set(handle, true), "threaded mode")
        let version = settings.protocolVersion == .v5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311
        try check(mosquitto_int_option(handle, MOSQ_OPT_PROTOCOL_VERSION, version), "protocol version")
        if let username = settings.username {
            try check(mosquitto_username_pw_set(handle, username, settings.password), "username and password")
        }
        if let tls = settings.tls {
            try check(mosquitto_tls_set(handle, tls.caFile, nil, tls.certFile, tls.keyFile, nil),
                      "TLS (ca_file \(tls.caFile)\(tls.certFile.map { ", cert_file \($0)" } ?? ""))")
        }
        mosquitto_user_data_set(handle, Unmanaged.passUnretained(self).toOpaque())
        mosquitto_connect_callback_set(handle) { _, context, code in
            MQTTClient.from(context)?.connectAnswered(code)
        }
        mosquitto_disconnect_callback_set(handle) { _, context, code in
            MQTTClient.from(context)?.connectedNow.store(false, ordering: .relaxed)
            _ = code  // the loop reports the loss (with its backoff) when mosquitto_loop returns
        }
        mosquitto_publish_callback_set(handle) { _, context, messageID in
            MQTTClient.from(context)?.onEvent(.delivered(messageID: messageID))
        }
        mosquitto_message_callback_set(handle) { _, context, message in
            guard let client = MQTTClient.from(context), let message = message?.pointee else { return }
            let payload = message.payload.map {
                Array(UnsafeRawBufferPointer(start: $0, count: Int(message.payloadlen)))
            } ?? []
            client.onEvent(.message(MQTTMessage(topic: String(cString: message.topic), payload: payload,
                                                qos: Int(message.qos), retain: message.retain)))
        }
    }

    /// A fresh session for the next connection: libmosquitto would otherwise re-send the messages the broker had not
    /// acknowledged when the last connection ended, after the owner's new births (a Sparkplug DDATA re-sent after
    /// the NBIRTH carries a sequence number of the dead session). The owner re-sends what matters itself (the edge
    /// node from its data log). Under `handleLock`: no publish runs on the handle meanwhile.
    private func freshSession() {
        handleLock.withLock { _ in
            let code = mosquitto_reinitialise(handle, settings.clientID, true, nil)
            if code != Self.ok {
                logger.error("MQTT client \(settings.clientID): cannot reset its session: \(Self.describe(code))")
            }
            do {
                try setUp()
            } catch {
                logger.error("MQTT client \(settings.clientID): \(error)")
            }
        }
    }

    private func check(_ code: Int32, _ what: String) throws {
        guard code == Self.ok else { throw MQTTError(code, during: what) }
    }

    /// Whether the broker has accepted the current connection.
    public var isConnected: Bool { connectedNow.load(ordering: .relaxed) }

    /// Starts the client's thread, which connects and stays connected until `stop`.
    public func start() {
        precondition(!started, "an MQTTClient starts once")
        started = true
        startThread(name: "mqtt") { [self] in
            run()
            finished.signal()
        }
    }

    /// Disconnects cleanly (no will) and waits up to `timeout` s for the thread to end. Once: a stopped client does
    /// not start again.
    public func stop(timeout: Double = 5) {
        guard started, !stopping.exchange(true, ordering: .relaxed) else { return }
        // Under the lock: the client's thread may be resetting the handle for its next attempt.
        _ = handleLock.withLock { _ in mosquitto_disconnect(handle) }
        if finished.wait(timeout: .now() + timeout) == .timedOut {
            logger.warning("MQTT client \(settings.clientID): its thread did not end within \(timeout) s")
        }
    }

    /// Publishes; returns the message id that a `.delivered` event names once the broker has it (QoS 1 and 2).
    /// Throws when not connected: libmosquitto would queue the message in memory, and the caller (store-and-forward)
    /// keeps it in the data log instead.
    @discardableResult
    public func publish(topic: String, payload: [UInt8], qos: Int = 1, retain: Bool = false) throws -> Int32 {
        guard isConnected else { throw MQTTError(Int32(MOSQ_ERR_NO_CONN.rawValue), during: "publish to \(topic)") }
        var messageID: Int32 = 0
        let code = handleLock.withLock { _ in
            payload.withUnsafeBytes {
                mosquitto_publish(handle, &messageID, topic, Int32($0.count), $0.baseAddress, Int32(qos), retain)
            }
        }
        try check(code, "publish to \(topic)")
        return messageID
    }

    public func subscribe(_ pattern: String, qos: Int = 1) throws {
        let code = handleLock.withLock { _ in mosquitto_subscribe(handle, nil, pattern, Int32(qos)) }
        try check(code, "subscribe to \(pattern)")
    }

    // MARK: The client's thread

    private func connectAnswered(_ code: Int32) {
        if code == 0 {
            connectedNow.store(true, ordering: .relaxed)
            everConnected.store(true, ordering: .relaxed)
            onEvent(.connected)
        } else {
            // The loop sees the broker close the connection and backs off.
            let why = String(cString: mosquitto_connack_string(code))
            logger.warning("MQTT broker \(settings.host):\(settings.port) refused the connection: \(why)")
        }
    }

    private func run() {
        var delay = settings.reconnectMin
        var first = true
        while !stopping.load(ordering: .relaxed) {
            if !first { freshSession() }
            if let will = willForNextConnection?() {
                let code = will.payload.withUnsafeBytes {
                    mosquitto_will_set(handle, will.topic, Int32($0.count), $0.baseAddress, Int32(will.qos),
                                       will.retain)
                }
                if code != Self.ok {
                    logger.error("MQTT will on \(will.topic): \(String(cString: mosquitto_strerror(code)))")
                }
            }
            var code = mosquitto_connect_async(handle, settings.host, Int32(settings.port),
                                               Int32(settings.keepalive))
            first = false
            var reason = Self.describe(code)
            if code == Self.ok {
                let attempt = Date()
                var unanswered = false
                repeat {
                    code = mosquitto_loop(handle, 100, 1)
                    unanswered = !everConnected.load(ordering: .relaxed)
                        && Date().timeIntervalSince(attempt) > settings.connectTimeout
                } while code == Self.ok && !unanswered && !stopping.load(ordering: .relaxed)
                let wasConnected = connectedNow.exchange(false, ordering: .relaxed)
                everConnected.store(false, ordering: .relaxed)
                if wasConnected { delay = settings.reconnectMin }
                reason = unanswered
                    ? "no answer within \(Self.seconds(settings.connectTimeout)) s (connection or TLS handshake not completed)"
                    : Self.describe(code)
            }
            if stopping.load(ordering: .relaxed) { break }
            let wait = Self.jittered(delay, by: settings.reconnectJitter)
            onEvent(.disconnected(reason: reason, retryIn: wait))
            sleepUnlessStopping(wait)
            delay = min(settings.reconnectMax, delay * 2)
        }
        // Flush the DISCONNECT that `stop` queued.
        var rounds = 0
        while rounds < 10, mosquitto_loop(handle, 10, 1) == Self.ok { rounds += 1 }
        connectedNow.store(false, ordering: .relaxed)
    }

    /// libmosquitto's message for `code`; the system's for a failed system call (MOSQ_ERR_ERRNO).
    private static func describe(_ code: Int32) -> String {
        code == Int32(MOSQ_ERR_ERRNO.rawValue)
            ? String(cString: strerror(errno)) : String(cString: mosquitto_strerror(code))
    }

    private static func seconds(_ s: Double) -> String { s == s.rounded() ? String(Int(s)) : String(s) }

    /// `delay` moved by a random fraction of itself up to `jitter` either way.
    static func jittered(_ delay: Double, by jitter: Double) -> Double {
        max(0, delay * (1 + Double.random(in: -jitter...jitter)))
    }

    private func sleepUnlessStopping(_ seconds: Double) {
        let end = Date().addingTimeInterval(seconds)
        while !stopping.load(ordering: .relaxed), Date() < end {
            Thread.sleep(forTimeInterval: min(0.05, max(0, end.timeIntervalSinceNow)))
        }
    }
}
