import Control
import Devices
import DeviceTransports
import Sim

/// Everything the station runtime needs to know about one device kind, in one place. The generic code (the
/// configuration loader, the wiring, the simulator, run routing, `rigd kinds`, the API and the dashboard) calls
/// through this protocol and never asks which kind it has (STYLE.md 15: libmodbus's `modbus_backend_t`, Klipper's
/// `load_config`). A kind is its profile (Devices), its plant and firmware (Sim), its controller (Control) and
/// one descriptor conforming to this protocol, listed once in a `KindRegistry`.
///
/// - Important: Every requirement without a default must be written for a new kind: forgetting one is a compile
///   error, never a station that silently does not start.
package protocol StationKind: Sendable {
    associatedtype Controller: StationController
    /// The kind's `[station.control]` settings, as its controller takes them.
    associatedtype Control: Sendable

    /// Every host relay the kind's controller may drive with some settings (a device map may name them as commands).
    static var possibleRelays: [String] { get }
    /// One line saying what the kind is, for `rigd kinds` and the dashboard.
    static var summary: String { get }
    /// The alarm the controller raises when the device stops answering (the soak and HIL runs wait for it).
    static var lossAlarm: String { get }
    /// The channels a safety function of the controller needs, each with that function: a device map must map them
    /// (the others are for reporting and may be absent). Default: none.
    static var safetyChannels: KeyValuePairs<String, String> { get }
    /// Commands for optional equipment (the stream station's autosampler): a device map may leave them out, and then
    /// the controller's writes to them go nowhere (logged at start). Every other command must be mapped. Default: none.
    static var optionalCommands: [String] { get }

    /// Reads `[station.control]` (nil when the station has none) strictly: every key with its limits (unknown keys
    /// are reported by the caller), then the cross-field checks, each problem through `table.fail`.
    static func readControl(_ table: TableReader?) -> Control
    /// The station's controller for `control`; `context` says when the station's clock starts.
    static func makeController(_ control: Control, context: StationContext) -> Controller

    /// Simulator presets, the default first.
    static var presets: [String] { get }
    /// Whether the kind's simulator models its probes' slope and offset errors (`[station.sim] probe_errors`), so that
    /// calibrating a simulated station corrects something. Default: false.
    static var simulatesProbeErrors: Bool { get }
    /// A simulated device of this kind, seeded. `host` reads the host lines that act on the simulated plant (a
    /// pond's aerators) and says when the station's clock starts.
    static func simulatedDevice(_ control: Control, seed: UInt64, preset: String, unit: UInt8,
                                host: SimulatedHost) throws -> any ModbusDevice

    /// The plots a recorded run of this kind shows first (`rigd report`, `rigd view`). Default: each of the first
    /// three channels on its own.
    static var reportPlots: [ReportPlot] { get }

    /// How `rigd run --recipe FILE` and the API's run requests are read for this kind; nil: the kind has no runs.
    static var recipes: RecipeFormat? { get }

    /// Reads the station's `[station.relays]`: the host GPIO lines of the controller's relays, by relay name. nil: the
    /// kind has no relays (the default, which leaves a `relays` table to be reported as an unknown key).
    static func readRelays(_ station: TableReader, control: Control) -> [String: GPIOLineAddress]?

    /// Reads `[station.control]` into this kind's settings, behind the type-erased face the generic code holds.
    /// Default: `Configured<Self>` (a requirement so that the call from the generic code reaches this kind's own
    /// copy, where the optimizer knows the kind: the station built from it runs its ticks in code compiled for its
    /// controller, not through generic witnesses and runtime type lookups on every tick).
    static func configure(_ table: TableReader?) -> any ConfiguredKind
}

extension StationKind where Control: ControlSettings {
    /// A kind whose settings are a table of keys reads them all, in order, then checks them across keys.
    package static func readControl(_ table: TableReader?) -> Control {
        var settings = Control()
        guard let table else { return settings }
        table.read(Control.keys, into: &settings)
        for problem in settings.problems() { table.fail(problem.key, problem.message) }
        return settings
    }
}

