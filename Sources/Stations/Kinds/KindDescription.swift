import Control
import Devices
import DeviceTransports

/// What a kind is, as `rigd kinds --json`, `GET /api/kinds` and the dashboard show it.
package struct KindDescription: Codable, Sendable, Equatable {
    package struct Channel: Codable, Sendable, Equatable {
        package var name: String
        package var unit: String

        package init(name: String, unit: String) {
            self.name = name
            self.unit = unit
        }
    }

    package var name: String
    package var summary: String
    /// The device type code in IR 0.
    package var deviceType: Int
    package var presets: [String]
    package var defaultPreset: String
    /// Whether the kind has runs (`--start-run` starts one on every station of it).
    package var runs: Bool
    /// The keys of its recipes, when it has runs.
    package var recipeKeys: String?
    /// An example recipe, one `name = value` a line.
    package var recipeExample: String?
    /// The alarm its controller raises when the device stops answering.
    package var lossAlarm: String
    /// Whether the host feeds the device's watchdog (HR 4); a device without it relies on the host for its safe state.
    package var hostWatchdog: Bool
    /// How rigd can reach a device of the kind.
    package var transports: [String]
    package var channels: [Channel]
    /// What an operator may set on a running station, with the limits (with the kind's default settings).
    package var settings: [StationStatus.Setting]
    /// The host relays its controller drives (with the kind's default settings).
    package var relays: [String]
    /// What a device map of the kind must name (docs/maps.md): nil when the kind cannot be mapped (it reads a sample
    /// ring).
    package var map: MapNeeds?

    /// The commands a map must map, and the channels a safety or control function needs, each with that function.
    package struct MapNeeds: Codable, Sendable, Equatable {
        package struct Need: Codable, Sendable, Equatable {
            package var channel: String
            package var function: String
        }

        package var commands: [String]
        /// Commands for optional equipment, which a map may leave out.
        package var optionalCommands: [String]
        package var channels: [Need]

        package enum CodingKeys: String, CodingKey {
            case commands, channels
            case optionalCommands = "optional_commands"
        }
    }

    package enum CodingKeys: String, CodingKey {
        case name, summary, presets, runs, channels, settings, relays, transports, map
        case deviceType = "device_type"
        case defaultPreset = "default_preset"
        case recipeKeys = "recipe_keys"
        case recipeExample = "recipe_example"
        case lossAlarm = "loss_alarm"
        case hostWatchdog = "host_watchdog"
    }

    package init(name: String, summary: String, deviceType: Int, presets: [String], defaultPreset: String, runs: Bool,
                 recipeKeys: String? = nil, recipeExample: String? = nil, lossAlarm: String, hostWatchdog: Bool, transports: [String],
                 channels: [Channel], settings: [StationStatus.Setting], relays: [String], map: MapNeeds? = nil) {
        self.name = name
        self.summary = summary
        self.deviceType = deviceType
        self.presets = presets
        self.defaultPreset = defaultPreset
        self.runs = runs
        self.recipeKeys = recipeKeys
        self.recipeExample = recipeExample
        self.lossAlarm = lossAlarm
        self.hostWatchdog = hostWatchdog
        self.transports = transports
        self.channels = channels
        self.settings = settings
        self.relays = relays
        self.map = map
    }
}

extension StationKind {
    /// The kind described with its default settings.
    package static func describe() -> KindDescription {
        let controller = makeController(readControl(nil), context: StationContext())
        return KindDescription(
            name: kind.rawValue, summary: summary, deviceType: Int(kind.deviceType), presets: presets,
            defaultPreset: defaultPreset, runs: recipes != nil, recipeKeys: recipes?.keys,
            recipeExample: recipes?.example, lossAlarm: lossAlarm,
            hostWatchdog: Controller.Profile.usesHostWatchdog,
            // Every kind speaks the register contract over Modbus TCP and over RTU (RS-485).
            transports: ["tcp", "rtu"],
            channels: Controller.Profile.channels.map { KindDescription.Channel(name: $0.name, unit: $0.unit) },
            settings: controller.settings.map(StationStatus.Setting.init),
            relays: controller.relayNames,
            map: readsSampleRing ? nil : KindDescription.MapNeeds(
                commands: commandNames.filter { !optionalCommands.contains($0) }, optionalCommands: optionalCommands,
                channels: safetyChannels.map { KindDescription.MapNeeds.Need(channel: $0.key, function: $0.value) }))
    }
}

extension KindRegistry {
    package var descriptions: [KindDescription] { kinds.map { $0.describe() } }
}

/// `GET /api/kinds` and `rigd kinds --json`: `{"kinds": [...]}`.
package struct KindList: Codable, Sendable, Equatable {
    package var kinds: [KindDescription]

    package init(kinds: [KindDescription]) {
        self.kinds = kinds
    }
}
