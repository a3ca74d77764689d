import Foundation
import Glibc
import RigdTestKit
import Testing

/// The systemd files in systemd/: the unit passes `systemd-analyze verify`, and the sysusers and tmpfiles snippets
/// apply cleanly to a scratch root (never to this machine).
@Suite("systemd unit and snippets")
struct SystemdUnitTests {
    /// The repository root, three levels above this file (Tests/StationsUnitTests/SystemdUnitTests.swift).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let systemdDirectory = root.appendingPathComponent("systemd")
    /// The path the unit runs rigd from; `verify` insists that it exists, so copies put a real binary there.
    static let installedBinary = "/usr/local/bin/rigd"

    static func tool(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let directories = path.split(separator: ":").map(String.init) + ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]
        return directories.map { $0 + "/" + name }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static let systemdAnalyze = tool("systemd-analyze")
    static let systemdSysusers = tool("systemd-sysusers")
    static let systemdTmpfiles = tool("systemd-tmpfiles")

    static func unitText() throws -> String {
        try String(contentsOf: systemdDirectory.appendingPathComponent("rigd.service"), encoding: .utf8)
    }

    /// The unit's settings as "Key=Value" lines, comments and blank lines dropped.
    static func settings(_ text: String) -> [String] {
        text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") && !$0.hasPrefix(";") && !$0.hasPrefix("[") }
    }

    /// A fresh temp directory with `text` as rigd.service in it, rigd's path replaced by a binary that exists here:
    /// the built rigd when there is one, else /bin/true.
    static func unitCopy(_ text: String) throws -> (directory: String, unit: String) {
        let built = root.appendingPathComponent(".build/debug/rigd").path
        let binary = FileManager.default.isExecutableFile(atPath: built) ? built : "/bin/true"
        let directory = NSTemporaryDirectory() + "rigd-unit-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let unit = directory + "/rigd.service"
        try text.replacingOccurrences(of: installedBinary, with: binary)
            .write(toFile: unit, atomically: true, encoding: .utf8)
        return (directory, unit)
    }

    /// Runs `systemd-analyze verify` on `unit`: (exit status, the lines of stdout and stderr that name rigd.service).
    static func verify(_ unit: String) throws -> (status: Int32, problems: [String], output: String) {
        let analyze = try #require(systemdAnalyze)
        let result = try runToCompletion(analyze, ["verify", unit], timeout: 60)
        let output = result.stdout + result.stderr
        let problems = output.split(separator: "\n").map(String.init).filter { $0.contains("rigd.service") }
        return (result.status, problems, output)
    }

    @Test("rigd.service has the settings the watchdog integration relies on")
    func unitSettings() throws {
        let settings = Self.settings(try Self.unitText())
        for required in ["Type=notify", "NotifyAccess=main", "Restart=on-failure", "ProtectSystem=strict",
                         "NoNewPrivileges=yes", "ReadWritePaths=/var/lib/rigd", "StateDirectory=rigd",
                         "ExecStart=\(Self.installedBinary) run --config /etc/rigd/rigd.toml",
                         "WantedBy=multi-user.target"] {
            #expect(settings.contains(required), "missing \(required)")
        }
        let watchdog = settings.filter { $0.hasPrefix("WatchdogSec=") }
        #expect(watchdog == ["WatchdogSec=30s"])
        // Serial ports and GPIO chips must stay visible.
        #expect(!settings.contains { $0.hasPrefix("PrivateDevices=") })
    }

    @Test("systemd-analyze verify passes on rigd.service",
          .enabled(if: systemdAnalyze != nil, "systemd-analyze is not installed (Debian package systemd)"))
    func analyzeVerify() throws {
        let copy = try Self.unitCopy(try Self.unitText())
        defer { try? FileManager.default.removeItem(atPath: copy.directory) }
        let result = try Self.verify(copy.unit)
        #expect(result.status == 0, "systemd-analyze verify exited \(result.status):\n\(result.output)")
        #expect(result.problems.isEmpty, "systemd-analyze verify reported:\n\(result.problems.joined(separator: "\n"))")
    }

    /// Guards the test above against passing vacuously: the same check does see a broken copy.
    @Test("systemd-analyze verify reports a broken copy of rigd.service",
          .enabled(if: systemdAnalyze != nil, "systemd-analyze is not installed (Debian package systemd)"))
    func analyzeVerifySeesProblems() throws {
        let broken = try Self.unitText().replacingOccurrences(of: "Type=notify", with: "Type=notfy")
        let copy = try Self.unitCopy(broken)
        defer { try? FileManager.default.removeItem(atPath: copy.directory) }
        let result = try Self.verify(copy.unit)
        #expect(result.problems.contains { $0.contains("notfy") }, "output was:\n\(result.output)")

        // And a missing ExecStart binary fails the run outright.
        let missing = try Self.unitText().replacingOccurrences(of: Self.installedBinary, with: copy.directory + "/nope")
        try missing.write(toFile: copy.unit, atomically: true, encoding: .utf8)
        let failed = try Self.verify(copy.unit)
        #expect(failed.status != 0)
        #expect(failed.problems.contains { $0.contains("nope") }, "output was:\n\(failed.output)")
    }

    @Test("rigd.sysusers.conf and rigd.tmpfiles.conf apply to a scratch root",
          .enabled(if: systemdSysusers != nil && systemdTmpfiles != nil,
                   "systemd-sysusers/systemd-tmpfiles are not installed (Debian package systemd)"),
          .enabled(if: getuid() == 0, "systemd-tmpfiles needs root to give the scratch directories their owners"))
    func snippets() throws {
        let scratch = NSTemporaryDirectory() + "rigd-root-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let fm = FileManager.default
        try fm.createDirectory(atPath: scratch + "/etc", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: scratch + "/var/lib", withIntermediateDirectories: true)
        // A minimal account database with dialout (as Debian has it) but neither gpio nor rigd.
        try "root:x:0:0:root:/root:/bin/sh\n".write(toFile: scratch + "/etc/passwd", atomically: true, encoding: .utf8)
        try "root:x:0:\ndialout:x:20:\n".write(toFile: scratch + "/etc/group", atomically: true, encoding: .utf8)

        let sysusers = try runToCompletion(try #require(Self.systemdSysusers),
                                           ["--root=" + scratch, Self.systemdDirectory.path + "/rigd.sysusers.conf"])
        #expect(sysusers.status == 0, "systemd-sysusers: \(sysusers.stderr)")
        let passwd = try String(contentsOfFile: scratch + "/etc/passwd", encoding: .utf8)
        let group = try String(contentsOfFile: scratch + "/etc/group", encoding: .utf8)
        let user = try #require(passwd.split(separator: "\n").first { $0.hasPrefix("rigd:") },
                                "no rigd user in \(passwd)").split(separator: ":", omittingEmptySubsequences: false)
        #expect(user.count == 7 && user[5] == "/var/lib/rigd")
        let groups = Dictionary(group.split(separator: "\n").map { line -> (String, [String]) in
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            return (String(fields[0]), fields.count > 3 ? fields[3].split(separator: ",").map(String.init) : [])
        }, uniquingKeysWith: { first, _ in first })
        #expect(groups["rigd"] != nil)
        #expect(groups["gpio"]?.contains("rigd") == true, "group: \(group)")
        #expect(groups["dialout"]?.contains("rigd") == true, "group: \(group)")

        let tmpfiles = try runToCompletion(try #require(Self.systemdTmpfiles),
                                           ["--root=" + scratch, "--create",
                                            Self.systemdDirectory.path + "/rigd.tmpfiles.conf"])
        #expect(tmpfiles.status == 0, "systemd-tmpfiles: \(tmpfiles.stderr)")
        let data = try fm.attributesOfItem(atPath: scratch + "/var/lib/rigd")
        #expect((data[.posixPermissions] as? Int) == 0o750)
        #expect((data[.ownerAccountID] as? Int).map(String.init) == String(user[2]))
        #expect((data[.groupOwnerAccountID] as? Int).map(String.init) == String(user[3]))
        let config = try fm.attributesOfItem(atPath: scratch + "/etc/rigd")
        #expect((config[.posixPermissions] as? Int) == 0o755)
        #expect((config[.ownerAccountID] as? Int) == 0)
    }
}
