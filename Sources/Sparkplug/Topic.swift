/// A Sparkplug B topic (specification 3.0.0, chapter 4): `spBv1.0/GROUP/TYPE/NODE[/DEVICE]`, or a primary host
/// application's `spBv1.0/STATE/HOST`.
public enum SparkplugTopic: Sendable, Equatable, CustomStringConvertible {
    case node(NodeMessage, group: String, node: String)
    case device(DeviceMessage, group: String, node: String, device: String)
    case state(host: String)

    public static let namespace = "spBv1.0"

    public enum NodeMessage: String, Sendable, CaseIterable {
        case birth = "NBIRTH", death = "NDEATH", data = "NDATA", command = "NCMD"
    }

    public enum DeviceMessage: String, Sendable, CaseIterable {
        case birth = "DBIRTH", death = "DDEATH", data = "DDATA", command = "DCMD"
    }

    /// Parses `topic`; nil when it is not a Sparkplug B topic (another namespace, an unknown message type, an empty
    /// or missing element, or an element too many).
    public init?(_ topic: String) {
        let parts = topic.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 3, parts[0] == Self.namespace, !parts.contains(where: \.isEmpty) else { return nil }
        if parts[1] == "STATE" {
            guard parts.count == 3 else { return nil }
            self = .state(host: parts[2])
            return
        }
        guard parts.count >= 4 else { return nil }
        if let type = NodeMessage(rawValue: parts[2]), parts.count == 4 {
            self = .node(type, group: parts[1], node: parts[3])
        } else if let type = DeviceMessage(rawValue: parts[2]), parts.count == 5 {
            self = .device(type, group: parts[1], node: parts[3], device: parts[4])
        } else {
            return nil
        }
    }

    public var description: String {
        switch self {
        case let .node(type, group, node): "\(Self.namespace)/\(group)/\(type.rawValue)/\(node)"
        case let .device(type, group, node, device): "\(Self.namespace)/\(group)/\(type.rawValue)/\(node)/\(device)"
        case let .state(host): "\(Self.namespace)/STATE/\(host)"
        }
    }

    /// What is wrong with `id` as a group, edge node, device or host id (spec 4.1.1: a valid UTF-8 string without the
    /// MQTT separators and wildcards `/`, `+`, `#`), nil when it is fine.
    public static func problem(withID id: String) -> String? {
        if id.isEmpty { return "is empty" }
        if let bad = id.first(where: { "/+#".contains($0) }) { return "contains \"\(bad)\" (MQTT's / + # are not allowed)" }
        if id.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            return "contains a control character"
        }
        return nil
    }
}

/// Sparkplug's message sequence number: 0 on the NBIRTH, then one more per message of the node (its NDATA, DBIRTH,
/// DDATA, DDEATH), wrapping from 255 to 0.
public struct SparkplugSequence: Sendable, Equatable {
    public private(set) var next: UInt64 = 0

    public init() {}

    /// The number for the next message, and moves on.
    public mutating func take() -> UInt64 {
        defer { next = (next + 1) % 256 }
        return next
    }

    /// The NBIRTH starts again at 0.
    public mutating func reset() { next = 0 }

    /// Whether `seq` follows `previous` (a host checks this to see a lost message and ask for a rebirth).
    public static func follows(_ seq: UInt64, after previous: UInt64) -> Bool { seq == (previous + 1) % 256 }
}
