import Control
import Devices
import Foundation
import Testing
@testable import Sim
import SimServe
import DeviceTransports
import Locking

@Suite struct ModbusTCPServerTests {
    @Test func servesSeveralLibmodbusClientsAtOnce() throws {
        let clock = MonotonicClock()
        let device = makeHeatRig()
        let server = try ModbusTCPServer(device: device, host: "127.0.0.1", port: 0) { clock.seconds() }
        server.start()
        defer { server.stop() }
        #expect(server.port > 0)
        let clients = (0..<4).map { _ in ModbusTCPClient(host: "127.0.0.1", port: server.port) }
        for c in clients { try c.connect() }
        // Interleave requests from all clients.
        var heartbeats: [UInt16] = []
        for _ in 0..<5 {
            for c in clients {
                let header = try c.readHeader()
                #expect(header.deviceType == DeviceKind.heatRig.deviceType)
                heartbeats.append(header.heartbeat)
            }
            Thread.sleep(forTimeInterval: 0.03)
        }
        #expect(Set(heartbeats).count > 1)
        // Exceptions come back as transaction errors carrying the code, and the link stays up.
        do {
            try clients[0].writeRegisters(at: 100, values: RegisterCodec.encode(Float(150), order: .abcd))
            Issue.record("out-of-range write accepted")
        } catch let error as ModbusTransactionError {
            #expect(error.exception == .illegalDataValue)
        }
        do {
            _ = try clients[1].readInputRegisters(at: 101, count: 2)
            Issue.record("read from a float's second word accepted")
        } catch let error as ModbusTransactionError {
            #expect(error.exception == .illegalDataAddress)
        }
        #expect(clients[0].isConnected && clients[1].isConnected)
        try clients[2].writeCoils(at: 0, values: [false, true])
        #expect(try clients[3].readCoils(at: 0, count: 2) == [false, true])
        for c in clients { c.close() }
    }

    /// The connect and the identity reads after it share the probe timeout (issue 17: a device that accepts and then
    /// answers slowly must not hold the station for one response timeout per read); later reads get the whole
    /// response timeout again.
    @Test func theIdentityReadsShareTheProbeTimeout() throws {
        let clock = MonotonicClock()
        let device = makeHeatRig()
        device.setAnswerDelay(0.25)
        let server = try ModbusTCPServer(device: device, host: "127.0.0.1", port: 0) { clock.seconds() }
        server.start()
        defer { server.stop() }
        let client = ModbusTCPClient(host: "127.0.0.1", port: server.port,
                                     timeouts: ModbusTimeouts(connect: .milliseconds(400), response: .seconds(2)))
        // Two reads answered 0.25 s late do not fit a 0.4 s probe: the second times out on what is left of it,
        // where each alone fits the 2 s response timeout.
        try client.connect()
        #expect(throws: ModbusLinkError.self) {
            try client.withinProbeTimeout {
                _ = try client.readHeader()
                _ = try client.readWordOrder()
            }
        }
        // After a probe that fits, the response timeout is the configured one again. (The server first answers the
        // request that timed out: it serves one request at a time.)
        Thread.sleep(forTimeInterval: 0.3)
        try client.connect()
        let header = try client.withinProbeTimeout { try client.readHeader() }
        #expect(header.deviceType == DeviceKind.heatRig.deviceType)
        #expect(try client.readWordOrder() == .abcd)
        #expect(try client.readHoldingRegisters(at: 3, count: 1).count == 1)
        client.close()
    }

    @Test func otherUnitIdsGetGatewayException() throws {
        let clock = MonotonicClock()
        let server = try ModbusTCPServer(device: makeHeatRig(), host: "127.0.0.1", port: 0) { clock.seconds() }
        server.start()
        defer { server.stop() }
        let client = ModbusTCPClient(host: "127.0.0.1", port: server.port, unit: 9)
        try client.connect()
        do {
            _ = try client.readHeader()
            Issue.record("unit 9 answered")
        } catch let error as ModbusTransactionError {
            #expect(error.exception == .gatewayTargetFailed)
        }
    }

    @Test func offlineDeviceTimesOutAsALinkError() throws {
        let clock = MonotonicClock()
        let device = makeHeatRig()
        let server = try ModbusTCPServer(device: device, host: "127.0.0.1", port: 0) { clock.seconds() }
        server.start()
        defer { server.stop() }
        let client = ModbusTCPClient(host: "127.0.0.1", port: server.port,
                                     timeouts: ModbusTimeouts(connect: .milliseconds(500), response: .milliseconds(200)))
        try client.connect()
        device.setOffline(true)
        #expect(throws: ModbusLinkError.self) { _ = try client.readHeader() }
        #expect(!client.isConnected)
    }

    @Test func busyPortIsAClearError() throws {
        let clock = MonotonicClock()
        let first = try ModbusTCPServer(device: makeHeatRig(), host: "127.0.0.1", port: 0) { clock.seconds() }
        defer { first.start(); first.stop() }
        #expect(throws: ModbusServerError.self) {
            _ = try ModbusTCPServer(device: makeHeatRig(), host: "127.0.0.1", port: first.port) { clock.seconds() }
        }
    }
}

@Suite struct InMemoryClientTests {
    @Test func mapsResponsesToTheWireErrorTypes() throws {
        let device = makeHeatRig()
        let client = InMemoryModbusClient(device: device) { 0 }
        #expect(throws: ModbusLinkError.self) { _ = try client.readHeader() }  // not connected
        try client.connect()
        #expect(try client.readHeader().deviceType == DeviceKind.heatRig.deviceType)
        do {
            try client.writeRegister(at: 2, value: 7)
            Issue.record("bad word order accepted")
        } catch let e as ModbusTransactionError {
            #expect(e.exception == .illegalDataValue)
        }
        device.setOffline(true)
        #expect(throws: ModbusLinkError.self) { _ = try client.readHeader() }
        #expect(!client.isConnected)
        #expect(throws: ModbusLinkError.self) { try client.connect() }
    }
}
