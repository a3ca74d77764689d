import Control
import Devices
import Foundation
import Locking
import Logging
import Stations
import Testing

/// Stopping many stations on the real clock: every station thread is asked to stop at once, so the time to stop is
/// one stop delay, not one per station (bench/run's scale section measures it).
@Suite struct StationServiceStopTests {
    /// Stations that wait, in `driveSafeState`, until every station has reached its own `driveSafeState`. If the
    /// threads were stopped one after another, the first would wait for stations never asked to stop, and its wait
    /// would end unmet (after `patience`) instead of being met.
    @Test func everyStationThreadIsAskedToStopBeforeAnyHasFinishedStopping() async throws {
        let count = 40
        let config = try ConfigLoader.parse((1...count).map {
            "[[station]]\nname = \"pond-\($0)\"\nkind = \"aqua-sonde\"\naddress = \"sim://\"\n"
        }.joined(separator: "\n"), source: "test.toml")
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let clock = MonotonicClock()
        let barrier = Barrier(parties: count, patience: 30)
        let stations = try config.stations.map {
            StopBarrierStation(try Wiring.simulatedStation($0, seed: 1, clock: clock, logger: logger), barrier: barrier)
        }
        // A worker each, so that every station waits on a thread of its own.
        let service = StationService(stations: stations, clock: clock, options: RealTimeOptions(), logger: logger,
                                     simulatedWorkers: count)
        #expect(service.threads.count == count)
        let running = Task { try await service.run() }
        // Let every thread start its loops (a stop asked before a runner starts is noticed just the same).
        try await Task.sleep(for: .milliseconds(300))
        running.cancel()
        try await running.value
        #expect(barrier.unmet == 0, "\(barrier.unmet) station(s) stopped while others had not been asked to")
        #expect(stations.allSatisfy { $0.drove.withLock { $0 } }, "every station drives its safe state")
    }
}

/// Parties that wait for each other, each at most `patience` seconds from the first arrival.
private final class Barrier: @unchecked Sendable {
    private let condition = NSCondition()
    private let parties: Int
    private let patience: Double
    private var arrived = 0
    private var first: Date?
    private var unmetCount = 0

    /// The parties whose wait ended before every party had arrived.
    var unmet: Int {
        condition.lock()
        defer { condition.unlock() }
        return unmetCount
    }

    init(parties: Int, patience: Double) {
        self.parties = parties
        self.patience = patience
    }

    func arriveAndWait() {
        condition.lock()
        defer { condition.unlock() }
        arrived += 1
        let deadline = (first ?? Date()).addingTimeInterval(patience)
        if first == nil { first = Date() }
        condition.broadcast()
        while arrived < parties {
            if !condition.wait(until: deadline) {
                unmetCount += 1
                return
            }
        }
    }
}

/// A station that meets the others at the barrier before it drives its safe state.
private final class StopBarrierStation: ForwardingStation, @unchecked Sendable {
    let barrier: Barrier
    let drove = Locked(false)

    init(_ inner: any AnyStation, barrier: Barrier) {
        self.barrier = barrier
        super.init(inner)
    }

    override func driveSafeState(now: Double) {
        barrier.arriveAndWait()
        inner.driveSafeState(now: now)
        drove.withLock { $0 = true }
    }
}
