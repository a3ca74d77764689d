import Devices
import Foundation
import Stations
import Testing

/// `examples/rigd.toml` is the documented configuration with every key: these tests keep it complete as the loader
/// grows (the suite itself, with `everyExampleLoads`, is in ConfigLoaderTests.swift).
extension ExampleConfigurationTests {
    static let everyKeyExample: URL = {
        var dir = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { dir.deleteLastPathComponent() }
        return dir.appendingPathComponent("examples/rigd.toml")
    }()

    /// Parses `text` as `examples/rigd.toml`, recording its issues (if any) as test failures.
    static func parseEveryKeyExample(_ text: String) -> (Configuration, absent: Set<String>)? {
        do {
            return try ConfigLoader.parseReportingAbsent(text, source: everyKeyExample.path)
        } catch {
            Issue.record("examples/rigd.toml has issues:\n\(error)")
            return nil
        }
    }

    /// Every key the loader asks for is in the file, for a station of every kind, and the file is valid.
    @Test func rigdTomlSetsEveryKeyOfEveryKind() throws {
        let text = try String(contentsOf: Self.everyKeyExample, encoding: .utf8)
        guard let parsed = Self.parseEveryKeyExample(text) else { return }
        let (config, absent) = parsed
        #expect(config.source == Self.everyKeyExample.path, "its own stations, not the demo plant")
        #expect((KindRegistry.builtIn.kinds.count...KindRegistry.builtIn.kinds.count + 2).contains(config.stations.count))
        #expect(Set(config.stations.map(\.kind.rawValue)) == Set(KindRegistry.builtIn.names))
        #expect(absent.isEmpty, "keys the loader reads that examples/rigd.toml does not set: \(absent.sorted())")
    }

    /// The check above can fail: a key taken out of the file is named, with its path, and nothing else is.
    @Test func aKeyMissingFromRigdTomlIsNamed() throws {
        let text = try String(contentsOf: Self.everyKeyExample, encoding: .utf8)
        let removals: [(line: String, path: String)] = [
            ("retention_days = 90", "daemon.retention_days"),
            ("kp = 10.0", "station[0].control.kp"),
            ("fixed_nozzle = false", "station[1].control.fixed_nozzle"),
            ("seed = 1", "station[2].sim.seed"),
            ("feed_times = [\"07:00\", \"12:00\", \"17:00\"]", "station[2].control.feed_times"),
            ("exchange = { chip = \"gpiochip0\", line = 17, active_low = false }", "station[3].relays.exchange"),
            ("statistics_window_samples = 1000", "station[4].control.statistics_window_samples"),
        ]
        for removal in removals {
            // The line whose setting (before any comment) is exactly `removal.line`.
            var lines = text.components(separatedBy: "\n")
            let before = lines.count
            lines.removeAll {
                $0.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first?
                    .trimmingCharacters(in: .whitespaces) == removal.line
            }
            try #require(lines.count == before - 1, "exactly one line of examples/rigd.toml is \(removal.line)")
            guard let parsed = Self.parseEveryKeyExample(lines.joined(separator: "\n")) else { continue }
            #expect(parsed.absent == [removal.path], "without \(removal.line)")
        }
    }
}
