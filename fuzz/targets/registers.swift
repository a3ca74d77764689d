// libFuzzer target: the register codec and the profile decoders of Sources/Devices (float word orders, u32, bits,
// channel blocks and their quality, the device header and status bits, the sample-ring reader's chunks, and every
// profile's snapshot decode). The input is a little program: an opcode byte, then the words that op decodes.
// Decoding must never trap on any words, and what it decodes must keep the contract's invariants (a faulted
// reading is never a number; encode/decode round-trips bit for bit; ring chunks are contiguous, gaps counted).
import Devices

/// A device that answers every read with words from the fuzzer's input (exactly as many as asked, as libmodbus
/// guarantees), and can fail any call with a link or transaction error.
final class FuzzClient: ModbusClient {
    var input: FuzzInput
    init(_ input: FuzzInput) { self.input = input }

    var endpoint: String { "fuzz" }
    var isConnected: Bool { true }
    func connect() throws {}
    func close() {}

    private func maybeFail(_ operation: String) throws {
        switch input.byte() {
        case 0xFE: throw ModbusLinkError(endpoint: endpoint, operation: operation, errno: 104)
        case 0xFF: throw ModbusTransactionError(endpoint: endpoint, operation: operation,
                                                kind: .exception(.illegalDataAddress))
        default: break
        }
    }

    func readInputRegisters(at address: Int, count: Int) throws -> [UInt16] {
        try maybeFail("read input registers")
        return input.registers(count)
    }
    func readHoldingRegisters(at address: Int, count: Int) throws -> [UInt16] {
        try maybeFail("read holding registers")
        return input.registers(count)
    }
    func readCoils(at address: Int, count: Int) throws -> [Bool] {
        try maybeFail("read coils")
        return (0..<count).map { _ in input.bool() }
    }
    func readDiscreteInputs(at address: Int, count: Int) throws -> [Bool] {
        try maybeFail("read discrete inputs")
        return (0..<count).map { _ in input.bool() }
    }
    func writeRegister(at address: Int, value: UInt16) throws { try maybeFail("write register") }
    func writeRegisters(at address: Int, values: [UInt16]) throws { try maybeFail("write registers") }
    func writeCoil(at address: Int, value: Bool) throws { try maybeFail("write coil") }
    func writeCoils(at address: Int, values: [Bool]) throws { try maybeFail("write coils") }
}

func checkReading(_ r: ChannelReading) {
    if let v = r.value {
        fuzzCheck(v.isFinite && !r.isFault, "a faulted reading has a value: \(r.raw) q=\(r.quality)")
        fuzzCheck(!r.quality.contains(.sensorFailure) && !r.quality.contains(.notAvailable), "quality \(r.quality)")
    } else {
        fuzzCheck(r.isFault, "a good reading has no value")
    }
    _ = r.description
}

func checkSnapshot<S: DeviceSnapshot>(_ s: S, channels: Int) {
    fuzzCheck(s.channels.count == channels, "snapshot has \(s.channels.count) channels, expected \(channels)")
    s.channels.forEach(checkReading)
    _ = s.header.status.description
    fuzzCheck(DeviceHeader(registers: s.header.registers) == s.header, "header round trip")
}

func snapshot<P: DeviceProfile>(_ profile: P.Type, _ input: inout FuzzInput, order: WordOrder) {
    let client = FuzzClient(input)
    do {
        let s = try P.readSnapshot(from: client, order: order)
        checkSnapshot(s, channels: P.channels.count)
        _ = String(describing: s)
    } catch is ModbusLinkError {
    } catch is ModbusTransactionError {
    } catch {
        fuzzCheck(false, "readSnapshot threw an untyped error: \(error)")
    }
    input = client.input
}

