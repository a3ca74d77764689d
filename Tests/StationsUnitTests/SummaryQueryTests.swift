import Daemon
import Foundation
import GRDB
import Testing

/// Issue 23 item 7: the long plots' summary query. Its buckets must keep every peak, count faults apart and cover
/// the window exactly once (the speed is a benchmark figure: bench/run's plots section).
@Suite("Long plots: the summary query")
struct SummaryQueryTests {
    @Test func bucketsKeepPeaksAndCountEverySampleOnce() throws {
        let queue = try DatabaseQueue()
        try DataLog.migrator.migrate(queue)
        try queue.write { db in
            try db.execute(sql: "INSERT INTO channel (id, station, name, unit) VALUES (1, 'rig', 'temp', '°C'), (2, 'rig', 'flow', 'L/min')")
            // 1000 s at 1 Hz: a smooth 20…30 ramp with one spike of 99 at t = 517 and faults at t = 100…109.
            for i in 0...1000 {
                let value: Double? = (100...109).contains(i) ? nil : i == 517 ? 99 : 20 + Double(i) / 100
                try db.execute(sql: "INSERT INTO sample (channel_id, t, value, quality) VALUES (1, ?, ?, ?), (2, ?, 5, 0)",
                               arguments: [Double(i), value, value == nil ? 0x80 : 0, Double(i)])
            }
        }
        let (width, buckets) = try queue.read { db in
            try LogQueries.summary(db, station: "rig", from: 0, to: 1000, channel: "temp", points: 50)
        }
        #expect(width == 20)
        #expect(buckets.count == 50 && buckets.allSatisfy { $0.channel == "temp" && $0.unit == "°C" })
        #expect(buckets.reduce(0) { $0 + $1.count + $1.faults } == 1001, "every sample counted once")
        #expect(buckets.reduce(0) { $0 + $1.faults } == 10)
        #expect(buckets.compactMap(\.max).max() == 99, "the spike survives")
        let spike = try #require(buckets.first { $0.t <= 517 && 517 < $0.tEnd })
        #expect(spike.max == 99 && spike.min == 20 + 500.0 / 100)
        #expect(buckets.last?.tEnd == 1000 && buckets.last?.count == 21, "the last bucket takes t = to: \(buckets.last!)")
        let all = try queue.read { db in try LogQueries.summary(db, station: "rig", from: 0, to: 1000, points: 10).1 }
        #expect(Set(all.map(\.channel)) == ["temp", "flow"] && all.count == 20)
        // Buckets with no sample are left out; another station has none.
        let empty = try queue.read { db in try LogQueries.summary(db, station: "rig", from: 2000, to: 3000, points: 10).1 }
        #expect(empty.isEmpty)
        #expect(try queue.read { db in try LogQueries.summary(db, station: "other", from: 0, to: 1000, points: 10).1 }.isEmpty)
    }
}
