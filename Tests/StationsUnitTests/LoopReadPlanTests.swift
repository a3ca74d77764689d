import Control
import Devices
import Foundation
import Locking
import Logging
import Sim
import Stations
import Testing

/// A simulated device that remembers every request it answered, with the device time it came at. `contract100`: it
/// answers as a contract 1.00 device would (IR 1 reads 100, and there is no switch word at IR 99).
private final class RecordingDevice: ModbusDevice {
    let inner: any ModbusDevice
    let contract100: Bool
    let requests = Locked<[(Double, ModbusRequest)]>([])

    init(_ inner: any ModbusDevice, contract100: Bool = false) {
        self.inner = inner
        self.contract100 = contract100
    }

    var kind: DeviceKind { inner.kind }
    var unitId: UInt8 { inner.unitId }
    var tickPeriod: Double { inner.tickPeriod }
    func advance(to now: Double) { inner.advance(to: now) }

    func handle(_ request: ModbusRequest, now: Double) -> ModbusResponse? {
        requests.withLock { $0.append((now, request)) }
        guard contract100, case .readInputRegisters(let address, let count) = request else {
            return inner.handle(request, now: now)
        }
        let span = address..<(address + count)
        if span.contains(CommonRegisters.switchWord) { return .exception(.illegalDataAddress) }
        let response = inner.handle(request, now: now)
        guard span.contains(CommonRegisters.profileVersion), case .registers(var words)? = response else { return response }
        words[CommonRegisters.profileVersion - address] = 100
        return .registers(words)
    }

    /// The reads in `window`, counted by what they read (`FC 04 100+12`).
    func reads(in window: ClosedRange<Double>) -> [String: Int] {
        var out: [String: Int] = [:]
        for (time, request) in requests.withLock({ $0 }) where window.contains(time) {
            let key: String
            switch request {
            case .readInputRegisters(let a, let c): key = "FC 04 \(a)+\(c)"
            case .readHoldingRegisters(let a, let c): key = "FC 03 \(a)+\(c)"
            case .readCoils(let a, let c): key = "FC 01 \(a)+\(c)"
            case .readDiscreteInputs(let a, let c): key = "FC 02 \(a)+\(c)"
            default: continue
            }
            out[key, default: 0] += 1
        }
        return out
    }
}

/// Issue 19, "Read plans": each loop reads what it declares, and the snapshot it is handed has the rest as the loops
/// that read it last read it.
struct LoopReadPlanTests {
    static let toml = """
        [[station]]
        name = "ex"
        kind = "extraction"
        address = "tcp://192.0.2.1:502"
        [station.control]
        start_run = true
        circulation_s = 3600
        """

    private func run(seconds: Double) throws -> (RecordingDevice, any AnyStation) {
        let config = try ConfigLoader.parse(Self.toml, source: "test.toml")
        let clock = VirtualClock()
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let device = RecordingDevice(SimulatedDevice(
            model: ExtractionFirmware(plant: ExtractionPlant(parameters: .standard, seed: 1)), serial: 1))
        let client = InMemoryModbusClient(device: device) { clock.seconds() }
        let station = Wiring.makeStation(config.stations[0], mode: .real, client: client, logger: logger)
        station.start(now: 0)
        LoopRunner(clock: clock, loops: station.makeLoops()).run(until: Int64(seconds * 1e9))
        return (device, station)
    }

    @Test func theExtractionLoopsReadOnlyWhatTheyDeclare() throws {
        let (device, station) = try run(seconds: 60)
        let status = station.status()
        #expect(status.phase == "circulating", "the run is under way: \(status.phase ?? "none")")
        // Ten seconds of circulation (both ends inside, so 1001 position ticks and 101 flow ticks).
        let reads = device.reads(in: 49.999...60.0001)
        // 100 Hz: the position loop reads the switches (E-stop, leak, limits: an E-stop is seen within one tick), the
        // axes and the level in one request: the switch word at IR 99 and the blocks of channels 0–2 above it.
        #expect((1000...1002).contains(reads["FC 04 99+13"] ?? 0), "\(reads)")
        #expect(reads["FC 02 0+7"] == nil, "the switches come with the axes: \(reads)")
        // 10 Hz: the flow loop reads the header, and flow and ΔP in one request.
        #expect((100...102).contains(reads["FC 04 0+7"] ?? 0), "\(reads)")
        #expect((100...102).contains(reads["FC 04 120+8"] ?? 0), "\(reads)")
        // 1 Hz: every channel (the simulator serves the assay too), and ΔP with the outputs read back.
        #expect((10...11).contains(reads["FC 04 100+48"] ?? 0), "\(reads)")
        #expect((10...11).contains(reads["FC 03 100+8"] ?? 0), "\(reads)")
        #expect((10...11).contains(reads["FC 01 0+5"] ?? 0), "\(reads)")
        // Nothing else: the whole snapshot is no longer read on every tick.
        #expect(reads.count == 7, "\(reads.keys.sorted())")
        // The snapshot handed on still has every channel, the fast ones fresh.
        #expect(status.channels.allSatisfy { $0.value != nil }, "\(status.channels)")
    }

