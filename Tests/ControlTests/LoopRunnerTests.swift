import Foundation
import Testing
@testable import Control
import Locking

@Suite struct LoopRunnerTests {
    @Test func virtualClockRunsDeadlinesInOrderWithoutDrift() {
        let clock = VirtualClock()
        var trace: [(String, Double)] = []
        let fast = FixedRateLoop(spec: LoopSpec(name: "fast", period: .milliseconds(250))) { trace.append(("f", $0.now)) }
        let slow = FixedRateLoop(spec: LoopSpec(name: "slow", period: .seconds(1))) { trace.append(("s", $0.now)) }
        let runner = LoopRunner(clock: clock, loops: [fast, slow])
        let ticks = runner.run(until: 2_000_000_000)
        #expect(ticks == 9 + 3)  // 0…2 s inclusive
        #expect(trace.filter { $0.0 == "f" }.map(\.1) == stride(from: 0.0, through: 2.0, by: 0.25).map { $0 })
        #expect(trace.filter { $0.0 == "s" }.map(\.1) == [0, 1, 2])
        // Ties go to the loop given first.
        #expect(trace[0].0 == "f" && trace[1].0 == "s")
        #expect(fast.statistics.snapshot().lateness.max == 0)
        #expect(clock.now() == 2_000_000_000)
        // A long run lands exactly on the grid: no accumulated error.
        let long = FixedRateLoop(spec: LoopSpec(name: "x", period: .milliseconds(10))) { _ in }
        let r2 = LoopRunner(clock: VirtualClock(), loops: [long])
        #expect(r2.run(until: 3_600_000_000_000) == 360_001)
    }

    @Test func loopsTakenOutAndPutInBetweenTicksLeaveTheOthersOnTheirGrid() {
        // A configuration reload on a worker of the pool: one station's loop leaves, another's joins, and the loop
        // that stays keeps every deadline of its grid.
        let clock = VirtualClock()
        let trace = Locked<[(String, Double)]>([])
        let loop: @Sendable (String, Duration) -> FixedRateLoop = { name, period in
            FixedRateLoop(spec: LoopSpec(name: name, period: period)) { tick in trace.withLock { $0.append((name, tick.now)) } }
        }
        let stays = loop("a", .milliseconds(250))
        let leaves = loop("b", .seconds(1))
        let runner = LoopRunner(clock: clock, loops: [stays, leaves])
        runner.run(until: 1_000_000_000)
        let ran = Locked(false)
        runner.perform { runner in
            runner.remove(loopsAt: [1])
            runner.add(loop("c", .milliseconds(500)))
            ran.withLock { $0 = true }
        }
        #expect(!ran.withLock { $0 }, "a change waits for the runner's thread")
        runner.run(until: 3_000_000_000)
        #expect(ran.withLock { $0 })
        #expect(runner.activeLoopCount == 2)
        let ticks = trace.withLock { $0 }
        #expect(ticks.filter { $0.0 == "a" }.map(\.1) == stride(from: 0.0, through: 3.0, by: 0.25).map { $0 })
        #expect(ticks.filter { $0.0 == "b" }.map(\.1) == [0, 1])
        // The joining loop starts on its grid at the first point at or after the change, not at time 0.
        #expect(ticks.filter { $0.0 == "c" }.map(\.1) == stride(from: 1.0, through: 3.0, by: 0.5).map { $0 })
        #expect(stays.statistics.snapshot().lateness.max == 0)
    }

    @Test func aChangeHandedOverBeforeAStopStillRuns() {
        // A station taken off a worker just as rigd stops still drives its safe state (in the change).
        let clock = VirtualClock()
        let runner = LoopRunner(clock: clock, loops: [FixedRateLoop(spec: LoopSpec(name: "l", period: .seconds(1))) { _ in }])
        runner.run(until: 0)
        let ran = Locked(false)
        runner.perform { _ in ran.withLock { $0 = true } }
        runner.requestStop()
        runner.run(until: 5_000_000_000)
        #expect(ran.withLock { $0 })
    }

    @Test func timeBeforeTheRunnerStartsIsNotLateness() {
        // The clock has run 5.03 s before the runner starts (probing, thread start-up).
        let clock = VirtualClock(start: 5_030_000_000)
        var first: Double?
        let loop = FixedRateLoop(spec: LoopSpec(name: "l", period: .milliseconds(100))) { tick in
            if first == nil { first = tick.deadline }
        }
        LoopRunner(clock: clock, loops: [loop]).run(until: 6_000_000_000)
        #expect(first.map { abs($0 - 5.1) < 1e-9 } == true)  // on the grid, not at 0 and not at 5.03
        #expect(loop.statistics.snapshot().lateness.max == 0)
        #expect(loop.statistics.snapshot().ticks == 10)
    }

