import Testing
@testable import Devices
import DeviceTransports
import SimServe
import Locking

/// A device ring in memory: sample n has the value n, so the test can see exactly which samples came through.
final class FakeRingDevice: ModbusClient {
    let layout = SampleRingLayout(base: 200, capacity: 64, periodMicroseconds: 1000, channel: 1)
    var written: UInt64 = 0
    var slots = [Float](repeating: .nan, count: 64)
    /// Samples the device writes during each sample block read (a device running while the host reads).
    var writesDuringRead = 0
    var reads = 0
    let endpoint = "fake"
    var isConnected = true

    func write(_ count: Int) {
        for _ in 0..<count {
            slots[Int(written % 64)] = Float(written)
            written += 1
        }
    }

    func readInputRegisters(at address: Int, count: Int) throws -> [UInt16] {
        reads += 1
        if address == layout.base {
            return Array([UInt16(truncatingIfNeeded: written), layout.periodRegister].prefix(count))
        }
        let first = (address - layout.samplesAddress) / 2
        #expect(count <= 125, "one read carries at most 125 registers")
        #expect(first + count / 2 <= 64, "a block read must not run past the ring's end")
        let out = (first..<first + count / 2).flatMap { RegisterCodec.encode(slots[$0], order: .abcd) }
        write(writesDuringRead)
        return out
    }

    func connect() throws {}
    func close() {}
    func readHoldingRegisters(at address: Int, count: Int) throws -> [UInt16] { [] }
    func readCoils(at address: Int, count: Int) throws -> [Bool] { [] }
    func readDiscreteInputs(at address: Int, count: Int) throws -> [Bool] { [] }
    func writeRegister(at address: Int, value: UInt16) throws {}
    func writeRegisters(at address: Int, values: [UInt16]) throws {}
    func writeCoil(at address: Int, value: Bool) throws {}
    func writeCoils(at address: Int, values: [Bool]) throws {}
}

@Suite struct SampleRingReaderTests {
    @Test func readsAGapFreeStreamAcrossWrapsOfRingAndIndex() throws {
        let device = FakeRingDevice()
        device.written = 65_440  // the u16 index wraps during the test
        device.write(70)
        let reader = SampleRingReader(layout: device.layout)
        var stream: [Float] = []
        let first = try reader.read(from: device, order: .abcd)
        #expect(first.samples.count == 64 && first.first == 65_446, "the first read returns what the ring holds")
        stream += first.samples
        for step in [20, 1, 0, 63, 64, 37, 50] {
            device.write(step)
            let chunk = try reader.read(from: device, order: .abcd)
            #expect(chunk.gap == nil)
            #expect(chunk.samples.count == step)
            stream += chunk.samples
        }
        // Every sample once, in order, across the ring's end and the index's wrap at 65 536.
        #expect(stream == (65_446..<65_446 + UInt64(stream.count)).map { Float($0) })
        #expect(reader.lost == 0 && reader.gapCount == 0)
        #expect(first.period == 0.001)
    }

    @Test func readingTooSlowlyReportsTheGapWithItsPosition() throws {
        let device = FakeRingDevice()
        let reader = SampleRingReader(layout: device.layout)
        device.write(10)
        _ = try reader.read(from: device, order: .abcd)
        device.write(100)  // 36 more than the ring holds
        let chunk = try reader.read(from: device, order: .abcd)
        #expect(chunk.gap == SampleRingReader.Gap(first: 10, count: 36))
        #expect(chunk.first == 46 && chunk.samples.first == 46 && chunk.samples.count == 64)
        #expect(reader.lost == 36 && reader.gaps == [SampleRingReader.Gap(first: 10, count: 36)])
        #expect(reader.next == 110)
    }

    @Test func samplesOverwrittenDuringTheReadAreDroppedNotPassedOn() throws {
        let device = FakeRingDevice()
        let reader = SampleRingReader(layout: device.layout)
        device.write(64)
        _ = try reader.read(from: device, order: .abcd)
        device.write(64)  // a full ring to read: slots 0…63 hold samples 64…127
        device.writesDuringRead = 5  // each of the two block reads lets the device write 5 more
        let chunk = try reader.read(from: device, order: .abcd)
        // Everything handed on is the sample its number says, and what was lost is counted.
        for (i, value) in chunk.samples.enumerated() { #expect(value == Float(chunk.first + UInt64(i))) }
        #expect(chunk.first + UInt64(chunk.samples.count) == 128)
        #expect(chunk.gap.map { $0.first == 64 && $0.count == chunk.first - 64 } == true)
        #expect(reader.lost + reader.received == 128)
    }

    /// The index is read again only when the device could have reached the slots read meanwhile: a few new samples
    /// read quickly take two requests; a full ring, or a read that took long, takes three.
    @Test func theIndexIsReadAgainOnlyWhenTheDeviceCouldHaveOverwrittenTheSlots() throws {
        let device = FakeRingDevice()
        let time = Locked(0.0)
        let reader = SampleRingReader(layout: device.layout) { time.withLock { $0 } }
        device.write(10)
        _ = try reader.read(from: device, order: .abcd)
        device.write(5)
        device.reads = 0
        #expect(try reader.read(from: device, order: .abcd).samples.count == 5)
        #expect(device.reads == 2, "index, then the five slots")
        // The same five new samples, but the read took 40 ms on a 1 kHz ring: the device may have written 81 more.
        device.write(5)
        device.reads = 0
        let slow = SlowClock(time: time, step: 0.04)
        let slowReader = SampleRingReader(layout: device.layout) { slow.now() }
        _ = try slowReader.read(from: device, order: .abcd)
        device.write(5)
        device.reads = 0
        _ = try slowReader.read(from: device, order: .abcd)
        #expect(device.reads == 3, "index, slots, index again")
        // A full ring to read leaves no room at all: the index is read again however fast the read was.
        device.write(64)
        device.reads = 0
        _ = try reader.read(from: device, order: .abcd)
        #expect(device.reads == 4, "index, the slots in two blocks (they cross the ring's end), index again")
    }
}

/// A clock that moves `step` seconds each time it is read.
private final class SlowClock: @unchecked Sendable {
    let time: Locked<Double>
    let step: Double
    init(time: Locked<Double>, step: Double) {
        self.time = time
        self.step = step
    }
    func now() -> Double { time.withLock { $0 += step; return $0 } }
}
