import Dispatch

/// Reassembles a device's sample ring (docs/register-contract.md §C) into a gap-free stream of numbered samples.
///
/// Each `read` takes the write index, then only the slots written since the last read, in at most two block reads
/// per wrap, then — unless the time the read took proves the device cannot have reached them — the write index again:
/// samples the device may have overwritten while they were being read are dropped and counted as a gap, never passed
/// on. When more than `capacity` samples were written between two reads,
/// the oldest ones are gone: the chunk says how many, from which sample number. Nothing is ever filled in or skipped
/// silently. Sample numbers are absolute (the u16 write index unwrapped), so more than 65 535 samples between two
/// reads (65 s at 1 kHz) cannot be told from fewer; a reader that falls that far behind has bigger problems.
///
/// - Important: Not thread-safe; confined to the station that owns it.
public final class SampleRingReader {
    /// Samples that were lost: `count` samples from sample number `first`.
    public struct Gap: Sendable, Equatable, CustomStringConvertible {
        public let first: UInt64
        public let count: UInt64
        public var description: String { "\(count) sample(s) lost from #\(first)" }
    }

    /// What one read brought: samples numbered from `first`, and the gap before them, if any.
    public struct Chunk: Sendable, Equatable {
        public let first: UInt64
        public let samples: [Float]
        public let gap: Gap?
        /// Sample period, s, as the device reports it.
        public let period: Double
    }

    public let layout: SampleRingLayout
    /// The next sample number expected (nil before the first read).
    public private(set) var next: UInt64?
    public private(set) var received: UInt64 = 0
    public private(set) var lost: UInt64 = 0
    /// The most recent gaps, oldest first (at most `gapLimit`; `gapCount` counts them all).
    public private(set) var gaps: [Gap] = []
    public private(set) var gapCount = 0
    public let gapLimit = 1000
    private var lastIndex: UInt16?
    private var lastAbsolute: UInt64 = 0

    /// The largest block of floats one read transaction carries (125 registers).
    static let floatsPerRead = 62

    /// Seconds on a monotonic clock: how long a read took bounds what the device can have written meanwhile.
    private let clock: () -> Double

    public init(layout: SampleRingLayout,
                clock: @escaping () -> Double = { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }) {
        self.layout = layout
        self.clock = clock
    }

    /// Forgets the position (after a reconnect the device may have restarted its index).
    public func reset() {
        next = nil
        lastIndex = nil
    }

    /// Reads what was written since the last call. The first read returns what the ring holds.
    public func read(from client: any ModbusClient, order: WordOrder) throws -> Chunk {
        try read(from: client, order: order, switchWord: false).chunk
    }

