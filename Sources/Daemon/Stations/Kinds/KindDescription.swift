import Control
import Devices

/// What a kind is, as `rigd kinds --json`, `GET /api/kinds` and the dashboard show it.
struct KindDescription: Codable, Sendable, Equatable {
    struct Channel: Codable, Sendable, Equatable {
        var name: String
        var unit: String
    }

    struct Setting: Codable, Sendable, Equatable {
        var name: String
        var unit: String
        var min: Double
        var max: Double
    }

    var name: String
    var summary: String
    /// The device type code in IR 0.
    var deviceType: Int
    var presets: [String]
    var defaultPreset: String
    /// Whether the kind has runs (`--start-run` starts one on every station of it).
    var runs: Bool
    /// The keys of its recipes, when it has runs.
    var recipeKeys: String?
    /// The alarm its controller raises when the device stops answering.
    var lossAlarm: String
    /// Whether the host feeds the device's watchdog (HR 4); a device without it relies on the host for its safe state.
    var hostWatchdog: Bool
    /// How rigd can reach a device of the kind.
    var transports: [String]
    var channels: [Channel]
    /// What an operator may set on a running station, with the limits (with the kind's default settings).
    var settings: [Setting]
    /// The host relays its controller drives (with the kind's default settings).
    var relays: [String]

    enum CodingKeys: String, CodingKey {
        case name, summary, presets, runs, channels, settings, relays, transports
        case deviceType = "device_type"
        case defaultPreset = "default_preset"
        case recipeKeys = "recipe_keys"
        case lossAlarm = "loss_alarm"
        case hostWatchdog = "host_watchdog"
    }
}

extension StationKind {
    /// The kind described with its default settings.
    static func describe() -> KindDescription {
        let controller = makeController(readControl(nil), context: StationContext())
        return KindDescription(
            name: kind.rawValue, summary: summary, deviceType: Int(kind.deviceType), presets: presets,
            defaultPreset: defaultPreset, runs: recipes != nil, recipeKeys: recipes?.keys, lossAlarm: lossAlarm,
            hostWatchdog: Controller.Profile.usesHostWatchdog,
            // Every kind speaks the register contract over Modbus TCP and over RTU (RS-485).
            transports: ["tcp", "rtu"],
            channels: Controller.Profile.channels.map { KindDescription.Channel(name: $0.name, unit: $0.unit) },
            settings: controller.settings.map {
                KindDescription.Setting(name: $0.name, unit: $0.unit, min: $0.limits.lowerBound, max: $0.limits.upperBound)
            },
            relays: controller.relayNames)
    }
}

extension KindRegistry {
    var descriptions: [KindDescription] { kinds.map { $0.describe() } }
}
