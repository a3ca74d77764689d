/// The quality word of a channel block.
public struct ChannelQuality: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let ok: ChannelQuality = []
    public static let notAvailable = ChannelQuality(rawValue: 0x01)
    public static let unreliable = ChannelQuality(rawValue: 0x02)
    public static let underRange = ChannelQuality(rawValue: 0x04)
    public static let overRange = ChannelQuality(rawValue: 0x08)
    public static let sensorFailure = ChannelQuality(rawValue: 0x80)

    public var description: String { rawValue == 0 ? "ok" : "0x" + String(rawValue, radix: 16) }
}

/// One channel as read from its block (value, quality).
///
/// - Important: A faulted reading is never a number. `value` is nil for NaN or infinite values, sensor failure
///   (0x80) and "not available"; callers must treat nil as a fault and drive their safe state.
public struct ChannelReading: Sendable, Hashable, CustomStringConvertible {
    /// The float as it came off the wire (may be NaN).
    public let raw: Float
    public let quality: ChannelQuality

    public init(raw: Float, quality: ChannelQuality) {
        self.raw = raw
        self.quality = quality
    }

    /// A good reading of `value`.
    public static func ok(_ value: Float) -> ChannelReading { ChannelReading(raw: value, quality: .ok) }
    /// What a lost sensor reads: NaN with quality 0x80.
    public static let lost = ChannelReading(raw: .nan, quality: .sensorFailure)
    /// What the host records for a channel the device does not have: NaN with quality 0x01.
    public static let notAvailable = ChannelReading(raw: .nan, quality: .notAvailable)

    /// True when the reading must not be used as a number.
    public var isFault: Bool {
        !raw.isFinite || quality.contains(.sensorFailure) || quality.contains(.notAvailable)
    }

    /// The value, or nil when the reading is a fault. Under/over-range and unreliable readings keep their value
    /// (they are real numbers at the edge of the range); consult `quality` to judge them.
    public var value: Double? { isFault ? nil : Double(raw) }

    public static func == (a: ChannelReading, b: ChannelReading) -> Bool {
        a.raw.bitPattern == b.raw.bitPattern && a.quality == b.quality
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(raw.bitPattern)
        hasher.combine(quality)
    }

    public var description: String { isFault ? "fault(\(quality))" : "\(raw)" }
}

/// A measured channel of a device kind: its index in the channel blocks and what it means.
public struct ChannelSpec: Sendable, Hashable {
    public let index: Int
    /// The snake_case name of docs/register-contract.md, used in configuration, reports and the API.
    public let name: String
    public let unit: String
    /// The instrument's range; report statistics are kept over it.
    public let range: ClosedRange<Double>

    public init(_ index: Int, _ name: String, unit: String, range: ClosedRange<Double>) {
        self.index = index
        self.name = name
        self.unit = unit
        self.range = range
    }

    /// IR address of the channel's value (its block's first register).
    public var address: Int { CommonRegisters.channelBase + CommonRegisters.channelStride * index }
}

/// Encodes and decodes the channel blocks at IR 100 + 4·i: value float32, quality u16, reserved u16.
public enum ChannelBlock {
    /// Decodes `count` consecutive channel blocks from registers that start at IR 100.
    public static func decode(_ registers: [UInt16], count: Int, order: WordOrder) -> [ChannelReading] {
        precondition(registers.count >= count * CommonRegisters.channelStride, "short channel block read")
        return (0..<count).map { i in
            let base = i * CommonRegisters.channelStride
            return ChannelReading(raw: RegisterCodec.float32(registers, at: base, order: order),
                                  quality: ChannelQuality(rawValue: registers[base + 2]))
        }
    }

    /// Encodes readings as consecutive channel blocks (the reserved word is 0).
    public static func encode(_ readings: [ChannelReading], order: WordOrder) -> [UInt16] {
        var out: [UInt16] = []
        out.reserveCapacity(readings.count * CommonRegisters.channelStride)
        for reading in readings {
            for offset in 0..<CommonRegisters.channelStride { out.append(word(offset, of: reading, order: order)) }
        }
        return out
    }

    /// Word `offset` (0–3) of a reading's block, as `encode` lays it out, without making an array.
    @inline(__always)
    public static func word(_ offset: Int, of reading: ChannelReading, order: WordOrder) -> UInt16 {
        switch offset {
        case 0, 1: RegisterCodec.word(offset, of: reading.raw, order: order)
        case 2: reading.quality.rawValue
        default: 0
        }
    }
}
