import Daemon
import Foundation
import Logging
import RigdTestKit
import Testing

/// Issue 24 items 4 and 5: under systemd (standard error is the journal stream `JOURNAL_STREAM` names) every log line
/// carries its syslog priority, so `journalctl -p warning` selects by level; elsewhere lines stay as before. And
/// `rigd --version` says the version, the commit and the C libraries it runs with.
@Suite struct JournalAndVersionTests {
    @Test func eachLevelHasItsSyslogPriorityOnEveryLine() {
        let levels: [(Logger.Level, Int)] = [(.critical, 2), (.error, 3), (.warning, 4), (.notice, 5), (.info, 6),
                                            (.debug, 7), (.trace, 7)]
        for (level, priority) in levels {
            #expect(JournalLogHandler.priority(level) == priority, "\(level)")
        }
        let text = JournalLogHandler.format(level: .warning, label: "rigd", metadata: ["station": "pond"],
                                            source: "Stations", message: "first\nsecond")
        #expect(text == "<4>warning rigd: station=pond [Stations] first\n<4>  second\n")
    }

    /// The child is started by a shell that sets `JOURNAL_STREAM` to its own standard error's device and inode, as
    /// systemd does for a service whose output goes to the journal; a variable naming another stream (inherited from
    /// a parent that was a service) changes nothing.
    @Test func underSystemdAWarningLineCarriesPriorityFour() throws {
        let config = try temporaryFile("""
            [[station]]
            name = "rig"
            kind = "heat-rig"
            address = "tcp://127.0.0.1:1"
            """)
        defer { unlink(config) }
        let dataDir = NSTemporaryDirectory() + "rigd-journal-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        let run = "exec \"$0\" run --config \"$1\" --for 2s --http off --data-dir \"$2\""
        func stderr(_ journal: String) throws -> [Substring] {
            let result = try runToCompletion("/bin/sh", ["-c", journal + run, try rigdBinary(), config, dataDir])
            #expect(result.status == 0, "\(result.stderr)")
            return result.stderr.split(separator: "\n")
        }
        let journal = try stderr("JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2) ")
        let simulated = journal.first { $0.contains("SIMULATED — no device at tcp://127.0.0.1:1") }
        #expect(simulated?.hasPrefix("<4>warning rigd: [Stations] station rig (heat-rig): SIMULATED") == true,
                "\(journal.joined(separator: "\n"))")
        let unprefixed = journal.filter { $0.range(of: #"^<[2-7]>"#, options: .regularExpression) == nil }
        #expect(!journal.isEmpty && unprefixed.isEmpty, "lines without a priority: \(unprefixed)")

        for other in ["", "JOURNAL_STREAM=1:2 ", "JOURNAL_STREAM=nonsense "] {
            let plain = try stderr(other)
            #expect(plain.contains { $0.contains("warning rigd: [Stations] station rig (heat-rig): SIMULATED") })
            #expect(!plain.contains { $0.hasPrefix("<") }, "\(other): \(plain.joined(separator: "\n"))")
        }
    }

    @Test func versionNamesTheCommitAndTheLibrariesItRunsWith() throws {
        let result = try runToCompletion(try rigdBinary(), ["--version"])
        #expect(result.status == 0)
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.first?.hasPrefix("rigd \(BuildInfo.version) (commit ") == true, "\(result.stdout)")
        // The libraries as Debian installed them: libmodbus5 3.1.6-2 is "libmodbus 3.1.6".
        for (library, package) in [("libmodbus", "libmodbus5"), ("libgpiod", "libgpiod2"),
                                   ("libmosquitto", "libmosquitto1")] {
            let query = try runToCompletion("/usr/bin/dpkg-query", ["-W", "-f", "${Version}", package])
            let upstream = query.stdout.split(separator: "-").first.map(String.init) ?? "?"
            #expect(lines.count == 2 && lines[1].contains("\(library) \(upstream)"),
                    "\(library): Debian has \(query.stdout), rigd says \(result.stdout)")
        }
    }
}
