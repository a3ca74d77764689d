import Daemon
import Foundation
import Glibc
import RigdTestKit
import Testing

/// The dashboard's documents are files (`Sources/Daemon/Resources`), linted as what they are and embedded as they are.
@Suite("Dashboard documents")
struct DashboardDocumentTests {
    static let resources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources/Daemon/Resources")

    /// `node` on PATH (Debian's nodejs installs /usr/bin/node), nil without it.
    static func node() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/node" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    @Test(arguments: ["dashboard.js", "recording.js"])
    func theScriptPassesNodeCheck(_ name: String) throws {
        let script = Self.resources.appendingPathComponent(name).path
        guard let node = Self.node() else {
            Issue.record("node is not on PATH: install Debian's nodejs (apt-get install nodejs) to lint \(script)")
            return
        }
        let check = try runToCompletion(node, ["--check", script])
        #expect(check.status == 0, "node --check \(script):\n\(check.stdout)\(check.stderr)")
        // Not vacuous: a syntax error fails the check.
        let broken = try temporaryFile("(function () {\n  const x = ;\n})();\n", suffix: ".js")
        defer { unlink(broken) }
        #expect(try runToCompletion(node, ["--check", broken]).status != 0)
    }

    @Test func theBinaryServesTheFilesInTheRepository() throws {
        let embedded = EmbeddedDocuments.files
        #expect(embedded.count == 10)
        for (name, bytes) in embedded {
            let file = try Data(contentsOf: Self.resources.appendingPathComponent(name))
            #expect(Data(bytes) == file, "the binary's \(name) is not the repository's (rebuild)")
        }
        #expect(Array(DashboardPages.script.readableBytesView) == embedded.first { $0.name == "dashboard.js" }?.bytes)
    }

    /// Every slot of every page is filled, text is escaped, and a value is never taken for a slot.
    @Test func pagesFillTheirTemplatesAndEscapeText() throws {
        #expect(DashboardPages.shellTemplate.slots.sorted() == ["chart_script", "main", "page", "station_attribute",
                                                                 "title"])
        #expect(DashboardPages.overviewTemplate.slots.isEmpty)
        #expect(DashboardPages.stationTemplate.slots == ["name"])
        #expect(DashboardPages.missingTemplate.slots.sorted() == ["links", "name"])

        let name = #"<b>"x'&{{main}}"#
        let escaped = "&lt;b&gt;&quot;x&#39;&amp;{{main}}"
        let station = DashboardPages.station(name: name)
        #expect(station.contains(#"<h1 id="station-name">\#(escaped)</h1>"#), "\(station)")
        #expect(station.contains(#"data-station="\#(escaped)""#))
        #expect(station.contains("<title>rigd — \(escaped)</title>"))
        #expect(station.contains(#"<script src="/dashboard/static/chart.js"></script>"#))
        #expect(!station.contains(name))
        // The name's `{{main}}` stays text, in the title, the attribute and the heading; no slot is left.
        #expect(station.components(separatedBy: "{{").count == 4, "\(station)")
        #expect(!DashboardPages.station(name: "rig-1").contains("{{"))

        let overview = DashboardPages.overview()
        #expect(!overview.contains("{{") && !overview.contains("chart.js") && !overview.contains("data-station"))
        #expect(overview.contains(#"<body data-page="overview">"#))
        #expect(overview.contains("<main>\n<section class=\"page-head overview-head\">"))
        #expect(overview.contains("</section>\n</main>"), "the fragment's final newline is dropped")
        #expect(overview.hasPrefix("<!doctype html>\n") && overview.hasSuffix("</html>\n"))

        let missing = DashboardPages.notFound(name: "a<b", known: ["rig 1", "x&y"])
        #expect(missing.contains("No station “a&lt;b”"))
        #expect(missing.contains(#"<li><a href="/dashboard/station/rig%201">rig 1</a></li>"#
                                 + #"<li><a href="/dashboard/station/x&amp;y">x&amp;y</a></li>"#), "\(missing)")
    }
}
