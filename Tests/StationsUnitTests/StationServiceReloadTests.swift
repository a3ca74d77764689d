import Control
import Devices
import Foundation
import Locking
import Logging
import Stations
import Testing

/// A configuration reload on the real clock (issue 23 part 6): stations taken off a running worker drive their safe
/// state, new ones join it or get a thread, and a station that stays keeps its loops running through it all.
@Suite struct StationServiceReloadTests {
    private static func stations(_ names: [String], kind: String = "aqua-sonde",
                                 clock: MonotonicClock) throws -> [CountingStation] {
        let config = try ConfigLoader.parse(names.map {
            "[[station]]\nname = \"\($0)\"\nkind = \"\(kind)\"\naddress = \"sim://\"\n"
        }.joined(separator: "\n"), source: "test.toml")
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return try config.stations.map {
            CountingStation(try Wiring.simulatedStation($0, seed: 1, clock: clock, logger: logger))
        }
    }

    @Test func aStationThatStaysKeepsItsLoopsWhileOthersLeaveAndJoin() async throws {
        let clock = MonotonicClock()
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        // Mills tick every 10 ms: a station restarted or held up would show a gap at once.
        let first = try Self.stations(["stays", "leaves", "refused"], kind: "cnc-mill", clock: clock)
        let refused = Posing(first[2], mode: .refused)
        // One worker: the leaving and the joining station share the staying one's runner.
        let service = StationService(stations: [first[0], first[1], refused], clock: clock,
                                     options: RealTimeOptions(), logger: logger, simulatedWorkers: 1)
        let running = Task { try await service.run() }
        let stays = first[0]
        for _ in 0..<100 where stays.ticks.withLock({ $0.count }) < 10 { try await Task.sleep(for: .milliseconds(100)) }
        let ticksBefore = stays.inner.status().loops.map(\.ticks)

        let joining = try Self.stations(["joins"], kind: "cnc-mill", clock: clock)[0]
        let late = service.replace(removing: ["leaves", "refused"], adding: [joining],
                                   stations: [stays, joining])
        #expect(late.isEmpty)
        #expect(first[1].safeStates.withLock { $0 } == 1, "the leaving station drove its safe state before replace returned")
        #expect(service.stations.map(\.name) == ["stays", "joins"])
        #expect(service.threads.count == 1, "the joining station shares the worker")
        #expect(service.threads[0].stations.map(\.name) == ["stays", "joins"])
        let leftTicks = first[1].ticks.withLock { $0.count }
        for _ in 0..<100 where joining.ticks.withLock({ $0.count }) <= 10 { try await Task.sleep(for: .milliseconds(100)) }
        #expect(first[1].ticks.withLock { $0.count } == leftTicks, "a station taken off ticks no more")
        #expect(joining.starts.withLock { $0 } == 1)
        #expect(joining.ticks.withLock { $0.count } > 10, "the joining station runs")

        // The staying station was never stopped or started again, and its loops went on counting.
        #expect(stays.starts.withLock { $0 } == 1)
        #expect(stays.safeStates.withLock { $0 } == 0)
        let ticksAfter = stays.inner.status().loops.map(\.ticks)
        #expect(zip(ticksBefore, ticksAfter).allSatisfy { $0 < $1 }, "\(ticksBefore) → \(ticksAfter)")
        // Its ticks never stopped: no gap of a second (a hundred of its periods: a generous bound, so that a loaded
        // machine does not fail it, which still catches a worker held up by the change).
        let times = stays.ticks.withLock { $0 }
        let gaps = zip(times.dropFirst(), times).map { $0 - $1 }
        #expect((gaps.max() ?? 1) < 1, "largest gap between the staying station's ticks: \(gaps.max() ?? -1) s")

        running.cancel()
        try await running.value
        #expect(stays.safeStates.withLock { $0 } == 1 && joining.safeStates.withLock { $0 } == 1)
        #expect(first[1].safeStates.withLock { $0 } == 1, "a station taken off is not stopped twice")
    }

    @Test func aReloadStartsThreadsForStationsWhenNoneRan() async throws {
        // Every station refused at start: the service waits; a reload that adds a station starts a worker for it.
        let clock = MonotonicClock()
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let refused = Posing(try Self.stations(["refused"], clock: clock)[0], mode: .refused)
        let service = StationService(stations: [refused], clock: clock, options: RealTimeOptions(), logger: logger)
        #expect(service.threads.isEmpty)
        let running = Task { try await service.run() }
        try await Task.sleep(for: .milliseconds(200))
        let added = try Self.stations(["added"], kind: "cnc-mill", clock: clock)[0]
        _ = service.replace(removing: ["refused"], adding: [added], stations: [added])
        for _ in 0..<100 where added.ticks.withLock({ $0 }).isEmpty { try await Task.sleep(for: .milliseconds(100)) }
        #expect(service.threads.map(\.threadName) == ["sim-1"])
        #expect(added.starts.withLock { $0 } == 1 && !added.ticks.withLock { $0 }.isEmpty)
        running.cancel()
        try await running.value
        #expect(added.safeStates.withLock { $0 } == 1)
    }
}

/// A station that counts its starts and safe states and notes the time of each tick.
final class CountingStation: ForwardingStation, @unchecked Sendable {
    let starts = Locked(0)
    let safeStates = Locked(0)
    let ticks = Locked<[Double]>([])

    override init(_ inner: any AnyStation) {
        super.init(inner)
        let ticks = self.ticks
        inner.setTickHook { now in ticks.withLock { $0.append(now) } }
    }

    override func start(now: Double) {
        starts.withLock { $0 += 1 }
        inner.start(now: now)
    }

    override func driveSafeState(now: Double) {
        safeStates.withLock { $0 += 1 }
        inner.driveSafeState(now: now)
    }
}