    @Test func dtIsTheTimeSinceTheLastTick() {
        var dts: [Double] = []
        let loop = FixedRateLoop(spec: LoopSpec(name: "l", period: .milliseconds(500))) { dts.append($0.dt) }
        LoopRunner(clock: VirtualClock(), loops: [loop]).run(until: 1_500_000_000)
        #expect(dts == [0.5, 0.5, 0.5, 0.5])
    }

    @Test func overrunsAreCountedAndDeadlinesSkippedOnTheGrid() {
        // A body that takes 2.5 periods on a virtual clock it advances itself.
        let clock = VirtualClock()
        var deadlines: [Double] = []
        var loop: FixedRateLoop!
        loop = FixedRateLoop(spec: LoopSpec(name: "l", period: .milliseconds(100))) { tick in
            deadlines.append(tick.deadline)
            if tick.index == 1 { clock.sleep(until: clock.now() + 250_000_000) }
        }
        LoopRunner(clock: clock, loops: [loop]).run(until: 1_000_000_000)
        let s = loop.statistics.snapshot()
        #expect(s.overruns == 1)
        #expect(s.missedDeadlines == 2)
        // 0.1 ran until 0.35: 0.2 and 0.3 skipped, the loop resumes on the grid at 0.4 (woken late? no: on time).
        #expect(deadlines.map { ($0 * 10).rounded() / 10 } == [0, 0.1, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    }

    @Test func realClockRunnerStopsOnRequestAndRecordsLateness() async throws {
        let clock = MonotonicClock()
        let loop = FixedRateLoop(spec: LoopSpec(name: "l", period: .milliseconds(5))) { _ in }
        let runner = LoopRunner(clock: clock, loops: [loop])
        let done = DispatchSemaphore(value: 0)
        let thread = Thread { runner.run(); done.signal() }
        thread.start()
        try await Task.sleep(for: .milliseconds(200))
        runner.requestStop()
        #expect(done.wait(timeout: .now() + 2) == .success)
        let s = loop.statistics.snapshot()
        #expect(s.ticks > 10)
        #expect(s.lateness.totalCount == s.ticks)
        #expect(RealTimeOptions(timerSlackNanoseconds: 1).apply() == ["timer slack 1 ns"])
    }

    /// Forty loops of seven periods with offsets of their own (a worker of the simulated stations' pool): every tick
    /// comes in the order of its deadline, ties in the order the loops were given, exactly as often as its grid has
    /// points, and while a tick runs the runner names its loop.
    @Test func manyLoopsTickInDeadlineOrderWithTiesInTheOrderGiven() {
        let clock = VirtualClock()
        let runner = LoopRunner(clock: clock)
        let periods: [Int64] = [1, 2, 5, 10, 20, 100, 250].map { $0 * 1_000_000 }
        var trace: [(deadline: Int64, loop: Int)] = []
        var expected: [(deadline: Int64, loop: Int)] = []
        let end: Int64 = 1_000_000_000
        for i in 0..<40 {
            let period = periods[(i * 3) % periods.count]
            let offset = Int64((i * 7) % 4) * 250_000
            let loop = FixedRateLoop(spec: LoopSpec(name: "l\(i)", period: .nanoseconds(period))) { [runner] tick in
                #expect(runner.firingLoop == i)
                trace.append((Int64((tick.deadline * 1e9).rounded()), i))
            }
            runner.add(loop, offset: offset)
            expected += stride(from: offset, through: end, by: Int(period)).map { ($0, i) }
        }
        expected.sort { ($0.deadline, $0.loop) < ($1.deadline, $1.loop) }
        #expect(runner.run(until: end) == UInt64(expected.count))
        #expect(trace.count == expected.count)
        #expect(zip(trace, expected).allSatisfy { $0.deadline == $1.deadline && $0.loop == $1.loop })
        #expect(runner.firingLoop == nil)
    }

    /// One typed outcome per measure asked for; `rigd run` logs a warning for those that did not take, by `took`,
    /// not by their wording. (mlockall is not tried here: it would lock the whole test process's memory.)
    @Test func processMeasuresReportWhetherTheyTook() {
        #expect(ProcessRealTime(mlockall: false, cpuDMALatencyZero: false).outcomes.isEmpty)
        let held = ProcessRealTime(mlockall: false, cpuDMALatencyZero: true)
        #expect(held.outcomes.count == 1)
        #expect(held.outcomes.first?.took == held.holdingCPUDMALatency)
        if held.holdingCPUDMALatency {
            #expect(held.outcomes.first?.message == "holding /dev/cpu_dma_latency at 0")
        } else {
            #expect(held.outcomes.first?.message.hasSuffix("continuing without it") == true)
        }
    }
}

@Suite struct AlarmBookTests {
    @Test func raiseIsIdempotentAndHistoryKeepsOccurrences() throws {
        var book = AlarmBook()
        book.raise("t", .trip, "hot", now: 1)
        book.raise("t", .trip, "hot again", now: 2)
        #expect(book.active.count == 1 && book.isTripped)
        try book.acknowledge("t", by: "ana", now: 3)
        #expect(throws: AlarmBook.AcknowledgeError.alreadyAcknowledged("t")) { try book.acknowledge("t", by: "bo", now: 4) }
        book.clear("t", now: 5)
        #expect(!book.isTripped && book.active.isEmpty)
        #expect(throws: AlarmBook.AcknowledgeError.notActive("t")) { try book.acknowledge("t", by: "ana", now: 6) }
        book.raise("t", .trip, "hot", now: 7)
        #expect(book.history.count == 2)
        #expect(book.history[0].acknowledgedBy == "ana" && book.history[0].clearedAt == 5)
        let changes = book.drainChanges()
        #expect(changes.count == 4)  // raised, acknowledged, cleared, raised
        #expect(book.drainChanges().isEmpty)
    }

