import Control
import Devices
import DeviceTransports
import Foundation
import Logging
import RigdTestKit
@testable import Sim
import SimServe
import Stations
import Testing

/// Issue 18 item 13: a device that answers is never replaced by the simulator. An exception reply to the identity
/// read, or another device type, refuses the station; only silence falls back to simulation. Over Modbus TCP and RTU.
@Suite(.serialized) struct PresentDeviceTests {
    private func heatRig(_ address: DeviceAddress) -> StationConfig {
        StationConfig(name: "rig", address: address, probeTimeoutMs: 300,
                      control: Configured<HeatRigKind>(HeatRigControlConfig()))
    }

    private func sonde(_ address: DeviceAddress) -> StationConfig {
        StationConfig(name: "sonde", address: address, probeTimeoutMs: 300,
                      control: Configured<AquaSondeKind>(AquacultureControlConfig()))
    }

    private func refusalReason(_ probe: Wiring.Probe) -> String? {
        if case .wrongDevice(let reason) = probe { return reason }
        return nil
    }

    @Test func overTCPAnExceptionReplyOrAnotherKindRefusesTheStation() throws {
        let clock = MonotonicClock()
        let busy = SimulatedDevice(model: HeatRigFirmware(plant: HeatRigPlant(seed: 1)), serial: 1)
        busy.setExceptionReplies(.illegalFunction)
        let mill = try KindRegistry.builtIn.simulatedDevice(.cncMill, seed: 1, preset: "aluminium", unit: 1)
        let servers = try [busy as any ModbusDevice, mill].map {
            try ModbusTCPServer(device: $0, host: "127.0.0.1", port: 0) { clock.seconds() }
        }
        for server in servers { server.start() }
        defer { for server in servers { server.stop() } }
        let stations = servers.map { heatRig(.tcp(host: "127.0.0.1", port: $0.port, unit: 1)) }
        let probes = Wiring.probe(stations)
        let exception = try #require(refusalReason(probes[0]), "an exception reply fell back: \(probes[0])")
        #expect(exception.contains("exception") && exception.contains("never simulated"), "\(exception)")
        #expect(refusalReason(probes[1]) == "answers as cnc-mill, not heat-rig (IR 0)")
        // Refused means nothing starts, whatever the fallback says.
        #expect(throws: Wiring.RefusedStation.self) {
            _ = try Wiring.realStations(Configuration(source: "t", stations: [stations[0]]), clock: clock, seed: 1,
                                        logger: Logger(label: "test"))
        }
    }

    @Test func overRTUAnExceptionReplyOrAnotherKindRefusesTheStationAndSilenceFallsBack() throws {
        let pty = try PtyPair()
        let clock = MonotonicClock()
        let busy = try KindRegistry.builtIn.simulatedDevice(.aquaSonde, seed: 1, preset: "pond", unit: 1)
        try #require(busy as? any FaultInjectable).setExceptionReplies(.illegalFunction)
        let stream = try KindRegistry.builtIn.simulatedDevice(.streamStation, seed: 2, preset: "standard", unit: 2)
        let server = try ModbusRTUServer(devices: [1: busy, 2: stream], settings: SerialSettings(path: pty.a)) {
            clock.seconds()
        }
        server.start()
        defer { server.stop() }
        let line = SerialSettings(path: pty.b)
        let probes = Wiring.probe([sonde(.rtu(line, unit: 1)), sonde(.rtu(line, unit: 2)), sonde(.rtu(line, unit: 3))])
        let exception = try #require(refusalReason(probes[0]), "an exception reply fell back: \(probes[0])")
        #expect(exception.contains("exception"), "\(exception)")
        #expect(refusalReason(probes[1]) == "answers as stream-station, not aqua-sonde (IR 0)")
        guard case .silent = probes[2] else {
            Issue.record("a unit nobody serves did not count as silent: \(probes[2])")
            return
        }
    }
}
