import ArgumentParser
import Control
import Foundation
import Histogram

/// Wake-up lateness of rigd's real-clock loop: the same `LoopRunner`, `FixedRateLoop` and `MonotonicClock` a
/// station uses (absolute deadlines, clock_nanosleep TIMER_ABSTIME), with an empty tick, on a thread of its own.
struct LoopBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loop",
        abstract: "Measure the wake-up lateness of rigd's real-clock loop at a fixed rate.",
        discussion: """
        Prints {"rate_hz", "ticks", "overruns", "p50_us", "p99_us", "p999_us", "max_us", "measures"}. Lateness is \
        wake-up time minus deadline, as cyclictest measures it. Give it the same policy and measures as the \
        cyclictest it is compared with (bench/run does).
        """
    )

    @Option(help: "Loop rate, Hz.") var rate: Double = 1000
    @Option(help: "Seconds to measure.") var seconds: Double = 10
    @Option(help: "SCHED_FIFO priority 1–99 for the loop thread (needs root); none: SCHED_OTHER.") var fifo: Int32?
    @Option(help: "Timer slack of the loop thread, ns (none: the kernel default, 50 µs for SCHED_OTHER).")
    var slackNs: UInt?
    @Flag(help: "Lock memory (mlockall).") var mlockall = false
    @Flag(help: "Hold /dev/cpu_dma_latency at 0 while measuring.") var cpuDmaLatency = false

    func validate() throws {
        guard rate > 0, rate <= 100_000 else { throw ValidationError("--rate must be in (0, 100000] Hz") }
        guard seconds > 0 else { throw ValidationError("--seconds must be positive") }
        if let fifo, !(1...99).contains(fifo) { throw ValidationError("--fifo must be 1–99") }
    }

    struct Output: Encodable {
        let tool = "rigd-loop"
        let rate_hz: Double
        let ticks: UInt64
        let overruns: UInt64
        let missed_deadlines: UInt64
        let p50_us: Double
        let p99_us: Double
        let p999_us: Double
        let max_us: Double
        let measures: [String]
        /// Wake-ups per whole microsecond of lateness ("13": 8 = eight wake-ups 13.0–13.999 µs late), the layout
        /// of cyclictest's --json histogram, so bench/run reads both the same way.
        let histogram_us: [String: UInt64]
    }

    func run() throws {
        let process = ProcessRealTime(mlockall: mlockall, cpuDMALatencyZero: cpuDmaLatency)
        let options = RealTimeOptions(timerSlackNanoseconds: slackNs, fifoPriority: fifo)
        let (snapshot, applied, buckets) = measureLoop(rate: rate, seconds: seconds, options: options)
        let summary = LatencySummary(snapshot.lateness)
        try withExtendedLifetime(process) {
            try printJSON(Output(rate_hz: rate, ticks: snapshot.ticks, overruns: snapshot.overruns,
                                 missed_deadlines: snapshot.missedDeadlines, p50_us: summary.p50_us,
                                 p99_us: summary.p99_us, p999_us: summary.p999_us, max_us: summary.max_us,
                                 measures: process.report + applied,
                                 histogram_us: buckets.nonZero()))
        }
    }
}

/// Runs one empty fixed-rate loop on a new thread for `seconds` and returns its statistics and the options'
/// report. Threads are started from here, never from top-level code.
nonisolated func measureLoop(rate: Double, seconds: Double,
                             options: RealTimeOptions) -> (LoopStatisticsSnapshot, [String], MicrosecondBuckets) {
    let clock = MonotonicClock()
    let period = Duration.nanoseconds(Int64((1e9 / rate).rounded()))
    let loop = FixedRateLoop(spec: LoopSpec(name: "bench", period: period), phase: clock.now()) { _ in }
    let buckets = MicrosecondBuckets()
    loop.latenessObserver = { buckets.record(nanoseconds: $0) }
    let runner = LoopRunner(clock: clock, loops: [loop])
    let result = ResultBox()
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
        let applied = options.apply()
        runner.run(until: clock.now() + Int64(seconds * 1e9))
        result.set(applied)
        done.signal()
    }
    thread.stackSize = 1 << 20
    thread.start()
    done.wait()
    return (loop.statistics.snapshot(), result.get(), buckets)
}

/// Hands the loop thread's option report back to the caller.
final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func set(_ value: [String]) { lock.withLock { lines = value } }
    func get() -> [String] { lock.withLock { lines } }
}

/// Lateness counts per whole µs, written by the loop thread only and read after it has finished.
final class MicrosecondBuckets: @unchecked Sendable {
    /// 0 µs … 1 s; anything later lands in the last bucket.
    private var counts = [UInt64](repeating: 0, count: 1_000_001)

    func record(nanoseconds: Int64) {
        counts[min(counts.count - 1, Int(max(0, nanoseconds) / 1000))] += 1
    }

    func nonZero() -> [String: UInt64] {
        var result: [String: UInt64] = [:]
        for (us, count) in counts.enumerated() where count > 0 { result[String(us)] = count }
        return result
    }
}
