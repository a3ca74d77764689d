import Devices
import Testing

/// Issue 19: read plans merge neighbouring values within a device's limits and never split one.
struct ReadPlanTests {
    typealias Span = (table: DeviceMap.Table, span: Range<Int>)

    @Test func neighboursMergeAcrossSmallGapsOnly() {
        let spans: [Span] = [(.input, 0..<2), (.input, 2..<4), (.input, 10..<12), (.input, 40..<42), (.holding, 0..<1)]
        let plan = ReadPlan.compile(spans, maxRead: 125, maxGap: 8)
        #expect(plan.requests == [ReadPlan.Request(table: .input, start: 0, count: 12),
                                  ReadPlan.Request(table: .input, start: 40, count: 2),
                                  ReadPlan.Request(table: .holding, start: 0, count: 1)])
        #expect(plan.unused(for: spans) == 6)
        #expect(plan.requests[0].description == "FC 04 input 0…11 (12)")
        let tight = ReadPlan.compile(spans, maxRead: 125, maxGap: 0)
        #expect(tight.requests.count == 4)
    }

    @Test func aRequestNeverExceedsTheDeviceLimitNorSplitsAValue() {
        // Ten float32 values back to back, a device that reads at most 5 registers: whole values only, 2 a read.
        let spans: [Span] = (0..<10).map { (.input, (2 * $0)..<(2 * $0 + 2)) }
        let plan = ReadPlan.compile(spans, maxRead: 5, maxGap: 8)
        #expect(plan.requests.count == 5)
        #expect(plan.requests.allSatisfy { $0.count == 4 && $0.start % 4 == 0 })
        for s in spans {
            #expect(plan.requests.contains { $0.span.contains(s.span.lowerBound) && s.span.upperBound <= $0.span.upperBound })
        }
    }

    @Test func evenAlignmentWidensRequests() {
        let plan = ReadPlan.compile([(.input, 3..<4), (.holding, 7..<9)], maxRead: 125, maxGap: 0, evenAlignment: true)
        #expect(plan.requests == [ReadPlan.Request(table: .input, start: 2, count: 2),
                                  ReadPlan.Request(table: .holding, start: 6, count: 4)])
    }

    @Test func bitsAreReadUpToTwoThousandAtATime() {
        let plan = ReadPlan.compile([(.coil, 0..<1), (.coil, 1999..<2000), (.coil, 2000..<2001)], maxRead: 10,
                                    maxGap: 2000)
        #expect(plan.requests == [ReadPlan.Request(table: .coil, start: 0, count: 2000),
                                  ReadPlan.Request(table: .coil, start: 2000, count: 1)])
    }
}
