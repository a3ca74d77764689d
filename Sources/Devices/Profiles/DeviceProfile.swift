/// What every device's snapshot carries: the common header and its channel readings, in channel order.
public protocol DeviceSnapshot: Sendable {
    var header: DeviceHeader { get }
    var channels: [ChannelReading] { get }
}

/// One device kind's side of the register contract: which registers to read and how to decode them into a typed
/// `Snapshot`, and how to encode typed `Commands` into writes. Profiles are stateless.
///
/// - Important: The register table at the top of each profile's file is the contract the simulator serves too.
public protocol DeviceProfile: Sendable {
    associatedtype Snapshot: DeviceSnapshot
    associatedtype Commands: Sendable & Equatable

    static var kind: DeviceKind { get }
    /// Whether the host feeds the device's watchdog (HR 4). A device with nothing to switch (a sonde) needs no
    /// heartbeat; polling it slowly must not look like a dead host.
    static var usesHostWatchdog: Bool { get }
    /// The device's sample ring (docs/register-contract.md §C), if it keeps one.
    static var sampleRing: SampleRingLayout? { get }
    /// The measured channels in block order.
    static var channels: [ChannelSpec] { get }
    /// The commands of the device's safe state. The simulated firmware's own safe state (`FirmwareModel.safeHolding`,
    /// `safeCoils`) must drive the same outputs to the same values (a test checks every kind).
    static var safeCommands: Commands { get }
    /// The float32 setpoints in holding registers (HR 100…) and the coils by name, in coil order (the built-in map).
    static var holdingSetpoints: [FloatRegister] { get }
    static var coilNames: [String] { get }
    /// Reads everything the controller needs in one pass.
    static func readSnapshot(from client: any ModbusClient, order: WordOrder) throws -> Snapshot
    /// The writes that take the device from `previous` (nil: unknown, write everything) to `commands`.
    static func writes(for commands: Commands, previous: Commands?, order: WordOrder) -> [RegisterWrite]
}

extension DeviceProfile {
    public static var usesHostWatchdog: Bool { true }
    public static var sampleRing: SampleRingLayout? { nil }
    public static var holdingSetpoints: [FloatRegister] { [] }
    public static var coilNames: [String] { [] }
    /// The device's commands by name, for device maps: its holding-register setpoints and its coils.
    public static var commandNames: [String] { holdingSetpoints.map(\.name) + coilNames }

    /// Reads all channel blocks of this kind in one transaction.
    public static func readChannels(from client: any ModbusClient, order: WordOrder) throws -> [ChannelReading] {
        let registers = try client.readInputRegisters(at: CommonRegisters.channelBase,
                                                      count: channels.count * CommonRegisters.channelStride)
        return ChannelBlock.decode(registers, count: channels.count, order: order)
    }

    /// The spec of the channel called `name`.
    public static func channel(named name: String) -> ChannelSpec? { channels.first { $0.name == name } }
}

/// `pumpEnable` → `pump_enable`: the snake_case name of an enum case, as configuration and maps write it.
public func snakeCaseName(_ value: some Any) -> String {
    var out = ""
    for c in String(describing: value) {
        if c.isUppercase {
            out += "_" + c.lowercased()
        } else {
            out.append(c)
        }
    }
    return out
}
