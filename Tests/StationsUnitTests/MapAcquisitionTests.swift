import Devices
import Foundation
import Locking
import Sim
import Stations
import Testing

/// Issue 20 item 1: acquisition sequences (`[[map.acquire]]`). The same map on both sides: the simulated instrument
/// (`MappedDevice`) measures only after its trigger and the time it says it takes, the host (`MappedClient`) writes
/// the trigger, waits the time the device keeps in a register, polls the ready flag, then reads — across ticks, never
/// blocking the loop — and never hands on old readings as fresh when a sequence fails.
struct MapAcquisitionTests {
    static let map = """
        [map]
        kind = "heat-rig"
        name = "Acquisition test rig (an example, not a vendor's layout)"
        max_read_registers = 60

        [[map.channel]]
        name = "block_temp_c"
        table = "holding"
        register = 0
        type = "float32"
        nan_if = "0x7FC00000"

        [[map.channel]]
        name = "mid_temp_c"
        table = "holding"
        register = 2
        type = "int16"
        scale = 0.1
        quality = { table = "holding", register = 10, good = [0], not_available = [1] }

        [[map.channel]]
        name = "end_temp_c"
        table = "holding"
        register = 3
        type = "int16"
        scale = 0.1

        [[map.acquire]]
        channels = ["block_temp_c", "mid_temp_c"]
        simulate_ms = 1500
        [[map.acquire.step]]
        write = { table = "holding", register = 30, value = "0x0003" }
        [[map.acquire.step]]
        wait = { table = "holding", register = 31, max_ms = 10000 }
        [[map.acquire.step]]
        poll = { table = "holding", register = 32, bit = 0, equals = 1, timeout_ms = 3000 }
        """

    private final class Rig: @unchecked Sendable {
        let device: SimulatedDevice<HeatRigFirmware>
        let served: MappedDevice
        let mapped: MappedClient
        let raw: InMemoryModbusClient
        let time = Locked(10.0)
        let requests = Locked(0)

        init() throws {
            let map = try MapLoader.parse(MapAcquisitionTests.map, source: "acquire.toml")
            device = SimulatedDevice(model: HeatRigFirmware(plant: HeatRigPlant(parameters: .standard, seed: 3)),
                                     serial: 1)
            served = MappedDevice(device: device, map: map, layout: HeatRigKind.contractLayout)
            let time = time
            raw = InMemoryModbusClient(device: served) { time.withLock { $0 } }
            mapped = MappedClient(base: InMemoryModbusClient(device: served) { time.withLock { $0 } }, map: map,
                                  layout: HeatRigKind.contractLayout, paceRequests: false) { time.withLock { $0 } }
            let requests = requests
            mapped.onRequest = { requests.withLock { $0 += 1 } }
            try raw.connect()
            try mapped.connect()
        }

        func at(_ t: Double) { time.withLock { $0 = t } }

        /// block, mid and end temperature as a station reads them, and the requests that took.
        func read() throws -> (readings: [ChannelReading], requests: Int) {
            requests.withLock { $0 = 0 }
            let words = try mapped.readInputRegisters(at: CommonRegisters.channelBase, count: 12)
            return (ChannelBlock.decode(words, count: 3, order: .abcd), requests.withLock { $0 })
        }
    }

