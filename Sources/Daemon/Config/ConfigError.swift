/// One problem in a configuration, located as precisely as the loader can.
struct ConfigIssue: Sendable, Equatable, CustomStringConvertible {
    var file: String
    var line: Int?
    /// e.g. `station "rig-1"`, or nil at the top level.
    var context: String?
    /// e.g. `control.setpoint_c`.
    var key: String?
    var message: String

    var description: String {
        var out = file
        if let line { out += ":\(line)" }
        out += ": "
        if let context { out += context + ": " }
        if let key { out += key + " " }
        return out + message
    }
}

/// A configuration that must not be started; carries every issue found, not just the first.
struct ConfigError: Error, Sendable, CustomStringConvertible {
    var issues: [ConfigIssue]
    var description: String { issues.map(\.description).joined(separator: "\n") }
}

/// Exit statuses (sysexits.h).
enum ExitStatus {
    static let usage: Int32 = 64
    static let dataError: Int32 = 65
    static let unavailable: Int32 = 69
    static let software: Int32 = 70
    static let cannotCreate: Int32 = 73
    static let config: Int32 = 78
}
