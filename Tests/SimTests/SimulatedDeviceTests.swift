import Devices
import Testing
@testable import Sim
import SimServe
import DeviceTransports
import Locking

/// A heat rig with no noise drift, on a clock the test drives.
func makeHeatRig(seed: UInt64 = 7) -> SimulatedDevice<HeatRigFirmware> {
    SimulatedDevice(model: HeatRigFirmware(plant: HeatRigPlant(parameters: .standard, seed: seed)), serial: 4242)
}

private func registers(_ r: ModbusResponse?) -> [UInt16] {
    guard case .registers(let v)? = r else { Issue.record("expected registers, got \(String(describing: r))"); return [] }
    return v
}

private func bits(_ r: ModbusResponse?) -> [Bool] {
    guard case .bits(let v)? = r else { Issue.record("expected bits, got \(String(describing: r))"); return [] }
    return v
}

@Suite struct SimulatedDeviceTests {
    @Test func headerAndHeartbeat() {
        let device = makeHeatRig()
        device.advance(to: 0)
        let first = registers(device.handle(.readInputRegisters(address: 0, count: 7), now: 0.05))
        #expect(first[0] == 0x0C02 && first[1] == 101)
        #expect(RegisterCodec.uint32(first, at: 2) == 4242)
        let second = registers(device.handle(.readInputRegisters(address: 0, count: 7), now: 0.25))
        // One heartbeat per 10 ms device tick.
        #expect(second[6] &- first[6] == 20)
    }

    @Test func channelsArePlausibleAndWordOrderFollowsHR2() {
        let device = makeHeatRig()
        device.advance(to: 0)
        let abcd = registers(device.handle(.readInputRegisters(address: 100, count: 24), now: 1))
        let readings = ChannelBlock.decode(abcd, count: 6, order: .abcd)
        #expect((15...30).contains(readings[0].value ?? -1))
        #expect(device.handle(.writeRegister(address: 2, value: 1), now: 1) == .written)
        let cdab = registers(device.handle(.readInputRegisters(address: 100, count: 4), now: 1))
        #expect(cdab[0] == abcd[1] && cdab[1] == abcd[0])
        #expect(registers(device.handle(.readHoldingRegisters(address: 2, count: 1), now: 1)) == [1])
    }

    @Test func floatReadFromSecondWordIsException02() {
        let device = makeHeatRig()
        #expect(device.handle(.readInputRegisters(address: 101, count: 2), now: 0) == .exception(.illegalDataAddress))
        #expect(device.handle(.readHoldingRegisters(address: 101, count: 1), now: 0) == .exception(.illegalDataAddress))
        #expect(device.handle(.readInputRegisters(address: 203, count: 2), now: 0) == .exception(.illegalDataAddress))
        // The quality word and the ring's first sample start fine.
        #expect(registers(device.handle(.readInputRegisters(address: 102, count: 2), now: 0)).count == 2)
        #expect(registers(device.handle(.readInputRegisters(address: 202, count: 2), now: 0)).count == 2)
    }

    @Test func unmappedAddressesAreException02() {
        let device = makeHeatRig()
        #expect(device.handle(.readInputRegisters(address: 5, count: 3), now: 0) == .exception(.illegalDataAddress))
        #expect(device.handle(.readInputRegisters(address: 124, count: 1), now: 0) == .exception(.illegalDataAddress))
        #expect(device.handle(.readHoldingRegisters(address: 6, count: 1), now: 0) == .exception(.illegalDataAddress))
        #expect(device.handle(.readCoils(address: 1, count: 2), now: 0) == .exception(.illegalDataAddress))
        #expect(device.handle(.writeRegister(address: 1, value: 3), now: 0) == .exception(.illegalDataAddress))
    }

