import Testing
@testable import Devices
import DeviceTransports
import SimServe
import Locking

@Suite struct RegisterCodecTests {
    @Test func float32WordOrders() {
        // 1.0f = 0x3F800000; 123.456f = 0x42F6E979.
        #expect(RegisterCodec.encode(1.0, order: .abcd) == [0x3F80, 0x0000])
        #expect(RegisterCodec.encode(1.0, order: .cdab) == [0x0000, 0x3F80])
        #expect(RegisterCodec.encode(123.456, order: .abcd) == [0x42F6, 0xE979])
        #expect(RegisterCodec.encode(123.456, order: .cdab) == [0xE979, 0x42F6])
        #expect(RegisterCodec.float32([0x42F6, 0xE979], at: 0, order: .abcd) == 123.456)
        #expect(RegisterCodec.float32([0xE979, 0x42F6], at: 0, order: .cdab) == 123.456)
        // Decoding with the wrong order gives a different number: the classic bug is visible.
        #expect(RegisterCodec.float32([0xE979, 0x42F6], at: 0, order: .abcd) != 123.456)
    }

    @Test func float32RoundTripsInBatches() {
        let values: [Float] = [0, -0.0, 1e-38, -273.15, 3.4e38, .infinity, -.infinity, 60.25, 0.1]
        for order in WordOrder.allCases {
            let registers = values.flatMap { RegisterCodec.encode($0, order: order) }
            for (i, value) in values.enumerated() {
                #expect(RegisterCodec.float32(registers, at: 2 * i, order: order).bitPattern == value.bitPattern)
            }
        }
        let nan = RegisterCodec.float32(RegisterCodec.encode(.nan, order: .cdab), at: 0, order: .cdab)
        #expect(nan.isNaN)
    }

    @Test func uint32IsHighWordFirst() {
        #expect(RegisterCodec.encode(UInt32(0x0102_0304)) == [0x0102, 0x0304])
        #expect(RegisterCodec.uint32([0xDEAD, 0xBEEF], at: 0) == 0xDEAD_BEEF)
        #expect(RegisterCodec.uint32([0, 0xDEAD, 0xBEEF], at: 1) == 0xDEAD_BEEF)
    }

    @Test func bits() {
        let word: UInt32 = 1 << 18 | 1 << 19 | 1
        #expect(RegisterCodec.bit(word, 0))
        #expect(!RegisterCodec.bit(word, 1))
        #expect(RegisterCodec.bit(word, 18) && RegisterCodec.bit(word, 19))
        #expect(RegisterCodec.setting(word, bit: 18, to: false) == 1 << 19 | 1)
        #expect(RegisterCodec.setting(UInt16(0), bit: 15, to: true) == 0x8000)
        let status = StatusBits(rawValue: word)
        #expect(status.contains(.watchdogTripped) && status.contains(.safeState) && status.contains(.highAlarm))
        #expect(status.names == ["high_alarm", "watchdog_tripped", "safe_state"])
    }

    @Test func headerRoundTrip() {
        let header = DeviceHeader(deviceType: 0x0C02, profileVersion: 100, serialNumber: 12_345_678,
                                  status: [.safeState, .estopPressed], heartbeat: 65535)
        let registers = header.registers
        #expect(registers.count == 7)
        #expect(registers[0] == 3074)
        #expect(registers[4] == 0x000A && registers[5] == 0x0000)  // bits 17, 19 → high word 0x000A
        #expect(DeviceHeader(registers: registers) == header)
        #expect(header.deviceType == DeviceKind.heatRig.deviceType)
    }

    @Test func deviceTypes() {
        #expect(DeviceKind.heatRig.deviceType == 0x0C02)
        #expect(DeviceKind.extraction.deviceType == 0x0A01)
        #expect(DeviceKind.streamStation.deviceType == 0x0D01)
    }

    @Test func ringPeriodRegister() {
        let fast = SampleRingLayout(base: 200, capacity: 64, periodMicroseconds: 1000, channel: 0)
        #expect(fast.periodRegister == 1000)
        #expect(HeatRigProfile.ring.periodRegister == 0x8064)
        #expect(SampleRingLayout.periodMicroseconds(fromRegister: 0x8064) == 100_000)
        #expect(SampleRingLayout.periodMicroseconds(fromRegister: 1000) == 1000)
        #expect(HeatRigProfile.ring.registerCount == 130)  // IR 200…329
    }
}

@Suite struct ChannelTests {
    @Test func blocksDecodeByteByByte() {
        let registers: [UInt16] = [0x4270, 0x0000, 0x0000, 0x0000,  // 60.0, ok
                                   0x7FC0, 0x0000, 0x0080, 0x0000,  // NaN, sensor failure
                                   0x4120, 0x0000, 0x0008, 0x0000]  // 10.0, over range
        let readings = ChannelBlock.decode(registers, count: 3, order: .abcd)
        #expect(readings[0].value == 60)
        #expect(readings[1].value == nil && readings[1].isFault)
        #expect(readings[2].value == 10 && readings[2].quality == .overRange && !readings[2].isFault)
        #expect(ChannelBlock.encode(readings, order: .abcd) == registers)
    }

    @Test func faultIsNeverANumber() {
        // A finite value flagged 0x80 is still a fault; NaN with quality 0 is a fault too.
        #expect(ChannelReading(raw: 25, quality: .sensorFailure).value == nil)
        #expect(ChannelReading(raw: .nan, quality: .ok).value == nil)
        #expect(ChannelReading(raw: 25, quality: .notAvailable).value == nil)
        #expect(ChannelReading(raw: .infinity, quality: .ok).value == nil)
        #expect(ChannelReading.lost == ChannelReading.lost)  // NaN readings compare by bits
        #expect(ChannelReading(raw: 25, quality: .unreliable).value == 25)
    }

    @Test func specAddresses() {
        #expect(HeatRigProfile.channels[0].address == 100)
        #expect(HeatRigProfile.channels[5].address == 120)
        #expect(HeatRigProfile.channel(named: "fan_air_mps")?.index == 5)
        #expect(HeatRigProfile.channels.map(\.name) == ["block_temp_c", "mid_temp_c", "end_temp_c",
                                                         "ambient_temp_c", "heater_power_w", "fan_air_mps"])
    }
}
