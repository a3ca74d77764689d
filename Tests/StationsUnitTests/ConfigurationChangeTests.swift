import Foundation
import Stations
import Testing

/// What a configuration reload restarts, keeps, adds and removes (issue 23 part 6).
@Suite struct ConfigurationChangeTests {
    private static let base = """
        [daemon]
        http = "127.0.0.1:8080"

        [[station]]
        name = "pond-1"
        kind = "aqua-sonde"
        address = "sim://"

        [[station]]
        name = "pond-2"
        kind = "aqua-sonde"
        address = "sim://"

        [[station]]
        name = "mill-1"
        kind = "cnc-mill"
        address = "sim://"

        """

    private func parse(_ text: String) throws -> Configuration {
        try ConfigLoader.parse(text, source: "test.toml")
    }

    @Test func theSameFileChangesNothing() throws {
        let change = ConfigurationChange(from: try parse(Self.base), to: try parse(Self.base))
        #expect(change.unchanged == ["pond-1", "pond-2", "mill-1"])
        #expect(!change.touchesStations)
        #expect(change.needsRestart.isEmpty)
    }

    @Test func aChangedTableRestartsItsStationOnlyAndAddedAndRemovedAreNamed() throws {
        // Comments, blank lines and key order are not changes; a key's value is.
        var edited = Self.base.replacingOccurrences(of: "name = \"pond-1\"\nkind = \"aqua-sonde\"",
                                                    with: "# the first pond\nkind = \"aqua-sonde\"\nname = \"pond-1\"")
        edited = edited.replacingOccurrences(of: "name = \"pond-2\"\nkind = \"aqua-sonde\"\naddress = \"sim://\"\n",
                                             with: "name = \"pond-2\"\nkind = \"aqua-sonde\"\naddress = \"sim://\"\n"
                                                 + "[station.control]\naerator_on_below_mgl = 4.5\n")
        edited = edited.replacingOccurrences(of: "[[station]]\nname = \"mill-1\"\nkind = \"cnc-mill\"\naddress = \"sim://\"\n",
                                             with: "[[station]]\nname = \"pond-3\"\nkind = \"aqua-sonde\"\naddress = \"sim://\"\n")
        let change = ConfigurationChange(from: try parse(Self.base), to: try parse(edited))
        #expect(change.unchanged == ["pond-1"])
        #expect(change.changed == ["pond-2"])
        #expect(change.added == ["pond-3"])
        #expect(change.removed == ["mill-1"])
        #expect(change.touchesStations)
        #expect(change.summary == "1 unchanged; restarted: pond-2; added: pond-3; removed: mill-1")
        // A refused station runs nothing: a reload probes it again, whether its table changed or not.
        var retried = change
        retried.retry(refused: ["pond-1", "pond-2"])
        #expect(retried.unchanged.isEmpty && retried.changed == ["pond-2", "pond-1"] && retried.retriedRefused == ["pond-1"])
        #expect(retried.summary.hasSuffix("refused before, probed again: pond-1"))
    }

    @Test func tablesReadOnlyAtStartAreReportedNotApplied() throws {
        let edited = Self.base.replacingOccurrences(of: "http = \"127.0.0.1:8080\"", with: "http = \"127.0.0.1:8081\"")
            + "\n[calibration]\ndue_days = 14\n"
        let change = ConfigurationChange(from: try parse(Self.base), to: try parse(edited))
        #expect(change.needsRestart == ["calibration", "daemon"])
        #expect(!change.touchesStations)
        #expect(change.summary.hasSuffix("changed but applied at the next start of rigd: [calibration], [daemon]"))
    }

    @Test func aMapFileThatChangedRestartsItsStation() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reload-map-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("examples/maps/sonde-cdab.toml")
        let map = try String(contentsOf: examples, encoding: .utf8)
        let mapFile = directory.appendingPathComponent("sonde.toml")
        try map.write(to: mapFile, atomically: true, encoding: .utf8)
        let configFile = directory.appendingPathComponent("rigd.toml")
        try (Self.base + "\n[[station]]\nname = \"sonde\"\nkind = \"aqua-sonde\"\naddress = \"sim://\"\nmap = \"sonde.toml\"\n")
            .write(to: configFile, atomically: true, encoding: .utf8)
        let before = try ConfigLoader.load(path: configFile.path)
        #expect(ConfigurationChange(from: before, to: try ConfigLoader.load(path: configFile.path)).unchanged.count == 4)
        try (map + "\n# a comment only: the text changed\n").write(to: mapFile, atomically: true, encoding: .utf8)
        let change = ConfigurationChange(from: before, to: try ConfigLoader.load(path: configFile.path))
        #expect(change.changed == ["sonde"])
        #expect(change.unchanged == ["pond-1", "pond-2", "mill-1"])
    }

    @Test func theStationsOfASerialLineRestartTogether() throws {
        let line = """
            [[station]]
            name = "a"
            kind = "aqua-sonde"
            address = "rtu:///dev/ttyRELOAD0?baud=9600&unit=1"

            [[station]]
            name = "b"
            kind = "aqua-sonde"
            address = "rtu:///dev/ttyRELOAD0?baud=9600&unit=2"

            [[station]]
            name = "c"
            kind = "aqua-sonde"
            address = "sim://"

            """
        let edited = line.replacingOccurrences(of: "unit=2\"", with: "unit=2\"\nresponse_timeout_ms = 800")
        let change = ConfigurationChange(from: try parse(line), to: try parse(edited))
        #expect(change.changed == ["a", "b"])
        #expect(change.restartedWithTheirLine == ["a"])
        #expect(change.unchanged == ["c"])
        // A station added to the line restarts its neighbours too: they share the line and its thread.
        let added = line + "\n[[station]]\nname = \"d\"\nkind = \"aqua-sonde\"\naddress = \"rtu:///dev/ttyRELOAD0?baud=9600&unit=3\"\n"
        let grown = ConfigurationChange(from: try parse(line), to: try parse(added))
        #expect(grown.added == ["d"])
        #expect(grown.changed == ["a", "b"])
        #expect(grown.unchanged == ["c"])
    }
}
