/// One key of a kind's `[station.control]` table: its name in the file, its unit and limits there, and the setting it
/// sets. A kind lists its keys once (`ControlSettings.keys`); the configuration loader reads them, checks their limits
/// and reports unknown keys. (The unit is for readers of the table; `rigd kinds --json` does not list the keys yet.)
public struct ControlKey<Settings>: Sendable {
    /// How a value in the file becomes the setting.
    public enum Scale: Sendable, Equatable {
        /// The file and the setting use the same unit.
        case same
        /// Minutes in the file, seconds in the setting.
        case minutes
        /// Milliseconds in the file, seconds in the setting.
        case milliseconds
    }

    public enum Value: Sendable {
        case number(WritableKeyPath<Settings, Double> & Sendable, ClosedRange<Double>, Scale)
        case integer(WritableKeyPath<Settings, Int> & Sendable, ClosedRange<Int>)
        case flag(WritableKeyPath<Settings, Bool> & Sendable)
    }

    public let name: String
    /// The unit of the value in the file ("" for a count or a flag).
    public let unit: String
    public let value: Value

    /// A number key; `limits` are in the file's unit.
    public static func number(_ name: String, _ unit: String, _ path: WritableKeyPath<Settings, Double> & Sendable,
                              _ limits: ClosedRange<Double>, scale: Scale = .same) -> ControlKey {
        ControlKey(name: name, unit: unit, value: .number(path, limits, scale))
    }

    public static func integer(_ name: String, _ path: WritableKeyPath<Settings, Int> & Sendable,
                               _ limits: ClosedRange<Int>, unit: String = "") -> ControlKey {
        ControlKey(name: name, unit: unit, value: .integer(path, limits))
    }

    public static func flag(_ name: String, _ path: WritableKeyPath<Settings, Bool> & Sendable) -> ControlKey {
        ControlKey(name: name, unit: "", value: .flag(path))
    }

    /// The value the file would hold for `settings` (a scaled setting converted back to the file's unit).
    public func fileValue(of settings: Settings) -> Double {
        switch value {
        case .number(let path, _, let scale): return Self.toFile(settings[keyPath: path], scale)
        case .integer(let path, _): return Double(settings[keyPath: path])
        case .flag(let path): return settings[keyPath: path] ? 1 : 0
        }
    }

    /// Sets the setting from a value in the file's unit (already checked against the limits).
    public func set(_ fileValue: Double, in settings: inout Settings) {
        switch value {
        case .number(let path, _, let scale): settings[keyPath: path] = Self.fromFile(fileValue, scale)
        case .integer(let path, _): settings[keyPath: path] = Int(fileValue)
        case .flag(let path): settings[keyPath: path] = fileValue != 0
        }
    }

    /// Scaled with the same operations the loader has always used, so that a setting reads back bit for bit.
    public static func toFile(_ setting: Double, _ scale: Scale) -> Double {
        switch scale {
        case .same: setting
        case .minutes: setting / 60
        case .milliseconds: setting * 1000
        }
    }

    public static func fromFile(_ value: Double, _ scale: Scale) -> Double {
        switch scale {
        case .same: value
        case .minutes: 60 * value
        case .milliseconds: value / 1000
        }
    }
}

/// A problem across keys (one key must be below another), reported against `key`.
public struct ControlProblem: Sendable, Equatable {
    public let key: String
    public let message: String

    public init(_ key: String, _ message: String) {
        self.key = key
        self.message = message
    }
}

/// A kind's control settings read from a table of keys. Kinds whose settings conform get their `[station.control]`
/// reader for free: every key in `keys`, in order, then `problems()`.
public protocol ControlSettings: Sendable {
    init()
    /// The keys of `[station.control]`, in the order they are read (and reported).
    static var keys: [ControlKey<Self>] { get }
    /// Problems across keys, checked once all keys are read.
    func problems() -> [ControlProblem]
}

extension ControlSettings {
    public func problems() -> [ControlProblem] { [] }
}
