import Control
import Foundation
import Locking
import Logging
@testable import Sim
import Stations
import Testing

/// Keeps what a station hands to the data log.
final class CapturingJournal: StationJournal {
    let records = Locked<[JournalRecord]>([])
    func record(_ record: JournalRecord) { records.withLock { $0.append(record) } }

    /// Times of the logged samples, station clock seconds (the outputs' epoch is 0).
    var loggedTimes: [Double] {
        records.withLock { $0 }.compactMap { if case .loggedSamples(_, let t, _) = $0 { t } else { nil } }
    }
}

/// Issue 18 item 10: the controllers' logged cadences are stored as their own series, not only counted: a pond's
/// 15-min logbook sample, and a stream's 15 → 5 min sampling during a storm event.
@Suite struct LoggedSeriesTests {
    private func station(_ toml: String, clock: VirtualClock) throws -> (any AnyStation, CapturingJournal) {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let config = try ConfigLoader.parse(toml, source: "test.toml")
        let station = try Wiring.virtualStations(config, clock: clock, seed: 1, logger: logger)[0]
        let journal = CapturingJournal()
        station.attach(StationOutputs(recorder: journal, epoch: 0, recordInterval: 60))
        station.start(now: 0)
        return (station, journal)
    }

    static func result(_ station: any AnyStation, _ key: String) -> ReportValue? {
        guard case .object(let results)? = station.report(includeLateness: false)["results"] else { return nil }
        return results[key]
    }

    @Test func aPondStoresItsFifteenMinuteLoggedSampleWithEveryChannel() throws {
        let clock = VirtualClock()
        let (pond, journal) = try station("""
            [[station]]
            name = "pond"
            kind = "aqua-sonde"
            address = "sim://"
            """, clock: clock)
        LoopRunner(clock: clock, loops: pond.makeLoops()).run(until: 3 * 3_600_000_000_000)
        #expect(journal.loggedTimes == [900, 1800, 2700, 3600, 4500, 5400, 6300, 7200, 8100, 9000, 9900, 10800])
        let first = journal.records.withLock { $0 }.first { if case .loggedSamples = $0 { true } else { false } }
        guard case .loggedSamples(let name, _, let channels)? = first else { return }
        #expect(name == "pond" && channels.count == 13 && channels[0].name == "do_mgl" && channels[0].value != nil)
        // As many stored as the controller counts.
        #expect(Self.result(pond, "logged_samples") == .number(12))
    }

    @Test func aStreamStoresItsLoggedSeriesEveryFiveMinutesDuringAStorm() throws {
        let clock = VirtualClock()
        let (stream, journal) = try station("""
            [[station]]
            name = "stream"
            kind = "stream-station"
            address = "sim://"
            """, clock: clock)
        let device = try #require(stream.simulation?.device as? any FaultInjectable)
        let runner = LoopRunner(clock: clock, loops: stream.makeLoops())
        runner.run(until: 4 * 3_600_000_000_000)
        try device.setDisturbance("storm", active: true)
        runner.run(until: 10 * 3_600_000_000_000)
        let times = journal.loggedTimes
        let gaps = Set(zip(times.dropFirst(), times).map { ($0 - $1).rounded() })
        // 15 min before the storm, 5 min in it; the event's start takes a sample at once (one sample period, 60 s).
        #expect(gaps == [60, 300, 900], "\(gaps.sorted()) \(times.prefix(40))")
        #expect(times.filter { $0 > 5 * 3600 }.count > 50, "a storm from 4 h: 5-min samples")
        #expect(Self.result(stream, "logged_samples") == .number(Double(times.count)))
    }
}
