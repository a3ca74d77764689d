import ArgumentParser
import Foundation
import Logging
import Stations
import DeviceTransports
import SimServe
import Locking

/// Options every command shares.
struct LogOptions: ParsableArguments {
    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func bootstrap() throws -> Logger {
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        let journal = JournalLogHandler.standardErrorIsJournal()
        LoggingSystem.bootstrap { label in
            // Under systemd each line carries its syslog priority (`journalctl -p warning`); elsewhere as swift-log writes.
            if journal {
                var handler = JournalLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: "rigd")
        logger.logLevel = level
        return logger
    }
}

/// Plant-time durations: `90s`, `6h`, `7d`, `1h30m`, `500ms`, or a plain number of seconds.
package struct PlantDuration: ExpressibleByArgument, Sendable, Equatable, CustomStringConvertible {
    package let seconds: Double

    /// The longest plant time a run may take, s (about 31 years): clocks count Int64 nanoseconds, which end at 292
    /// years, and a virtual run past that would trap (the fuzzer found the same in fault timelines).
    static let longest = 1e9

    package init(seconds: Double) { self.seconds = seconds }

    package init?(argument: String) {
        if let plain = Double(argument) {
            guard plain > 0, plain <= Self.longest else { return nil }
            seconds = plain
            return
        }
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86_400)]
        var total = 0.0
        var rest = Substring(argument)
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isNumber || $0 == "." }
            guard let value = Double(digits), !digits.isEmpty else { return nil }
            rest = rest.dropFirst(digits.count)
            guard let (unit, scale) = units.first(where: { rest.hasPrefix($0.0) }) else { return nil }
            rest = rest.dropFirst(unit.count)
            total += value * scale
        }
        guard total > 0, total <= Self.longest else { return nil }
        seconds = total
    }

    package var nanoseconds: Int64 { Int64((seconds * 1e9).rounded()) }
    package var description: String { "\(seconds) s" }
    static var defaultValueDescription: String { "e.g. 90s, 2h, 7d; at most 1e9 s" }
}

/// Prints to standard output at once (tests and scripts read it line by line).
func say(_ line: String) {
    print(line)
    fflush(nil)
}

/// Prints to standard error, prefixed "rigd: " (warnings of commands that do not log).
func warn(_ line: String) {
    FileHandle.standardError.write(Data("rigd: \(line)\n".utf8))
}

/// Prints configuration errors and exits 78.
func failConfiguration(_ error: ConfigError) -> ExitCode {
    for issue in error.issues { FileHandle.standardError.write(Data("rigd: \(issue)\n".utf8)) }
    FileHandle.standardError.write(Data("rigd: configuration refused; nothing started\n".utf8))
    return ExitCode(ExitStatus.config)
}

/// Loads `--config FILE`, or the embedded demo plant.
func loadConfiguration(_ path: String?) throws(ConfigError) -> Configuration {
    if let path { try ConfigLoader.load(path: path) } else { try DemoPlant.configuration() }
}
