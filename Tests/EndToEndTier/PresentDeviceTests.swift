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
/// read, or another device type, refuses the station (mode `refused`, or exit 69 with fallback "fail"); only silence
/// falls back to simulation. Over Modbus TCP and RTU.
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
        // With fallback "fail" nothing starts; with "simulate" the station is refused (not simulated) and the others
        // start.
        var failing = stations[0]
        failing.fallback = .fail
        #expect(throws: Wiring.RefusedStation.self) {
            _ = try Wiring.realStations(Configuration(source: "t", stations: [failing]), clock: clock, seed: 1,
                                        logger: Logger(label: "test"))
        }
        let silent = StationConfig(name: "silent", address: .tcp(host: "127.0.0.1", port: 1, unit: 1),
                                   probeTimeoutMs: 300, control: Configured<HeatRigKind>(HeatRigControlConfig()))
        let wired = try Wiring.realStations(Configuration(source: "t", stations: [stations[0], stations[1], silent]),
                                            clock: clock, seed: 1, logger: Logger(label: "test"))
        #expect(wired.map(\.mode) == [.refused, .refused, .simulated])
        #expect(wired.prefix(2).allSatisfy { $0.simulation == nil && $0.makeLoops().isEmpty })
        #expect(wired[1].status().refusedReason == "answers as cnc-mill, not heat-rig (IR 0)")
        // Refused stations get no loop thread: an idle runner would look hung to the systemd watchdog.
        let service = StationService(stations: wired, clock: clock, options: RealTimeOptions(),
                                     logger: Logger(label: "test"))
        #expect(service.threads.map(\.names) == ["silent"])
    }

    /// The daemon keeps a refused station visible: in the API with its reason, in the health document and the log;
    /// writes to it answer 409 at once; the other stations run; with fallback "fail" nothing starts (exit 69).
    @Test func theDaemonShowsARefusedStationAndRunsTheOthers() async throws {
        let (mill, port) = try startSimulator(kind: "cnc-mill")
        defer { mill.signal(SIGTERM); _ = mill.waitForExit(timeout: 5) }
        let stations = """
            [[station]]
            name = "rig"
            kind = "heat-rig"
            address = "tcp://127.0.0.1:\(port)"
            probe_timeout_ms = 500
            FALLBACK
            [[station]]
            name = "spare"
            kind = "heat-rig"
            address = "tcp://127.0.0.1:1"
            probe_timeout_ms = 200

            """
        let config = try temporaryFile(stations.replacingOccurrences(of: "FALLBACK", with: ""))
        defer { unlink(config) }
        let rigd = try ChildProcess(try rigdBinary(), ["run", "--config", config, "--status-every", "0"])
        defer { rigd.signal(SIGTERM); _ = rigd.waitForExit(timeout: 10) }
        let base = try rigd.apiBase()
        let list = try await http("GET", base + "/api/stations").json?["stations"] as? [[String: Any]] ?? []
        let modes = list.map { "\($0["name"] ?? "?")=\($0["mode"] ?? "?")" }
        #expect(modes == ["rig=refused", "spare=simulated"])
        let reason = list.first?["refused_reason"] as? String
        #expect(reason == "answers as cnc-mill, not heat-rig (IR 0)")
        #expect(try await http("GET", base + "/api/health").json?["refused"] as? Int == 1)
        let token = try String(contentsOfFile: try #require(rigd.dataDirectory) + "/api-token", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let write = try await http("POST", base + "/api/stations/rig/run/stop", body: "{}", token: token)
        #expect(write.status == 409, "\(write.text)")
        #expect(write.json?["error"] as? String == "station_refused")
        #expect(rigd.stderr.contains("station rig (heat-rig): REFUSED — the device at tcp://127.0.0.1:\(port) answers as "
                                     + "cnc-mill"), "\(rigd.stderr)")
        #expect(!rigd.stderr.contains("station rig (heat-rig): SIMULATED"))
        rigd.signal(SIGTERM)
        #expect(rigd.waitForExit(timeout: 10) == 0, "\(rigd.stderr)")

        let strict = try temporaryFile(stations.replacingOccurrences(of: "FALLBACK", with: "fallback = \"fail\""))
        defer { unlink(strict) }
        let failed = try runToCompletion(try rigdBinary(), ["run", "--config", strict, "--for", "5s"])
        #expect(failed.status == 69, "\(failed.stderr)")
        #expect(failed.stderr.contains("answers as cnc-mill, not heat-rig (IR 0); nothing started"), "\(failed.stderr)")
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
