import Control
import Devices
@testable import DeviceTransports
import Foundation
import RigdTestKit
@testable import Sim
import SimServe
import Stations
import Testing

/// Modbus RTU over a socat pty pair: the libmodbus RTU client on one end, the simulator's RTU server on the other.
@Suite(.serialized) struct RTUTests {
    static func sondes(_ units: [UInt8]) throws -> [UInt8: any ModbusDevice] {
        var out: [UInt8: any ModbusDevice] = [:]
        for unit in units {
            out[unit] = try KindRegistry.builtIn.simulatedDevice(.aquaSonde, seed: UInt64(unit), preset: "pond", unit: unit)
        }
        return out
    }

    @Test func oneServerAnswersEveryUnitInAnyOrder() throws {
        let pty = try PtyPair()
        let clock = MonotonicClock()
        let devices = try Self.sondes([1, 2, 3])
        let server = try ModbusRTUServer(devices: devices, settings: SerialSettings(path: pty.a)) { clock.seconds() }
        server.start()
        defer { server.stop() }
        let line = SerialLine(settings: SerialSettings(path: pty.b), responseTimeout: .milliseconds(300))
        let clients = [1, 2, 3, 9].map { ModbusRTUClient(line: line, unit: $0) }
        for c in clients { try c.connect() }
        #expect(line.rs485Mode == false, "a pty refuses RS-485 mode, and the line opens anyway")
        // Units in turn, repeats, and a unit nobody serves in between: with one libmodbus server per unit the frame
        // after a foreign unit's would be swallowed.
        for unit in [2, 1, 1, 3, 9, 1, 2, 9, 3, 3] {
            let client = clients[[1, 2, 3, 9].firstIndex(of: unit)!]
            if unit == 9 {
                #expect(throws: ModbusLinkError.self) { try client.readHeader() }
                try client.connect()
                continue
            }
            let header = try client.readHeader()
            #expect(header.deviceType == DeviceKind.aquaSonde.deviceType)
            // HR 0 holds the unit id the device answers to.
            #expect(try client.readHoldingRegisters(at: CommonRegisters.unitId, count: 1) == [UInt16(unit)])
        }
        let counts = server.counts
        #expect(counts.requests == [1: 6, 2: 4, 3: 6])
        #expect(counts.foreign == 2)
        #expect(counts.rejected == 0)
        // A whole snapshot through the profile: 13 channels, DO a number.
        let snapshot = try AquaSondeProfile.readSnapshot(from: clients[1], order: .abcd)
        #expect(snapshot.channels.count == 13)
        #expect((snapshot[.doMgL].value ?? -1) > 0)
    }

    @Test func aSilentUnitCostsOnlyItsOwnTimeout() throws {
        let pty = try PtyPair()
        let clock = MonotonicClock()
        let devices = try Self.sondes([1, 2, 3])
        let server = try ModbusRTUServer(devices: devices, settings: SerialSettings(path: pty.a)) { clock.seconds() }
        server.start()
        defer { server.stop() }
        (devices[2] as? any FaultInjectable)?.setOffline(true)
        let line = SerialLine(settings: SerialSettings(path: pty.b), responseTimeout: .milliseconds(200))
        let clients = [1, 2, 3].map { ModbusRTUClient(line: line, unit: $0) }
        for c in clients { try c.connect() }
        var answered = [0, 0, 0]
        var timedOut = [0, 0, 0]
        for _ in 0..<4 {
            for (i, c) in clients.enumerated() {
                if !c.isConnected { try c.connect() }
                do {
                    _ = try c.readHeader()
                    answered[i] += 1
                } catch let error as ModbusLinkError {
                    #expect(error.errno == ETIMEDOUT)
                    timedOut[i] += 1
                }
            }
        }
        #expect(answered == [4, 0, 4])
        #expect(timedOut == [0, 4, 0])
        #expect(line.isOpen, "unit 2's timeouts never closed the line under units 1 and 3")
    }

    @Test func corruptFramesAreRejectedAndTheLineRecovers() throws {
        let pty = try PtyPair()
        let clock = MonotonicClock()
        let server = try ModbusRTUServer(devices: try Self.sondes([1, 2]), settings: SerialSettings(path: pty.a)) {
            clock.seconds()
        }
        server.start()
        defer { server.stop() }
        // A read of IR 0 for unit 2 with a broken CRC, written raw to the line, then a good request.
        let fd = open(pty.b, O_RDWR | O_NOCTTY)
        #expect(fd >= 0)
        let bad: [UInt8] = [0x02, 0x04, 0x00, 0x00, 0x00, 0x07, 0xDE, 0xAD]
        _ = bad.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        Thread.sleep(forTimeInterval: 0.3)
        close(fd)
        let line = SerialLine(settings: SerialSettings(path: pty.b), responseTimeout: .milliseconds(300))
        let client = ModbusRTUClient(line: line, unit: 2)
        try client.connect()
        #expect(try client.readHeader().deviceType == DeviceKind.aquaSonde.deviceType)
        #expect(server.counts.rejected == 1)
    }

    /// A frame cut short on the line is dropped after the server's byte timeout: with 50 ms, a good request 0.2 s
    /// later is answered (with libmodbus's default 0.5 s it would still be read as the rest of the cut frame).
    @Test func aCutFrameIsDroppedAfterTheByteTimeout() throws {
        let pty = try PtyPair()
        let clock = MonotonicClock()
        let server = try ModbusRTUServer(devices: try Self.sondes([1]), settings: SerialSettings(path: pty.a),
                                         byteTimeout: 0.05) { clock.seconds() }
        server.start()
        defer { server.stop() }
        let line = SerialLine(settings: SerialSettings(path: pty.b), responseTimeout: .milliseconds(300))
        let client = ModbusRTUClient(line: line, unit: 1)
        try client.connect()
        #expect(try client.readHeader().deviceType == DeviceKind.aquaSonde.deviceType)
        let fd = open(pty.b, O_RDWR | O_NOCTTY)
        #expect(fd >= 0)
        let cut: [UInt8] = [0x01, 0x04, 0x00]  // a read of input registers, three bytes of its eight
        _ = cut.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        Thread.sleep(forTimeInterval: 0.2)
        #expect(try client.readHeader().deviceType == DeviceKind.aquaSonde.deviceType)
        #expect(server.counts.rejected >= 1, "the cut frame was dropped, not answered")
    }
}
