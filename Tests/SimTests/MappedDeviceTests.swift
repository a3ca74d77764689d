import Devices
import Testing
@testable import Sim

/// A PLC-style heat rig (an example layout, not any vendor's): CDAB float and int16 × 0.1 temperatures in input
/// registers with status bits, ambient_temp_c not wired, setpoints in holding registers, an identity register, no
/// watchdog and no FC 16.
private func plcMap(maxWriteRegisters: Int = 0, watchdog: DeviceMap.Watchdog? = nil) -> DeviceMap {
    DeviceMap(
        kind: .heatRig, name: "test PLC heat rig", wordOrder: .cdab, maxReadRegisters: 20,
        maxWriteRegisters: maxWriteRegisters,
        identity: .init(field: .init(table: .holding, register: 100, type: .uint16), equals: 4711),
        channels: [
            .init(name: "block_temp_c", field: .init(table: .input, register: 0, type: .float32, order: .cdab)),
            .init(name: "mid_temp_c", field: .init(table: .input, register: 2, type: .int16, scale: 0.1),
                  quality: .init(table: .input, register: 10, bit: 0, badWhen: true)),
            .init(name: "end_temp_c", field: .init(table: .input, register: 3, type: .int16, scale: 0.1),
                  nanIf: [-32768], quality: .init(table: .input, register: 10, bit: 1, badWhen: true)),
            // Registers 4–9 are a gap; ambient_temp_c is not wired.
            .init(name: "fan_air_mps", field: .init(table: .input, register: 11, type: .uint16, scale: 0.01),
                  qualityWord: .init(table: .input, register: 12, type: .uint16)),
        ],
        commands: [
            .init(name: "heater_pct", field: .init(table: .holding, register: 0, type: .int16, scale: 0.1),
                  limits: 0...80),
            .init(name: "fan_pct", field: .init(table: .holding, register: 2, type: .float32, order: .cdab),
                  limits: 0...100),
            .init(name: "heater_enable", field: .init(table: .coil, register: 0, type: .bool), limits: 0...1),
            .init(name: "fan_enable", field: .init(table: .holding, register: 4, type: .bool, bit: 0), limits: 0...1),
        ],
        watchdog: watchdog)
}

private func mapped(_ map: DeviceMap = plcMap()) -> (MappedDevice, SimulatedDevice<HeatRigFirmware>) {
    let inner = makeHeatRig()
    return (MappedDevice(device: inner, map: map, layout: ContractLayout(HeatRigProfile.self)), inner)
}

private func words(_ r: ModbusResponse?) -> [UInt16] {
    guard case .registers(let v)? = r else {
        Issue.record("expected registers, got \(String(describing: r))")
        return []
    }
    return v
}

private func flags(_ r: ModbusResponse?) -> [Bool] {
    guard case .bits(let v)? = r else { Issue.record("expected bits, got \(String(describing: r))"); return [] }
    return v
}

/// The inner device's readings, as the contract serves them.
private func contractChannels(_ inner: SimulatedDevice<HeatRigFirmware>, now: Double) -> [ChannelReading] {
    ChannelBlock.decode(words(inner.handle(.readInputRegisters(address: 100, count: 24), now: now)), count: 6,
                        order: .abcd)
}

/// The inner device's float setpoint at HR `address`.
private func setpoint(_ inner: SimulatedDevice<HeatRigFirmware>, _ address: Int, now: Double) -> Float {
    RegisterCodec.float32(words(inner.handle(.readHoldingRegisters(address: address, count: 2), now: now)), at: 0,
                          order: .abcd)
}

