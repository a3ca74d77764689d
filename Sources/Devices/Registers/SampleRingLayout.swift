/// Where a rig keeps its sample ring (docs/register-contract.md §C): a write index, the sample period, then `capacity`
/// float32s.
/// Sample n (counting from 0, as the write index does) sits at slot n mod capacity.
public struct SampleRingLayout: Sendable, Hashable {
    /// IR of the write index; the period follows, then the samples.
    public let base: Int
    public let capacity: Int
    public let periodMicroseconds: UInt32
    /// The channel the ring samples.
    public let channel: Int

    public init(base: Int, capacity: Int, periodMicroseconds: UInt32, channel: Int) {
        precondition(periodMicroseconds <= 0x7FFF || (periodMicroseconds % 1000 == 0
            && periodMicroseconds / 1000 <= 0x7FFF), "ring period not representable in IR 201")
        self.base = base
        self.capacity = capacity
        self.periodMicroseconds = periodMicroseconds
        self.channel = channel
    }

    /// IR 201 as the device reports it. The sheet gives the period in µs in a u16, which cannot hold the heat rig's
    /// 100 000 µs: periods up to 32 767 µs are stored as µs; longer ones as milliseconds with bit 15 set
    /// (100 ms reads 0x8064). See docs/devices/common.md.
    public var periodRegister: UInt16 {
        periodMicroseconds <= 0x7FFF ? UInt16(periodMicroseconds) : 0x8000 | UInt16(periodMicroseconds / 1000)
    }

    /// Decodes IR 201 into microseconds.
    public static func periodMicroseconds(fromRegister raw: UInt16) -> UInt32 {
        raw & 0x8000 == 0 ? UInt32(raw) : UInt32(raw & 0x7FFF) * 1000
    }

    /// Contract 1.01: the device's switch word again (as at IR 99), just below the write index, so that a loop that
    /// reads the ring reads the switches in the same request (docs/register-contract.md).
    public var switchWordAddress: Int { base - 1 }
    public var writeIndexAddress: Int { base }
    public var periodAddress: Int { base + 1 }
    public var samplesAddress: Int { base + 2 }
    /// IR count from `base` to the last sample register.
    public var registerCount: Int { 2 + 2 * capacity }
}
