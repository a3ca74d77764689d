import Dispatch
import Foundation
import GRDB
import Locking
import Logging
import MQTT
import Control
import Sparkplug
import Stations
import Synchronization

/// rigd as a Sparkplug B edge node (docs/fleet.md): group = `[mqtt] group` (the site), edge node = `[mqtt] node`
/// (this host), one Sparkplug device per station.
///
/// - NBIRTH on every connection (its `bdSeq` is the one of the connection's will, the NDEATH), then a DBIRTH per
///   station; a station whose real device link is down is dead (DDEATH) until it comes back (DBIRTH).
/// - Samples come from the data log, which is the buffer: what the broker acknowledged (PUBACK) is the forwarding
///   place kept in the log (`forward`). Live samples go out by exception (a channel's deadband, at least every
///   `max_interval_s`). On each connection, what the stations recorded since the last acknowledged sample is a gap
///   (`forward_gap`), sent in order as historical data at `forward_rate_per_s` records a second at most while live
///   data flows. A kill or a crash loses nothing: the gap starts at the last acknowledged sample.
/// - State (mode, link, alarms, run, phase, settings, device status) goes out when it changes.
/// - NCMD `Node Control/Rebirth` republishes the births. A DCMD's metrics (`Settings/NAME`, `Run/Start`, `Run/Stop`,
///   `Alarms/Acknowledge`) go to the station's mailbox like the API's writes, and its own validation decides; a
///   refusal is published as `Commands/Last Rejection`. With `primary_host`, commands count only while that host's
///   STATE says it is online.
///
/// Runs on its own thread (`sparkplug`); the MQTT client's thread only hands it events. Never on a station's thread:
/// it reads the stations' published status and the data log.
package final class EdgeNode: @unchecked Sendable {
    /// What the link did, for `/metrics` and the API.
    package struct Counters: Sendable, Equatable {
        package var connected = false
        package var connections: UInt64 = 0
        /// Messages published (births, deaths, data).
        package var published: UInt64 = 0
        /// Historical records (a station's channels at one time) sent from the backlog.
        package var forwarded: UInt64 = 0
        /// Seconds of recorded samples not forwarded yet (summed over the stations), and the time of the oldest
        /// (Unix s); as of the last look.
        package var backlogSeconds = 0.0
        package var oldestQueued: Double?
        /// Commands (NCMD, DCMD) refused, and messages that were not valid Sparkplug B.
        package var rejectedCommands: UInt64 = 0
        package var malformed: UInt64 = 0
    }

    /// Seconds between looks at the stations and the data log (the data log commits every 0.25 s).
    static let pollInterval = 0.25
    /// Records of one station in one historical DDATA at most.
    static let recordsPerMessage = 20
    /// A backlog this many seconds long or longer is logged (the first connection has a short one).
    static let noticeableBacklog = 5.0

    let config: MQTTConfig
    private let log: any DatabaseWriter
    private let logger: Logger
    private let software: String
    private let inbox = Locked<[MQTTEvent]>([])
    /// The bdSeq of the latest connection's will; the next connection's is one more (0–255).
    private let bdSeq = Locked<Int>(-1)
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let counters = Locked(Counters())
    private var client: MQTTClient?
    /// The stations' verdicts on commands, handed over from their threads.
    private let verdicts = Locked<[Verdict]>([])
    /// The stations of a configuration reload, until the node's thread takes them up.
    private let reload = Locked<[any AnyStation]?>(nil)

    // The `sparkplug` thread's own state.
    private var devices: [Device]
    private var seq = SparkplugSequence()
    private var online = false
    /// Sample messages the broker has not acknowledged yet, by message id.
    private var pending: [Int32: Pending] = [:]
    /// Per device: the message id of its latest unacknowledged live sample message.
    private var lastLive: [Int: Int32] = [:]
    private var budget = 0.0
    private var lastBudgetAt = 0.0
    private var placeChanged = false
    private var lastSaveAt = 0.0
    /// Whether the primary host application says it is online (always true without `primary_host`).
    private var primaryOnline: Bool

    /// A verdict names its device and station, not an index: the devices may change (a reload) while the station
    /// judges.
    private struct Verdict {
        let device: String
        let station: ObjectIdentifier
        let command: String
        let rejection: CommandRejection?
    }

    private struct Gap {
        var id: Int64
        /// Where the gap started when this process took it up, for the log.
        let sentFrom: Double
        /// Sent and acknowledged through this time (starts at the gap's `after`).
        var acked: Double
        /// Sent (maybe not acknowledged yet) through this time.
        var sent: Double
        let through: Double

        /// A row of `forward_gap`.
        struct Stored {
            let id: Int64
            let station: String
            let after: Double
            let through: Double
        }
    }

    private struct Device {
        let station: any AnyStation
        let name: String
        /// Channel name → deadband in the channel's unit.
        let deadbands: [String: Double]
        var born = false
        /// Live samples through this time are published (or passed over) on this connection …
        var liveSent: Double
        /// … and acknowledged: the forwarding place kept in the data log.
        var liveAcked: Double
        var gaps: [Gap] = []
        /// Per channel: the value, quality and time last published live.
        var lastChannel: [String: (value: Double?, quality: UInt16, t: Double)] = [:]
        /// The state metrics as last published.
        var lastState: [String: SparkplugValue] = [:]
        /// The last command the station refused, and why ("" before any).
        var lastRejection = ""
    }

    private struct Pending {
        let device: Int
        /// nil: a live message.
        let gap: Int64?
        var through: Double
    }

    package struct SetupError: Error, CustomStringConvertible {
        package let description: String
    }

    /// Reads the forwarding place from the data log and makes the MQTT client (not started).
    package init(config: MQTTConfig, password: String?, stations: [any AnyStation], log: any DatabaseWriter,
                 software: String, logger: Logger) throws {
        // Station names are valid Sparkplug device ids as the loader takes them (letters, digits, - and _).
        self.config = config
        self.log = log
        self.logger = logger
        self.software = software
        let now = Date().timeIntervalSince1970
        let stored = try Self.storedPlaces(log)
        devices = stations.map { Self.device($0, stored: stored, config: config, now: now) }
        placeChanged = true
        primaryOnline = config.primaryHost == nil
        let clientID = "rigd-\(config.group)-\(config.node)"
        var settings = MQTTSettings(host: config.host, port: config.port, clientID: clientID)
        settings.protocolVersion = config.protocolVersion5 ? .v5 : .v311
        settings.keepalive = config.keepalive
        settings.username = config.username
        settings.password = password
        settings.reconnectMax = 15
        if config.tls, let ca = config.caFile {
            settings.tls = MQTTSettings.TLS(caFile: ca, certFile: config.certFile, keyFile: config.keyFile)
        }
        client = try MQTTClient(settings, logger: logger, will: { [weak self] in self?.nextWill() },
                                onEvent: { [weak self] event in self?.inbox.withLock { $0.append(event) } })
    }

    /// The forwarding places kept in the data log (`forward`) and the gaps not forwarded yet (`forward_gap`).
    private static func storedPlaces(_ log: any DatabaseWriter) throws
        -> (places: [String: Double], gaps: [Gap.Stored]) {
        try log.read { db in
            let places = try Row.fetchAll(db, sql: "SELECT station, through FROM forward")
            let gaps = try Row.fetchAll(db, sql: "SELECT id, station, after, through FROM forward_gap ORDER BY id")
            return (Dictionary(places.map { ($0["station"], $0["through"]) }, uniquingKeysWith: max),
                    gaps.map { Gap.Stored(id: $0["id"], station: $0["station"], after: $0["after"],
                                          through: $0["through"]) })
        }
    }

    /// A station's new device, forwarding from its kept place with its kept gaps.
    private static func device(_ station: any AnyStation, stored: (places: [String: Double], gaps: [Gap.Stored]),
                               config: MQTTConfig, now: Double) -> Device {
        // A station the node never forwarded starts now: what it recorded before is not the fleet's.
        let through = stored.places[station.name] ?? now
        var device = Device(station: station, name: station.name,
                            deadbands: Self.deadbands(of: station, config: config),
                            liveSent: through, liveAcked: through)
        device.gaps = stored.gaps.filter { $0.station == station.name }.map {
            Gap(id: $0.id, sentFrom: $0.after, acked: $0.after, sent: $0.after, through: $0.through)
        }
        return device
    }

    /// A password file that cannot be used: which, and why.
    package struct PasswordProblem: Error, CustomStringConvertible {
        package let file: String
        package let reason: String
        package var description: String { "[mqtt] password_file \(file): \(reason)" }
    }

    /// The MQTT password from `[mqtt] password_file` (its first line), nil without one; `rigd run` and `rigd check`
    /// read it alike.
    package static func password(_ mqtt: MQTTConfig) throws(PasswordProblem) -> String? {
        guard let file = mqtt.passwordFile else { return nil }
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw PasswordProblem(file: file, reason: "cannot read: \(ConfigLoader.reason(error))")
        }
        let password = String(text.split(separator: "\n", omittingEmptySubsequences: false).first ?? "")
        if password.isEmpty {
            throw PasswordProblem(file: file, reason: "its first line is empty (the password goes there)")
        }
        return password
    }

    /// A channel's deadband: `[mqtt.deadband] "station.channel"`, else `deadband_default` of its range.
    static func deadbands(of station: any AnyStation, config: MQTTConfig) -> [String: Double] {
        var bands: [String: Double] = [:]
        for spec in station.descriptor.channelSpecs {
            let span = spec.range.upperBound - spec.range.lowerBound
            bands[spec.name] = config.deadbands["\(station.name).\(spec.name)"]
                ?? (span.isFinite ? span * config.deadbandDefault : 0)
        }
        return bands
    }

    package var snapshot: Counters { counters.withLock { $0 } }

    private func topic(_ type: SparkplugTopic.NodeMessage) -> String {
        SparkplugTopic.node(type, group: config.group, node: config.node).description
    }

    private func topic(_ type: SparkplugTopic.DeviceMessage, _ device: String) -> String {
        SparkplugTopic.device(type, group: config.group, node: config.node, device: device).description
    }

    /// The NDEATH for the next connection, with its new bdSeq (asked by the client's thread before connecting).
    private func nextWill() -> MQTTWill? {
        let next = bdSeq.withLock { seq -> Int in
            seq = (seq + 1) % 256
            return seq
        }
        return MQTTWill(topic: topic(.death), payload: Self.deathPayload(bdSeq: next))
    }

    static func deathPayload(bdSeq: Int) -> [UInt8] {
        var payload = SpBPayload()
        payload.timestamp = UInt64(Date().timeIntervalSince1970 * 1000)
        payload.metrics = [SpBPayload.Metric(name: "bdSeq", .int64(Int64(bdSeq)))]
        return (try? payload.encoded()) ?? []
    }

    // MARK: Running

    /// Starts the client and the node's thread.
    package func start() {
        let broker = "\(config.tls ? "mqtts" : "mqtt")://\(config.host):\(config.port)"
        // The node's thread has not started: its devices (or a reload waiting for it) are safe to count here.
        let count = reload.withLock { $0?.count } ?? devices.count
        logger.notice("MQTT: Sparkplug B edge node \(config.group)/\(config.node) for \(count) station(s), broker \(broker)")
        client?.start()
        startThread(name: "sparkplug") { [self] in
            while !stopping.load(ordering: .relaxed) {
                step()
                Thread.sleep(forTimeInterval: Self.pollInterval)
            }
            step()
            finished.signal()
        }
    }

    /// Publishes the NDEATH (a clean goodbye), disconnects and keeps the forwarding place. Call before the data log
    /// closes.
    package func stop() {
        guard !stopping.exchange(true, ordering: .relaxed) else { return }
        _ = finished.wait(timeout: .now() + 5)
        if online, let client {
            _ = try? client.publish(topic: topic(.death), payload: Self.deathPayload(bdSeq: bdSeq.withLock { $0 }))
        }
        client?.stop()
        savePlace(force: true)
    }

    /// The stations from now on (a configuration reload): applied on the node's thread at its next look.
    /// A removed station's device gets its DDEATH; a replaced one (same name, another object) its DDEATH and a new
    /// DBIRTH; an added one its DBIRTH, forwarding from now (or from its stored place in the data log's `forward`
    /// table). An unchanged station (the same object) keeps its device as it is: no rebirth, no gap. Any thread.
    package func replaceStations(_ stations: [any AnyStation]) {
        reload.withLock { $0 = stations }
    }

    /// Takes up a reload's stations (the latest asked for): the devices follow them by name, and so does every index
    /// into the devices (the unacknowledged messages, the last live ones). A removed device's unacknowledged messages
    /// are forgotten: its place in the data log stays as kept (saved here first). A replaced device forwards on from
    /// its place; an added one's gap (what it recorded since its kept place) opens now when online, else on connecting.
    private func applyReload() {
        guard var stations = reload.withLock({ r in defer { r = nil }; return r }) else { return }
        // The loader refuses two stations of one name; should a list have them anyway, the first counts.
        var names = Set<String>()
        stations = stations.filter { names.insert($0.name).inserted }
        let now = Date().timeIntervalSince1970
        savePlace(force: true)
        let byName = Dictionary(stations.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var deaths: [String] = [], unborn: [String] = [], births: [String] = []
        for i in devices.indices {
            let why: String
            switch byName[devices[i].name] {
            case nil: why = "removed"
            case let station? where station !== devices[i].station: why = "replaced"
            default: continue
            }
            if online && devices[i].born {
                deviceDeath(i, now: now)
                deaths.append("\(devices[i].name) (\(why))")
            } else {
                unborn.append("\(devices[i].name) (\(why))")
            }
        }
        let index = Dictionary(devices.indices.map { (devices[$0].name, $0) }, uniquingKeysWith: { a, _ in a })
        var stored: (places: [String: Double], gaps: [Gap.Stored]) = ([:], [])
        if stations.contains(where: { index[$0.name] == nil }) {
            do {
                stored = try Self.storedPlaces(log)
            } catch {
                logger.error("MQTT: cannot read the forwarding places from the data log (\(error)); the added stations forward from now")
            }
        }
        // Old index → new index, for the devices that stay (unchanged or replaced).
        var moved: [Int: Int] = [:]
        var added: [Int] = []
        var next: [Device] = []
        for station in stations {
            guard let i = index[station.name] else {
                added.append(next.count)
                births.append("\(station.name) (added)")
                next.append(Self.device(station, stored: stored, config: config, now: now))
                continue
            }
            moved[i] = next.count
            if devices[i].station === station {
                next.append(devices[i])
                continue
            }
            // Another station of the name (maybe of another kind): a new device, forwarding on from the same place.
            births.append("\(station.name) (replaced)")
            var device = Device(station: station, name: station.name,
                                deadbands: Self.deadbands(of: station, config: config),
                                liveSent: devices[i].liveSent, liveAcked: devices[i].liveAcked)
            device.gaps = devices[i].gaps
            next.append(device)
        }
        pending = pending.compactMapValues { p in
            moved[p.device].map { Pending(device: $0, gap: p.gap, through: p.through) }
        }
        lastLive = Dictionary(uniqueKeysWithValues: lastLive.compactMap { i, id in moved[i].map { ($0, id) } })
        devices = next
        placeChanged = true
        if online && !added.isEmpty { openGaps(only: added) }
        var parts: [String] = []
        if !deaths.isEmpty { parts.append("DDEATH for " + deaths.joined(separator: ", ")) }
        if !unborn.isEmpty { parts.append("no DDEATH (not born) for " + unborn.joined(separator: ", ")) }
        if !births.isEmpty { parts.append("DBIRTH follows for " + births.joined(separator: ", ")) }
        if !parts.isEmpty { logger.notice("MQTT: reload: \(parts.joined(separator: "; "))") }
    }

    /// One look: the client's events, the stations' state, new samples, the backlog, the place.
    private func step() {
        applyReload()
        let events = inbox.withLock { q in
            defer { q.removeAll() }
            return q
        }
        for event in events { handle(event) }
        let now = Date().timeIntervalSince1970
        let decided = verdicts.withLock { v in
            defer { v.removeAll() }
            return v
        }
        for verdict in decided { announce(verdict, now: now) }
        if online {
            for i in devices.indices { lookAtState(i, now: now) }
            publishLive(now: now)
            forwardBacklog(now: now)
        }
        updateQueued(now: now)
        savePlace(force: false)
    }

    private func handle(_ event: MQTTEvent) {
        switch event {
        case .connected:
            connected()
        case .disconnected(let reason, let retryIn):
            let wasOnline = online
            online = false
            pending = [:]
            lastLive = [:]
            for i in devices.indices {
                devices[i].born = false
                devices[i].liveSent = devices[i].liveAcked
                for g in devices[i].gaps.indices { devices[i].gaps[g].sent = devices[i].gaps[g].acked }
            }
            counters.withLock { $0.connected = false }
            let retry = String(format: "%.1f", retryIn)
            let reason = reason.contains("TLS error") && config.tls
                ? "\(reason) Does \(config.caFile ?? "ca_file") sign the broker's certificate, and does the certificate "
                    + "name \(config.host)?"
                : reason
            if wasOnline {
                logger.warning("MQTT: lost the broker \(config.host):\(config.port) (\(reason)); samples wait in the data log; retrying in \(retry) s")
            } else {
                logger.warning("MQTT: cannot reach the broker \(config.host):\(config.port) (\(reason)); retrying in \(retry) s")
            }
        case .delivered(let id):
            acknowledged(id)
        case .message(let message):
            command(message)
        }
    }

    private func connected() {
        online = true
        // The primary host's STATE is retained: the subscription brings it again. Until it says online, commands wait.
        if config.primaryHost != nil { primaryOnline = false }
        pending = [:]
        lastLive = [:]
        budget = 0
        lastBudgetAt = Date().timeIntervalSince1970
        counters.withLock {
            $0.connected = true
            $0.connections += 1
        }
        do {
            try client?.subscribe(topic(.command))
            try client?.subscribe(SparkplugTopic.device(.command, group: config.group, node: config.node,
                                                        device: "+").description)
            if let primary = config.primaryHost {
                try client?.subscribe(SparkplugTopic.state(host: primary).description)
            }
        } catch {
            logger.error("MQTT: \(error)")
        }
        openGaps()
        birth()
        let backlog = devices.map { $0.gaps.reduce(0) { $0 + $1.through - $1.acked } }.max() ?? 0
        let away = backlog >= Self.noticeableBacklog
            ? String(format: "; forwarding up to %.0f s of samples recorded while away", backlog) : ""
        logger.notice("MQTT: connected to \(config.host):\(config.port) as \(config.group)/\(config.node) (bdSeq \(bdSeq.withLock { $0 }))\(away)")
    }

    /// What the stations (all, or the devices `only`) recorded since the last acknowledged sample becomes a gap to
    /// forward. (The data log's closures run on its own queue: they get copies, and the node's state changes after.)
    private func openGaps(only: [Int]? = nil) {
        let places = (only ?? Array(devices.indices)).map {
            (i: $0, name: devices[$0].name, after: devices[$0].liveAcked)
        }
        do {
            let opened = try log.write { db -> [(Int, Int64, Double)] in
                var opened: [(Int, Int64, Double)] = []
                for place in places {
                    let latest = try Double.fetchOne(db, sql: """
                        SELECT max(s.t) FROM sample s JOIN channel c ON c.id = s.channel_id WHERE c.station = ?
                        """, arguments: [place.name]) ?? 0
                    guard latest > place.after else { continue }
                    try db.execute(sql: "INSERT INTO forward_gap (station, after, through) VALUES (?, ?, ?)",
                                   arguments: [place.name, place.after, latest])
                    opened.append((place.i, db.lastInsertedRowID, latest))
                    try db.execute(sql: "INSERT OR REPLACE INTO forward (station, through) VALUES (?, ?)",
                                   arguments: [place.name, latest])
                }
                return opened
            }
            for (i, id, latest) in opened {
                let after = devices[i].liveAcked
                devices[i].gaps.append(Gap(id: id, sentFrom: after, acked: after, sent: after, through: latest))
                devices[i].liveAcked = latest
                devices[i].liveSent = latest
            }
        } catch {
            logger.error("MQTT: cannot note the backlog in the data log: \(error)")
        }
    }

    /// NBIRTH, then a DBIRTH for each station alive (the next look births the rest as they come alive).
    private func birth() {
        seq.reset()
        for i in devices.indices { devices[i].born = false }
        var payload = SpBPayload()
        payload.timestamp = Self.ms(Date().timeIntervalSince1970)
        payload.seq = seq.take()
        payload.metrics = [
            SpBPayload.Metric(name: "bdSeq", .int64(Int64(bdSeq.withLock { $0 }))),
            SpBPayload.Metric(name: "Node Control/Rebirth", .boolean(false)),
            SpBPayload.Metric(name: "Properties/Software", .string(software)),
            SpBPayload.Metric(name: "Properties/Stations", .int32(Int32(clamping: devices.count))),
        ]
        send(topic(.birth), payload)
        let now = Date().timeIntervalSince1970
        for i in devices.indices { lookAtState(i, now: now) }
    }

    // MARK: Devices

    /// Whether a station is a live Sparkplug device: a real station while its link is up, a simulated one once it
    /// has read its channels (a birth has values), a refused one always (its mode says what it is).
    private static func alive(_ status: StationStatus) -> Bool {
        switch status.mode {
        case StationMode.refused.rawValue: true
        case StationMode.real.rawValue: status.link.up && status.updatedAt != nil
        default: status.channels.contains { $0.value != nil }
        }
    }

    /// The station's state as metrics (channels apart).
    private static func stateMetrics(_ s: StationStatus) -> [(String, SparkplugValue)] {
        var m: [(String, SparkplugValue)] = [
            ("Kind", .string(s.kind)),
            ("Mode", .string(s.mode)),
            ("Link/Up", .boolean(s.link.up)),
            ("Device Status", .string(s.deviceStatus.joined(separator: ","))),
            ("Alarms/Active", .string(s.alarms.map(\.code).joined(separator: ","))),
            ("Alarms/Count", .int32(Int32(clamping: s.alarms.count))),
            ("Alarms/Unacknowledged", .int32(Int32(clamping: s.alarms.filter { $0.acknowledgedAt == nil }.count))),
            ("Run/Number", .int32(Int32(clamping: s.run?.number ?? 0))),
            ("Run/Recipe", .string(s.run?.recipe ?? "")),
            ("Run/State", .string(s.run?.outcome ?? "none")),
            ("Phase", .string(s.phase ?? "")),
        ]
        if let refused = s.refusedReason { m.append(("Refused Reason", .string(refused))) }
        for setting in s.settings {
            m.append(("Settings/\(setting.name)", setting.value.map { .double($0) } ?? .null(.double)))
        }
        return m
    }

    private func lookAtState(_ i: Int, now: Double) {
        let status = devices[i].station.status()
        let alive = Self.alive(status)
        let name = devices[i].name
        if devices[i].born && !alive {
            deviceDeath(i, now: now)
            logger.notice("MQTT: \(name) is dead to the fleet (DDEATH): its device link is down")
            return
        }
        let state = Self.stateMetrics(status)
        if !devices[i].born {
            guard alive else { return }
            deviceBirth(i, status: status, state: state, now: now)
            return
        }
        let changed = state.filter { devices[i].lastState[$0.0] != $0.1 }
        guard !changed.isEmpty else { return }
        var payload = SpBPayload()
        payload.timestamp = Self.ms(now)
        payload.seq = seq.take()
        payload.metrics = changed.map { SpBPayload.Metric(name: $0.0, timestamp: Self.ms(now), $0.1) }
        for (key, value) in changed { devices[i].lastState[key] = value }
        send(topic(.data, name), payload)
    }

    /// The device's DDEATH: dead to the fleet until its next DBIRTH.
    private func deviceDeath(_ i: Int, now: Double) {
        var payload = SpBPayload()
        payload.timestamp = Self.ms(now)
        payload.seq = seq.take()
        send(topic(.death, devices[i].name), payload)
        devices[i].born = false
    }

    private func deviceBirth(_ i: Int, status: StationStatus, state: [(String, SparkplugValue)], now: Double) {
        let stamp = Self.ms(now)
        var metrics: [SpBPayload.Metric] = []
        let specs = Dictionary(devices[i].station.descriptor.channelSpecs.map { ($0.name, $0) },
                               uniquingKeysWith: { a, _ in a })
        for channel in status.channels {
            var properties: [(key: String, value: SparkplugValue)] = [
                ("engUnit", .string(channel.unit)),
                ("Quality", .int32(Self.quality(value: channel.value, quality: channel.quality))),
                ("rigdQuality", .uint32(UInt32(channel.quality))),
            ]
            if let spec = specs[channel.name] {
                properties.append(("engLow", .double(spec.range.lowerBound)))
                properties.append(("engHigh", .double(spec.range.upperBound)))
            }
            properties.append(("deadband", .double(devices[i].deadbands[channel.name] ?? 0)))
            metrics.append(SpBPayload.Metric(name: "Channels/\(channel.name)", timestamp: stamp,
                                             channel.value.map { .double($0) } ?? .null(.double),
                                             properties: SpBPayload.PropertySet(properties)))
            devices[i].lastChannel[channel.name] = (channel.value, channel.quality, now)
        }
        let settings = Dictionary(status.settings.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for (key, value) in state {
            var properties: SpBPayload.PropertySet?
            if key.hasPrefix("Settings/"), let setting = settings[String(key.dropFirst("Settings/".count))] {
                properties = SpBPayload.PropertySet([("engUnit", .string(setting.unit)),
                                                     ("engLow", .double(setting.min)),
                                                     ("engHigh", .double(setting.max))])
            }
            metrics.append(SpBPayload.Metric(name: key, timestamp: stamp, value, properties: properties))
        }
        // What a DCMD may write besides the settings, and where a refused command's reason appears.
        metrics.append(SpBPayload.Metric(name: "Run/Start", timestamp: stamp, .string("")))
        metrics.append(SpBPayload.Metric(name: "Run/Stop", timestamp: stamp, .boolean(false)))
        metrics.append(SpBPayload.Metric(name: "Alarms/Acknowledge", timestamp: stamp, .string("")))
        metrics.append(SpBPayload.Metric(name: "Commands/Last Rejection", timestamp: stamp,
                                         .string(devices[i].lastRejection)))
        var payload = SpBPayload()
        payload.timestamp = stamp
        payload.seq = seq.take()
        payload.metrics = metrics
        send(topic(.birth, devices[i].name), payload)
        devices[i].born = true
        devices[i].lastState = Dictionary(state, uniquingKeysWith: { _, b in b })
    }

    /// Sparkplug's quality code (the `Quality` property: 192 good, 0 bad) of a channel's reading.
    private static func quality(value: Double?, quality: UInt16) -> Int32 {
        value != nil && quality == 0 ? 192 : 0
    }

    /// `Quality` (Sparkplug's code) and `rigdQuality` (the channel block's quality word) of a reading.
    private static func qualityProperties(value: Double?, quality: UInt16) -> SpBPayload.PropertySet {
        SpBPayload.PropertySet([("Quality", .int32(Self.quality(value: value, quality: quality))),
                                ("rigdQuality", .uint32(UInt32(quality)))])
    }

    // MARK: Samples

    private struct Sample {
        let channel: String
        let t: Double
        let value: Double?
        let quality: UInt16
    }

    /// Samples of `station` with after < t ≤ through, in time order, at most `limit` rows.
    private static func samples(_ db: Database, station: String, after: Double, through: Double = .infinity,
                         limit: Int) throws -> [Sample] {
        try Row.fetchAll(db, sql: """
            SELECT c.name, s.t, s.value, s.quality FROM sample s JOIN channel c ON c.id = s.channel_id
            WHERE c.station = ? AND s.t > ? AND s.t <= ? ORDER BY s.t, c.name LIMIT ?
            """, arguments: [station, after, through.isFinite ? through : Double.greatestFiniteMagnitude, limit])
            .map { Sample(channel: $0[0], t: $0[1], value: $0[2], quality: UInt16(truncatingIfNeeded: $0[3] as Int)) }
    }

    /// Rows read at most per look at the data log (a look every 0.25 s).
    static let liveRowLimit = 200_000

    /// Every station's samples after its live place, in time order: one query over all stations (from the earliest
    /// place; the stations' places are within a look of each other), each station's rows after its own place. A
    /// station's samples are committed in the order it recorded them, so one of its samples in the log means all of
    /// its earlier ones are. When the limit cuts the rows, the last time is left for the next look (it may be cut).
    private func newSamples() -> [[Sample]]? {
        let places = devices.map(\.liveSent)
        guard let earliest = places.min() else { return [] }
        let index = Dictionary(devices.indices.map { (devices[$0].name, $0) }, uniquingKeysWith: { a, _ in a })
        let limit = Self.liveRowLimit
        let (rows, fetched): ([(Int, Sample)], Int)
        do {
            (rows, fetched) = try log.read { db in
                var rows: [(Int, Sample)] = []
                var fetched = 0
                let cursor = try Row.fetchCursor(db, sql: """
                    SELECT c.station, c.name, s.t, s.value, s.quality FROM sample s JOIN channel c ON c.id = s.channel_id
                    WHERE s.t > ? ORDER BY s.t, c.station, c.name LIMIT ?
                    """, arguments: [earliest, limit])
                while let row = try cursor.next() {
                    fetched += 1
                    guard let i = index[row[0] as String], (row[2] as Double) > places[i] else { continue }
                    rows.append((i, Sample(channel: row[1], t: row[2], value: row[3],
                                           quality: UInt16(truncatingIfNeeded: row[4] as Int))))
                }
                return (rows, fetched)
            }
        } catch {
            logger.error("MQTT: cannot read samples from the data log: \(error)")
            return nil
        }
        var kept = rows
        if fetched >= limit, let last = rows.last?.1.t, rows.contains(where: { $0.1.t != last }) {
            kept.removeAll { $0.1.t == last }
        }
        var perDevice = [[Sample]](repeating: [], count: devices.count)
        for (i, sample) in kept { perDevice[i].append(sample) }
        return perDevice
    }

    /// New samples of live stations go out by exception: a channel that moved by its deadband, changed quality or
    /// was last published `max_interval_s` ago.
    private func publishLive(now: Double) {
        guard let perDevice = newSamples() else { return }
        for (i, rows) in perDevice.enumerated() where !rows.isEmpty {
            let through = rows[rows.count - 1].t
            guard devices[i].born else {
                // A dead device's samples are passed over: its channels are faults until it is born again.
                passOver(i, through: through)
                continue
            }
            var metrics: [SpBPayload.Metric] = []
            for row in rows {
                let last = devices[i].lastChannel[row.channel]
                let band = devices[i].deadbands[row.channel] ?? 0
                let moved: Bool = switch (last?.value, row.value) {
                case (nil, nil): false
                case (let a?, let b?): abs(b - a) > band
                default: true
                }
                guard last == nil || moved || last?.quality != row.quality
                        || row.t - (last?.t ?? 0) >= config.maxInterval else { continue }
                // A changed quality travels with the value (the birth has the first one).
                let quality = last?.quality != row.quality ? Self.qualityProperties(value: row.value,
                                                                                   quality: row.quality) : nil
                metrics.append(SpBPayload.Metric(name: "Channels/\(row.channel)", timestamp: Self.ms(row.t),
                                                 row.value.map { .double($0) } ?? .null(.double),
                                                 properties: quality))
                devices[i].lastChannel[row.channel] = (row.value, row.quality, row.t)
            }
            devices[i].liveSent = through
            guard !metrics.isEmpty else {
                passOver(i, through: through)
                continue
            }
            var payload = SpBPayload()
            payload.timestamp = Self.ms(now)
            payload.seq = seq.take()
            payload.metrics = metrics
            if let id = send(topic(.data, devices[i].name), payload) {
                pending[id] = Pending(device: i, gap: nil, through: through)
                lastLive[i] = id
            }
        }
    }

    /// Samples through `through` need no message: acknowledged at once, or with the device's last live message.
    private func passOver(_ i: Int, through: Double) {
        devices[i].liveSent = through
        if let id = lastLive[i], pending[id] != nil {
            pending[id]?.through = through
        } else {
            devices[i].liveAcked = through
            placeChanged = true
        }
    }

    /// Sends the backlog, oldest gap first, at most `forward_rate_per_s` records a second.
    private func forwardBacklog(now: Double) {
        budget = min(config.forwardRatePerS, budget + (now - lastBudgetAt) * config.forwardRatePerS)
        lastBudgetAt = now
        for i in devices.indices where devices[i].born {
            while budget >= 1, let g = devices[i].gaps.firstIndex(where: { $0.sent < $0.through }) {
                let gap = devices[i].gaps[g]
                let channels = max(1, devices[i].deadbands.count)
                let records = min(Self.recordsPerMessage, Int(budget))
                let rows: [Sample]
                let name = devices[i].name
                do {
                    rows = try log.read { db in
                        try Self.samples(db, station: name, after: gap.sent, through: gap.through,
                                         limit: records * channels + 1)
                    }
                } catch {
                    logger.error("MQTT: cannot read the backlog from the data log: \(error)")
                    return
                }
                guard let lastRow = rows.last else {
                    // Nothing left in the gap (retention may have removed it): done once the sent part is acknowledged.
                    devices[i].gaps[g].sent = gap.through
                    if !pending.values.contains(where: { $0.gap == gap.id }) { closeGap(i, g) }
                    continue
                }
                // The last time may be cut short by the limit: it goes with the next message.
                var batch = rows
                if rows.count > records * channels, rows.contains(where: { $0.t != lastRow.t }) {
                    batch.removeAll { $0.t == lastRow.t }
                }
                let through = batch[batch.count - 1].t
                var payload = SpBPayload()
                payload.timestamp = Self.ms(now)
                payload.seq = seq.take()
                payload.metrics = batch.map {
                    SpBPayload.Metric(name: "Channels/\($0.channel)", timestamp: Self.ms($0.t),
                                      $0.value.map { .double($0) } ?? .null(.double), historical: true)
                }
                guard let id = send(topic(.data, devices[i].name), payload) else { return }
                let sentRecords = Set(batch.map(\.t)).count
                pending[id] = Pending(device: i, gap: gap.id, through: through)
                devices[i].gaps[g].sent = through
                budget -= Double(sentRecords)
                counters.withLock { $0.forwarded += UInt64(sentRecords) }
            }
        }
    }

    private func acknowledged(_ id: Int32) {
        guard let p = pending.removeValue(forKey: id) else { return }
        if lastLive[p.device] == id { lastLive[p.device] = nil }
        placeChanged = true
        guard let gapID = p.gap else {
            devices[p.device].liveAcked = max(devices[p.device].liveAcked, p.through)
            return
        }
        guard let g = devices[p.device].gaps.firstIndex(where: { $0.id == gapID }) else { return }
        devices[p.device].gaps[g].acked = max(devices[p.device].gaps[g].acked, p.through)
        let gap = devices[p.device].gaps[g]
        if gap.acked >= gap.through { closeGap(p.device, g) }
    }

    private func closeGap(_ i: Int, _ g: Int) {
        let gap = devices[i].gaps.remove(at: g)
        placeChanged = true
        do {
            try log.write { db in try db.execute(sql: "DELETE FROM forward_gap WHERE id = ?", arguments: [gap.id]) }
        } catch {
            logger.error("MQTT: cannot update the backlog in the data log: \(error)")
        }
        let span = gap.through - gap.sentFrom
        if span >= Self.noticeableBacklog {
            logger.info("MQTT: \(devices[i].name): forwarded the backlog of \(String(format: "%.0f", span)) s")
        }
    }

    private func updateQueued(now: Double) {
        var oldest: Double?
        var backlog = 0.0
        for device in devices {
            for gap in device.gaps {
                oldest = min(oldest ?? gap.acked, gap.acked)
                backlog += gap.through - gap.acked
            }
            if !online, device.liveAcked < now {
                // While away, what the stations record waits too.
                oldest = min(oldest ?? device.liveAcked, device.liveAcked)
                backlog += now - device.liveAcked
            }
        }
        counters.withLock {
            $0.backlogSeconds = backlog
            $0.oldestQueued = oldest
        }
    }

    /// Keeps the forwarding place in the data log, at most once a second (and at stop).
    private func savePlace(force: Bool) {
        let now = Date().timeIntervalSince1970
        guard placeChanged, force || now - lastSaveAt >= 1 else { return }
        lastSaveAt = now
        placeChanged = false
        let places = devices.map { ($0.name, $0.liveAcked, $0.gaps) }
        do {
            try log.write { db in
                for (name, through, gaps) in places {
                    try db.execute(sql: "INSERT OR REPLACE INTO forward (station, through) VALUES (?, ?)",
                                   arguments: [name, through])
                    for gap in gaps {
                        try db.execute(sql: "UPDATE forward_gap SET after = ? WHERE id = ?",
                                       arguments: [gap.acked, gap.id])
                    }
                }
            }
        } catch {
            placeChanged = true
            logger.error("MQTT: cannot keep the forwarding place in the data log: \(error)")
        }
    }

    // MARK: Commands

    private func command(_ message: MQTTMessage) {
        guard let topic = SparkplugTopic(message.topic) else { return }
        switch topic {
        case .node(.command, config.group, config.node):
            guard primaryOnline else {
                counters.withLock { $0.rejectedCommands += 1 }
                logger.warning("MQTT: NCMD ignored: the primary host \(config.primaryHost ?? "") is not online")
                return
            }
            guard let payload = decodeCommand(message) else { return }
            for metric in payload.metrics {
                if metric.name == "Node Control/Rebirth", metric.sparkplugValue == .boolean(true) {
                    logger.notice("MQTT: rebirth asked for (NCMD): publishing the births again")
                    birth()
                } else {
                    counters.withLock { $0.rejectedCommands += 1 }
                    logger.warning("MQTT: NCMD metric \"\(metric.name)\" is not one rigd knows; ignored")
                }
            }
        case .device(.command, config.group, config.node, let name):
            guard let i = devices.firstIndex(where: { $0.name == name }) else {
                counters.withLock { $0.rejectedCommands += 1 }
                logger.warning("MQTT: DCMD for \"\(name)\", which is not a station of this node; dropped")
                return
            }
            guard primaryOnline else {
                counters.withLock { $0.rejectedCommands += 1 }
                logger.warning("MQTT: DCMD for \(name) ignored: the primary host \(config.primaryHost ?? "") is not online")
                return
            }
            guard let payload = decodeCommand(message) else { return }
            for metric in payload.metrics { deviceCommand(i, metric) }
        case .state(let host) where host == config.primaryHost:
            let online = Self.primaryState(message.payload)
            guard let online, online != primaryOnline else { return }
            primaryOnline = online
            logger.notice("MQTT: primary host \(host) is \(online ? "online: commands are accepted" : "offline: commands are ignored")")
        default:
            return
        }
    }

    /// A command's payload; nil (counted, logged) when it is not Sparkplug B.
    private func decodeCommand(_ message: MQTTMessage) -> SpBPayload? {
        do {
            return try SpBPayload.decoded(message.payload)
        } catch {
            counters.withLock { $0.malformed += 1 }
            logger.warning("MQTT: \(message.topic): not a Sparkplug B payload (\(message.payload.count) bytes); dropped")
            return nil
        }
    }

    /// A primary host's STATE: Sparkplug 3.0's JSON `{"online": BOOL, "timestamp": MS}`, or 2.2's `ONLINE` /
    /// `OFFLINE`; nil when it is neither.
    package static func primaryState(_ payload: [UInt8]) -> Bool? {
        let text = String(decoding: payload, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if text == "ONLINE" { return true }
        if text == "OFFLINE" { return false }
        let object = try? JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any]
        return object?["online"] as? Bool
    }

    /// One metric of a DCMD, as an operator's request to the station: its own validation decides.
    private func deviceCommand(_ i: Int, _ metric: SpBPayload.Metric) {
        let name = metric.name
        let value = metric.sparkplugValue
        let request: OperatorRequest
        switch (name, value) {
        case (_, let v?) where name.hasPrefix("Settings/"):
            guard let number = Self.number(v) else {
                return refuse(i, name + " = " + Self.show(v), CommandRejection("a setting takes a number"))
            }
            request = .set(name: String(name.dropFirst("Settings/".count)), value: number)
        case ("Run/Start", .string(let recipe)?):
            request = .startRun(recipe.isEmpty ? nil : RunRecipe(name: recipe))
        case ("Run/Stop", .boolean(true)?):
            request = .stopRun
        case ("Alarms/Acknowledge", .string(let code)?) where !code.isEmpty:
            request = .acknowledge(code: code, by: "sparkplug:\(config.primaryHost ?? "mqtt")")
        default:
            return refuse(i, name, CommandRejection(
                "not a command rigd takes (Settings/NAME = number, Run/Start = recipe, Run/Stop = true, "
                + "Alarms/Acknowledge = code)"))
        }
        let station = devices[i].station
        guard station.mode != .refused else {
            return refuse(i, name, CommandRejection("the station was refused at start and runs nothing"))
        }
        let described = "\(name) = \(value.map(Self.show) ?? "null")"
        let (device, identity) = (devices[i].name, ObjectIdentifier(station))
        station.mailbox.post(request, by: "sparkplug:\(config.primaryHost ?? "mqtt")") { [weak self] result in
            let rejection: CommandRejection? = if case .failure(let r) = result { r } else { nil }
            self?.verdicts.withLock {
                $0.append(Verdict(device: device, station: identity, command: described, rejection: rejection))
            }
        }
    }

    /// A metric's value as an operator reads it in a log line or a rejection: `40.5`, `true`, `"cut"`.
    package static func show(_ value: SparkplugValue) -> String {
        switch value {
        case .string(let s): "\"\(s)\""
        case .boolean(let b): "\(b)"
        case .null: "null"
        default: number(value).map { $0 == $0.rounded() && abs($0) < 1e15 ? String(Int($0)) : String($0) } ?? "?"
        }
    }

    private static func number(_ value: SparkplugValue) -> Double? {
        switch value {
        case .double(let v): v
        case .float(let v): Double(v)
        case .int32(let v): Double(v)
        case .int64(let v): Double(v)
        case .uint32(let v): Double(v)
        case .uint64(let v): Double(v)
        default: nil
        }
    }

    private func refuse(_ i: Int, _ command: String, _ rejection: CommandRejection) {
        announce(Verdict(device: devices[i].name, station: ObjectIdentifier(devices[i].station), command: command,
                         rejection: rejection), now: Date().timeIntervalSince1970)
    }

    /// Logs a station's verdict; a refusal is counted and published as `Commands/Last Rejection` (not when a reload
    /// removed or replaced the station meanwhile: its device is gone).
    private func announce(_ verdict: Verdict, now: Double) {
        let name = verdict.device
        guard let rejection = verdict.rejection else {
            logger.notice("MQTT: \(name): DCMD \(verdict.command) applied")
            return
        }
        counters.withLock { $0.rejectedCommands += 1 }
        logger.warning("MQTT: \(name): DCMD \(verdict.command) refused: \(rejection.reason)")
        let text = "\(verdict.command): \(rejection.reason)"
        guard let i = devices.firstIndex(where: { $0.name == name && ObjectIdentifier($0.station) == verdict.station })
        else { return }
        devices[i].lastRejection = text
        guard online, devices[i].born else { return }
        var payload = SpBPayload()
        payload.timestamp = Self.ms(now)
        payload.seq = seq.take()
        payload.metrics = [SpBPayload.Metric(name: "Commands/Last Rejection", timestamp: Self.ms(now), .string(text))]
        send(topic(.data, name), payload)
    }

    // MARK: Sending

    @discardableResult
    private func send(_ topic: String, _ payload: SpBPayload) -> Int32? {
        guard let client else { return nil }
        do {
            let id = try client.publish(topic: topic, payload: try payload.encoded())
            counters.withLock { $0.published += 1 }
            return id
        } catch {
            // The connection went: the disconnection event follows and resets the sequence and the place.
            logger.debug("MQTT: \(error)")
            return nil
        }
    }

    package static func ms(_ unix: Double) -> UInt64 { UInt64(max(0, (unix * 1000).rounded())) }
}
