import Control
import Devices
import Foundation
import Locking
import Sim
import Stations
import Testing

/// Issue 20 item 5: wake-up and staleness. A device that sleeps drops the first request after it was left alone; the
/// host's first request after a connect (or after that silence) gets the map's longer timeout and retries. A channel
/// whose `fresh` counter stands still longer than the map allows, or whose last acquisition is too old, is "not
/// available" — never used as a measurement.
struct MapWakeTests {
    static func map(wake: String = "", fresh: String = "") -> String {
        """
        [map]
        kind = "heat-rig"
        name = "Wake test rig (an example, not a vendor's layout)"
        \(wake)

        [[map.channel]]
        name = "block_temp_c"
        table = "input"
        register = 0
        type = "float32"
        \(fresh)

        [[map.channel]]
        name = "mid_temp_c"
        unit = 2
        table = "input"
        register = 0
        type = "int16"
        scale = 0.1
        """
    }

    static let sleepy = map(wake: """
        [map.wake]
        first_timeout_ms = 800
        retries = 1
        sleeps_after_ms = 2000
        """, fresh: #"fresh = { table = "input", register = 10, type = "uint32", max_age_ms = 3000 }"#)

    @Test func theLoaderReadsWakeAndFreshness() throws {
        let map = try MapLoader.parse(Self.sleepy, source: "wake.toml")
        #expect(map.wake == DeviceMap.Wake(firstTimeoutMs: 800, retries: 1, settleMs: 0, sleepsAfterMs: 2000))
        let fresh = try #require(map.channel(named: "block_temp_c")?.freshness)
        #expect(fresh.maxAgeMs == 3000 && fresh.field?.register == 10 && fresh.field?.type == .uint32)
        // The counter is read with its channel.
        #expect(map.snapshotPlan.requests.first?.description == "FC 04 input 0…11 (12)")
    }

    @Test(arguments: [
        (#"fresh = { max_age_ms = 5000 }"#, "max_age_ms without a register applies to a channel an acquisition"),
        (#"fresh = { table = "input", register = 10 }"#, "fresh.max_age_ms is required"),
        (#"fresh = { table = "coil", register = 10, type = "bool", max_age_ms = 500 }"#, "a counter, uptime or timestamp"),
        (#"fresh = { max_age_ms = 50 }"#, "max_age_ms"),
    ])
    func badFreshnessIsRefused(_ fresh: String, _ message: String) {
        let issues = DeviceMapTests.issues(Self.map(fresh: fresh))
        #expect(issues.contains { $0.contains(message) }, "\(issues)")
    }

    @Test func badWakeKeysAreRefused() {
        let issues = DeviceMapTests.issues(Self.map(wake: """
            [map.wake]
            retries = 11
            sleeps_after_ms = 10
            snooze = true
            """))
        #expect(issues.contains { $0.contains("retries") }, "\(issues)")
        #expect(issues.contains { $0.contains("sleeps_after_ms") }, "\(issues)")
        #expect(issues.contains { $0.contains("snooze") }, "\(issues)")
    }

    private final class Rig: @unchecked Sendable {
        let served: MappedDevice
        let mapped: MappedClient
        let time = Locked(10.0)
        let stale = Locked<[String: String?]>([:])

        init(_ text: String) throws {
            let map = try MapLoader.parse(text, source: "wake.toml")
            let device = SimulatedDevice(model: HeatRigFirmware(plant: HeatRigPlant(parameters: .standard, seed: 3)),
                                         serial: 1)
            served = MappedDevice(device: device, map: map, layout: HeatRigKind.contractLayout)
            let time = time
            let transport = InMemoryModbusClient(device: served, units: served.otherUnits) { time.withLock { $0 } }
            mapped = MappedClient(base: transport, map: map, layout: HeatRigKind.contractLayout, paceRequests: false) {
                time.withLock { $0 }
            }
            let stale = stale
            mapped.onStale = { name, why in stale.withLock { $0[name] = .some(why) } }
            try mapped.connect()
        }

        func at(_ t: Double) { time.withLock { $0 = t } }

        func read() throws -> [ChannelReading] {
            ChannelBlock.decode(try mapped.readInputRegisters(at: CommonRegisters.channelBase, count: 8), count: 2,
                                order: .abcd)
        }
    }

    /// The simulated device drops the first request after power-up and after its silence, each unit on its own.
    @Test func aSleepingDeviceDropsTheFirstRequest() throws {
        let map = try MapLoader.parse(Self.sleepy, source: "wake.toml")
        let device = SimulatedDevice(model: HeatRigFirmware(plant: HeatRigPlant(parameters: .standard, seed: 3)),
                                     serial: 1)
        let served = MappedDevice(device: device, map: map, layout: HeatRigKind.contractLayout)
        let read = ModbusRequest.readInputRegisters(address: 0, count: 2)
        #expect(served.isListening(now: 1), "asleep is not offline: a connect finds it")
        #expect(served.handle(read, now: 1) == nil, "asleep since power-up")
        #expect(served.handle(read, now: 1.1) != nil)
        #expect(served.handle(read, now: 2.9) != nil, "1.8 s of silence: still awake")
        #expect(served.handle(read, now: 5) == nil, "2.1 s of silence: asleep again")
        #expect(served.handle(read, now: 5.1) != nil)
        let unit2 = try #require(served.otherUnits[2])
        #expect(unit2.handle(read, now: 5.2) == nil, "unit 2 sleeps on its own")
        #expect(unit2.handle(read, now: 5.3) != nil)
    }

    /// The map's retries wake each unit after the connect and after a silence; without them the first read fails.
    @Test func theHostWakesEachUnitWithTheMapsRetries() throws {
        let rig = try Rig(Self.sleepy)
        #expect(try rig.read().allSatisfy { $0.quality == .ok }, "woken on the first read, both units")
        rig.at(11)
        #expect(try rig.read().allSatisfy { $0.quality == .ok })
        rig.at(20)  // 9 s of silence: both asleep again
        #expect(try rig.read().allSatisfy { $0.quality == .ok })

        let noRetries = try Rig(Self.map(wake: "[map.wake]\nsleeps_after_ms = 2000"))
        #expect(throws: ModbusLinkError.self) { try noRetries.read() }
    }

    /// A counter that stands still longer than `max_age_ms` makes its channel "not available", logged once; when it
    /// moves again the channel is fresh again.
    @Test func aCounterThatStandsStillMakesTheReadingStale() throws {
        let rig = try Rig(Self.map(fresh: #"fresh = { table = "input", register = 10, type = "uint32", max_age_ms = 3000 }"#))
        #expect(try rig.read()[0].quality == .ok)
        rig.at(11)
        #expect(try rig.read()[0].quality == .ok)
        #expect(rig.served.setStale("block_temp_c", true))
        rig.at(12)
        let held = try #require(try rig.read()[0].value)
        rig.at(14.9)
        #expect(try rig.read()[0].value == held, "2.9 s without a new count: still used")
        rig.at(15.2)
        #expect(try rig.read()[0] == .notAvailable, "3.2 s: stale")
        #expect(rig.stale.withLock { $0["block_temp_c"] }??.contains("input 10 has not changed for 3 s") == true,
                "\(rig.stale.withLock { $0 })")
        rig.at(16)
        #expect(try rig.read()[0] == .notAvailable)
        #expect(rig.stale.withLock { $0["block_temp_c"] }??.contains("for 3 s") == true, "told once, not every read")
        #expect(try rig.read()[1].quality == .ok, "the other channel has no fresh rule")
        rig.served.setStale("block_temp_c", false)
        rig.at(15.5)
        #expect(try rig.read()[0].quality == .ok)
        #expect(rig.stale.withLock { $0["block_temp_c"] } == .some(nil), "fresh again")
    }

    /// Without a register, `max_age_ms` bounds how old a held acquisition may be: a sequence that takes longer than
    /// that leaves its channel "not available" in between, never an old value served as current.
    @Test func anAcquisitionOlderThanItsMaxAgeIsNotServed() throws {
        let text = Self.map(fresh: "fresh = { max_age_ms = 2000 }") + """

            [[map.acquire]]
            channels = ["block_temp_c"]
            [[map.acquire.step]]
            write = { table = "holding", register = 30, value = 1 }
            [[map.acquire.step]]
            wait_ms = 5000
            """
        let rig = try Rig(text)
        #expect(try rig.read()[0] == .notAvailable, "triggered, nothing measured yet")
        rig.at(15)
        let measured = try #require(try rig.read()[0].value, "the first acquisition")
        rig.at(16.5)
        #expect(try rig.read()[0].value == measured, "1.5 s old: served")
        rig.at(17.5)
        #expect(try rig.read()[0] == .notAvailable, "2.5 s old: stale")
        #expect(rig.stale.withLock { $0["block_temp_c"] }??.contains("its last acquisition is") == true)
        rig.at(21.5)  // the next acquisition, triggered at 16.5
        #expect(try rig.read()[0].value != nil, "the next acquisition")
        #expect(rig.stale.withLock { $0["block_temp_c"] } == .some(nil))
    }
}
