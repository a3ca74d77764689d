import Devices
import Foundation
import Locking
import Sim
import Stations
import Testing

/// Issue 20 item 3: start-up writes (`[[map.setup]]`) after every connect, and values the device must hold
/// (`[[map.expect]]`): a failed expectation marks the channels it vouches for bad, never rescaled; a device that
/// refuses its setup is refused. The simulated instrument serves readings only once its setup is as the map writes
/// it, and its faults `units_changed` and `status_error` make the host see what a real instrument would show.
struct MapSetupExpectTests {
    static let map = """
        [map]
        kind = "heat-rig"
        name = "Setup test rig (an example, not a vendor's layout)"
        max_read_registers = 60

        [[map.channel]]
        name = "block_temp_c"
        table = "holding"
        register = 0
        type = "float32"

        [[map.channel]]
        name = "mid_temp_c"
        table = "holding"
        register = 2
        type = "int16"
        scale = 0.1
        quality = { table = "holding", register = 10, good = [0], not_available = [1] }

        [[map.setup]]
        write = { table = "holding", register = 128, values = [1, 18, 212, 0] }

        [[map.setup]]
        write = { table = "holding", register = 40, value = 2 }
        settle_ms = 5

        [[map.expect]]
        table = "holding"
        register = 200
        equals = 145
        channels = ["mid_temp_c"]
        what = "mid units ID"

        [[map.expect]]
        table = "holding"
        register = 210
        type = "string"
        length = 2
        equals = "EXO2"
        what = "model"
        """

    private final class Rig: @unchecked Sendable {
        let device: SimulatedDevice<HeatRigFirmware>
        let served: MappedDevice
        let mapped: MappedClient
        let raw: InMemoryModbusClient
        let problems = Locked<[String]>([])

        init(servedMap: String = MapSetupExpectTests.map) throws {
            let map = try MapLoader.parse(MapSetupExpectTests.map, source: "setup.toml")
            device = SimulatedDevice(model: HeatRigFirmware(plant: HeatRigPlant(parameters: .standard, seed: 3)),
                                     serial: 1)
            served = MappedDevice(device: device, map: try MapLoader.parse(servedMap, source: "served.toml"),
                                  layout: HeatRigKind.contractLayout)
            raw = InMemoryModbusClient(device: served) { 5 }
            mapped = MappedClient(base: InMemoryModbusClient(device: served) { 5 }, map: map,
                                  layout: HeatRigKind.contractLayout, paceRequests: false)
            let problems = problems
            mapped.onProblem = { channel, problem in problems.withLock { $0.append("\(channel): \(problem ?? "ok")") } }
            try raw.connect()
        }

        /// Connects as a station does: the header read while probing runs the setup and the device's expectations.
        func connect() throws {
            try mapped.connect()
            _ = try mapped.withinProbeTimeout { try mapped.readInputRegisters(at: 0, count: 7) }
        }

        func read() throws -> [ChannelReading] {
            ChannelBlock.decode(try mapped.readInputRegisters(at: CommonRegisters.channelBase, count: 8), count: 2,
                                order: .abcd)
        }
    }

    @Test func theLoaderReadsSetupAndExpectations() throws {
        let map = try MapLoader.parse(Self.map, source: "setup.toml")
        #expect(map.setup.map(\.description) == ["write holding 128…131 = 1, 18, 212, 0", "write holding 40 = 2"])
        #expect(map.setup[1].settleMs == 5)
        #expect(map.expectations.map(\.equals) == [.number(145), .text("EXO2")])
        #expect(map.expectations[0].channels == ["mid_temp_c"] && map.expectations[1].channels.isEmpty)
    }

