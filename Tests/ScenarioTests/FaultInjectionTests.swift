import Control
import Daemon
import Devices
import DeviceTransports
import Foundation
import RigdTestKit
import Sim
import Stations
import Testing

/// Issue 8: faults in simulated devices — the request language, the control interface of `rigd simulate` with
/// `rigd fault`, and fault timelines on the virtual clock.
@Suite("Fault injection")
struct FaultInjectionTests {
    private func heatRig(seed: UInt64 = 1) throws -> any FaultInjectable & ModbusDevice {
        let device = try KindRegistry.builtIn.simulatedDevice(.heatRig, seed: seed)
        return try #require(device as? any FaultInjectable & ModbusDevice)
    }

    private func blockReading(_ device: any ModbusDevice, at t: Double) throws -> ChannelReading {
        let client = InMemoryModbusClient(device: device) { t }
        try client.connect()
        return try HeatRigProfile.readSnapshot(from: client, order: .abcd).channels[0]
    }

    @Test func requestsAreValidatedAgainstTheDeviceAndApplied() throws {
        let device = try heatRig()
        var stuck = FaultRequest()
        stuck.channel = "block_temp_c"
        stuck.fault = "stuck"
        stuck.value = 99
        try stuck.apply(to: device)
        #expect(try blockReading(device, at: 1).raw == 99)

        var unknown = stuck
        unknown.channel = "nope"
        #expect(throws: FaultRequest.Invalid.self) { try unknown.apply(to: device) }
        do { try unknown.apply(to: device) } catch { #expect("\(error)".contains("block_temp_c, mid_temp_c")) }

        var noValue = stuck
        noValue.value = nil
        #expect(throws: FaultRequest.Invalid.self) { try noValue.apply(to: device) }

        var disturbance = FaultRequest()
        disturbance.disturbance = "storm"
        do { try disturbance.apply(to: device) } catch { #expect("\(error)".contains("heater_failure")) }

        var exception = FaultRequest()
        exception.device = "exception"
        exception.code = 4
        try exception.apply(to: device)
        #expect(throws: ModbusTransactionError.self) { _ = try blockReading(device, at: 2) }

        var clear = FaultRequest()
        clear.clearAll = true
        try clear.apply(to: device)
        let left = device.injected
        #expect(!left.offline && left.answerDelay == 0 && left.exceptionReplies == nil && left.disturbances.isEmpty
                && left.channels.isEmpty, "\(left)")
        #expect(try blockReading(device, at: 3).raw != 99)
    }

    @Test func noiseAndSpikesAreRepeatableFromTheSeed() throws {
        var readings: [[Float]] = []
        for _ in 0..<2 {
            let device = try heatRig(seed: 7)
            device.setChannelFault(.noise(sigma: 2), channel: 0)
            device.setChannelFault(.spikes(size: 50, perHour: 3600), channel: 1)
            readings.append(try (1...50).map { i in try blockReading(device, at: Double(i) * 0.5).raw })
        }
        #expect(readings[0] == readings[1])
        let clean = try heatRig(seed: 7)
        let truth = try (1...50).map { i in try blockReading(clean, at: Double(i) * 0.5).raw }
        let deviations = zip(readings[0], truth).map { abs($0 - $1) }
        #expect(deviations.max() ?? 0 > 1, "noise of σ 2 barely moved the readings: \(deviations)")
    }

    @Test func aPlantDisturbanceChangesThePhysics() throws {
        let device = try KindRegistry.builtIn.simulatedDevice(.extraction, seed: 1)
        let injectable = try #require(device as? any FaultInjectable)
        #expect(injectable.disturbanceNames == ["fan_failure", "filter_clog", "leak"])
        let leakInput = ExtractionProfile.DiscreteInput.leak.rawValue
        let count = ExtractionProfile.DiscreteInput.allCases.count
        func leakReads(at now: Double) -> Bool? {
            guard case .bits(let bits)? = device.handle(.readDiscreteInputs(address: 0, count: count), now: now)
            else { return nil }
            return bits[leakInput]
        }
        #expect(leakReads(at: 1) == false)
        try injectable.setDisturbance("leak", active: true)
        #expect(injectable.injected.disturbances == ["leak"])
        #expect(leakReads(at: 2) == true, "the leak detector does not report the injected leak")
        try injectable.setDisturbance("leak", active: false)
        #expect(injectable.injected.disturbances.isEmpty)
        #expect(leakReads(at: 3) == false)
    }

    @Test func rigdFaultDrivesTheSimulatorsControlInterface() throws {
        let sim = try ChildProcess(try rigdBinary(), ["simulate", "--kind", "heat-rig", "--listen", "127.0.0.1:0",
                                                      "--control", "127.0.0.1:0"])
        defer { sim.signal(SIGTERM); _ = sim.waitForExit(timeout: 5) }
        var port: Int?
        var control: String?
        _ = sim.wait(for: 15) { out, _ in
            for line in out.split(separator: "\n") {
                if line.hasPrefix("serving"), let p = line.split(separator: ":").dropFirst().first?.split(separator: " ").first {
                    port = Int(p)
                }
                if line.hasPrefix("control on http://") { control = String(line.dropFirst("control on http://".count)) }
            }
            return port != nil && control != nil
        }
        let (modbusPort, controlAddress) = (try #require(port), try #require(control))
        let rigd = try rigdBinary()
        let fault = { (words: [String]) throws -> (status: Int32, stdout: String, stderr: String) in
            try runToCompletion(rigd, ["fault", "--control", controlAddress] + words, timeout: 20)
        }
        let client = ModbusTCPClient(host: "127.0.0.1", port: modbusPort,
                                     timeouts: ModbusTimeouts(response: .milliseconds(300)))
        try client.connect()
        defer { client.close() }

        let stuck = try fault(["channel", "block_temp_c", "stuck", "77.5"])
        #expect(stuck.status == 0, "\(stuck.stderr)")
        #expect(try HeatRigProfile.readSnapshot(from: client, order: .abcd).channels[0].raw == 77.5)

        let listed = try fault(["list"])
        #expect(listed.stdout.contains("block_temp_c: stuck(77.5)"), "\(listed.stdout)")

        #expect(try fault(["device", "exception", "6"]).status == 0)
        do {
            _ = try client.readInputRegisters(at: 0, count: 1)
            Issue.record("a read succeeded while every request should answer exception 06")
        } catch let error as ModbusTransactionError {
            #expect(error.exception == .serverBusy)
        }
        #expect(try fault(["device", "delay", "800"]).status == 0)
        #expect(throws: ModbusLinkError.self) { _ = try client.readInputRegisters(at: 0, count: 1) }

        #expect(try fault(["clear"]).status == 0)
        // The late answer to the timed-out request is still on its way: let it pass, then start afresh.
        Thread.sleep(forTimeInterval: 1)
        client.close()
        try client.connect()
        #expect(try client.readInputRegisters(at: 0, count: 1) == [DeviceKind.heatRig.deviceType])

        let refused = try fault(["channel", "nope", "lost"])
        #expect(refused.status == ExitStatus.dataError)
        #expect(refused.stderr.contains("heat-rig has no channel \"nope\""), "\(refused.stderr)")
        let network = try runToCompletion(rigd, ["simulate", "--kind", "heat-rig", "--listen", "127.0.0.1:0",
                                                 "--control", "0.0.0.0:0"], timeout: 10)
        #expect(network.status == ExitStatus.usage)
        #expect(network.stderr.contains("loopback"))
    }

    static let plant = """
    [[station]]
    name = "pond-f"
    kind = "aqua-sonde"
    address = "sim://"
    [station.sim]
    preset = "nursery"

    [[station]]
    name = "ext-f"
    kind = "extraction"
    address = "sim://"
    [station.control]
    start_run = true
    """

    static let timeline = """
    [[fault]]
    at = "20m"
    station = "pond-f"
    channel = "do_mgl"
    fault = "lost"

    [[fault]]
    at = "40m"
    station = "ext-f"
    disturbance = "fan_failure"
    active = true

    [[fault]]
    at = 4800
    station = "pond-f"
    channel = "ph"
    fault = "noise"
    sigma = 0.5
    """

    @Test func aVirtualFaultTimelineGivesItsAlarmsAndTheSameReportTwice() throws {
        let config = try temporaryFile(Self.plant)
        let faults = try temporaryFile(Self.timeline)
        defer { unlink(config); unlink(faults) }
        var reports: [[String: Any]] = []
        for _ in 0..<2 {
            let path = NSTemporaryDirectory() + "rigd-faults-\(UUID()).json"
            defer { unlink(path) }
            let run = try runToCompletion(try rigdReleaseBinary(), ["run", "--virtual", "--for", "100m", "--seed", "3",
                                                                    "--config", config, "--faults", faults,
                                                                    "--report", path], timeout: 300)
            #expect(run.status == 0, "\(run.stderr.suffix(2000))")
            var report = try readReport(path)
            report["wall_s"] = nil
            reports.append(report)
        }
        let a = try JSONSerialization.data(withJSONObject: reports[0], options: [.sortedKeys])
        let b = try JSONSerialization.data(withJSONObject: reports[1], options: [.sortedKeys])
        #expect(a == b, "two runs with one seed and timeline differ")

        let applied = (reports[0]["faults"] as? [[String: Any]])?.map { "\($0["station"] ?? "") \($0["fault"] ?? "")" }
        #expect(applied == ["pond-f do_mgl lost", "ext-f fan_failure on", "pond-f ph noise sigma=0.5"])
        let stations = reports[0]["stations"] as? [[String: Any]] ?? []
        func alarms(_ name: String) -> [(String, Double)] {
            let station = stations.first { $0["name"] as? String == name }
            return (station?["alarms"] as? [[String: Any]] ?? []).map {
                ($0["code"] as? String ?? "", $0["raised_s"] as? Double ?? -1)
            }
        }
        let pond = alarms("pond-f")
        #expect(pond.contains { $0.0 == "do_mgl_fault" && (1200...1260).contains($0.1) }, "\(pond)")
        let extractor = alarms("ext-f")
        #expect(extractor.contains { $0.0 == "box_temp_high" && $0.1 > 2400 }, "\(extractor)")
        #expect(!extractor.contains { $0.1 < 2400 }, "an alarm before the fault: \(extractor)")
    }
    @Test func aBadTimelineIsRefusedBeforeTheRun() throws {
        let config = try temporaryFile(Self.plant)
        let faults = try temporaryFile("""
        [[fault]]
        at = "1h"
        station = "pond-f"
        channel = "oxygen"
        fault = "lost"

        [[fault]]
        station = "nowhere"
        disturbance = "storm"
        colour = "red"
        """)
        defer { unlink(config); unlink(faults) }
        let run = try runToCompletion(try rigdBinary(), ["run", "--virtual", "--for", "2h", "--config", config,
                                                         "--faults", faults], timeout: 60)
        #expect(run.status == ExitStatus.config)
        #expect(run.stderr.contains("fault 2: at is required"), "\(run.stderr)")
        #expect(run.stderr.contains("colour"), "\(run.stderr)")

        // A well-formed timeline naming what the plant does not have is refused once the stations are wired.
        let unknown = try temporaryFile("""
        [[fault]]
        at = "1h"
        station = "pond-f"
        channel = "oxygen"
        fault = "lost"
        """)
        defer { unlink(unknown) }
        let second = try runToCompletion(try rigdBinary(), ["run", "--virtual", "--for", "2h", "--config", config,
                                                            "--faults", unknown], timeout: 60)
        #expect(second.status == ExitStatus.config)
        #expect(second.stderr.contains("aqua-sonde has no channel \"oxygen\""), "\(second.stderr)")
    }
    /// An injected answer delay is a timeout only beyond the station's own `response_timeout_ms`, on the virtual clock
    /// as over a real link (the in-process client used to judge every delay against a fixed 0.5 s).
    @Test func aDelayTimesOutOnlyBeyondTheStationsResponseTimeout() throws {
        let config = try temporaryFile("""
        [[station]]
        name = "patient"
        kind = "heat-rig"
        address = "sim://"
        response_timeout_ms = 2000
        [[station]]
        name = "impatient"
        kind = "heat-rig"
        address = "sim://"
        """)
        let timeline = try temporaryFile("""
        [[fault]]
        at = "10s"
        station = "patient"
        device_fault = "delay"
        ms = 1000
        [[fault]]
        at = "10s"
        station = "impatient"
        device_fault = "delay"
        ms = 1000
        """)
        let report = NSTemporaryDirectory() + "rigd-delay-\(UUID()).json"
        defer { for f in [config, timeline, report] { unlink(f) } }
        let run = try runToCompletion(try rigdBinary(), ["run", "--virtual", "--for", "60s", "--config", config,
                                                         "--faults", timeline, "--report", report], timeout: 120)
        #expect(run.status == 0, "\(run.stderr.suffix(2000))")
        let stations = try #require(try readReport(report)["stations"] as? [[String: Any]])
        func linkErrors(_ name: String) -> Int? {
            (stations.first { $0["name"] as? String == name }?["link"] as? [String: Any])?["link_errors"] as? Int
        }
        #expect(linkErrors("patient") == 0, "1 s answers within a 2 s timeout are answers")
        #expect((linkErrors("impatient") ?? 0) > 0, "1 s answers beyond the default 0.5 s timeout are timeouts")
    }
}
