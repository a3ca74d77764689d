import Foundation
import Sparkplug

/// An edge node: its group and node id.
package struct NodeKey: Hashable, Sendable, CustomStringConvertible {
    package var group: String
    package var node: String

    package init(group: String, node: String) {
        self.group = group
        self.node = node
    }

    package var description: String { "\(group)/\(node)" }
}

/// A Sparkplug device (a rigd station) of an edge node.
package struct DeviceKey: Hashable, Sendable, CustomStringConvertible {
    package var node: NodeKey
    package var device: String

    package init(node: NodeKey, device: String) {
        self.node = node
        self.device = device
    }

    package var description: String { "\(node)/\(device)" }
}

/// A metric as its device's birth defines it.
package struct MetricDefinition: Sendable, Equatable {
    package var name: String
    /// The Sparkplug datatype's name (`Double`, `Boolean`, `String`, …).
    package var datatype: String
    package var unit: String?
    package var engLow: Double?
    package var engHigh: Double?

    package init(name: String, datatype: String, unit: String? = nil, engLow: Double? = nil, engHigh: Double? = nil) {
        self.name = name
        self.datatype = datatype
        self.unit = unit
        self.engLow = engLow
        self.engHigh = engHigh
    }
}

/// One value of one metric, as the sample table keeps it: numbers and booleans (1/0) in `value`, strings in `text`,
/// neither for a null. `t` is the metric's own timestamp (the edge node's sample time), in ms since the epoch.
package struct SampleRow: Sendable, Equatable {
    package var device: DeviceKey
    package var metric: String
    package var t: UInt64
    package var value: Double?
    package var text: String?
    package var quality: Int32?
    package var historical: Bool

    package init(device: DeviceKey, metric: String, t: UInt64, value: Double?, text: String?, quality: Int32?,
                 historical: Bool) {
        self.device = device
        self.metric = metric
        self.t = t
        self.value = value
        self.text = text
        self.quality = quality
        self.historical = historical
    }
}

/// What one message means for the store, in the order it must be written.
package enum StoreEvent: Sendable, Equatable {
    case nodeBirth(NodeKey, at: UInt64, bdSeq: Int64, software: String?)
    case nodeDeath(NodeKey, at: UInt64, bdSeq: Int64)
    case deviceBirth(DeviceKey, at: UInt64, metrics: [MetricDefinition])
    case deviceDeath(DeviceKey, at: UInt64)
    /// The device's state as of `at`: kind, mode, link, device status, phase, last command rejection.
    case deviceState(DeviceKey, at: UInt64, DeviceState)
    /// The active alarms changed (comma-separated codes, as the edge node publishes them).
    case alarms(DeviceKey, at: UInt64, active: String, count: Int32?, unacknowledged: Int32?)
    /// A run's number, recipe or state changed.
    case run(DeviceKey, at: UInt64, number: Int32, recipe: String?, state: String?)
    case samples([SampleRow])
    /// Any message of the node: its last-heard time.
    case heard(NodeKey, at: UInt64)
}

/// The state metrics a rigd edge node publishes for each station, as last heard.
package struct DeviceState: Sendable, Equatable {
    package var kind: String?
    package var mode: String?
    package var linkUp: Bool?
    package var deviceStatus: String?
    package var phase: String?
    package var lastRejection: String?
}

/// What the historian counts (served on /api/status and the overview page).
package struct HostCounters: Sendable, Equatable, Codable {
    package var messages = 0
    package var samples = 0
    /// Not a Sparkplug topic, or a payload that does not decode, or a birth or death without what it must carry.
    package var malformed = 0
    package var oversized = 0
    /// Data or a death from a node or device with no current birth (the historian asks the node for a rebirth).
    package var withoutBirth = 0
    /// Metrics in data that the device's birth did not define (dropped; the node is asked for a rebirth).
    package var unknownMetrics = 0
    package var sequenceGaps = 0
    /// An NDEATH whose bdSeq is not that of the node's current birth: an old session's will, ignored.
    package var staleDeaths = 0
    package var rebirthRequests = 0
    /// NCMD, DCMD and STATE messages seen on the subscription: not stored.
    package var commandsIgnored = 0
}