    /// A fresh instrument serves nothing until its parameter list is written; the host writes it on connect.
    @Test func theSetupRunsOnConnectAndTheInstrumentServesOnlyThen() throws {
        let rig = try Rig()
        #expect(RegisterCodec.float32(try rig.raw.readHoldingRegisters(at: 0, count: 2), at: 0, order: .abcd).isNaN,
                "not configured: no reading")
        try rig.connect()
        #expect(try rig.raw.readHoldingRegisters(at: 128, count: 4) == [1, 18, 212, 0])
        #expect(try rig.raw.readHoldingRegisters(at: 40, count: 1) == [2])
        let readings = try rig.read()
        #expect(readings.allSatisfy { $0.quality == .ok && $0.value != nil }, "\(readings)")
        #expect(rig.mapped.deviceProblem == nil)
        // Another parameter list (another host, a technician) changes what the instrument serves: no readings.
        try rig.raw.writeRegisters(at: 128, values: [1, 2, 3, 0])
        #expect(try rig.read().allSatisfy { $0.value == nil })
        // The next connect writes the map's list again.
        try rig.connect()
        #expect(try rig.read().allSatisfy { $0.value != nil })
    }

    /// Units changed on the instrument: the channel its units ID vouches for is bad at once (never rescaled), and
    /// good again when the units are back; the whole device's model string is checked on connect.
    @Test func aChangedUnitsIDMarksItsChannelBadNeverRescaled() throws {
        let rig = try Rig()
        try rig.connect()
        #expect(try rig.read().allSatisfy { $0.value != nil })
        rig.served.setUnitsChanged(true)
        let changed = try rig.read()
        #expect(changed[1].value == nil && changed[1].quality == .sensorFailure, "\(changed[1])")
        #expect(changed[0].value != nil, "block_temp_c has no units ID in the map: \(changed[0])")
        rig.served.setUnitsChanged(false)
        #expect(try rig.read()[1].value != nil)
        #expect(rig.problems.withLock { $0 } == [
            "mid_temp_c: mid units ID (holding 200) reads 146, the map expects 145", "mid_temp_c: ok"])
        // The model string is the whole device's: checked on connect, every channel bad.
        rig.served.setUnitsChanged(true)
        try rig.connect()
        // "CHANGED" cut to the string's 2 registers.
        #expect(rig.mapped.deviceProblem == "model (holding 210) reads \"CHAN\", the map expects \"EXO2\"")
        #expect(try rig.read().allSatisfy { $0.value == nil && $0.quality == .sensorFailure })
        rig.served.setUnitsChanged(false)
        try rig.connect()
        #expect(try rig.read().allSatisfy { $0.value != nil })
    }

    /// A device that answers the setup with an exception is refused with the step and the exception named.
    @Test func aDeviceThatRefusesTheSetupFailsTheConnectNamingTheException() throws {
        let withoutSetup = Self.map.components(separatedBy: "[[map.setup]]")[0]
        let rig = try Rig(servedMap: withoutSetup)
        do {
            try rig.connect()
            Issue.record("the setup was refused, the connect must fail")
        } catch let error as ModbusTransactionError {
            #expect(error.exception == .illegalDataAddress)
            #expect("\(error)".contains("setup 1 of Setup test rig (an example, not a vendor's layout): write holding "
                                        + "128…131 = 1, 18, 212, 0: exception 0x02 (illegal data address)"), "\(error)")
        }
    }

    /// "Status says sensor error": the value still reads as a number, the status says it is not one.
    @Test func aStatusErrorMakesTheReadingBadWhileTheValueLooksFine() throws {
        let rig = try Rig()
        try rig.connect()
        #expect(rig.served.setStatusError("mid_temp_c", true))
        #expect(!rig.served.setStatusError("block_temp_c", true), "block_temp_c has no status register")
        let readings = try rig.read()
        #expect(readings[1].quality.contains(.sensorFailure), "\(readings[1])")
        let raw = Int16(bitPattern: try rig.raw.readHoldingRegisters(at: 2, count: 1)[0])
        #expect((100...600).contains(raw), "the value register still holds a plausible temperature: \(raw)")
        rig.served.clearInstrumentFaults()
        #expect(try rig.read()[1].quality == .ok)
    }

    @Test(arguments: [
        ("[[map.setup]]\nwrite = { table = \"holding\", register = 128, values = [1, 70000] }",
         "values must be whole numbers 0…65535"),
        ("[[map.setup]]\nwrite = { table = \"holding\", register = 2, value = 1 }",
         "writes over channel mid_temp_c at holding 2"),
        ("[[map.setup]]\nwrite = { table = \"input\", register = 128, values = [1] }",
         "a list of registers is written to holding registers, not input"),
        ("[[map.setup]]\nsettle_ms = 5", "setup 1: write is required"),
        ("[[map.expect]]\ntable = \"holding\"\nregister = 210\nequals = \"EXO2\"",
         "\"EXO2\" is a string: give type = \"string\" and its length"),
        ("[[map.expect]]\ntable = \"holding\"\nregister = 200\nequals = 145\nchannels = [\"ph\"]",
         "ph is not a channel of this map"),
        ("[[map.expect]]\ntable = \"holding\"\nregister = 200\nequals = 70000", "70000 does not fit a uint16"),
    ])
    func badSetupsAndExpectationsAreRefused(_ entry: String, _ message: String) {
        let text = Self.map.components(separatedBy: "[[map.setup]]")[0] + entry
        do {
            _ = try MapLoader.parse(text, source: "bad.toml")
            Issue.record("accepted: \(entry)")
        } catch {
            #expect("\(error)".contains(message), "\(error)")
        }
    }
}
