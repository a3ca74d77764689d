import Control
import Devices
import Foundation
import Locking
import Sim
import Stations
import Testing

/// Issue 20 item 4: values found at start-up. A map's `[[map.locate]]` blocks are found through a pointer register
/// (or at a fixed start) and, when identified, by the parameter ID in each block; located channels and expectations
/// give offsets in their block. The host finds them after the setup on every connect, reads them where they were
/// found, and finds them again when a layout-version register changes; the simulator serves the pointers, IDs and
/// versions, and moves the blocks under the `layout_changed` fault.
struct MapLocateTests {
    static let map = """
        [map]
        kind = "aqua-sonde"
        name = "Locate test sonde (an example, not a vendor's layout)"
        numbering = "one-based"

        [[map.locate]]
        name = "probe"
        pointer = { register = 101, one_based = true }
        version = { register = 100 }
        stride = 8
        count = 3
        id_offset = 2

        [[map.locate]]
        name = "fixed"
        table = "input"
        from = 501
        stride = 4

        [[map.channel]]
        name = "do_mgl"
        locate = "probe"
        id = 20
        register = 0
        type = "float32"
        quality = { register = 4, width = 16, good = [0] }
        fallback = { register = 5 }

        [[map.channel]]
        name = "water_temp_c"
        locate = "probe"
        id = 1
        register = 0
        type = "float32"

        [[map.channel]]
        name = "ph"
        locate = "fixed"
        register = 2
        type = "float32"

        [[map.channel]]
        name = "salinity_ppt"
        table = "input"
        register = 1
        type = "float32"

        [[map.expect]]
        what = "DO units ID"
        locate = "probe"
        id = 20
        register = 3
        equals = 117
        channels = ["do_mgl"]
        """

    @Test func theLoaderReadsBlocksAndPlaces() throws {
        let map = try MapLoader.parse(Self.map, source: "locate.toml")
        #expect(map.blocks.count == 2)
        let probe = try #require(map.blocks.first)
        #expect(probe.pointer?.register == 100 && probe.pointer?.table == .holding && probe.pointerOneBased)
        #expect(probe.version?.register == 99 && probe.stride == 8 && probe.count == 3 && probe.idOffset == 2)
        #expect(map.blocks[1].from == 500 && map.blocks[1].table == .input && map.blocks[1].idOffset == nil)
        let doMgl = try #require(map.channel(named: "do_mgl"))
        // Offsets in the block, whatever the map's numbering; the status and fallback registers are in the block too.
        #expect(doMgl.field.place == DeviceMap.Place(block: "probe", id: 20) && doMgl.field.register == 0)
        #expect(doMgl.field.table == .holding)
        #expect(doMgl.quality?.place == doMgl.field.place && doMgl.quality?.register == 4)
        #expect(doMgl.fallback?.place == doMgl.field.place && doMgl.fallback?.register == 5)
        #expect(map.channel(named: "ph")?.field.place == DeviceMap.Place(block: "fixed"))
        #expect(map.expectations.first?.field.place?.id == 20)
        // Before discovery the plan reads only what is not located.
        #expect(map.located(DeviceMap.Layout()).map.snapshotPlan.requests.map(\.description) == ["FC 04 input 0…1 (2)"])
    }

