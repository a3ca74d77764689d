/// What one loop of a controller reads from its device on each of its ticks (docs/maps.md, "Read plans"). The rest of
/// the snapshot the loop is handed is as the loop that reads it last read it: every part of a snapshot must be read by
/// some loop, and a part no loop reads is read on every tick, as before.
public struct ReadNeeds: Sendable, Hashable, CustomStringConvertible {
    /// The header (IR 0–6): the device's status, E-stop and trip bits.
    public var header: Bool
    /// The channels, by index in the profile's channel order; nil: all of them.
    public var channels: Set<Int>?
    /// The outputs read back: the setpoints in holding registers and the coils.
    public var outputs: Bool
    /// The discrete inputs (E-stop, limit switches).
    public var inputs: Bool

    public init(header: Bool = false, channels: Set<Int>? = [], outputs: Bool = false, inputs: Bool = false) {
        self.header = header
        self.channels = channels
        self.outputs = outputs
        self.inputs = inputs
    }

    /// The whole snapshot on every tick: the default, and what a loop that declares nothing reads.
    public static let everything = ReadNeeds(header: true, channels: nil, outputs: true, inputs: true)

    /// `header, channels 0 1 2, inputs`.
    public var description: String {
        var parts: [String] = []
        if header { parts.append("header") }
        if let channels {
            if !channels.isEmpty { parts.append("channels " + channels.sorted().map(String.init).joined(separator: " ")) }
        } else {
            parts.append("all channels")
        }
        if outputs { parts.append("outputs") }
        if inputs { parts.append("inputs") }
        return parts.isEmpty ? "nothing" : parts.joined(separator: ", ")
    }
}

/// One span of rigd's register contract: a table and the addresses (or bits) in it.
public struct ContractSpan: Sendable, Hashable, CustomStringConvertible {
    public var table: DeviceMap.Table
    public var span: Range<Int>

    public init(_ table: DeviceMap.Table, _ span: Range<Int>) {
        self.table = table
        self.span = span
    }

    public var description: String { "\(table) \(span.lowerBound)…\(span.upperBound - 1)" }

    /// The spans a profile's snapshot reads from a device serving `channelCount` channels, in the order it reads
    /// them (found by running the read against a device that answers zeros).
    public static func snapshot<P: DeviceProfile>(of profile: P.Type, channelCount: Int) -> [ContractSpan] {
        let recorder = RecordingClient()
        _ = try? P.readSnapshot(from: recorder, order: .abcd, channelCount: channelCount)
        return recorder.spans
    }

    /// The part of `snapshot` (a profile's snapshot spans) that `needs` asks for: the header, the blocks of the
    /// channels it names, the outputs (holding registers and coils), the discrete inputs. An input register outside
    /// the header and the channel blocks is always kept.
    public static func select(_ needs: ReadNeeds, from snapshot: [ContractSpan]) -> [ContractSpan] {
        let base = CommonRegisters.channelBase, stride = CommonRegisters.channelStride
        var out: [ContractSpan] = []
        for s in snapshot {
            switch s.table {
            case .input where s.span.upperBound <= CommonRegisters.headerCount:
                if needs.header { out.append(s) }
            case .input where s.span.lowerBound >= base:
                guard let wanted = needs.channels else {
                    out.append(s)
                    continue
                }
                let first = (s.span.lowerBound - base) / stride, last = (s.span.upperBound - 1 - base) / stride
                for i in first...last where wanted.contains(i) {
                    let block = (base + stride * i)..<(base + stride * (i + 1))
                    out.append(ContractSpan(.input, block.clamped(to: s.span)))
                }
            case .input:
                out.append(s)
            case .holding, .coil:
                if needs.outputs { out.append(s) }
            case .discrete:
                if needs.inputs { out.append(s) }
            }
        }
        return out
    }
}

/// A client that reads a set of contract spans in as few requests as it can: a mapped device plans them in the map's
/// own registers (`MappedClient`). `SnapshotCache` asks it; a plain contract device is planned by the cache itself.
public protocol ContractPlanning: AnyObject {
    /// The requests that read `spans` (what goes on the wire).
    func contractPlan(_ spans: [ContractSpan]) -> ReadPlan
    /// Changes when the plans `contractPlan` made no longer hold (values found at start-up moved).
    var planGeneration: Int { get }
    /// Reads `spans` with `plan` (made by `contractPlan` for them): the contract's words of each span, in order
    /// (bits as 0 or 1).
    func readContract(_ spans: [ContractSpan], plan: ReadPlan) throws -> [[UInt16]]
    /// Runs `body`'s writes; a device that can may send its last write together with the first read of `next` (a plan
    /// `contractPlan` made), keeping that answer for the next `readContract` with `next` (FC 23).
    func combiningWrites(prefetching next: ReadPlan, _ body: () throws -> Void) throws
}

extension ContractPlanning {
    public func combiningWrites(prefetching next: ReadPlan, _ body: () throws -> Void) throws { try body() }
}

/// Answers zeros of the right size and remembers what was read: how `ContractSpan.snapshot` learns a profile's reads.
private final class RecordingClient: ModbusClient {
    var spans: [ContractSpan] = []
    var endpoint: String { "recording" }
    var isConnected: Bool { true }
    func connect() throws {}
    func close() {}
    func readInputRegisters(at address: Int, count: Int) throws -> [UInt16] {
        spans.append(ContractSpan(.input, address..<(address + count)))
        return Array(repeating: 0, count: count)
    }
    func readHoldingRegisters(at address: Int, count: Int) throws -> [UInt16] {
        spans.append(ContractSpan(.holding, address..<(address + count)))
        return Array(repeating: 0, count: count)
    }
    func readCoils(at address: Int, count: Int) throws -> [Bool] {
        spans.append(ContractSpan(.coil, address..<(address + count)))
        return Array(repeating: false, count: count)
    }
    func readDiscreteInputs(at address: Int, count: Int) throws -> [Bool] {
        spans.append(ContractSpan(.discrete, address..<(address + count)))
        return Array(repeating: false, count: count)
    }
    func writeRegister(at address: Int, value: UInt16) throws {}
    func writeRegisters(at address: Int, values: [UInt16]) throws {}
    func writeCoil(at address: Int, value: Bool) throws {}
    func writeCoils(at address: Int, values: [Bool]) throws {}
}