/// The Sparkplug B host application's rules (specification 3.0.0, chapter 5): births, deaths, `seq` and `bdSeq`, and
/// when to ask an edge node for a rebirth. Pure: one message in, store events and rebirth requests out. No I/O, so the
/// rules are tested and fuzzed without a broker or a database.
package struct HostState: Sendable {
    private struct Device: Sendable {
        var online = false
        var metrics: [String: MetricDefinition] = [:]
        var aliases: [UInt64: String] = [:]
        var quality: [String: Int32] = [:]
        var state = DeviceState()
        var alarms: (active: String, count: Int32?, unacknowledged: Int32?) = ("", nil, nil)
        var run: (number: Int32, recipe: String?, state: String?) = (0, nil, nil)

        /// Keeps the state metrics a rigd edge node publishes (other publishers' devices have none of them: their
        /// metrics are samples only).
        mutating func note(_ name: String, _ value: SparkplugValue) {
            switch (name, value) {
            case ("Kind", .string(let s)): state.kind = s
            case ("Mode", .string(let s)): state.mode = s
            case ("Link/Up", .boolean(let b)): state.linkUp = b
            case ("Device Status", .string(let s)): state.deviceStatus = s
            case ("Phase", .string(let s)): state.phase = s
            case ("Commands/Last Rejection", .string(let s)): state.lastRejection = s
            case ("Alarms/Active", .string(let s)): alarms.active = s
            case ("Alarms/Count", _): alarms.count = HostState.int32(value)
            case ("Alarms/Unacknowledged", _): alarms.unacknowledged = HostState.int32(value)
            case ("Run/Number", _): run.number = HostState.int32(value) ?? 0
            case ("Run/Recipe", .string(let s)): run.recipe = s
            case ("Run/State", .string(let s)): run.state = s
            default: break
            }
        }
    }

    private struct Node: Sendable {
        var online = false
        var bdSeq: Int64 = -1
        var lastSeq: UInt64 = 0
        var devices: [String: Device] = [:]
        /// When the last rebirth request went out (s, the receive clock), so a burst of bad messages asks once.
        var rebirthAskedAt: Double?
    }

    private var nodes: [NodeKey: Node] = [:]
    package private(set) var counters = HostCounters()
    /// Payloads larger than this are counted and dropped before decoding.
    package let maxPayloadBytes: Int
    /// A node is asked for a rebirth at most once in this many seconds.
    package let rebirthInterval: Double

    package init(maxPayloadBytes: Int = 1 << 20, rebirthInterval: Double = 5) {
        self.maxPayloadBytes = maxPayloadBytes
        self.rebirthInterval = rebirthInterval
    }

    package struct Outcome: Sendable, Equatable {
        package var events: [StoreEvent] = []
        /// Nodes to send an NCMD `Node Control/Rebirth` to.
        package var rebirths: [NodeKey] = []
        /// Why, for the log (nil when the message was fine).
        package var problem: String?
    }

    /// Whether the node's devices and its own birth are current (for the overview and tests).
    package func isOnline(_ node: NodeKey) -> Bool { nodes[node]?.online ?? false }
    package func isOnline(_ device: DeviceKey) -> Bool {
        guard let node = nodes[device.node], node.online else { return false }
        return node.devices[device.device]?.online ?? false
    }

    /// Applies one message received at `now` (s since the epoch).
    package mutating func handle(topic: String, payload bytes: [UInt8], now: Double) -> Outcome {
        counters.messages += 1
        var outcome = Outcome()
        guard bytes.count <= maxPayloadBytes else {
            counters.oversized += 1
            outcome.problem = "\(topic): a payload of \(bytes.count) bytes, more than \(maxPayloadBytes): dropped"
            return outcome
        }
        guard let parsed = SparkplugTopic(topic) else {
            counters.malformed += 1
            outcome.problem = "\(topic): not a Sparkplug B topic: dropped"
            return outcome
        }
        let decoded: SpBPayload
        switch parsed {
        case .state, .node(.command, _, _), .device(.command, _, _, _):
            counters.commandsIgnored += 1
            return outcome
        default:
            do {
                decoded = try SpBPayload.decoded(bytes)
            } catch {
                counters.malformed += 1
                outcome.problem = "\(topic): the payload is not a Sparkplug B protobuf (\(bytes.count) bytes): dropped"
                return outcome
            }
        }
        let payload = Self.withoutNUL(decoded)
        let nowMs = UInt64(max(0, (now * 1000).rounded()))
        let at = payload.hasTimestamp && payload.timestamp <= Self.latestTimestamp ? payload.timestamp : nowMs
        switch parsed {
        case let .node(type, group, node):
            let key = NodeKey(group: group, node: node)
            switch type {
            case .birth: nodeBirth(key, payload, at: at, into: &outcome)
            case .death: nodeDeath(key, payload, at: at, into: &outcome)
            case .data: nodeData(key, payload, at: at, now: now, into: &outcome)
            case .command: break
            }
        case let .device(type, group, node, device):
            let key = DeviceKey(node: NodeKey(group: group, node: node), device: device)
            guard sequenced(key.node, payload, what: "\(type.rawValue) \(key)", at: at, now: now, into: &outcome) else {
                return outcome
            }
            switch type {
            case .birth: deviceBirth(key, payload, at: at, into: &outcome)
            case .death: deviceDeath(key, at: at, now: now, into: &outcome)
            case .data: deviceData(key, payload, at: at, now: now, into: &outcome)
            case .command: break
            }
        case .state:
            break
        }
        return outcome
    }

    /// 9999-12-31T23:59:59.999Z in ms: PostgreSQL's timestamps end far later, but nothing real is later than this.
    /// A metric stamped later is malformed (it would fail the database's insert, and with it its batch).
    static let latestTimestamp: UInt64 = 253_402_300_799_999

    /// The payload with NUL characters taken out of its names and strings: PostgreSQL's text cannot hold them, and one
    /// such string would fail its batch's insert.
    static func withoutNUL(_ payload: SpBPayload) -> SpBPayload {
        func clean(_ text: String) -> String {
            text.contains("\u{0}") ? text.replacingOccurrences(of: "\u{0}", with: "") : text
        }
        func hasNUL(_ metric: SpBPayload.Metric) -> Bool {
            if metric.name.contains("\u{0}") { return true }
            if case .stringValue(let v)? = metric.value, v.contains("\u{0}") { return true }
            return metric.hasProperties && metric.properties.values.contains {
                if case .stringValue(let v)? = $0.value { v.contains("\u{0}") } else { false }
            }
        }
        guard payload.metrics.contains(where: hasNUL) else { return payload }
        var payload = payload
        for i in payload.metrics.indices where hasNUL(payload.metrics[i]) {
            if payload.metrics[i].hasName { payload.metrics[i].name = clean(payload.metrics[i].name) }
            if case .stringValue(let v)? = payload.metrics[i].value { payload.metrics[i].value = .stringValue(clean(v)) }
            if payload.metrics[i].hasProperties {
                for j in payload.metrics[i].properties.values.indices {
                    if case .stringValue(let v)? = payload.metrics[i].properties.values[j].value {
                        payload.metrics[i].properties.values[j].value = .stringValue(clean(v))
                    }
                }
            }
        }
        return payload
    }

    // MARK: Nodes

    private mutating func nodeBirth(_ key: NodeKey, _ payload: SpBPayload, at: UInt64, into outcome: inout Outcome) {
        guard let bdSeq = Self.bdSeq(payload) else {
            counters.malformed += 1
            outcome.problem = "NBIRTH \(key) without a bdSeq metric: dropped"
            return
        }
        var software: String?
        if case .string(let s)? = payload.metrics.first(where: { $0.name == "Properties/Software" })?.sparkplugValue {
            software = s
        }
        // A new birth: the node's devices are born again after it (their old births no longer hold).
        nodes[key] = Node(online: true, bdSeq: bdSeq, lastSeq: payload.hasSeq ? payload.seq : 0)
        outcome.events.append(.nodeBirth(key, at: at, bdSeq: bdSeq, software: software))
    }

    private mutating func nodeDeath(_ key: NodeKey, _ payload: SpBPayload, at: UInt64, into outcome: inout Outcome) {
        guard let bdSeq = Self.bdSeq(payload) else {
            counters.malformed += 1
            outcome.problem = "NDEATH \(key) without a bdSeq metric: dropped"
            return
        }
        guard var node = nodes[key], node.online, node.bdSeq == bdSeq else {
            // The will of a session that a newer birth already replaced (or of a node never heard born).
            counters.staleDeaths += 1
            return
        }
        node.online = false
        for name in node.devices.keys { node.devices[name]?.online = false }
        nodes[key] = node
        outcome.events.append(.nodeDeath(key, at: at, bdSeq: bdSeq))
    }

    private mutating func nodeData(_ key: NodeKey, _ payload: SpBPayload, at: UInt64, now: Double,
                                   into outcome: inout Outcome) {
        // NDATA carries node metrics (none that the store keeps); it counts for the sequence.
        _ = sequenced(key, payload, what: "NDATA \(key)", at: at, now: now, into: &outcome)
    }

    /// Checks that the node is born and `seq` follows its last message; asks for a rebirth when not. False: the
    /// message cannot be used (no current birth).
    private mutating func sequenced(_ key: NodeKey, _ payload: SpBPayload, what: String, at: UInt64, now: Double,
                                    into outcome: inout Outcome) -> Bool {
        guard var node = nodes[key], node.online else {
            counters.withoutBirth += 1
            outcome.problem = "\(what) from a node with no current NBIRTH: dropped, rebirth requested"
            askRebirth(key, now: now, into: &outcome)
            return false
        }
        outcome.events.append(.heard(key, at: at))
        guard payload.hasSeq, payload.seq <= 255 else {
            counters.malformed += 1
            outcome.problem = "\(what) without a seq 0–255"
            askRebirth(key, now: now, into: &outcome)
            return true
        }
        if !SparkplugSequence.follows(payload.seq, after: node.lastSeq) {
            counters.sequenceGaps += 1
            outcome.problem = "\(what): seq \(payload.seq) after \(node.lastSeq) (a message was lost): rebirth requested"
            node.lastSeq = payload.seq
            nodes[key] = node
            askRebirth(key, now: now, into: &outcome)
            return true
        }
        node.lastSeq = payload.seq
        nodes[key] = node
        return true
    }

    private mutating func askRebirth(_ key: NodeKey, now: Double, into outcome: inout Outcome) {
        var node = nodes[key] ?? Node()
        if let last = node.rebirthAskedAt, now - last < rebirthInterval, now >= last { return }
        node.rebirthAskedAt = now
        nodes[key] = node
        counters.rebirthRequests += 1
        outcome.rebirths.append(key)
    }

    private static func bdSeq(_ payload: SpBPayload) -> Int64? {
        switch payload.metrics.first(where: { $0.name == "bdSeq" })?.sparkplugValue {
        case .int64(let v)?: v
        case .uint64(let v)?: Int64(clamping: v)
        case .int32(let v)?: Int64(v)
        case .uint32(let v)?: Int64(v)
        default: nil
        }
    }

    // MARK: Devices

    private mutating func deviceBirth(_ key: DeviceKey, _ payload: SpBPayload, at: UInt64,
                                      into outcome: inout Outcome) {
        var device = Device(online: true)
        var definitions: [MetricDefinition] = []
        for metric in payload.metrics where metric.hasName && !metric.name.isEmpty {
            let type = SpBDataType(rawValue: Int(metric.datatype))
            var definition = MetricDefinition(name: metric.name, datatype: type.map { "\($0)" } ?? "type \(metric.datatype)")
            if metric.hasProperties {
                if case .string(let unit)? = metric.properties["engUnit"] { definition.unit = unit }
                definition.engLow = Self.number(metric.properties["engLow"])
                definition.engHigh = Self.number(metric.properties["engHigh"])
            }
            device.metrics[metric.name] = definition
            if metric.hasAlias { device.aliases[metric.alias] = metric.name }
            definitions.append(definition)
        }
        nodes[key.node]?.devices[key.device] = device
        outcome.events.append(.deviceBirth(key, at: at, metrics: definitions))
        values(of: key, payload, at: at, birth: true, into: &outcome)
    }

    private mutating func deviceDeath(_ key: DeviceKey, at: UInt64, now: Double, into outcome: inout Outcome) {
        guard nodes[key.node]?.devices[key.device]?.online == true else {
            counters.withoutBirth += 1
            outcome.problem = "DDEATH \(key) for a device with no current DBIRTH: rebirth requested"
            askRebirth(key.node, now: now, into: &outcome)
            return
        }
        nodes[key.node]?.devices[key.device]?.online = false
        outcome.events.append(.deviceDeath(key, at: at))
    }

    private mutating func deviceData(_ key: DeviceKey, _ payload: SpBPayload, at: UInt64, now: Double,
                                     into outcome: inout Outcome) {
        guard nodes[key.node]?.devices[key.device]?.online == true else {
            counters.withoutBirth += 1
            outcome.problem = "DDATA \(key) for a device with no current DBIRTH: dropped, rebirth requested"
            askRebirth(key.node, now: now, into: &outcome)
            return
        }
        let unknown = values(of: key, payload, at: at, birth: false, into: &outcome)
        if unknown > 0 {
            counters.unknownMetrics += unknown
            outcome.problem = "DDATA \(key): \(unknown) metric(s) its DBIRTH did not define: dropped, rebirth requested"
            askRebirth(key.node, now: now, into: &outcome)
        }
    }

    /// The payload's metric values as samples, and the device's state, alarm and run changes. Returns how many
    /// metrics the device's birth did not define.
    @discardableResult
    private mutating func values(of key: DeviceKey, _ payload: SpBPayload, at: UInt64, birth: Bool,
                                 into outcome: inout Outcome) -> Int {
        guard var device = nodes[key.node]?.devices[key.device] else { return 0 }
        var rows: [SampleRow] = []
        var unknown = 0
        let before = (device.state, device.alarms, device.run)
        for metric in payload.metrics {
            let name: String
            if metric.hasName, device.metrics[metric.name] != nil {
                name = metric.name
            } else if !metric.hasName, metric.hasAlias, let aliased = device.aliases[metric.alias] {
                name = aliased
            } else {
                unknown += 1
                continue
            }
            guard let value = metric.sparkplugValue else {
                unknown += 1
                continue
            }
            guard !metric.hasTimestamp || metric.timestamp <= Self.latestTimestamp else {
                counters.malformed += 1
                continue
            }
            if metric.hasProperties, let quality = metric.properties["Quality"] {
                device.quality[name] = Self.int32(quality)
            }
            let t = metric.hasTimestamp ? metric.timestamp : at
            var row = SampleRow(device: key, metric: name, t: t, value: nil, text: nil,
                                quality: device.quality[name], historical: metric.isHistorical)
            switch value {
            case .string(let s): row.text = s
            case .boolean(let b): row.value = b ? 1 : 0
            case .null: break
            default: row.value = Self.number(value)
            }
            rows.append(row)
            if !metric.isHistorical { device.note(name, value) }
        }
        nodes[key.node]?.devices[key.device] = device
        if !rows.isEmpty {
            counters.samples += rows.count
            outcome.events.append(.samples(rows))
        }
        if birth || device.state != before.0 { outcome.events.append(.deviceState(key, at: at, device.state)) }
        if birth || device.alarms != before.1 {
            outcome.events.append(.alarms(key, at: at, active: device.alarms.active, count: device.alarms.count,
                                          unacknowledged: device.alarms.unacknowledged))
        }
        if device.run.number > 0, birth || device.run != before.2 {
            outcome.events.append(.run(key, at: at, number: device.run.number, recipe: device.run.recipe,
                                       state: device.run.state))
        }
        return unknown
    }

    /// A whole number that fits 32 bits, else nil (a malformed payload's NaN or 1e300 does not trap).
    static func int32(_ value: SparkplugValue?) -> Int32? {
        guard let d = number(value), d.isFinite, d >= Double(Int32.min), d <= Double(Int32.max) else { return nil }
        return Int32(d.rounded(.towardZero))
    }

    static func number(_ value: SparkplugValue?) -> Double? {
        switch value {
        case .int32(let v)?: Double(v)
        case .int64(let v)?: Double(v)
        case .uint32(let v)?: Double(v)
        case .uint64(let v)?: Double(v)
        case .float(let v)?: Double(v)
        case .double(let v)?: v
        case .dateTime(let v)?: Double(v)
        default: nil
        }
    }
}
