import ArgumentParser
import Foundation
import Histogram

/// The Swift side of `bench/run`: each subcommand measures one thing with rigd's own code and prints one line of
/// JSON on standard output. `bench/run` runs these next to their references (cyclictest, a C libmodbus client)
/// and prints the table; run them by hand to look at one figure.
@main
struct RigdBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rigd-bench",
        abstract: "rigd's benchmark probes (used by bench/run; each prints one JSON line).",
        subcommands: [LoopBench.self, ModbusClientBench.self]
    )
}

/// Percentiles of a latency histogram recorded in ns, in µs.
struct LatencySummary: Encodable {
    let p50_us: Double
    let p99_us: Double
    let p999_us: Double
    let max_us: Double

    init(_ histogram: Histogram<UInt64>) {
        func us(_ percentile: Double) -> Double {
            histogram.totalCount == 0 ? 0 : Double(histogram.valueAtPercentile(percentile)) / 1000
        }
        p50_us = us(50)
        p99_us = us(99)
        p999_us = us(99.9)
        max_us = histogram.totalCount == 0 ? 0 : Double(histogram.max) / 1000
    }
}

/// Prints `value` as one line of JSON (keys sorted, so lines are stable).
func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    FileHandle.standardOutput.write(try encoder.encode(value) + Data("\n".utf8))
}

/// A latency histogram in ns: 1 ns to 60 s, three significant digits.
func latencyHistogram() -> Histogram<UInt64> {
    Histogram(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
}
