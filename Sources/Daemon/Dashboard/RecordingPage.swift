import Foundation

/// The page that shows a recorded run: `recording.html` with Chart.js, the document (`RecordingDocument`) and
/// `recording.js` all inlined, so `rigd report`'s file needs no network when it is opened, and `rigd view` serves the
/// same page.
package enum RecordingPage {
    static let template = HTMLTemplate(bytes: PackageResources.recording_html)
    static let script = String(decoding: PackageResources.recording_js, as: UTF8.self)

    package struct ChartJSMissing: Error, CustomStringConvertible {
        package var description: String {
            "the plots need Debian's libjs-chart.js (apt-get install libjs-chart.js): "
                + API.chartJSPaths.joined(separator: " and ") + " are missing"
        }
    }

    /// Chart.js as Debian installs it, or nil.
    package static func chartJS() -> String? {
        for path in API.chartJSPaths {
            if let data = FileManager.default.contents(atPath: path) { return String(decoding: data, as: UTF8.self) }
        }
        return nil
    }

    /// The whole page. `chart`: Chart.js's source (nil: the page says the plots cannot be drawn).
    package static func html(_ document: RecordingDocument, chart: String?) throws -> String {
        template.render([
            "title": .text("rigd — \(document.title)"),
            "chart": .markup(inline(chart ?? "")),
            "document": .markup(try document.json()),
            "script": .markup(inline(script)),
        ])
    }

    /// A script's text made safe inside a script element (`</script` cannot end it early).
    static func inline(_ source: String) -> String {
        source.replacingOccurrences(of: "</script", with: "<\\/script")
    }
}
