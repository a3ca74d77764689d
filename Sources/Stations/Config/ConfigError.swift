/// One problem in a configuration, located as precisely as the loader can.
package struct ConfigIssue: Sendable, Equatable, CustomStringConvertible {
    package var file: String
    package var line: Int?
    /// e.g. `station "rig-1"`, or nil at the top level.
    package var context: String?
    /// e.g. `control.setpoint_c`.
    package var key: String?
    package var message: String

    package init(file: String, line: Int? = nil, context: String? = nil, key: String? = nil, message: String) {
        self.file = file
        self.line = line
        self.context = context
        self.key = key
        self.message = message
    }

    package var description: String {
        var out = file
        if let line { out += ":\(line)" }
        out += ": "
        if let context { out += context + ": " }
        if let key { out += key + " " }
        return out + message
    }
}

/// A configuration that must not be started; carries every issue found, not just the first.
package struct ConfigError: Error, Sendable, CustomStringConvertible {
    package var issues: [ConfigIssue]

    package init(issues: [ConfigIssue]) {
        self.issues = issues
    }

    package var description: String { issues.map(\.description).joined(separator: "\n") }
}

/// Exit statuses (sysexits.h).
package enum ExitStatus {
    package static let usage: Int32 = 64
    package static let dataError: Int32 = 65
    package static let unavailable: Int32 = 69
    package static let software: Int32 = 70
    package static let cannotCreate: Int32 = 73
    package static let noPermission: Int32 = 77
    package static let config: Int32 = 78
}