    @Test func theLoaderReadsTheSequence() throws {
        let map = try MapLoader.parse(Self.map, source: "acquire.toml")
        let a = try #require(map.acquisitions.first)
        #expect(a.channels == ["block_temp_c", "mid_temp_c"])
        #expect(a.simulateMs == 1500)
        #expect(a.steps.map(\.description) == ["write holding 30 = 3", "wait the ms in holding 31 (at most 10000)",
                                               "poll holding 32 bit 0 until 1 (timeout 3000 ms)"])
        #expect(map.acquisition(of: "end_temp_c") == nil)
    }

    /// Trigger, wait the device's time, poll, read: the values arrive only once the device has measured; between
    /// acquisitions the last one is served without reading the channels again.
    @Test func valuesArriveOnlyAfterTheTriggerAndTheDevicesWait() throws {
        let rig = try Rig()
        // Before any trigger the instrument has nothing: no reading, status "not available", ready flag down.
        #expect(RegisterCodec.float32(try rig.raw.readHoldingRegisters(at: 0, count: 2), at: 0, order: .abcd).isNaN)
        #expect(try rig.raw.readHoldingRegisters(at: 10, count: 1) == [1])
        #expect(try rig.raw.readHoldingRegisters(at: 31, count: 2) == [1500, 0])

        // t = 10: the trigger and the wait register; the sequence's channels are not read (not available yet), the
        // end temperature is.
        var r = try rig.read()
        #expect(r.readings[0] == .notAvailable && r.readings[1] == .notAvailable, "\(r.readings)")
        #expect(r.readings[2].value != nil)
        #expect(try rig.raw.readHoldingRegisters(at: 30, count: 1) == [3], "the trigger was written")
        #expect(r.requests == 3, "write the trigger, read the wait, read end_temp_c: \(r.requests)")
        rig.at(11)
        r = try rig.read()
        #expect(r.readings[0] == .notAvailable && r.requests == 1, "still waiting: \(r)")
        #expect(try rig.raw.readHoldingRegisters(at: 32, count: 1) == [0], "not ready before 1.5 s")
        // t = 11.5: the wait is over, the poll finds the flag up, and the channels are read.
        rig.at(11.5)
        r = try rig.read()
        let block = try #require(r.readings[0].value, "\(r.readings)")
        #expect(r.readings[0].quality == .ok && r.readings[1].quality == .ok && r.readings[1].value != nil)
        #expect(r.requests == 2, "poll, then one read of holding 0…3: \(r.requests)")
        // t = 12: the next acquisition starts; the last one is served meanwhile, the channels are not read.
        rig.at(12)
        r = try rig.read()
        #expect(r.readings[0].value == block && r.requests == 3, "\(r)")
        // The instrument holds what it measured until the trigger; now it measures again, so reads "not ready".
        #expect(try rig.raw.readHoldingRegisters(at: 10, count: 1) == [1])
    }

    /// A sequence that never completes is a transaction error of kind notReady, and its channels are "not available"
    /// from then on until an acquisition completes — never the old values.
    @Test func aSequenceThatNeverCompletesMakesTheChannelsNotAvailable() throws {
        let rig = try Rig()
        _ = try rig.read()
        rig.at(11.5)
        let measured = try #require(try rig.read().readings[0].value)
        rig.served.setNeverReady(true)
        rig.at(12)
        #expect(try rig.read().readings[0].value == measured, "the last acquisition, while the next is under way")
        rig.at(13.5)
        #expect(try rig.read().readings[0].value == measured, "polling: the flag stays down")
        rig.at(16.5)
        do {
            _ = try rig.read()
            Issue.record("a poll past its timeout must fail the read")
        } catch let error as ModbusTransactionError {
            #expect(error.kind == .notReady, "\(error)")
            #expect("\(error)".contains("poll holding 32 bit 0 until 1 (timeout 3000 ms) timed out, reads 0"),
                    "\(error)")
            #expect(error.operation == "acquire block_temp_c, mid_temp_c")
        }
        rig.at(17)
        let after = try rig.read()
        #expect(after.readings[0] == .notAvailable && after.readings[1] == .notAvailable, "\(after.readings)")
        #expect(after.readings[2].value != nil)
        // The fault taken away, the next acquisition completes.
        rig.served.setNeverReady(false)
        rig.at(18.5)
        #expect(try rig.read().readings[0].value != nil)
    }

    /// Through the station's snapshot cache (a loop's plan): while the acquisition is under way the plan leaves the
    /// sequence's registers out.
    @Test func aLoopsPlanLeavesOutChannelsWhoseAcquisitionIsUnderWay() throws {
        let rig = try Rig()
        let cache = SnapshotCache(base: rig.mapped)
        let spans = [ContractSpan(.input, CommonRegisters.channelBase..<(CommonRegisters.channelBase + 12))]
        rig.requests.withLock { $0 = 0 }
        try cache.refresh(spans)
        #expect(rig.requests.withLock { $0 } == 3)
        rig.at(11.5)
        rig.requests.withLock { $0 = 0 }
        try cache.refresh(spans)
        #expect(rig.requests.withLock { $0 } == 2)
        let readings = ChannelBlock.decode(try cache.readInputRegisters(at: CommonRegisters.channelBase, count: 12),
                                           count: 3, order: .abcd)
        #expect(readings.allSatisfy { $0.value != nil }, "\(readings)")
        let lines = rig.mapped.acquisitionLines(spans, period: 1)
        #expect(lines == ["acquire block_temp_c, mid_temp_c first: write holding 30 = 3, wait the ms in holding 31 "
                          + "(at most 10000), poll holding 32 bit 0 until 1 (timeout 3000 ms); takes 0…13000 ms, more "
                          + "than the loop's period: the loop runs on, serving the last acquisition, and reads these "
                          + "channels every tick at best"], "\(lines)")
    }

    /// The instrument takes only the map's trigger value.
    @Test func theInstrumentRefusesAnotherTriggerValue() throws {
        let rig = try Rig()
        #expect(throws: ModbusTransactionError.self) { try rig.raw.writeRegister(at: 30, value: 2) }
        try rig.raw.writeRegister(at: 30, value: 3)
    }

    /// What a sequence may not be or write, each refused with the key that says it.
    @Test(arguments: [
        ("[[map.acquire.step]]\nwait_ms = 10\nwrite = { table = \"holding\", register = 30, value = 1 }",
         "a step is one action, not write and wait_ms"),
        ("[[map.acquire.step]]\nwrite = { table = \"input\", register = 30, value = 1 }",
         "must be coil or holding (it is written), not input"),
        ("[[map.acquire.step]]\nwrite = { table = \"holding\", register = 3, value = 1 }",
         "writes over channel end_temp_c at holding 3"),
        ("[[map.acquire.step]]\nwrite = { table = \"holding\", register = 10, value = 1 }",
         "writes over the quality of mid_temp_c at holding 10"),
        ("[[map.acquire.step]]\nwrite = { table = \"holding\", register = 30, value = 70000 }",
         "70000 does not fit a uint16"),
        ("[[map.acquire.step]]\npoll = { table = \"holding\", register = 32 }", "poll.equals is required"),
        ("[[map.acquire.step]]\nwait = { table = \"holding\", register = 31, max_ms = 0 }", "wait.max_ms must be within 1…600000"),
        ("[[map.acquire.step]]\nwrite = { table = \"coil\", register = 1, type = \"bool\", value = 1 }",
         "writes command heater_enable, which has no limits in this map"),
        ("[[map.acquire.step]]\nwrite = { table = \"holding\", register = 40, value = 80 }",
         "80 written to command heater_pct is outside its limits 0…50"),
    ])
    func badSequencesAreRefused(_ step: String, _ message: String) throws {
        let text = """
            [map]
            kind = "heat-rig"
            name = "bad"
            [[map.channel]]
            name = "end_temp_c"
            table = "holding"
            register = 3
            type = "int16"
            [[map.channel]]
            name = "mid_temp_c"
            table = "holding"
            register = 2
            type = "int16"
            quality = { table = "holding", register = 10, good = [0] }
            [[map.command]]
            name = "heater_enable"
            table = "coil"
            register = 1
            type = "bool"
            [[map.command]]
            name = "heater_pct"
            table = "holding"
            register = 40
            type = "uint16"
            min = 0
            max = 50
            [[map.acquire]]
            \(step)
            """
        do {
            _ = try MapLoader.parse(text, source: "bad.toml")
            Issue.record("accepted: \(step)")
        } catch {
            #expect("\(error)".contains(message), "\(error)")
            #expect("\(error)".contains("bad.toml"))
        }
    }

    @Test func aChannelInTwoSequencesOrNotInTheMapIsRefused() {
        let text = """
            [map]
            kind = "heat-rig"
            name = "bad"
            [[map.channel]]
            name = "end_temp_c"
            table = "holding"
            register = 3
            type = "int16"
            [[map.acquire]]
            [[map.acquire.step]]
            wait_ms = 10
            [[map.acquire]]
            channels = ["end_temp_c", "mid_temp_c"]
            [[map.acquire.step]]
            wait_ms = 10
            """
        #expect(throws: ConfigError.self) { _ = try MapLoader.parse(text, source: "bad.toml") }
        do {
            _ = try MapLoader.parse(text, source: "bad.toml")
        } catch {
            #expect("\(error)".contains("mid_temp_c is not a channel of this map"), "\(error)")
            #expect("\(error)".contains("end_temp_c is acquired by two sequences"), "\(error)")
        }
    }
}
