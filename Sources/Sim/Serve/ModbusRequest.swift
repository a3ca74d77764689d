import Devices

/// One Modbus request as a simulated device sees it, whatever carried it (libmodbus TCP or RTU, or in memory).
public enum ModbusRequest: Sendable, Equatable {
    case readCoils(address: Int, count: Int)
    case readDiscreteInputs(address: Int, count: Int)
    case readHoldingRegisters(address: Int, count: Int)
    case readInputRegisters(address: Int, count: Int)
    case writeCoil(address: Int, value: Bool)
    case writeRegister(address: Int, value: UInt16)
    case writeCoils(address: Int, values: [Bool])
    case writeRegisters(address: Int, values: [UInt16])
    /// FC 23: writes `values` from `writeAddress`, then reads `readCount` holding registers from `readAddress`, in one
    /// transaction (the write is applied before the read, Modbus application protocol v1.1b3 §6.17).
    case writeAndReadRegisters(writeAddress: Int, values: [UInt16], readAddress: Int, readCount: Int)

    /// Quantity limits of the Modbus application protocol (v1.1b3, §6).
    static let maxReadBits = 2000
    static let maxReadRegisters = 125
    static let maxWriteBits = 1968
    static let maxWriteRegisters = 123
    /// FC 23's write part (its read part may be 125).
    static let maxWriteReadWriteRegisters = 121

    /// Decodes a PDU (function code first) that libmodbus has already framed and checked.
    /// Unknown function codes are exception 01; malformed quantities or byte counts are exception 03.
    // Specialized (and exported) for the servers' slices of libmodbus's buffer: unspecialized, a request's decoding
    // went through generic witnesses and metadata lookups on every request.
    @_specialize(exported: true, where Bytes == ArraySlice<UInt8>)
    @_specialize(exported: true, where Bytes == [UInt8])
    public static func decode<Bytes: RandomAccessCollection<UInt8>>(pdu: Bytes) -> Result<ModbusRequest, ModbusException> {
        let bytes = Array(pdu)
        guard let function = bytes.first else { return .failure(.illegalFunction) }
        func word(_ i: Int) -> Int? { i + 1 < bytes.count ? Int(bytes[i]) << 8 | Int(bytes[i + 1]) : nil }
        guard let address = word(1), let second = word(3) else {
            return .failure([1, 2, 3, 4, 5, 6, 15, 16, 23].contains(function) ? .illegalDataValue : .illegalFunction)
        }
        switch function {
        case 0x01, 0x02:
            guard (1...maxReadBits).contains(second) else { return .failure(.illegalDataValue) }
            return .success(function == 0x01 ? .readCoils(address: address, count: second)
                : .readDiscreteInputs(address: address, count: second))
        case 0x03, 0x04:
            guard (1...maxReadRegisters).contains(second) else { return .failure(.illegalDataValue) }
            return .success(function == 0x03 ? .readHoldingRegisters(address: address, count: second)
                : .readInputRegisters(address: address, count: second))
        case 0x05:
            guard second == 0xFF00 || second == 0 else { return .failure(.illegalDataValue) }
            return .success(.writeCoil(address: address, value: second == 0xFF00))
        case 0x06:
            return .success(.writeRegister(address: address, value: UInt16(second)))
        case 0x0F:
            let count = second
            guard (1...maxWriteBits).contains(count), bytes.count > 5, Int(bytes[5]) == (count + 7) / 8,
                  bytes.count >= 6 + (count + 7) / 8 else { return .failure(.illegalDataValue) }
            let values = (0..<count).map { bytes[6 + $0 / 8] >> UInt8($0 % 8) & 1 == 1 }
            return .success(.writeCoils(address: address, values: values))
        case 0x10:
            let count = second
            guard (1...maxWriteRegisters).contains(count), bytes.count > 5, Int(bytes[5]) == 2 * count,
                  bytes.count >= 6 + 2 * count else { return .failure(.illegalDataValue) }
            let values = (0..<count).map { UInt16(bytes[6 + 2 * $0]) << 8 | UInt16(bytes[7 + 2 * $0]) }
            return .success(.writeRegisters(address: address, values: values))
        case 0x17:
            // Read address, read quantity, write address, write quantity, byte count, values.
            guard let writeAddress = word(5), let writeCount = word(7), (1...maxReadRegisters).contains(second),
                  (1...maxWriteReadWriteRegisters).contains(writeCount), bytes.count > 9,
                  Int(bytes[9]) == 2 * writeCount, bytes.count >= 10 + 2 * writeCount else {
                return .failure(.illegalDataValue)
            }
            let values = (0..<writeCount).map { UInt16(bytes[10 + 2 * $0]) << 8 | UInt16(bytes[11 + 2 * $0]) }
            return .success(.writeAndReadRegisters(writeAddress: writeAddress, values: values, readAddress: address,
                                                   readCount: second))
        default:
            return .failure(.illegalFunction)
        }
    }
}

/// A simulated device's answer.
public enum ModbusResponse: Sendable, Equatable {
    case bits([Bool])
    case registers([UInt16])
    /// A write was applied.
    case written
    case exception(ModbusException)
}

/// Anything that answers Modbus requests as a device would: the servers and the in-memory client talk to this.
public protocol ModbusDevice: AnyObject, Sendable {
    var kind: DeviceKind { get }
    /// The unit id the device answers to on a shared line (HR 0).
    var unitId: UInt8 { get }
    /// Device tick period, s: how often a server should call `advance` when idle.
    var tickPeriod: Double { get }
    /// Runs device ticks (plant, heartbeat, watchdog) up to `now`, seconds on the device's clock.
    func advance(to now: Double)
    /// Advances to `now`, then answers. Nil means silence: the device is offline and the caller must time out.
    func handle(_ request: ModbusRequest, now: Double) -> ModbusResponse?
    /// Seconds a server waits before sending each answer (an injected slow device); 0 normally.
    var answerDelay: Double { get }

    /// Whether anything is there to connect to: false for an offline device. Asks nothing of a device that sleeps.
    func isListening(now: Double) -> Bool
}

extension ModbusDevice {
    public var answerDelay: Double { 0 }

    public func isListening(now: Double) -> Bool {
        handle(.readInputRegisters(address: 0, count: 1), now: now) != nil
    }
}