    @Test func outOfRangeWritesAreException03AndChangeNothing() {
        let device = makeHeatRig()
        let good = RegisterCodec.encode(Float(40), order: .abcd)
        #expect(device.handle(.writeRegisters(address: 100, values: good), now: 0) == .written)
        let before = registers(device.handle(.readHoldingRegisters(address: 0, count: 6), now: 0))
            + registers(device.handle(.readHoldingRegisters(address: 100, count: 4), now: 0))
        let bad: [ModbusRequest] = [
            .writeRegisters(address: 100, values: RegisterCodec.encode(Float(100.5), order: .abcd)),
            .writeRegisters(address: 100, values: RegisterCodec.encode(Float(-1), order: .abcd)),
            .writeRegisters(address: 100, values: RegisterCodec.encode(Float.nan, order: .abcd)),
            // A valid heater % with an invalid fan % in one request: all or nothing.
            .writeRegisters(address: 100, values: good + RegisterCodec.encode(Float(101), order: .abcd)),
            .writeRegister(address: 0, value: 0), .writeRegister(address: 0, value: 248),
            .writeRegister(address: 2, value: 2), .writeRegister(address: 3, value: 60_001),
            .writeRegister(address: 5, value: 0x5A),
        ]
        for request in bad {
            #expect(device.handle(request, now: 0) == .exception(.illegalDataValue), "\(request)")
        }
        let after = registers(device.handle(.readHoldingRegisters(address: 0, count: 6), now: 0))
            + registers(device.handle(.readHoldingRegisters(address: 100, count: 4), now: 0))
        #expect(after == before)
        #expect(RegisterCodec.float32(after, at: 6, order: .abcd) == 40)
    }

