import Control
import Foundation

/// The run report of docs/design.md: one JSON document, keys stable once released, new keys may be added.
package enum RunReport {
    package static func document(seed: UInt64, durationSeconds: Double, wallSeconds: Double, clock: String,
                         interrupted: Bool, stations: [any AnyStation]) -> ReportValue {
        .object([
            "seed": .number(Double(seed)),
            "duration_s": .number(durationSeconds),
            "wall_s": .number((wallSeconds * 1000).rounded() / 1000),
            "clock": .string(clock),
            "interrupted": .bool(interrupted),
            "stations": .array(stations.map { .object($0.report(includeLateness: clock == "real")) }),
        ])
    }

    package static func encode(_ document: ReportValue) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(document)
    }

    /// Writes to `path` atomically (temporary file, then rename), or to standard output for "-"; a device or a pipe
    /// (`/dev/null`) is written in place, never replaced.
    package static func write(_ document: ReportValue, to path: String) throws {
        var data = try encode(document)
        data.append(0x0A)
        if path == "-" {
            FileHandle.standardOutput.write(data)
            return
        }
        guard OutputFile.isReplaceable(path) else { return try OutputFile.writeInPlace(data, to: path) }
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
