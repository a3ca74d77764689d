import Control
import Devices
import Foundation
import Logging
import RigdTestKit
@testable import Sim
import SimServe
import Stations
import Testing

/// Answers as an extraction device (0x0A01) whatever is asked.
final class ImpostorDevice: ModbusDevice {
    let kind = DeviceKind.extraction
    let unitId: UInt8 = 1
    let tickPeriod = 0.01
    func advance(to now: Double) {}
    func handle(_ request: ModbusRequest, now: Double) -> ModbusResponse? {
        if case .readInputRegisters(0, let count) = request {
            return .registers(Array([0x0A01, 100, 0, 1, 0, 0, 0].prefix(count)))
        }
        return .exception(.illegalDataAddress)
    }
}

@Suite struct WiringTests {
    private func station(_ address: DeviceAddress, fallback: Fallback = .simulate) -> StationConfig {
        StationConfig(name: "r", address: address, fallback: fallback, probeTimeoutMs: 300,
                      control: Configured<HeatRigKind>(HeatRigControlConfig()))
    }

    @Test func aDeviceOfAnotherKindIsNeverSimulatedOver() throws {
        let clock = MonotonicClock()
        let server = try ModbusTCPServer(device: ImpostorDevice(), host: "127.0.0.1", port: 0) { clock.seconds() }
        server.start()
        defer { server.stop() }
        let config = Configuration(source: "t", stations: [station(.tcp(host: "127.0.0.1", port: server.port, unit: 1))])
        guard case .wrongDevice(let reason) = Wiring.probe(config.stations)[0] else {
            Issue.record("impostor not detected")
            return
        }
        #expect(reason == "answers as extraction, not heat-rig (IR 0)")
        // fallback "simulate": refused, not simulated; fallback "fail": nothing starts.
        let wired = try Wiring.realStations(config, clock: clock, seed: 1, logger: Logger(label: "test"))
        #expect(wired.map(\.mode) == [.refused] && wired[0].simulation == nil)
        let strict = Configuration(source: "t", stations: [station(.tcp(host: "127.0.0.1", port: server.port, unit: 1),
                                                                   fallback: .fail)])
        #expect(throws: Wiring.RefusedStation.self) {
            _ = try Wiring.realStations(strict, clock: clock, seed: 1, logger: Logger(label: "test"))
        }
    }

    @Test func probeOutcomes() throws {
        let clock = MonotonicClock()
        let heatRig = SimulatedDevice(model: HeatRigFirmware(plant: HeatRigPlant(seed: 1)), serial: 1)
        let server = try ModbusTCPServer(device: heatRig, host: "127.0.0.1", port: 0) { clock.seconds() }
        server.start()
        defer { server.stop() }
        let probes = Wiring.probe([station(.tcp(host: "127.0.0.1", port: server.port, unit: 1)),
                                   station(.tcp(host: "127.0.0.1", port: 1, unit: 1)), station(.simulated)])
        guard case .answered = probes[0] else { Issue.record("live device not answered: \(probes[0])"); return }
        guard case .silent(let reason) = probes[1] else { Issue.record("dead port answered"); return }
        #expect(reason.contains("Connection refused"), "\(reason)")
        guard case .silent = probes[2] else { Issue.record("sim:// probed"); return }
    }

    @Test func operatorRequestsGoThroughTheMailbox() throws {
        let clock = VirtualClock()
        let config = Configuration(source: "t", stations: [station(.simulated)])
        let stations = try Wiring.virtualStations(config, clock: clock, seed: 1, logger: Logger(label: "test"))
        let s = stations[0]
        s.start(now: 0)
        let runner = LoopRunner(clock: clock, loops: s.makeLoops())
        let replies = ReplyLog()
        s.mailbox.post(.set(name: "setpoint_c", value: 500)) { replies.add($0) }
        s.mailbox.post(.set(name: "setpoint_c", value: 45)) { replies.add($0) }
        #expect(replies.all.isEmpty)  // nothing applied until the station's next tick
        runner.run(until: 0)
        let all = replies.all
        #expect(all.count == 2)
        if case .failure(let rejection) = all[0] { #expect(rejection.reason.contains("must be within")) } else {
            Issue.record("500 °C accepted")
        }
        if case .failure = all[1] { Issue.record("45 °C rejected") }
        runner.run(until: 1_800_000_000_000)
        let results = s.report(includeLateness: false)["results"]
        guard case .object(let r)? = results else { return }
        #expect(r["setpoint_c"] == .number(45))
    }
}