    @Test func partialFloatWritesAreException02() {
        let device = makeHeatRig()
        #expect(device.handle(.writeRegister(address: 100, value: 0x4220), now: 0) == .exception(.illegalDataAddress))
        #expect(device.handle(.writeRegister(address: 101, value: 0), now: 0) == .exception(.illegalDataAddress))
        #expect(device.handle(.writeRegisters(address: 101, values: [0, 0x4220, 0]), now: 0)
                == .exception(.illegalDataAddress))
    }

    @Test func watchdogTripsWithinTimeoutPlusOneTickAndRecovers() {
        let device = makeHeatRig()
        device.advance(to: 0)
        #expect(device.handle(.writeRegister(address: 3, value: 500), now: 0) == .written)
        #expect(device.handle(.writeCoils(address: 0, values: [true, false]), now: 0) == .written)
        _ = device.handle(.writeRegisters(address: 100, values: RegisterCodec.encode(Float(70), order: .abcd)
                                          + RegisterCodec.encode(Float(0), order: .abcd)), now: 0)
        // Heartbeats every 200 ms for 2 s keep it alive.
        var beat: UInt16 = 0
        var t = 0.0
        while t < 2.0 {
            beat += 1
            _ = device.handle(.writeRegister(address: 4, value: beat), now: t)
            t += 0.2
        }
        #expect(!device.status.contains(.watchdogTripped))
        let lastBeat = t - 0.2
        // Not yet tripped just before the timeout…
        device.advance(to: lastBeat + 0.49)
        #expect(!device.status.contains(.watchdogTripped))
        // …tripped within timeout + one device tick.
        device.advance(to: lastBeat + 0.5 + HeatRigFirmware.tickPeriod)
        #expect(device.status.isSuperset(of: [.watchdogTripped, .safeState]))
        // Safe state: heater off, fan on, in the image the host reads.
        #expect(bits(device.handle(.readCoils(address: 0, count: 2), now: 3)) == [false, true])
        let hr = registers(device.handle(.readHoldingRegisters(address: 100, count: 4), now: 3))
        #expect(RegisterCodec.float32(hr, at: 0, order: .abcd) == 0)
        #expect(RegisterCodec.float32(hr, at: 2, order: .abcd) == 100)
        #expect(device.withModel { $0.plant.heaterPowerW } == 0)
        // A host write of the heater while latched is stored but not acted on.
        _ = device.handle(.writeCoils(address: 0, values: [true, false]), now: 3)
        device.advance(to: 3.5)
        #expect(device.withModel { $0.plant.heaterPowerW } == 0)
        // The host resumes heartbeats and resets: it recovers.
        _ = device.handle(.writeRegister(address: 4, value: beat + 1), now: 4)
        #expect(device.handle(.writeRegister(address: 5, value: 0xA5), now: 4) == .written)
        #expect(!device.status.contains(.watchdogTripped) && !device.status.contains(.safeState))
        _ = device.handle(.writeRegister(address: 4, value: beat + 2), now: 4.2)
        device.advance(to: 4.4)
        #expect(!device.status.contains(.watchdogTripped))
    }

    @Test func unchangedHeartbeatValueDoesNotFeedTheWatchdog() {
        let device = makeHeatRig()
        device.advance(to: 0)
        _ = device.handle(.writeRegister(address: 3, value: 300), now: 0)
        for i in 0..<10 { _ = device.handle(.writeRegister(address: 4, value: 0), now: Double(i) * 0.1) }
        #expect(device.status.contains(.watchdogTripped))
    }

    @Test func watchdogOffWhenHR3IsZero() {
        let device = makeHeatRig()
        device.advance(to: 0)
        _ = device.handle(.writeRegister(address: 3, value: 0), now: 0)
        device.advance(to: 30)
        #expect(!device.status.contains(.watchdogTripped))
    }

    @Test func estopLatchesSafeStateUntilReleasedAndReset() {
        let device = makeHeatRig()
        device.advance(to: 0)
        device.setEstop(pressed: true)
        #expect(bits(device.handle(.readDiscreteInputs(address: 0, count: 2), now: 0.1)) == [false, false])
        #expect(device.status.isSuperset(of: [.estopPressed, .safeState]))
        _ = device.handle(.writeRegister(address: 5, value: 0xA5), now: 0.2)
        #expect(device.status.contains(.safeState))  // still pressed
        device.setEstop(pressed: false)
        #expect(device.status.contains(.safeState))  // latched
        _ = device.handle(.writeRegister(address: 4, value: 9), now: 0.3)
        _ = device.handle(.writeRegister(address: 5, value: 0xA5), now: 0.3)
        #expect(!device.status.contains(.safeState))
    }

    /// Contract 1.01: IR 99 holds the discrete inputs as one word (bit i = DI i), readable with the channel blocks;
    /// a kind without discrete inputs has no switch word.
    @Test func theSwitchWordMirrorsTheDiscreteInputs() {
        let device = makeHeatRig()
        device.advance(to: 0)
        let released = registers(device.handle(.readInputRegisters(address: 99, count: 5), now: 0.1))
        #expect(released.count == 5 && released[0] == 0b01, "E-stop OK, thermostat not tripped: \(released)")
        device.setEstop(pressed: true)
        #expect(registers(device.handle(.readInputRegisters(address: 99, count: 1), now: 0.2)) == [0])
        #expect(bits(device.handle(.readDiscreteInputs(address: 0, count: 2), now: 0.2)) == [false, false])
        #expect(device.handle(.readInputRegisters(address: 98, count: 2), now: 0.2) == .exception(.illegalDataAddress))
        let sonde = SimulatedDevice(model: AquaSondeFirmware(plant: PondPlant(parameters: .pond, seed: 1), seed: 1),
                                    serial: 1)
        #expect(sonde.handle(.readInputRegisters(address: 99, count: 1), now: 0) == .exception(.illegalDataAddress))
    }

    @Test func lostChannelReadsNaNWithQuality0x80() {
        let device = makeHeatRig()
        device.setChannelFault(.lost, channel: 0)
        let r = ChannelBlock.decode(registers(device.handle(.readInputRegisters(address: 100, count: 4), now: 0)),
                                    count: 1, order: .abcd)[0]
        #expect(r.raw.isNaN && r.quality == .sensorFailure && r.value == nil)
        #expect(device.status.contains(.sensorMalfunction))
        device.setChannelFault(nil, channel: 0)
        #expect(!device.status.contains(.sensorMalfunction))
    }

    @Test func ringKeepsLast64BlockSamplesAt10Hz() {
        let device = makeHeatRig()
        device.advance(to: 0)
        let regs = registers(device.handle(.readInputRegisters(address: 200, count: 2), now: 10))
        #expect(regs[0] == 100)  // 10 s at 10 Hz
        #expect(SampleRingLayout.periodMicroseconds(fromRegister: regs[1]) == 100_000)
        let samples = registers(device.handle(.readInputRegisters(address: 202, count: 120), now: 10))
            + registers(device.handle(.readInputRegisters(address: 322, count: 8), now: 10))
        let values = (0..<64).map { RegisterCodec.float32(samples, at: 2 * $0, order: .abcd) }
        #expect(values.allSatisfy { $0.isFinite && (10...40).contains($0) })
    }

    @Test func offlineDeviceIsSilent() {
        let device = makeHeatRig()
        device.setOffline(true)
        #expect(device.handle(.readInputRegisters(address: 0, count: 1), now: 0) == nil)
        device.setOffline(false)
        #expect(device.handle(.readInputRegisters(address: 0, count: 1), now: 0) != nil)
    }

    @Test func heaterFollowsCommandsAndDeterministicFromSeed() {
        func run(seed: UInt64) -> [UInt16] {
            let device = makeHeatRig(seed: seed)
            device.advance(to: 0)
            _ = device.handle(.writeRegister(address: 3, value: 0), now: 0)
            _ = device.handle(.writeRegisters(address: 100, values: RegisterCodec.encode(Float(50), order: .abcd)
                                              + RegisterCodec.encode(Float(0), order: .abcd)), now: 0)
            _ = device.handle(.writeCoil(address: 0, value: true), now: 0)
            return registers(device.handle(.readInputRegisters(address: 100, count: 24), now: 120))
        }
        let a = run(seed: 3)
        let readings = ChannelBlock.decode(a, count: 6, order: .abcd)
        #expect(readings[4].value == 50)  // 50 W
        #expect((readings[0].value ?? 0) > 30)  // heated well above ambient in 2 min
        #expect(run(seed: 3) == a)
        #expect(run(seed: 4) != a)
    }
}

