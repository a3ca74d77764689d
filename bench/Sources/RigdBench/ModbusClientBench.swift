import ArgumentParser
import Control
import Devices
import DeviceTransports
import Foundation
import Histogram

/// Transactions per second and latency of rigd's Modbus TCP client (`ModbusTCPClient`, what a station uses):
/// N clients, each on its own thread and connection, reading input registers back to back.
struct ModbusClientBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "modbus-client",
        abstract: "Load a Modbus TCP server with rigd's client and measure tx/s and latency.",
        discussion: """
        Same arguments and output as bench/c/mb_client (the C libmodbus reference): {"tool", "clients", \
        "registers", "seconds", "transactions", "errors", "tx_per_s", "p50_us", "p99_us", "max_us"}.
        """
    )

    @Argument(help: "Server host.") var host: String
    @Argument(help: "Server port.") var port: Int
    @Option(help: "Concurrent clients (one thread and connection each).") var clients: Int = 1
    @Option(help: "Input registers per read (FC04), 1–125.") var registers: Int = 1
    @Option(help: "First input register.") var address: Int = 0
    @Option(help: "Seconds to measure.") var seconds: Double = 5
    @Option(help: "Seconds before measuring (connect, warm caches).") var warmup: Double = 0.5

    func validate() throws {
        guard (1...64).contains(clients) else { throw ValidationError("--clients must be 1–64") }
        guard (1...125).contains(registers) else { throw ValidationError("--registers must be 1–125") }
        guard (1...65535).contains(port) else { throw ValidationError("port must be 1–65535") }
        guard seconds > 0, warmup >= 0 else { throw ValidationError("--seconds must be positive, --warmup ≥ 0") }
    }

    struct Output: Encodable {
        let tool = "rigd"
        let clients: Int
        let registers: Int
        let seconds: Double
        let transactions: UInt64
        let errors: UInt64
        let tx_per_s: Double
        let p50_us: Double
        let p99_us: Double
        let max_us: Double
    }

    func run() throws {
        let result = loadServer(host: host, port: port, clients: clients, registers: registers, address: address,
                                warmup: warmup, seconds: seconds)
        let summary = LatencySummary(result.latency)
        try printJSON(Output(clients: clients, registers: registers, seconds: result.seconds,
                             transactions: result.latency.totalCount, errors: result.errors,
                             tx_per_s: Double(result.latency.totalCount) / result.seconds,
                             p50_us: summary.p50_us, p99_us: summary.p99_us, max_us: summary.max_us))
        if result.latency.totalCount == 0 {
            FileHandle.standardError.write(Data("rigd-bench: no successful read from \(host):\(port): \(result.lastError ?? "no error recorded")\n".utf8))
            throw ExitCode(1)
        }
    }
}

struct LoadResult {
    var latency: Histogram<UInt64>
    var errors: UInt64
    var seconds: Double
    var lastError: String?
}

/// One client's counts, handed from its thread to the caller.
final class ClientTally: @unchecked Sendable {
    var latency = latencyHistogram()
    var errors: UInt64 = 0
    var lastError: String?
}

/// Runs `clients` threads that each read back to back from warm-up start to `warmup + seconds`, counting only the
/// measured window.
nonisolated func loadServer(host: String, port: Int, clients: Int, registers: Int, address: Int,
                            warmup: Double, seconds: Double) -> LoadResult {
    let start = MonotonicClock.monotonicNanoseconds()
    let measureFrom = start + Int64(warmup * 1e9)
    let measureTo = measureFrom + Int64(seconds * 1e9)
    let group = DispatchGroup()
    let tallies = (0..<clients).map { _ in ClientTally() }
    for tally in tallies {
        group.enter()
        let thread = Thread {
            defer { group.leave() }
            let client = ModbusTCPClient(host: host, port: port, unit: 1,
                                         timeouts: ModbusTimeouts(connect: .seconds(1), response: .seconds(1)))
            while MonotonicClock.monotonicNanoseconds() < measureTo {
                if !client.isConnected {
                    do { try client.connect() } catch {
                        tally.errors += 1
                        tally.lastError = "\(error)"
                        usleep(10_000)
                        continue
                    }
                }
                let before = MonotonicClock.monotonicNanoseconds()
                do {
                    let values = try client.readInputRegisters(at: address, count: registers)
                    let after = MonotonicClock.monotonicNanoseconds()
                    if values.count == registers, before >= measureFrom, after <= measureTo {
                        _ = tally.latency.record(UInt64(after - before))
                    }
                } catch {
                    if before >= measureFrom { tally.errors += 1 }
                    tally.lastError = "\(error)"
                    client.close()
                }
            }
            client.close()
        }
        thread.start()
    }
    group.wait()
    var latency = latencyHistogram()
    var errors: UInt64 = 0
    for tally in tallies {
        latency.add(tally.latency)
        errors += tally.errors
    }
    return LoadResult(latency: latency, errors: errors, seconds: seconds,
                      lastError: tallies.compactMap(\.lastError).first)
}
