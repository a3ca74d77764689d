import Control
import Devices
import Foundation
import Locking
import Logging
import Sim
import Stations
import Testing

/// An extraction device as the register contract describes a real one: channels 0–10 only, so a read reaching
/// IR 144 (channel 11, the simulator's lab assay `yield_true`) answers exception 02. The plant behind it is the
/// simulator's.
final class ExtractionWithoutAssay: ModbusDevice {
    static let firstMissing = ExtractionProfile.channels[11].address
    let inner: SimulatedDevice<ExtractionFirmware>
    /// Reads refused because they reached the missing block.
    let refused = Locked(0)

    init(seed: UInt64 = 1) {
        inner = SimulatedDevice(model: ExtractionFirmware(plant: ExtractionPlant(parameters: .standard, seed: seed)),
                                serial: 1)
    }

    var kind: DeviceKind { inner.kind }
    var unitId: UInt8 { inner.unitId }
    var tickPeriod: Double { inner.tickPeriod }
    func advance(to now: Double) { inner.advance(to: now) }

    func handle(_ request: ModbusRequest, now: Double) -> ModbusResponse? {
        if case .readInputRegisters(let address, let count) = request, address + count > Self.firstMissing {
            inner.advance(to: now)
            refused.withLock { $0 += 1 }
            return .exception(.illegalDataAddress)
        }
        return inner.handle(request, now: now)
    }
}

/// Issue 18 item 7: `yield_true` is served by the simulator only. The host learns once per connection whether a
/// device has it, and a device without it works as before, the channel reading "not available".
@Suite struct SimulatorOnlyChannelTests {
    private func client(_ device: any ModbusDevice, _ clock: VirtualClock = VirtualClock()) throws -> InMemoryModbusClient {
        let client = InMemoryModbusClient(device: device) { clock.seconds() }
        try client.connect()
        return client
    }

    @Test func theProfileAsksOnceWhetherTheDeviceServesTheAssay() throws {
        let simulated = SimulatedDevice(model: ExtractionFirmware(plant: ExtractionPlant(parameters: .standard, seed: 1)),
                                        serial: 1)
        #expect(try ExtractionProfile.servedChannelCount(from: client(simulated)) == 12)
        let real = ExtractionWithoutAssay()
        let c = try client(real)
        #expect(try ExtractionProfile.servedChannelCount(from: c) == 11)
        // Reading the twelve blocks is what such a device refuses; reading what it serves works, and the assay then
        // reads "not available", which is never a number.
        #expect(throws: ModbusTransactionError.self) { try ExtractionProfile.readSnapshot(from: c, order: .abcd) }
        let snapshot = try ExtractionProfile.readSnapshot(from: c, order: .abcd, channelCount: 11)
        #expect(snapshot.channels.count == 12)
        #expect(snapshot[.yieldTrue].quality == .notAvailable)
        #expect(snapshot[.yieldTrue].value == nil)
        #expect(snapshot[.level].value != nil)
        // A kind without simulator-only channels asks nothing: an unconnected client would throw.
        let unconnected = InMemoryModbusClient(device: simulated) { 0 }
        #expect(try HeatRigProfile.servedChannelCount(from: unconnected) == HeatRigProfile.channels.count)
    }

    private static let toml = """
        [[station]]
        name = "ex"
        kind = "extraction"
        address = "tcp://192.0.2.1:502"
        [station.control]
        start_run = true
        circulation_s = 60
        """

    /// The extraction station on `device`, run for `seconds` on the virtual clock.
    private func run(on device: any ModbusDevice, seconds: Double) throws -> any AnyStation {
        let config = try ConfigLoader.parse(Self.toml, source: "test.toml")
        let clock = VirtualClock()
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let client = InMemoryModbusClient(device: device) { clock.seconds() }
        let station = Wiring.makeStation(config.stations[0], mode: .real, client: client, logger: logger)
        station.start(now: 0)
        LoopRunner(clock: clock, loops: station.makeLoops()).run(until: Int64(seconds * 1e9))
        return station
    }

    @Test func aStationOnADeviceWithoutTheAssayRunsWithoutRefusedReads() throws {
        let device = ExtractionWithoutAssay()
        let station = try run(on: device, seconds: 150)
        let status = station.status()
        #expect(device.refused.withLock { $0 } == 1)  // the question asked when it connected
        #expect(status.link.transactionErrors == 0)
        #expect(status.link.up)
        #expect(status.run?.outcome == "completed", "\(String(describing: status.run))")
        let assay = try #require(status.channels.first { $0.name == "yield_true" })
        #expect(assay.value == nil)
        #expect(assay.quality == ChannelQuality.notAvailable.rawValue)
        // The API's read plan is the one its loops read: every channel is IR 100…143, without the assay's block.
        #expect(status.readPlan?.contains("temperature (1 s): FC 04 input 100…143 (44)") == true,
                "\(status.readPlan ?? [])")
        // Its run reports the host's estimate only.
        #expect(status.run?.results["yield_true"] == nil)
        #expect(status.run?.results["yield_estimate"]?.number != nil)

        // On the simulator the same station reads the assay.
        let simulated = SimulatedDevice(model: ExtractionFirmware(plant: ExtractionPlant(parameters: .standard, seed: 1)),
                                        serial: 1)
        let onSimulator = try run(on: simulated, seconds: 150).status()
        #expect(onSimulator.link.transactionErrors == 0)
        #expect(onSimulator.readPlan?.contains("temperature (1 s): FC 04 input 100…147 (48)") == true)
        #expect((onSimulator.channels.first { $0.name == "yield_true" }?.value ?? 0) > 0)
        #expect((onSimulator.run?.results["yield_true"]?.number ?? 0) > 0)
    }
}