@Suite struct ModbusRequestDecodingTests {
    @Test func decodesPDUs() throws {
        #expect(try ModbusRequest.decode(pdu: [0x04, 0x00, 0x64, 0x00, 0x18]).get()
                == .readInputRegisters(address: 100, count: 24))
        #expect(try ModbusRequest.decode(pdu: [0x05, 0x00, 0x01, 0xFF, 0x00]).get() == .writeCoil(address: 1, value: true))
        #expect(try ModbusRequest.decode(pdu: [0x0F, 0x00, 0x00, 0x00, 0x03, 0x01, 0b101]).get()
                == .writeCoils(address: 0, values: [true, false, true]))
        #expect(try ModbusRequest.decode(pdu: [0x10, 0x00, 0x64, 0x00, 0x02, 0x04, 0x42, 0x20, 0x00, 0x00]).get()
                == .writeRegisters(address: 100, values: [0x4220, 0]))
    }

    @Test func rejectsMalformed() {
        #expect(ModbusRequest.decode(pdu: [0x2B, 0, 0, 0, 0]) == .failure(.illegalFunction))
        #expect(ModbusRequest.decode(pdu: [0x03, 0, 0, 0, 126]) == .failure(.illegalDataValue))
        #expect(ModbusRequest.decode(pdu: [0x03, 0, 0, 0, 0]) == .failure(.illegalDataValue))
        #expect(ModbusRequest.decode(pdu: [0x05, 0, 0, 0x12, 0x34]) == .failure(.illegalDataValue))
        #expect(ModbusRequest.decode(pdu: [0x10, 0, 0, 0, 2, 3, 1, 2, 3]) == .failure(.illegalDataValue))
        #expect(ModbusRequest.decode(pdu: [0x03, 0]) == .failure(.illegalDataValue))
        #expect(ModbusRequest.decode(pdu: []) == .failure(.illegalFunction))
    }
}

/// Issue 18 item 2: a kind whose host sends no heartbeat (sonde, stream station) ships with its watchdog off, so it
/// never latches a safe state on its own; the stream station's autosampler then fills a bottle per trigger pulse.
@Suite struct UnfedWatchdogTests {
    @Test func aSondeWithoutHeartbeatsRaisesNoStatusBits() {
        let sonde = SimulatedDevice(model: AquaSondeFirmware(plant: PondPlant(parameters: .pond, seed: 1), seed: 1),
                                    serial: 1)
        sonde.advance(to: 0)
        #expect(registers(sonde.handle(.readHoldingRegisters(address: 3, count: 1), now: 0)) == [0])
        sonde.advance(to: 600)  // ten minutes without a heartbeat
        let header = DeviceHeader(registers: registers(sonde.handle(.readInputRegisters(address: 0, count: 7), now: 600)))
        #expect(header.status.isEmpty, "status \(header.status)")
    }

    @Test func theStreamStationsAutosamplerFillsABottlePerPulse() {
        let plant = StreamPlant(parameters: .standard, seed: 1, startDayOfYear: 0)
        let station = SimulatedDevice(model: StreamStationFirmware(plant: plant, seed: 1), serial: 1)
        station.advance(to: 0)
        #expect(registers(station.handle(.readHoldingRegisters(address: 3, count: 1), now: 0)) == [0])
        for minute in 1...3 {
            let t = Double(minute) * 600
            #expect(station.handle(.writeCoil(address: 0, value: true), now: t) == .written)
            station.advance(to: t + 60)
            #expect(station.handle(.writeCoil(address: 0, value: false), now: t + 60) == .written)
            station.advance(to: t + 120)
        }
        #expect(station.withModel { $0.bottles } == 3)
        let header = DeviceHeader(registers: registers(station.handle(.readInputRegisters(address: 0, count: 7),
                                                                      now: 1900)))
        #expect(!header.status.contains(.safeState) && !header.status.contains(.watchdogTripped))
    }
}