    /// Reads what was written since the last call, and with `switchWord` (a contract 1.01 device: its switch word sits
    /// just below the ring, `SampleRingLayout.switchWordAddress`) the switches in the same request.
    ///
    /// Once the reader knows where it is, one request usually does: from the switch word (or the write index) up to
    /// the slot where the samples the last read brought, and half as many again, would end. When the index it brings
    /// says the device wrote no further, the new samples are all in it, read together with the index (so none can
    /// have been overwritten meanwhile); when it wrote further, or the slots needed cross the ring's end or the
    /// request would pass 125 registers, the rest is read as before.
    public func read(from client: any ModbusClient, order: WordOrder,
                     switchWord: Bool) throws -> (chunk: Chunk, switches: UInt16?) {
        let started = clock()
        let capacity = UInt64(layout.capacity)
        let lead = switchWord ? 1 : 0
        let first = layout.writeIndexAddress - lead
        let head: [UInt16]
        /// Slots 0..<slots came with the index.
        var prefetchedSlots = 0
        if let next, let slots = predictedSlots(after: next), case let count = layout.samplesAddress + 2 * slots - first,
           count <= 125 {
            head = try client.readInputRegisters(at: first, count: count)
            prefetchedSlots = slots
        } else {
            head = try client.readInputRegisters(at: first, count: 2 + lead)
        }
        let switches = switchWord ? head[0] : nil
        let period = Double(SampleRingLayout.periodMicroseconds(fromRegister: head[lead + 1])) / 1e6
        let end = unwrap(head[lead])
        let expected = next ?? (end - min(end, capacity))
        var from = max(expected, end >= capacity ? end - capacity : 0)
        var samples: [Float] = []
        samples.reserveCapacity(Int(end - min(from, end)))
        // The new samples the first request brought: every sample from `from` to `end` is among the last `capacity`
        // written, so the slot it goes to held it when the index was read.
        var n = from
        while n < end, Int(n % capacity) < prefetchedSlots {
            samples.append(RegisterCodec.float32(head, at: 2 + lead + 2 * Int(n % capacity), order: order))
            n += 1
        }
        if n == end {
            lastSlots = samples.count
            return (finish(from: from, expected: expected, samples: samples, period: period), switches)
        }
        samples += try readSlots(from: n, to: end, client: client, order: order)
        // Whatever the device wrote meanwhile may have overwritten the oldest slots just read. It writes one sample a
        // period: while twice what it can have written since the index was read (a device clock running fast), plus
        // one, cannot reach the oldest slot read, nothing was overwritten, and the index is not read again (one
        // request a read saved: the mill reads its ring 200 times a second).
        let elapsed = max(0, clock() - started)
        let mostWritten = period > 0 ? (2 * elapsed / period).rounded(.up) + 1 : .infinity
        let after: UInt64
        if mostWritten < Double(capacity), end + UInt64(mostWritten) <= from + capacity {
            after = end
        } else {
            after = unwrap(try client.readInputRegisters(at: layout.writeIndexAddress, count: 1)[0])
        }
        if after > from + capacity {
            let overwritten = Int(min(UInt64(samples.count), after - capacity - from))
            samples.removeFirst(overwritten)
            from += UInt64(overwritten)
        }
        lastSlots = samples.count
        return (finish(from: from, expected: expected, samples: samples, period: period), switches)
    }

    /// How many samples the last read brought: the next is expected to bring about as many.
    private var lastSlots = 0

    /// How many slots, from slot 0, a one-request read takes: up to where the samples after `next` should end (as
    /// many as last time, and half as many again, at least two more); nil when they would cross the ring's end.
    private func predictedSlots(after next: UInt64) -> Int? {
        let firstSlot = Int(next % UInt64(layout.capacity))
        let wanted = lastSlots + max(2, lastSlots / 2)
        guard lastSlots > 0, firstSlot + wanted <= layout.capacity else { return nil }
        return firstSlot + wanted
    }

    private func finish(from: UInt64, expected: UInt64, samples: [Float], period: Double) -> Chunk {
        var gap: Gap?
        if from > expected {
            gap = Gap(first: expected, count: from - expected)
            lost += from - expected
            gapCount += 1
            gaps.append(gap!)
            if gaps.count > gapLimit { gaps.removeFirst(gaps.count - gapLimit) }
        }
        next = from + UInt64(samples.count)
        received += UInt64(samples.count)
        return Chunk(first: from, samples: samples, gap: gap, period: period)
    }

    /// Absolute sample number of a write index, from the previous one.
    private func unwrap(_ index: UInt16) -> UInt64 {
        if let last = lastIndex {
            lastAbsolute += UInt64(index &- last)
        } else {
            lastAbsolute = UInt64(index)
        }
        lastIndex = index
        return lastAbsolute
    }

    /// Samples `from..<to` (at most `capacity` of them), in block reads that never cross the ring's end.
    private func readSlots(from: UInt64, to: UInt64, client: any ModbusClient, order: WordOrder) throws -> [Float] {
        var out: [Float] = []
        out.reserveCapacity(Int(to - from))
        var n = from
        while n < to {
            let slot = Int(n % UInt64(layout.capacity))
            let count = min(Int(to - n), layout.capacity - slot, Self.floatsPerRead)
            let registers = try client.readInputRegisters(at: layout.samplesAddress + 2 * slot, count: 2 * count)
            for i in 0..<count { out.append(RegisterCodec.float32(registers, at: 2 * i, order: order)) }
            n += UInt64(count)
        }
        return out
    }
}
