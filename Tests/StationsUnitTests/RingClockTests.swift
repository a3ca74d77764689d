import Control
import Devices
import Foundation
import Locking
import Logging
import Sim
import SimServe
import Stations
import Testing

/// A device whose answers to reads of the sample ring's slots (above its write index and period) take `delay` of
/// wall time, as when the host is descheduled mid-read; every request is counted.
private final class SlowRingDevice: ModbusDevice {
    let inner: any ModbusDevice
    let delay: useconds_t
    let requests = Locked(0)

    init(_ inner: any ModbusDevice, delay: useconds_t) {
        self.inner = inner
        self.delay = delay
    }

    var kind: DeviceKind { inner.kind }
    var unitId: UInt8 { inner.unitId }
    var tickPeriod: Double { inner.tickPeriod }
    func advance(to now: Double) { inner.advance(to: now) }

    func handle(_ request: ModbusRequest, now: Double) -> ModbusResponse? {
        requests.withLock { $0 += 1 }
        if delay > 0, case .readInputRegisters(let address, _) = request,
           address >= MassSpringDamperProfile.ring.samplesAddress {
            usleep(delay)
        }
        return inner.handle(request, now: now)
    }
}

/// The sample ring's reader times each read to know whether the device can have overwritten what it read. On the
/// virtual clock no time passes in a call: a read that took long on the wall clock must not change what the station
/// asks (a 72 h deep-tier run once differed from its twin by one request when the host was descheduled mid-read).
@Suite struct RingClockTests {
    private func requests(delay: useconds_t) throws -> Int {
        let config = try ConfigLoader.parse("""
            [[station]]
            name = "msd-1"
            kind = "msd-rig"
            address = "tcp://192.0.2.1:502"
            [station.control]
            start_run = true
            """, source: "test.toml")
        let clock = VirtualClock()
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let device = SlowRingDevice(SimulatedDevice(
            model: MassSpringDamperFirmware(plant: MassSpringDamperPlant(parameters: .standard, seed: 1), seed: 1),
            serial: 1), delay: delay)
        let client = InMemoryModbusClient(device: device) { clock.seconds() }
        let station = Wiring.makeStation(config.stations[0], mode: .real, client: client,
                                         clock: { clock.seconds() }, logger: logger)
        station.start(now: 0)
        LoopRunner(clock: clock, loops: station.makeLoops()).run(until: Int64(1e9))
        return device.requests.withLock { $0 }
    }

    @Test func aRingReadThatTakesLongOnTheWallClockAsksNothingMoreOnTheVirtualClock() throws {
        let quick = try requests(delay: 0)
        // 40 ms a slot read: longer than the 64 ms ring can absorb at twice its 1 kHz rate, so a wall-clock timing
        // would read the write index again after each such read.
        let slow = try requests(delay: 40_000)
        #expect(quick > 100, "the ring is read: \(quick) requests")
        #expect(slow == quick, "\(slow) requests with slow ring reads, \(quick) without")
    }
}
