import Control
import Devices
import Foundation
import Logging
import Sim
import Stations
import Testing

/// Issue 19, FC 23 (write and read holding registers in one request) where the map says `fc23 = true`.
struct FC23Tests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The example PLC heat rig's map, with `fc23 = true` when asked.
    static func plcMap(fc23: Bool) throws -> String {
        let text = try String(contentsOf: root.appendingPathComponent("examples/maps/plc-heat-rig.toml"), encoding: .utf8)
        return fc23 ? text.replacingOccurrences(of: "max_gap = 8\n", with: "max_gap = 8\nfc23 = true\n") : text
    }

    static func mapFile(fc23: Bool) throws -> String {
        let dir = NSTemporaryDirectory() + "rigd-fc23-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try plcMap(fc23: fc23).write(toFile: dir + "/plc.toml", atomically: true, encoding: .utf8)
        return dir + "/plc.toml"
    }

    @Test func theRequestDecodesFromItsPDU() throws {
        // Read 3 from 0, write 2 (4 bytes) at 10: 0x0102, 0x0304.
        let pdu: [UInt8] = [0x17, 0, 0, 0, 3, 0, 10, 0, 2, 4, 1, 2, 3, 4]
        #expect(try ModbusRequest.decode(pdu: pdu).get()
                == .writeAndReadRegisters(writeAddress: 10, values: [0x0102, 0x0304], readAddress: 0, readCount: 3))
        var badCount = pdu
        badCount[9] = 3
        #expect(throws: ModbusException.illegalDataValue) { try ModbusRequest.decode(pdu: badCount).get() }
        var tooMany = pdu
        tooMany[4] = 126
        #expect(throws: ModbusException.illegalDataValue) { try ModbusRequest.decode(pdu: tooMany).get() }
    }

    /// The instrument answers FC 23 only when its map says so; then the write lands before the read.
    @Test func aMappedInstrumentTakesFC23OnlyWhenItsMapSaysSo() throws {
        for fc23 in [false, true] {
            let map = try MapLoader.load(path: try Self.mapFile(fc23: fc23))
            let device = try HeatRigKind.configure(nil).simulatedDevice(seed: 1, preset: "standard", unit: 1,
                                                                         host: SimulatedHost())
            let client = InMemoryModbusClient(device: MappedDevice(device: device, map: map,
                                                                   layout: HeatRigKind.contractLayout)) { 1 }
            try client.connect()
            // heater_pct at HR 10 in tenths of a percent: 42.5 %.
            if fc23 {
                let read = try client.writeAndReadRegisters(writeAt: 10, values: [425], readAt: 0, count: 12)
                #expect(read.count == 12)
                #expect(read[10] == 425, "the read comes after the write: \(read)")
            } else {
                #expect {
                    try client.writeAndReadRegisters(writeAt: 10, values: [425], readAt: 0, count: 12)
                } throws: { ($0 as? ModbusTransactionError)?.kind == .exception(.illegalFunction) }
                #expect(try client.readHoldingRegisters(at: 10, count: 1) == [0], "a refused request changes nothing")
            }
        }
    }

    @Test func fc23WithoutFC16IsRefused() throws {
        let text = try Self.plcMap(fc23: true).replacingOccurrences(of: "max_write_registers = 16",
                                                                     with: "max_write_registers = 0")
        let path = NSTemporaryDirectory() + "rigd-fc23-\(UUID().uuidString).toml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        #expect { try MapLoader.load(path: path) } throws: { "\($0)".contains("fc23 needs FC 16") }
    }

    /// A heat-rig station through the PLC map, with and without FC 23, for 20 minutes on the virtual clock: with it,
    /// each tick that writes saves its read, and the control is the same but for the reading being one period old.
    @Test func aStationSendsItsWriteWithTheNextReadAndControlsTheSame() throws {
        func run(fc23: Bool) throws -> StationStatus {
            let config = try ConfigLoader.parse("""
                [[station]]
                name = "rig"
                kind = "heat-rig"
                address = "sim://"
                map = "\(try Self.mapFile(fc23: fc23))"
                [station.control]
                setpoint_c = 60
                """, source: "test.toml")
            var logger = Logger(label: "test")
            logger.logLevel = .critical
            let clock = VirtualClock()
            let station = try Wiring.virtualStations(config, clock: clock, seed: 1, logger: logger)[0]
            station.start(now: 0)
            LoopRunner(clock: clock, loops: station.makeLoops()).run(until: 1200 * 1_000_000_000)
            return station.status()
        }
        let plain = try run(fc23: false)
        let combined = try run(fc23: true)
        #expect(plain.link.transactionErrors == 0 && combined.link.transactionErrors == 0)
        let ticks = combined.loops.map(\.ticks).reduce(0, +)
        #expect(ticks > 1000)
        // Fewer requests: most ticks write the heater, and that write now carries the next tick's read.
        #expect(Double(combined.link.transactions) < 0.85 * Double(plain.link.transactions),
                "\(combined.link.transactions) with FC 23, \(plain.link.transactions) without, \(ticks) ticks")
        #expect(combined.readPlan?.contains { $0.contains("FC 23: a tick's last holding-register write") } == true,
                "\(combined.readPlan ?? [])")
        #expect(plain.readPlan?.contains { $0.contains("FC 23") } == false)
        // The block is held at its setpoint either way.
        func block(_ s: StationStatus) -> Double { s.channels.first { $0.name == "block_temp_c" }?.value ?? .nan }
        #expect(abs(block(plain) - 60) < 1.5 && abs(block(combined) - 60) < 1.5,
                "block \(block(plain)) °C without, \(block(combined)) °C with FC 23")
    }
}