@Suite struct MappedDeviceTests {
    @Test func channelsDecodeToTheInnerValuesThroughTypeOrderAndScale() {
        let (device, inner) = mapped()
        device.advance(to: 0)
        let raw = words(device.handle(.readInputRegisters(address: 0, count: 13), now: 2))
        let contract = contractChannels(inner, now: 2)
        #expect(raw.count == 13)
        // CDAB float32: low word first.
        #expect(RegisterCodec.float32(raw, at: 0, order: .cdab) == contract[0].raw)
        #expect(contract[0].value.map { (15...30).contains($0) } == true)
        // int16 × 0.1 and uint16 × 0.01, rounded to the type's resolution.
        #expect(abs(Double(Int16(bitPattern: raw[2])) * 0.1 - Double(contract[1].raw)) <= 0.05 + 1e-9)
        #expect(abs(Double(Int16(bitPattern: raw[3])) * 0.1 - Double(contract[2].raw)) <= 0.05 + 1e-9)
        #expect(abs(Double(raw[11]) * 0.01 - Double(contract[5].raw)) <= 0.005 + 1e-9)
        // The gap reads 0; both status bits say good; the quality word is the contract's.
        #expect(raw[4...9].allSatisfy { $0 == 0 })
        #expect(raw[10] == 0 && raw[12] == contract[5].quality.rawValue)
        // The contract device was put in ABCD (HR 2 = 0) by the wrapper.
        #expect(words(inner.handle(.readHoldingRegisters(address: 2, count: 1), now: 2)) == [0])
    }

    @Test func readsOutsideTheMappedRangeOrLongerThanTheMapAllowsAreException02() {
        let (device, _) = mapped()
        // ambient_temp_c would be the next value after fan_air's quality word: nothing is there.
        #expect(device.handle(.readInputRegisters(address: 13, count: 2), now: 0) == .exception(.illegalDataAddress))
        #expect(device.handle(.readInputRegisters(address: 12, count: 2), now: 0) == .exception(.illegalDataAddress))
        #expect(device.handle(.readInputRegisters(address: 100, count: 4), now: 0) == .exception(.illegalDataAddress))
        // max_read_registers = 20: 21 is refused even inside the holding range 0…100.
        #expect(device.handle(.readHoldingRegisters(address: 0, count: 21), now: 0) == .exception(.illegalDataAddress))
        #expect(words(device.handle(.readHoldingRegisters(address: 0, count: 20), now: 0)).count == 20)
        // No discrete inputs mapped at all; coils only coil 0.
        #expect(device.handle(.readDiscreteInputs(address: 0, count: 1), now: 0) == .exception(.illegalDataAddress))
        #expect(device.handle(.readCoils(address: 0, count: 2), now: 0) == .exception(.illegalDataAddress))
        #expect(flags(device.handle(.readCoils(address: 0, count: 1), now: 0)) == [false])
    }

    @Test func identityIsServed() {
        let (device, _) = mapped()
        #expect(words(device.handle(.readHoldingRegisters(address: 100, count: 1), now: 0)) == [4711])
        #expect(device.handle(.writeRegister(address: 100, value: 1), now: 0) == .exception(.illegalDataAddress))
    }