    @Test func theReadPlanShowsEachLoopsRequests() throws {
        let (_, station) = try run(seconds: 0.5)
        #expect(station.status().readPlan?.prefix(4) == [
            "position (10 ms): FC 04 input 99…111 (13)",
            "flow (100 ms): FC 04 input 0…6 (7)", "flow (100 ms): FC 04 input 120…127 (8)",
            "temperature (1 s): FC 04 input 100…147 (48)"])
    }

    /// A device of contract 1.00 has no switch word (IR 1 reads 100, IR 99 answers 02): the station reads the
    /// switches with FC 02, as before, and runs the same.
    @Test func aDeviceWithoutTheSwitchWordIsReadWithFC02() throws {
        let config = try ConfigLoader.parse(Self.toml, source: "test.toml")
        let clock = VirtualClock()
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let device = RecordingDevice(SimulatedDevice(
            model: ExtractionFirmware(plant: ExtractionPlant(parameters: .standard, seed: 1)), serial: 1),
            contract100: true)
        let client = InMemoryModbusClient(device: device) { clock.seconds() }
        let station = Wiring.makeStation(config.stations[0], mode: .real, client: client, logger: logger)
        station.start(now: 0)
        LoopRunner(clock: clock, loops: station.makeLoops()).run(until: Int64(60e9))
        let status = station.status()
        #expect(status.phase == "circulating", "the run is under way: \(status.phase ?? "none")")
        #expect(status.readPlan?.prefix(2) == ["position (10 ms): FC 04 input 100…111 (12)",
                                               "position (10 ms): FC 02 discrete 0…6 (7)"])
        let reads = device.reads(in: 49.999...60.0001)
        #expect((1000...1002).contains(reads["FC 04 100+12"] ?? 0), "\(reads)")
        #expect((1000...1002).contains(reads["FC 02 0+7"] ?? 0), "\(reads)")
        #expect(reads.keys.allSatisfy { !$0.hasPrefix("FC 04 99") }, "\(reads)")
        #expect(status.alarms.isEmpty, "\(status.alarms)")
    }

    /// With the switch word, what the cache hands on as discrete inputs is the word's bits: an E-stop pressed on the
    /// device reads as DI 0 = 0 from the same request as the channels.
    @Test func theSwitchWordAnswersTheDiscreteInputs() throws {
        let device = SimulatedDevice(
            model: ExtractionFirmware(plant: ExtractionPlant(parameters: .standard, seed: 1)), serial: 1)
        let recording = RecordingDevice(device)
        let cache = SnapshotCache(base: InMemoryModbusClient(device: recording) { 1 })
        try cache.connect()
        cache.switchWord = true
        let spans = [ContractSpan(.discrete, 0..<7), ContractSpan(.input, 100..<112)]
        #expect(cache.plan(spans).description == "FC 04 input 99…111 (13)")
        try cache.refresh(spans)
        #expect(try cache.readDiscreteInputs(at: 0, count: 7)[0] == true, "E-stop OK")
        device.setEstop(pressed: true)
        try cache.refresh(spans)
        #expect(try cache.readDiscreteInputs(at: 0, count: 7)[0] == false, "E-stop pressed")
        let reads = recording.reads(in: 0...2)
        #expect(reads["FC 04 99+13"] == 2 && reads["FC 02 0+7"] == nil, "no FC 02: \(reads)")
        cache.switchWord = false
        #expect(cache.plan(spans).description == "FC 04 input 100…111 (12); FC 02 discrete 0…6 (7)")
    }

    /// Through a map, a loop's needs are planned in the map's own registers: the PLC-style map keeps the heat rig's
    /// channels and outputs in holding registers, and one request reads them.
    @Test func throughAMapALoopsNeedsArePlannedInTheMapsRegisters() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let map = try MapLoader.load(path: root.appendingPathComponent("examples/maps/plc-heat-rig.toml").path)
        let cache = SnapshotCache(base: MappedClient(base: InMemoryModbusClient(device: try HeatRigKind.configure(nil)
            .simulatedDevice(seed: 1, preset: "standard", unit: 1, host: SimulatedHost())) { 1 },
            map: map, layout: HeatRigKind.contractLayout, paceRequests: false))
        let everything = ContractSpan.snapshot(of: HeatRigProfile.self, channelCount: HeatRigProfile.channels.count)
        #expect(cache.plan(everything).description == "FC 03 holding 0…11 (12); FC 01 coil 0…1 (2)")
        let block = ContractSpan.select(ReadNeeds(channels: [0]), from: everything)
        #expect(block == [ContractSpan(.input, 100..<104)])
        #expect(cache.plan(block).description.hasPrefix("FC 03 holding 0…"), "\(cache.plan(block))")
        #expect(cache.plan(block).requests.count == 1)
    }

    /// A span whose refresh failed is not handed on from memory: the next read of it goes to the device.
    @Test func aFailedRefreshDropsWhatWasKept() throws {
        let device = try HeatRigKind.configure(nil).simulatedDevice(seed: 1, preset: "standard", unit: 1,
                                                                     host: SimulatedHost())
        let recording = RecordingDevice(device)
        let client = InMemoryModbusClient(device: recording) { 1 }
        let cache = SnapshotCache(base: client)
        try cache.connect()
        let header = ContractSpan(.input, 0..<7)
        try cache.refresh([header])
        _ = try cache.readInputRegisters(at: 0, count: 7)
        #expect(recording.reads(in: 0...2)["FC 04 0+7"] == 1, "answered from memory")
        // A span the device refuses (exception 02) fails the refresh, and every span of it is dropped.
        #expect(throws: (any Error).self) { try cache.refresh([header, ContractSpan(.input, 9000..<9001)]) }
        _ = try cache.readInputRegisters(at: 0, count: 7)
        #expect(recording.reads(in: 0...2)["FC 04 0+7"] == 3, "dropped: refreshed once more, then read from the device")
    }
}