func ringReads(_ input: inout FuzzInput, order: WordOrder) {
    let layouts = [HeatRigProfile.ring, MillProfile.ring, MassSpringDamperProfile.ring,
                   SampleRingLayout(base: 200, capacity: Int(input.byte() % 80) + 1, periodMicroseconds: 1000,
                                    channel: 0)]
    let layout = layouts[Int(input.byte()) % layouts.count]
    let reader = SampleRingReader(layout: layout)
    let client = FuzzClient(input)
    var expected: UInt64?
    for _ in 0..<Int(client.input.byte() % 8) + 1 {
        if client.input.byte() == 0x5A { reader.reset(); expected = nil }
        let lostBefore = reader.lost, receivedBefore = reader.received
        do {
            let chunk = try reader.read(from: client, order: order)
            fuzzCheck(chunk.samples.count <= layout.capacity, "chunk of \(chunk.samples.count) > capacity")
            fuzzCheck(chunk.period >= 0 && chunk.period.isFinite, "period \(chunk.period)")
            if let e = expected {
                if let gap = chunk.gap {
                    fuzzCheck(gap.first == e && chunk.first == e + gap.count, "gap \(gap) does not join \(e)")
                } else {
                    fuzzCheck(chunk.first == e, "chunk from \(chunk.first), expected \(e)")
                }
            }
            fuzzCheck(reader.received == receivedBefore + UInt64(chunk.samples.count), "received count")
            fuzzCheck(reader.lost == lostBefore + (chunk.gap?.count ?? 0), "lost count")
            fuzzCheck(reader.next == chunk.first + UInt64(chunk.samples.count), "next")
            fuzzCheck(reader.gaps.count <= reader.gapLimit, "gaps")
            expected = reader.next
        } catch is ModbusLinkError {
            reader.reset()
            expected = nil
        } catch is ModbusTransactionError {
            // A failed read leaves the position where it was only if nothing was taken; be lenient.
            expected = reader.next
        } catch {
            fuzzCheck(false, "ring read threw an untyped error: \(error)")
        }
    }
    input = client.input
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    while !input.isEmpty {
        let op = input.byte()
        let order: WordOrder = op & 0x80 == 0 ? .abcd : .cdab
        switch (op & 0x7F) % 16 {
        case 0:  // float32 in both word orders, from an arbitrary array at an arbitrary valid index
            let words = input.registers(Int(input.byte() % 16) + 2)
            let index = Int(input.byte()) % (words.count - 1)
            let f = RegisterCodec.float32(words, at: index, order: order)
            let g = RegisterCodec.float32(words[index...], at: index, order: order == .abcd ? .cdab : .abcd)
            let back = RegisterCodec.encode(f, order: order)
            fuzzCheck(back == Array(words[index...index + 1]), "float32 round trip \(words[index...index + 1])")
            fuzzCheck(RegisterCodec.encode(g, order: order == .abcd ? .cdab : .abcd) == back, "cross order")
        case 1:  // u32
            let words = input.registers(2)
            let v = RegisterCodec.uint32(words, at: 0)
            fuzzCheck(RegisterCodec.encode(v) == words, "u32 round trip")
        case 2:  // bits
            let w16 = input.u16(), w32 = input.u32(), bit = Int(input.byte())
            let v = input.bool()
            let b16 = bit % 16, b32 = bit % 32
            let s16 = RegisterCodec.setting(w16, bit: b16, to: v)
            fuzzCheck(RegisterCodec.bit(s16, b16) == v, "bit \(b16) of \(s16)")
            fuzzCheck(RegisterCodec.setting(s16, bit: b16, to: RegisterCodec.bit(w16, b16)) == w16, "setting undo")
            let s32 = RegisterCodec.setting(w32, bit: b32, to: v)
            fuzzCheck(RegisterCodec.bit(s32, b32) == v, "bit \(b32) of \(s32)")
        case 3:  // channel blocks
            let count = Int(input.byte() % 20)
            let words = input.registers(count * CommonRegisters.channelStride + Int(input.byte() % 4))
            let readings = ChannelBlock.decode(words, count: count, order: order)
            fuzzCheck(readings.count == count, "channel count")
            readings.forEach(checkReading)
            let again = ChannelBlock.decode(ChannelBlock.encode(readings, order: order), count: count, order: order)
            fuzzCheck(again == readings, "channel block round trip")
        case 4:  // header and status bits
            let words = input.registers(DeviceHeader.registerCount + Int(input.byte() % 3))
            let header = DeviceHeader(registers: words)
            fuzzCheck(header.registers == Array(words.prefix(DeviceHeader.registerCount)), "header round trip")
            let names = header.status.names
            fuzzCheck(names.count <= 9 && Set(names).count == names.count, "status names \(names)")
            _ = header.status.description
            _ = ChannelQuality(rawValue: input.u16()).description
        case 5:  // the ring's period register
            let raw = input.u16()
            let us = SampleRingLayout.periodMicroseconds(fromRegister: raw)
            if raw & 0x8000 != 0 && raw & 0x7FFF > 0x7FFF / 1000 {
                let layout = SampleRingLayout(base: 200, capacity: 1, periodMicroseconds: us, channel: 0)
                fuzzCheck(SampleRingLayout.periodMicroseconds(fromRegister: layout.periodRegister) == us,
                          "period register round trip \(raw)")
            } else if raw & 0x8000 == 0 {
                let layout = SampleRingLayout(base: 200, capacity: 1, periodMicroseconds: us, channel: 0)
                fuzzCheck(layout.periodRegister == raw, "period register \(raw)")
            }
        case 6: ringReads(&input, order: order)
        case 7: snapshot(ExtractionProfile.self, &input, order: order)
        case 8: snapshot(AquaSondeProfile.self, &input, order: order)
        case 9: snapshot(MillProfile.self, &input, order: order)
        case 10: snapshot(HeatRigProfile.self, &input, order: order)
        case 11: snapshot(MassSpringDamperProfile.self, &input, order: order)
        case 12: snapshot(StreamStationProfile.self, &input, order: order)
        case 13:  // word order register and device type
            _ = WordOrder(rawValue: input.u16())?.description
            _ = DeviceKind("fuzz", deviceType: input.u16()).description
            let client = FuzzClient(input)
            _ = try? client.readWordOrder()
            _ = try? client.readHeader()
            input = client.input
        case 14:  // float register limits
            let f = input.float()
            for register in ExtractionProfile.holdingFloats + HeatRigProfile.holdingFloats + MillProfile.holdingFloats
                + MassSpringDamperProfile.holdingFloats where register.accepts(f) {
                fuzzCheck(f.isFinite && register.limits.contains(f), "\(register.name) accepted \(f)")
            }
        default:  // aquaculture chemistry on decoded floats
            let t = Double(input.float()), s = Double(input.float()), ph = Double(input.float())
            _ = AquaChemistry.oxygenSaturationMgL(tempC: t, salinityPpt: s)
            let fraction = AquaChemistry.unionisedAmmoniaFraction(pH: ph, tempC: t)
            if t.isFinite && ph.isFinite && abs(t) < 1000 && abs(ph) < 1000 {
                fuzzCheck(fraction.isNaN || (0...1).contains(fraction), "NH3 fraction \(fraction)")
            }
        }
    }
    return 0
}