    @Test func fc16WithoutMaxWriteRegistersIsException01() {
        let (device, inner) = mapped()
        let request = ModbusRequest.writeRegisters(address: 0, values: [425])
        #expect(device.handle(request, now: 0) == .exception(.illegalFunction))
        #expect(setpoint(inner, 100, now: 0) == 0)
        // With FC 16, a longer write than the map allows is 02.
        let (limited, _) = mapped(plcMap(maxWriteRegisters: 2))
        #expect(limited.handle(.writeRegisters(address: 0, values: [425, 0, 0]), now: 0)
                == .exception(.illegalDataAddress))
    }

    @Test func setpointAndCoilWritesReachTheInnerDevice() {
        let (device, inner) = mapped()
        // heater_pct int16 × 0.1: raw 425 is 42.5 %.
        #expect(device.handle(.writeRegister(address: 0, value: 425), now: 0) == .written)
        #expect(setpoint(inner, 100, now: 0) == 42.5)
        #expect(words(device.handle(.readHoldingRegisters(address: 0, count: 1), now: 0)) == [425])
        // heater_enable on coil 0, fan_enable as bit 0 of holding 4.
        #expect(device.handle(.writeCoil(address: 0, value: true), now: 0) == .written)
        #expect(device.handle(.writeRegister(address: 4, value: 1), now: 0) == .written)
        #expect(flags(inner.handle(.readCoils(address: 0, count: 2), now: 0)) == [true, true])
        #expect(words(device.handle(.readHoldingRegisters(address: 4, count: 1), now: 0)) == [1])
        // A register no command holds (a gap) is 02.
        #expect(device.handle(.writeRegister(address: 5, value: 1), now: 0) == .exception(.illegalDataAddress))
    }

    @Test func withoutFC16AFloatIsWrittenHalfByHalf() {
        let (device, inner) = mapped()
        let half = RegisterCodec.encode(Float(55), order: .cdab)
        // The second half alone is refused; first then second is taken when the second arrives.
        #expect(device.handle(.writeRegister(address: 3, value: half[1]), now: 0) == .exception(.illegalDataAddress))
        #expect(device.handle(.writeRegister(address: 2, value: half[0]), now: 0) == .written)
        #expect(setpoint(inner, 102, now: 0) == 0)
        #expect(device.handle(.writeRegister(address: 3, value: half[1]), now: 0) == .written)
        #expect(setpoint(inner, 102, now: 0) == 55)
        // With FC 16 the device takes whole values only: half a float is 02, the whole one is written.
        let (whole, wholeInner) = mapped(plcMap(maxWriteRegisters: 10))
        #expect(whole.handle(.writeRegister(address: 2, value: half[0]), now: 0) == .exception(.illegalDataAddress))
        #expect(whole.handle(.writeRegisters(address: 2, values: half), now: 0) == .written)
        #expect(setpoint(wholeInner, 102, now: 0) == 55)
    }

    @Test func writesOutsideTheLimitsAreException03AndChangeNothing() {
        let (device, inner) = mapped(plcMap(maxWriteRegisters: 10))
        #expect(device.handle(.writeRegister(address: 0, value: 300), now: 0) == .written)
        // 85 % is within the contract's 0…100 but outside the map's 0…80.
        #expect(device.handle(.writeRegister(address: 0, value: 850), now: 0) == .exception(.illegalDataValue))
        #expect(device.handle(.writeRegister(address: 0, value: UInt16(bitPattern: -10)), now: 0)
                == .exception(.illegalDataValue))
        #expect(setpoint(inner, 100, now: 0) == 30)
        // All or nothing: a bad fan % with a good fan enable (bit 0 of holding 4) changes neither.
        let request = ModbusRequest.writeRegisters(address: 2, values: RegisterCodec.encode(Float(120), order: .cdab)
                                                   + [1])
        #expect(device.handle(request, now: 0) == .exception(.illegalDataValue))
        #expect(setpoint(inner, 102, now: 0) == 0)
        #expect(flags(inner.handle(.readCoils(address: 1, count: 1), now: 0)) == [false])
    }

    @Test func aLostChannelServesNanIfAndBadQuality() {
        let (device, inner) = mapped()
        inner.setChannelFault(.lost, channel: 2)  // end_temp_c
        inner.setChannelFault(.lost, channel: 5)  // fan_air_mps
        let raw = words(device.handle(.readInputRegisters(address: 0, count: 13), now: 1))
        #expect(raw[3] == 0x8000)  // nan_if = -32768
        #expect(raw[10] == 0b10)  // end_temp_c's bit bad, mid_temp_c's good: one register, both bits
        #expect(raw[11] == 0)  // no nan_if: an integer type serves 0…
        #expect(raw[12] == ChannelQuality.sensorFailure.rawValue)  // …and the quality word says why
        inner.setChannelFault(.lost, channel: 0)
        let block = words(device.handle(.readInputRegisters(address: 0, count: 2), now: 1))
        #expect(RegisterCodec.float32(block, at: 0, order: .cdab).isNaN)
    }

    @Test func withoutAMappedWatchdogTheInnerDeviceNeverTrips() {
        let (device, inner) = mapped()
        device.advance(to: 0)
        #expect(device.handle(.writeRegister(address: 0, value: 500), now: 0) == .written)
        device.advance(to: 30)
        #expect(!inner.status.contains(.watchdogTripped) && !inner.status.contains(.safeState))
        #expect(words(inner.handle(.readHoldingRegisters(address: 3, count: 1), now: 30)) == [0])
        #expect(setpoint(inner, 100, now: 30) == 50)
    }

    @Test func aMappedWatchdogDrivesTheInnerOne() {
        let watchdog = DeviceMap.Watchdog(
            timeout: .init(table: .holding, register: 20, type: .uint16), timeoutMs: 500,
            heartbeat: .init(table: .holding, register: 21, type: .uint32),
            reset: .init(table: .holding, register: 23, type: .uint16), resetValue: 1)
        let (device, inner) = mapped(plcMap(maxWriteRegisters: 10, watchdog: watchdog))
        device.advance(to: 0)
        #expect(device.handle(.writeRegister(address: 20, value: 500), now: 0) == .written)
        #expect(words(inner.handle(.readHoldingRegisters(address: 3, count: 1), now: 0)) == [500])
        #expect(words(device.handle(.readHoldingRegisters(address: 20, count: 1), now: 0)) == [500])
        // A 32-bit heartbeat whose low word stays put still feeds HR 4.
        for (i, high) in [UInt16(1), 2, 3, 4].enumerated() {
            #expect(device.handle(.writeRegisters(address: 21, values: [high, 7]), now: 0.3 * Double(i)) == .written)
        }
        #expect(!inner.status.contains(.watchdogTripped))
        device.advance(to: 2)
        #expect(inner.status.contains(.watchdogTripped))
        // Any other value than the reset value does nothing; the reset value clears the trip.
        #expect(device.handle(.writeRegister(address: 23, value: 2), now: 2) == .written)
        #expect(inner.status.contains(.watchdogTripped))
        #expect(device.handle(.writeRegister(address: 23, value: 1), now: 2) == .written)
        #expect(!inner.status.contains(.watchdogTripped))
    }

    @Test func anOfflineDeviceIsSilentAndInnerExceptionsPassThrough() {
        let (device, inner) = mapped()
        inner.setOffline(true)
        #expect(device.handle(.readInputRegisters(address: 0, count: 2), now: 0) == nil)
        #expect(device.handle(.writeRegister(address: 0, value: 100), now: 0) == nil)
        inner.setOffline(false)
        inner.setExceptionReplies(.serverDeviceFailure)
        #expect(device.handle(.readInputRegisters(address: 0, count: 2), now: 0) == .exception(.serverDeviceFailure))
        inner.setExceptionReplies(nil)
        // Set-up was retried once the device answered: HR 3 is 0.
        #expect(words(device.handle(.readInputRegisters(address: 0, count: 2), now: 0)).count == 2)
        #expect(words(inner.handle(.readHoldingRegisters(address: 3, count: 1), now: 0)) == [0])
    }

    @Test func theBuiltInLayoutServesTheContractsOwnRegisters() {
        // The contract written as a map (what maps/builtin/heat-rig.toml says) serves the contract device's registers.
        let layout = ContractLayout(HeatRigProfile.self)
        let channels = HeatRigProfile.channels.map { spec in
            DeviceMap.Channel(name: spec.name, field: .init(table: .input, register: spec.address, type: .float32),
                              qualityWord: .init(table: .input, register: spec.address + 2, type: .uint16))
        }
        let commands = HeatRigProfile.holdingSetpoints.map {
            DeviceMap.Command(name: $0.name, field: .init(table: .holding, register: $0.address, type: .float32),
                              limits: Double($0.limits.lowerBound)...Double($0.limits.upperBound))
        } + HeatRigProfile.coilNames.enumerated().map {
            DeviceMap.Command(name: $0.element, field: .init(table: .coil, register: $0.offset, type: .bool),
                              limits: 0...1)
        }
        let map = DeviceMap(kind: .heatRig, name: "contract", channels: channels, commands: commands)
        let inner = makeHeatRig()
        let device = MappedDevice(device: inner, map: map, layout: layout)
        device.advance(to: 0)
        #expect(device.handle(.writeRegisters(address: 100, values: RegisterCodec.encode(Float(12.5), order: .abcd)),
                              now: 0) == .written)
        let served = words(device.handle(.readInputRegisters(address: 100, count: 23), now: 1))
        let contract = words(inner.handle(.readInputRegisters(address: 100, count: 23), now: 1))
        // The reserved words read 0 in both.
        #expect(served == contract)
        #expect(words(device.handle(.readHoldingRegisters(address: 100, count: 4), now: 1))
                == words(inner.handle(.readHoldingRegisters(address: 100, count: 4), now: 1)))
    }
}