    @Test func locatedMapsPutValuesWhereTheLayoutSays() throws {
        let map = try MapLoader.parse(Self.map, source: "locate.toml")
        let layout = DeviceMap.Layout(bases: ["probe": [20: 208, 1: 200], "fixed": [nil: 500]])
        let (located, missing) = map.located(layout)
        #expect(missing.isEmpty)
        #expect(located.channel(named: "do_mgl")?.field.register == 208)
        #expect(located.channel(named: "do_mgl")?.quality?.register == 212)
        #expect(located.channel(named: "do_mgl")?.fallback?.register == 213)
        #expect(located.channel(named: "water_temp_c")?.field.register == 200)
        #expect(located.channel(named: "ph")?.field.register == 502)
        #expect(located.expectations.last?.field.register == 211 && located.expectations.last?.isLayoutCheck == false)
        // Each identified block's ID is read with its channel.
        let checks = located.expectations.filter(\.isLayoutCheck)
        #expect(checks.map(\.field.register) == [210, 202] && checks.map(\.channels) == [["do_mgl"], ["water_temp_c"]])
        #expect(located.snapshotPlan.requests.map(\.description).contains("FC 03 holding 200…214 (15)"),
                "\(located.snapshotPlan.requests)")
        let (partial, gone) = map.located(DeviceMap.Layout(bases: ["probe": [1: 200]]))
        #expect(partial.channel(named: "do_mgl") == nil && partial.channel(named: "ph") == nil)
        #expect(gone.contains("do_mgl: no block of probe has parameter ID 20"), "\(gone)")
        #expect(gone.contains("ph: block fixed was not found"), "\(gone)")
    }

    @Test(arguments: [
        (#"locate = "nowhere""#, #"no [[map.locate]] is named "nowhere""#),
        (#"locate = "probe""#, "id is required"),
        ("locate = \"fixed\"\nid = 3", "block fixed has no id_offset"),
        ("id = 3", "give locate too"),
    ])
    func badPlacesAreRefused(_ keys: String, _ message: String) {
        let issues = DeviceMapTests.issues(Self.map + """

            [[map.channel]]
            name = "tan_mgl"
            register = 0
            type = "float32"
            \(keys)
            """)
        #expect(issues.contains { $0.contains(message) }, "\(issues)")
    }

    @Test func badBlocksAreRefused() {
        let offset = DeviceMapTests.issues(Self.map.replacingOccurrences(of: """
            name = "ph"
            locate = "fixed"
            register = 2
            """, with: """
            name = "ph"
            locate = "fixed"
            register = 3
            """))
        #expect(offset.contains { $0.contains("passes the end of block fixed") }, "\(offset)")
        let noStride = DeviceMapTests.issues(Self.map.replacingOccurrences(of: "from = 501\nstride = 4", with: "from = 501"))
        #expect(noStride.contains { $0.contains("stride is required") }, "\(noStride)")
        let noIDs = DeviceMapTests.issues(Self.map.replacingOccurrences(of: "from = 501\nstride = 4",
                                                                        with: "from = 501\nstride = 4\ncount = 2"))
        #expect(noIDs.contains { $0.contains("need id_offset") }, "\(noIDs)")
        let both = DeviceMapTests.issues(Self.map.replacingOccurrences(of: "version = { register = 100 }",
                                                                       with: "from = 200"))
        #expect(both.contains { $0.contains("from is given with pointer: give one of them") }, "\(both)")
        let past = DeviceMapTests.issues(Self.map.replacingOccurrences(of: "from = 501", with: "from = 65534"))
        #expect(past.contains { $0.contains("pass the last register (65535)") }, "\(past)")
        let onCommand = DeviceMapTests.issues(Self.map + """

            [[map.command]]
            name = "aerator-1"
            locate = "probe"
            id = 20
            register = 7
            type = "uint16"
            limits = [0, 1]
            """)
        #expect(onCommand.contains { $0.contains("locate is for values read") }, "\(onCommand)")
    }

    private final class Rig: @unchecked Sendable {
        let served: MappedDevice
        let mapped: MappedClient
        let time = Locked(10.0)
        let layouts = Locked<[[String]]>([])

        init(_ text: String, serving: String? = nil) throws {
            let map = try MapLoader.parse(text, source: "locate.toml")
            let device = SimulatedDevice(model: AquaSondeFirmware(plant: PondPlant(parameters: .pond, seed: 2),
                                                                  seed: 2), serial: 1)
            served = MappedDevice(device: device, map: try MapLoader.parse(serving ?? text, source: "served.toml"),
                                  layout: AquaSondeKind.contractLayout)
            let time = time
            let transport = InMemoryModbusClient(device: served) { time.withLock { $0 } }
            mapped = MappedClient(base: transport, map: map, layout: AquaSondeKind.contractLayout, paceRequests: false) {
                time.withLock { $0 }
            }
            let layouts = layouts
            mapped.onLayout = { lines in layouts.withLock { $0.append(lines) } }
            try mapped.connect()
            _ = try mapped.withinProbeTimeout { try mapped.readHeader() }
        }

        func at(_ t: Double) { time.withLock { $0 = t } }

        /// do_mgl, do_sat_pct, water_temp_c, ph, salinity_ppt through the contract, as a station reads them.
        func read() throws -> [ChannelReading] {
            let spans = [ContractSpan(.input, CommonRegisters.channelBase..<(CommonRegisters.channelBase + 20))]
            let words = try mapped.readContract(spans, plan: mapped.contractPlan(spans))[0]
            return ChannelBlock.decode(words, count: 5, order: .abcd)
        }
    }

    @Test func theHostFindsTheBlocksTheSimulatorServesAndFindsThemAgainWhenTheyMove() throws {
        let rig = try Rig(Self.map)
        let lines = try #require(rig.layouts.withLock { $0.first })
        #expect(lines.first?.hasPrefix("block probe: holding 100 reads ") == true, "\(lines)")
        #expect(lines.first?.contains("layout version 1") == true, "\(lines)")
        #expect(lines.count == 2, "both blocks found, nothing missing: \(lines)")
        var readings = try rig.read()
        #expect(readings[0].quality == .ok && readings[2].quality == .ok && readings[3].quality == .ok, "\(readings)")
        #expect((2...15).contains(readings[0].value ?? 0) && (6...10).contains(readings[3].value ?? 0), "\(readings)")
        let before = try #require(rig.mapped.map.channel(named: "do_mgl")?.field.register)
        let generation = rig.mapped.planGeneration

        rig.served.setLayoutChanged(true)
        rig.at(11)
        readings = try rig.read()
        // The blocks moved one block on and swapped: temperature's is where it was, DO's now holds temperature. The
        // read that finds temperature's ID where DO was does not use that value (never another parameter's reading
        // under DO's name), and the blocks are found again at once, before any version check.
        #expect(readings[0] == .notAvailable, "\(readings)")
        #expect(readings[2].quality == .ok && readings[3].quality == .ok, "their blocks did not move: \(readings)")
        #expect(rig.mapped.planGeneration == generation + 1, "found again")
        rig.at(11.5)
        readings = try rig.read()
        let after = try #require(rig.mapped.map.channel(named: "do_mgl")?.field.register)
        #expect(after != before, "do_mgl moved: \(before) → \(after)")
        #expect(rig.layouts.withLock { $0.last?.first?.contains("layout version 2") } == true)
        #expect(readings[0].quality == .ok && (2...15).contains(readings[0].value ?? 0),
                "DO read where it moved, not the block now there: \(readings)")
        #expect((0...40).contains(readings[2].value ?? -99) && readings[2].value != readings[0].value)

        // Moved back within the second: the device refuses the registers its blocks no longer reach (exception 02),
        // and the blocks are found again only once a second has passed since the last discovery (a device whose
        // blocks flap does not turn every read into one).
        rig.served.setLayoutChanged(false)
        rig.at(11.8)
        #expect(throws: ModbusTransactionError.self) { try rig.read() }
        #expect(rig.mapped.planGeneration == generation + 1)
        rig.at(12.1)
        #expect(throws: ModbusTransactionError.self) { try rig.read() }
        #expect(rig.mapped.planGeneration == generation + 2, "found again after the refused read")
        #expect(rig.mapped.map.channel(named: "do_mgl")?.field.register == before, "back where it was")
        rig.at(12.3)
        #expect(try rig.read()[0].quality == .ok)
    }

    @Test func aParameterTheDeviceDoesNotHaveIsNotAvailable() throws {
        // The device's probe block has no parameter 20 (it serves 21 instead): DO is not available, and said so.
        let served = Self.map.replacingOccurrences(of: "id = 20", with: "id = 21")
        let rig = try Rig(Self.map, serving: served)
        let lines = try #require(rig.layouts.withLock { $0.first })
        #expect(lines.contains("not found: do_mgl: no block of probe has parameter ID 20"), "\(lines)")
        let readings = try rig.read()
        #expect(readings[0] == .notAvailable && readings[2].quality == .ok, "\(readings)")
    }
}