    @Test func highLimitHasHysteresis() {
        var book = AlarmBook()
        book.highLimit("hot", .alarm, value: 35.0, raiseAt: 35, clearBelow: 34.5, "hot", now: 0)
        #expect(book.isActive("hot"))
        book.highLimit("hot", .alarm, value: 34.7, raiseAt: 35, clearBelow: 34.5, "hot", now: 1)
        #expect(book.isActive("hot"))  // between the limits: still raised
        book.highLimit("hot", .alarm, value: 34.4, raiseAt: 35, clearBelow: 34.5, "hot", now: 2)
        #expect(!book.isActive("hot"))
        book.highLimit("hot", .alarm, value: 34.9, raiseAt: 35, clearBelow: 34.5, "hot", now: 3)
        #expect(!book.isActive("hot"))  // below the raise point: stays clear
        #expect(book.history.count == 1)
    }

    @Test func historyIsBounded() {
        var book = AlarmBook(historyLimit: 10)
        for i in 0..<100 {
            book.raise("a", .warning, "x", now: Double(i))
            book.clear("a", now: Double(i) + 0.5)
        }
        #expect(book.history.count <= 10)
        #expect(book.history.count + book.dropped == 100)
        #expect(book.history.last?.raisedAt == 99)
    }

    /// Active occurrences are never dropped, whatever the history holds; the history stays in raise order, and
    /// the questions asked every tick see only the active alarms.
    @Test func activeAlarmsSurviveAFullHistory() {
        var book = AlarmBook(historyLimit: 20)
        book.raise("estop", .trip, "E-stop", now: 0)
        book.raise("hot", .warning, "hot", now: 1)
        for i in 0..<10_000 {
            book.raise("flap", .alarm, "flap", now: 2 + Double(i))
            book.clear("flap", now: 2.5 + Double(i))
        }
        #expect(book.active.map(\.code) == ["estop", "hot"])
        #expect(book.isTripped && book.isActive("hot") && !book.isActive("flap"))
        #expect(book.history.count <= 20)
        #expect(book.history.count + book.dropped == 10_002)
        #expect(book.history.prefix(2).map(\.code) == ["estop", "hot"])
        #expect(book.history.map(\.raisedAt) == book.history.map(\.raisedAt).sorted())
        book.clear("estop", now: 20_000)
        #expect(!book.isTripped)
        #expect(book.history.contains { $0.code == "estop" && $0.clearedAt == 20_000 })
        try? book.acknowledge("hot", by: "ana", now: 20_001)
        #expect(book.active.first?.acknowledgedBy == "ana")
    }
}
