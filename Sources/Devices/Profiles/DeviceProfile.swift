/// What every device's snapshot carries: the common header and its channel readings, in channel order.
public protocol DeviceSnapshot: Sendable {
    var header: DeviceHeader { get }
    var channels: [ChannelReading] { get set }
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
    /// How many of `channels`, counted from the end, only the simulator serves: figures a real device has no sensor
    /// for (the extraction device's lab assay, `yield_true`). The station asks a device once per connection whether
    /// it has them (`servedChannelCount`); on one that has not they read "not available" (0x01) and are never
    /// requested. Default: none.
    static var simulatorOnlyChannelCount: Int { get }
    /// The commands of the device's safe state. The simulated firmware's own safe state (`FirmwareModel.safeHolding`,
    /// `safeCoils`) must drive the same outputs to the same values (a test checks every kind).
    static var safeCommands: Commands { get }
    /// The float32 setpoints in holding registers (HR 100…) and the coils by name, in coil order (the built-in map).
    static var holdingSetpoints: [FloatRegister] { get }
    static var coilNames: [String] { get }
    /// Reads everything the controller needs in one pass.
    static func readSnapshot(from client: any ModbusClient, order: WordOrder) throws -> Snapshot
    /// Reads everything the controller needs in one pass from a device that serves the first `channelCount` of
    /// `channels` (`servedChannelCount`); the others read "not available". Default: `readSnapshot(from:order:)`,
    /// right for a kind without simulator-only channels; a kind with some must read only the served ones.
    static func readSnapshot(from client: any ModbusClient, order: WordOrder, channelCount: Int) throws -> Snapshot
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
    public static var simulatorOnlyChannelCount: Int { 0 }

    public static func readSnapshot(from client: any ModbusClient, order: WordOrder,
                                    channelCount: Int) throws -> Snapshot {
        try readSnapshot(from: client, order: order)
    }

    /// Reads all channel blocks of this kind in one transaction.
    public static func readChannels(from client: any ModbusClient, order: WordOrder) throws -> [ChannelReading] {
        try readChannels(from: client, order: order, served: channels.count)
    }

    /// Reads the first `served` channel blocks in one transaction (never fewer than the channels every device of the
    /// kind has); the rest of `channels` read "not available".
    public static func readChannels(from client: any ModbusClient, order: WordOrder,
                                    served: Int) throws -> [ChannelReading] {
        let count = min(max(served, channels.count - simulatorOnlyChannelCount), channels.count)
        let registers = try client.readInputRegisters(at: CommonRegisters.channelBase,
                                                      count: count * CommonRegisters.channelStride)
        let readings = ChannelBlock.decode(registers, count: count, order: order)
        return count == channels.count
            ? readings : readings + repeatElement(ChannelReading.notAvailable, count: channels.count - count)
    }

    /// How many channel blocks the device at `client` serves: all of `channels`, or all but the simulator-only ones
    /// when it refuses them with exception 02 (a real device). One read for a kind with simulator-only channels,
    /// none otherwise; any other failure is thrown.
    public static func servedChannelCount(from client: any ModbusClient) throws -> Int {
        let optional = min(max(simulatorOnlyChannelCount, 0), channels.count)
        guard optional > 0 else { return channels.count }
        let first = channels.count - optional
        do {
            _ = try client.readInputRegisters(at: channels[first].address,
                                              count: optional * CommonRegisters.channelStride)
            return channels.count
        } catch let error as ModbusTransactionError where error.kind == .exception(.illegalDataAddress) {
            return first
        }
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
