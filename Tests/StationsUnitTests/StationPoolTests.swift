import Control
import Devices
import Foundation
import Locking
import Logging
import Stations
import Testing

/// Which thread runs which station on the real clock: real stations alone (or with their serial line), simulated
/// stations shared among the workers of a pool by their ticks a second.
@Suite struct StationPoolTests {
    static let kinds = ["extraction", "aqua-sonde", "cnc-mill", "heat-rig", "msd-rig", "stream-station"]

    static func simulated(_ count: Int, clock: MonotonicClock) throws -> [any AnyStation] {
        let config = try ConfigLoader.parse((1...count).map {
            "[[station]]\nname = \"s\($0)\"\nkind = \"\(kinds[($0 - 1) % kinds.count])\"\naddress = \"sim://\"\n"
        }.joined(separator: "\n"), source: "test.toml")
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return try config.stations.map { try Wiring.simulatedStation($0, seed: 1, clock: clock, logger: logger) }
    }

    static func rate(_ stations: [any AnyStation]) -> Double {
        stations.reduce(0) { $0 + $1.loopSpecs.reduce(0) { $0 + $1.rate } }
    }

    @Test func simulatedStationsAreSharedByTicksASecond() throws {
        let stations = try Self.simulated(60, clock: MonotonicClock())
        let workers = StationService.pool(stations, workers: 4)
        #expect(workers.count == 4)
        // Every station once, in configuration order on its worker.
        #expect(workers.flatMap { $0 }.map(\.name).sorted() == stations.map(\.name).sorted())
        let order = Dictionary(uniqueKeysWithValues: stations.enumerated().map { ($1.name, $0) })
        for worker in workers {
            let indices = worker.map { order[$0.name]! }
            #expect(indices == indices.sorted())
        }
        // The busiest first, each to the least loaded: no two workers differ by more than one station's ticks.
        let loads = workers.map(Self.rate)
        let busiest = stations.map { Self.rate([$0]) }.max()!
        #expect(loads.max()! - loads.min()! <= busiest, "\(loads)")
        #expect(abs(loads.reduce(0, +) - Self.rate(stations)) < 1e-6)
        // More workers than stations: one station each, none empty.
        #expect(StationService.pool(Array(stations.prefix(3)), workers: 8).map(\.count) == [1, 1, 1])
        #expect(StationService.pool([], workers: 2).isEmpty)
    }

    @Test func realStationsKeepTheirOwnThreadsAndSimulatedOnesShareTheWorkers() throws {
        let clock = MonotonicClock()
        var stations = try Self.simulated(10, clock: clock)
        stations[0] = Posing(stations[0], mode: .real, bus: nil)
        stations[1] = Posing(stations[1], mode: .real, bus: "/dev/ttyUSB0")
        stations[2] = Posing(stations[2], mode: .real, bus: "/dev/ttyUSB0")
        stations[3] = Posing(stations[3], mode: .refused, bus: nil)
        let service = StationService(stations: stations, clock: clock, options: RealTimeOptions(),
                                     logger: Logger(label: "test"), simulatedWorkers: 2)
        let threads = service.threads.map { ($0.threadName, $0.stations.map(\.name)) }
        #expect(threads.count == 4)
        #expect(threads[0] == ("st-s1", ["s1"]))
        #expect(threads[1] == ("bus-ttyUSB0", ["s2", "s3"]))
        #expect(threads[2].0 == "sim-1" && threads[3].0 == "sim-2")
        #expect(Set(threads[2].1 + threads[3].1) == Set((5...10).map { "s\($0)" }))
        #expect(service.threads[2].worker == 1 && service.threads[0].worker == nil)
    }

    /// Phases spread any number of stations evenly over the period, on the quantum's grid and within the period.
    @Test func phasesSpreadEvenlyOnTheirGrid() {
        let period: Int64 = 5_000_000
        let quantum = StationService.LoopThread.phaseQuantum
        let phases = (0..<1000).map { StationService.LoopThread.phase($0, period: period) }
        #expect(phases.allSatisfy { $0 >= 0 && $0 < period && $0 % quantum == 0 })
        let slots = Dictionary(grouping: phases, by: { $0 }).mapValues(\.count)
        #expect(slots.count == Int(period / quantum))
        #expect(slots.values.min()! >= 40 && slots.values.max()! <= 60, "\(slots.values.sorted())")
        #expect(StationService.LoopThread.phase(0, period: period) == 0)
    }

    /// The kernel knows a worker by its name (`top -H`, `ps -L`, perf; the watchdog's STALLED line names it too):
    /// Foundation's `Thread.name` alone never reached it on Linux.
    @Test func aStartedThreadCarriesItsNameInTheKernel() async {
        let seen = await withCheckedContinuation { (done: CheckedContinuation<String, Never>) in
            startThread(name: "sim-7") {
                let comm = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
                done.resume(returning: comm.trimmingCharacters(in: .whitespacesAndNewlines))
            }
        }
        #expect(seen == "sim-7")
    }
}

/// A station that says it is in another mode (and on another line) than it is.
final class Posing: ForwardingStation, @unchecked Sendable {
    private let posedMode: StationMode
    private let posedBus: String?

    init(_ inner: any AnyStation, mode: StationMode, bus: String? = nil) {
        posedMode = mode
        posedBus = bus
        super.init(inner)
    }

    override var mode: StationMode { posedMode }
    override var bus: String? { posedBus }
}