extension StationKind {
    /// The device kind: name and device type code, from the profile.
    package static var kind: DeviceKind { Controller.Profile.kind }
    package static func readRelays(_ station: TableReader, control: Control) -> [String: GPIOLineAddress]? { nil }
    package static var defaultPreset: String { presets.first ?? "standard" }
    package static var safetyChannels: KeyValuePairs<String, String> { [:] }
    package static var optionalCommands: [String] { [] }
    /// Whether the kind's simulator models its probes' slope and offset errors (`[station.sim] probe_errors`).
    package static var simulatesProbeErrors: Bool { false }
    package static var reportPlots: [ReportPlot] {
        deviceChannelSpecs.prefix(3).map { ReportPlot("\($0.name) (\($0.unit))", channels: [$0.name]) }
    }
    /// The relays of the kind's controller with its default settings.
    package static var possibleRelays: [String] { describe().relays }
    /// The device's commands by name (its setpoints and coils), from the profile.
    package static var commandNames: [String] { Controller.Profile.commandNames }
    /// The device's channels, from the profile.
    package static var channelSpecs: [ChannelSpec] { Controller.Profile.channels }
    /// The channels a real device of the kind has (all but the simulator-only ones).
    package static var deviceChannelSpecs: [ChannelSpec] {
        Array(Controller.Profile.channels.dropLast(Controller.Profile.simulatorOnlyChannelCount))
    }
    /// Where the register contract keeps the kind's channels and commands (what a device map translates).
    package static var contractLayout: ContractLayout { ContractLayout(Controller.Profile.self) }
    /// Whether the kind's stream loop reads the device's sample ring, which a device map cannot describe.
    package static var readsSampleRing: Bool {
        Controller.Profile.sampleRing != nil && makeController(readControl(nil), context: StationContext()).streamLoop != nil
    }
    /// Whether the host feeds the device's watchdog, from the profile.
    package static var feedsDeviceWatchdog: Bool { Controller.Profile.usesHostWatchdog }

    package static func configure(_ table: TableReader?) -> any ConfiguredKind { Configured<Self>(readControl(table)) }

    /// `readRelays` for settings read by `configure`.
    package static func readRelays(_ station: TableReader, settings: any ConfiguredKind) -> [String: GPIOLineAddress]? {
        guard let configured = settings as? Configured<Self> else { return nil }
        return readRelays(station, control: configured.control)
    }
}

/// When a station's clock starts, in local plant time: a pond's day cycle and feeding times, a stream's season.
package struct StationContext: Sendable, Equatable {
    /// Local hour of day at the station's time 0 (the wall clock's on a real-clock run, 0 on a virtual run).
    package var startHourOfDay: Double

    package init(startHourOfDay: Double = 0) {
        self.startHourOfDay = startHourOfDay
    }
}

/// What a simulated device sees of its host: the relays acting on its plant, and the station's start time.
package struct SimulatedHost: Sendable {
    package var context: StationContext
    /// Whether the host relay of this name is on (physically energised); false for a relay that is not wired.
    package var relayOn: @Sendable (String) -> Bool
    /// Whether the simulated probes read with their seeded slope and offset errors (`[station.sim] probe_errors`).
    package var probeErrors = false

    package init(context: StationContext = StationContext(), probeErrors: Bool = false,
                 relayOn: @escaping @Sendable (String) -> Bool = { _ in false }) {
        self.context = context
        self.probeErrors = probeErrors
        self.relayOn = relayOn
    }
}

/// How a kind reads a run recipe (`[recipe]` of a recipe file, or an API request's parameters).
package struct RecipeFormat: Sendable {
    /// The keys a recipe of this kind may have, for messages ("ramp1_c_per_min, target1_c, soak1_s, …").
    package let keys: String
    /// An example recipe's parameters, one `name = value` a line (the dashboard's placeholder).
    package let example: String
    /// Whether a `[recipe]` table with these keys (besides `name`) is of this kind.
    package let accepts: @Sendable (Set<String>) -> Bool
    /// Reads the table's keys into a recipe, checking them against the kind's limits (problems via `fail`).
    package let read: @Sendable (TableReader, inout RunRecipe) -> Void

    package init(keys: String, example: String = "", accepts: @escaping @Sendable (Set<String>) -> Bool,
                read: @escaping @Sendable (TableReader, inout RunRecipe) -> Void) {
        self.keys = keys
        self.example = example
        self.accepts = accepts
        self.read = read
    }
}
