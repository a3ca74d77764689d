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

    /// The switch word just below the ring (a contract 1.01 device), if this device has one.
    var switchWord: UInt16?

    /// Any run of registers from the switch word (or the index) to the last slot, as one request answers them.
    func readInputRegisters(at address: Int, count: Int) throws -> [UInt16] {
        reads += 1
        #expect(count <= 125, "one read carries at most 125 registers")
        var out: [UInt16] = []
        var slotsRead = false
        for a in address..<(address + count) {
            switch a {
            case layout.switchWordAddress where switchWord != nil: out.append(switchWord!)
            case layout.writeIndexAddress: out.append(UInt16(truncatingIfNeeded: written))
            case layout.periodAddress: out.append(layout.periodRegister)
            case layout.samplesAddress..<(layout.samplesAddress + 2 * layout.capacity):
                let offset = a - layout.samplesAddress
                out.append(RegisterCodec.encode(slots[offset / 2], order: .abcd)[offset % 2])
                slotsRead = true
            default:
                Issue.record("IR \(a) is not in the ring: a block read must not run past the ring's end")
                out.append(0)
            }
        }
        if slotsRead { write(writesDuringRead) }
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

    /// Once the reader knows where it is, the index and about as many new slots as last time come in one request;
    /// whatever that request did not bring is read after it, and the index is read again only when the device could
    /// have reached the slots read meanwhile: a read that took long, or a full ring.
    @Test func theIndexIsReadAgainOnlyWhenTheDeviceCouldHaveOverwrittenTheSlots() throws {
        let device = FakeRingDevice()
        let time = Locked(0.0)
        let reader = SampleRingReader(layout: device.layout) { time.withLock { $0 } }
        device.write(10)
        _ = try reader.read(from: device, order: .abcd)
        #expect(device.reads == 2, "the first read: index, then the slots")
        device.write(5)
        device.reads = 0
        #expect(try reader.read(from: device, order: .abcd).samples == (10..<15).map { Float($0) })
        #expect(device.reads == 1, "index and slots 0…24 in one request (10 last time: up to 15 new expected)")
        // More than expected (5 last time: up to 7): the first request brings 7, the rest is read after it, and the
        // read was quick, so the index is not read again.
        device.write(20)
        device.reads = 0
        #expect(try reader.read(from: device, order: .abcd).samples == (15..<35).map { Float($0) })
        #expect(device.reads == 2, "index with slots 0…21, then slots 22…34")
        // The same, but the read took 40 ms on a 1 kHz ring: the device may have written 81 more.
        let slow = SlowClock(time: time, step: 0.04)
        let slowReader = SampleRingReader(layout: device.layout) { slow.now() }
        _ = try slowReader.read(from: device, order: .abcd)
        device.write(5)
        _ = try slowReader.read(from: device, order: .abcd)
        device.write(20)
        device.reads = 0
        #expect(try slowReader.read(from: device, order: .abcd).samples == (40..<60).map { Float($0) })
        #expect(device.reads == 3, "index with slots 0…46, slots 47…59, index again")
        // A full ring to read leaves no room at all: the index is read again however fast the read was.
        device.write(64)
        device.reads = 0
        _ = try reader.read(from: device, order: .abcd)
        #expect(device.reads == 4, "index, the slots in two blocks (they cross the ring's end), index again")
    }

    /// A contract 1.01 device keeps its switch word just below the ring: asked for, it comes in the same request as
    /// the index and the slots.
    @Test func theSwitchWordComesWithTheRing() throws {
        let device = FakeRingDevice()
        device.switchWord = 0b10
        let reader = SampleRingReader(layout: device.layout)
        device.write(10)
        #expect(try reader.read(from: device, order: .abcd, switchWord: true).switches == 0b10)
        device.write(5)
        device.switchWord = 0b01
        device.reads = 0
        let read = try reader.read(from: device, order: .abcd, switchWord: true)
        #expect(read.switches == 0b01 && read.chunk.samples == (10..<15).map { Float($0) })
        #expect(device.reads == 1, "switch word, index and slots in one request")
        #expect(try reader.read(from: device, order: .abcd, switchWord: false).switches == nil)
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
