import Foundation
import Hummingbird
import Stations
import DeviceTransports
import SimServe
import Locking

/// The dashboard's documents, embedded from `Sources/Daemon/Resources` by the build (`PackageResources`): the page
/// shell `dashboard.html` around one page's main part (`dashboard-overview.html`, `dashboard-station.html`,
/// `dashboard-missing.html`), which `dashboard.js` fills from the HTTP API; the stylesheet, the script, the icon.
package enum DashboardPages {
    package static let script = ByteBuffer(bytes: PackageResources.dashboard_js)
    package static let css = ByteBuffer(bytes: PackageResources.dashboard_css)
    package static let favicon = ByteBuffer(bytes: PackageResources.favicon_svg)

    /// The shell: `{{title}}`, `{{page}}`, `{{station_attribute}}`, `{{main}}`, `{{chart_script}}`.
    package static let shellTemplate = HTMLTemplate(bytes: PackageResources.dashboard_html)
    package static let overviewTemplate = HTMLTemplate(bytes: PackageResources.dashboard_overview_html, dropFinalNewline: true)
    /// `{{name}}`.
    package static let stationTemplate = HTMLTemplate(bytes: PackageResources.dashboard_station_html, dropFinalNewline: true)
    /// `{{name}}`, `{{links}}`.
    package static let missingTemplate = HTMLTemplate(bytes: PackageResources.dashboard_missing_html, dropFinalNewline: true)

    package static func overview() -> String {
        shell(title: "rigd — overview", page: "overview", station: nil, charts: false,
              main: overviewTemplate.render([:]))
    }

    package static func station(name: String) -> String {
        shell(title: "rigd — \(name)", page: "station", station: name, charts: true,
              main: stationTemplate.render(["name": .text(name)]))
    }

    package static func notFound(name: String, known: [String]) -> String {
        let links = known.map { "<li><a href=\"\(html(stationPath($0)))\">\(html($0))</a></li>" }.joined()
        return shell(title: "rigd — no station \(name)", page: "missing", station: nil, charts: false,
                     main: missingTemplate.render(["name": .text(name), "links": .markup(links)]))
    }

    /// A page: header with the token control, the simulated-plant banner, `main`, the token dialog, the script.
    package static func shell(title: String, page: String, station: String?, charts: Bool, main: String) -> String {
        shellTemplate.render([
            "title": .text(title),
            "page": .text(page),
            "station_attribute": .markup(station.map { " data-station=\"\(html($0))\"" } ?? ""),
            "main": .markup(main),
            "chart_script": .markup(charts ? "<script src=\"/dashboard/static/chart.js\"></script>\n" : ""),
        ])
    }

    /// The station page's path, the name percent-encoded.
    package static func stationPath(_ name: String) -> String {
        "/dashboard/station/" + (name.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(["/"]))
                                 ?? name)
    }

    /// Text for HTML element content and quoted attribute values.
    package static func html(_ text: String) -> String { HTMLTemplate.escape(text) }

    /// A JavaScript string literal (JSON string, with `<` escaped so it cannot close a script element).
    package static func jsString(_ text: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        let data = (try? encoder.encode(text)) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self).replacingOccurrences(of: "<", with: "\\u003c")
    }
}
