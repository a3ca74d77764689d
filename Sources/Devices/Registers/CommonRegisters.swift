/// The header every device carries (docs/register-contract.md §0). Addresses are 0-based PDU offsets, as libmodbus
/// takes them.
///
/// - Important: Modicon numbers are offset + 30001 (input) and + 40001 (holding); never mix the two.
public enum CommonRegisters {
    // Input registers.
    public static let deviceType = 0
    public static let profileVersion = 1
    public static let serialNumber = 2       // u32, IR 2–3
    public static let status = 4             // u32, IR 4–5
    public static let heartbeat = 6
    /// IR 0…6.
    public static let headerCount = 7
    /// IR 99: the discrete inputs as one word, bit i = DI i (contract 1.01): just below the channel blocks, so a host
    /// reads the switches and the channels it needs in one request. A 1.00 device answers 02 here.
    public static let switchWord = 99
    /// The profile version (IR 1) from which a device serves `switchWord`.
    public static let switchWordVersion: UInt16 = 101

    // Holding registers.
    public static let unitId = 0
    /// HR 1 is reserved: it reads 0 and refuses writes.
    public static let reserved = 1
    public static let wordOrder = 2
    public static let watchdogTimeoutMs = 3
    public static let hostHeartbeat = 4
    public static let command = 5
    /// HR 0…5.
    public static let holdingCount = 6

    /// HR 5 value that resets latched faults.
    public static let resetFaultsCommand: UInt16 = 0xA5
    /// The profile version this sheet describes, × 100.
    public static let sheetVersion: UInt16 = 101
    /// Default HR 3 (ms).
    public static let defaultWatchdogMs: UInt16 = 2000
    /// Allowed HR 3 values: 0 (off) up to one minute.
    public static let watchdogLimits: ClosedRange<UInt16> = 0...60_000
    /// Allowed HR 0 values.
    public static let unitIdLimits: ClosedRange<UInt16> = 1...247

    /// First channel block (IR 100) and the registers per channel.
    public static let channelBase = 100
    public static let channelStride = 4
}

/// IR 4–5, the device's status word.
public struct StatusBits: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let highAlarm = StatusBits(rawValue: 1 << 0)
    public static let highWarning = StatusBits(rawValue: 1 << 1)
    public static let lowWarning = StatusBits(rawValue: 1 << 2)
    public static let lowAlarm = StatusBits(rawValue: 1 << 3)
    public static let sensorMalfunction = StatusBits(rawValue: 1 << 5)
    public static let interlockActive = StatusBits(rawValue: 1 << 16)
    public static let estopPressed = StatusBits(rawValue: 1 << 17)
    public static let watchdogTripped = StatusBits(rawValue: 1 << 18)
    public static let safeState = StatusBits(rawValue: 1 << 19)

    private static let names: [(StatusBits, String)] = [
        (.highAlarm, "high_alarm"), (.highWarning, "high_warning"), (.lowWarning, "low_warning"),
        (.lowAlarm, "low_alarm"), (.sensorMalfunction, "sensor_malfunction"), (.interlockActive, "interlock"),
        (.estopPressed, "estop"), (.watchdogTripped, "watchdog_tripped"), (.safeState, "safe_state"),
    ]

    /// The names of the bits that are set, for logs and reports.
    public var names: [String] { Self.names.filter { contains($0.0) }.map(\.1) }
    public var description: String { names.isEmpty ? "ok" : names.joined(separator: ",") }
}

/// IR 0…6 decoded.
public struct DeviceHeader: Sendable, Equatable {
    public var deviceType: UInt16
    public var profileVersion: UInt16
    public var serialNumber: UInt32
    public var status: StatusBits
    public var heartbeat: UInt16

    public init(deviceType: UInt16, profileVersion: UInt16, serialNumber: UInt32, status: StatusBits,
                heartbeat: UInt16) {
        self.deviceType = deviceType
        self.profileVersion = profileVersion
        self.serialNumber = serialNumber
        self.status = status
        self.heartbeat = heartbeat
    }

    /// Decodes IR 0…6; `registers` must hold at least seven values starting at IR 0.
    public init(registers: [UInt16]) {
        precondition(registers.count >= CommonRegisters.headerCount, "a header is 7 registers")
        deviceType = registers[CommonRegisters.deviceType]
        profileVersion = registers[CommonRegisters.profileVersion]
        serialNumber = RegisterCodec.uint32(registers, at: CommonRegisters.serialNumber)
        status = StatusBits(rawValue: RegisterCodec.uint32(registers, at: CommonRegisters.status))
        heartbeat = registers[CommonRegisters.heartbeat]
    }

    /// IR 0…6: seven registers.
    public static let registerCount = 7

    /// The header as IR 0…6.
    public var registers: [UInt16] {
        [deviceType, profileVersion] + RegisterCodec.encode(serialNumber) + RegisterCodec.encode(status.rawValue)
            + [heartbeat]
    }
}
