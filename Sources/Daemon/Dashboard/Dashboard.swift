import Foundation
import Hummingbird
import Stations
import DeviceTransports
import SimServe
import Locking

/// The technicians' web dashboard (issue 7), served by the API's router from the rigd binary itself: the pages,
/// their stylesheet and script are files in `Sources/Daemon/Resources` (`dashboard*.html`, `dashboard.css`,
/// `dashboard.js`, `favicon.svg`) that the build embeds (`DashboardPages`); the charting library is Debian's
/// `libjs-chart.js`, read from where Debian installs it at request time.
///
/// | route | |
/// |---|---|
/// | `GET /` | 302 to `/dashboard` |
/// | `GET /dashboard` | overview: every station's mode, link, key values, alarms and run |
/// | `GET /dashboard/station/{name}` | one station: live values and plots, settings, run start/stop, alarms, run history |
/// | `GET /dashboard/static/dashboard.css`, `…/dashboard.js` | the pages' stylesheet and script |
/// | `GET /dashboard/static/chart.js` | Chart.js from `libjs-chart.js`; without the package a stub that says so |
/// | `POST /dashboard/check-token` | whether rigd accepts the `Authorization` header's token, and its name and role (always 200) |
/// | `GET /favicon.ico` | an SVG icon (browsers ask for it) |
///
/// The CSV export the pages offer, `GET /api/stations/{name}/export.csv`, is one of the API's reads
/// (`DashboardExport`). The pages live under `/dashboard`, outside the API's paths; `/` only redirects there. The
/// pages read and write through the HTTP API; writes carry the token the technician entered once per browser
/// session (kept in `sessionStorage`). Without it the pages are read-only.
extension API {
    /// Where Debian's libjs-chart.js puts Chart.js (UMD build, defines `window.Chart`); the first that exists wins.
    package static let chartJSPaths = ["/usr/share/javascript/chart.js/chart.min.js", "/usr/share/javascript/chart.js/chart.js"]

    /// The dashboard's routes; none needs the token (the pages ask for it when the API does).
    package func dashboardRoutes() -> RouteCollection<APIRequestContext> {
        let routes = RouteCollection(context: APIRequestContext.self)
        routes.get("/") { _, _ in
            Response(status: .found, headers: [.location: "/dashboard", .cacheControl: "no-cache"])
        }
        routes.get("/dashboard") { _, _ in
            Self.page(DashboardPages.overview())
        }
        routes.get("/dashboard/station/{name}") { _, context in
            let name = try context.parameters.require("name")
            guard station(named: name) != nil else {
                return Self.page(DashboardPages.notFound(name: name, known: stations.map(\.name)), status: .notFound)
            }
            return Self.page(DashboardPages.station(name: name))
        }
        routes.get("/dashboard/static/dashboard.css") { _, _ in
            Self.asset(DashboardPages.css, type: "text/css; charset=utf-8")
        }
        routes.get("/dashboard/static/dashboard.js") { _, _ in
            Self.asset(DashboardPages.script, type: "text/javascript; charset=utf-8")
        }
        routes.get("/dashboard/static/chart.js") { _, _ in
            Self.chartJS()
        }
        routes.post("/dashboard/check-token") { request, _ in
            // Always 200 (a 401 would be a console error in the browser); the answer is in the body.
            let identity = access.identity(authorization: request.headers[.authorization])
            return Self.json(TokenCheck(valid: identity != nil, readsNeedToken: readsNeedToken, name: identity?.name,
                                        role: identity?.role.rawValue, mayWrite: (identity?.role ?? .viewer) >= .operator))
        }
        // Browsers ask for it on their own; an answer keeps their consoles free of 404s.
        routes.get("/favicon.ico") { _, _ in
            Self.asset(DashboardPages.favicon, type: "image/svg+xml")
        }
        return routes
    }

    package struct TokenCheck: Codable {
        var valid: Bool
        var readsNeedToken: Bool
        /// The token's name and role (nil: not a valid token).
        var name: String?
        var role: String?
        var mayWrite: Bool
    }

    package static func page(_ html: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status,
                 headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-cache",
                           .xContentTypeOptions: "nosniff"],
                 body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    package static func asset(_ bytes: ByteBuffer, type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type, .cacheControl: "no-cache"], body: .init(byteBuffer: bytes))
    }

    /// Chart.js as Debian installs it; when the package is missing, a script that tells the pages so (a 404 would
    /// be a console error, and the pages work without plots).
    package static func chartJS() -> Response {
        for path in chartJSPaths {
            if let data = FileManager.default.contents(atPath: path) {
                return Response(status: .ok,
                                headers: [.contentType: "text/javascript; charset=utf-8",
                                          .cacheControl: "max-age=3600"],
                                body: .init(byteBuffer: ByteBuffer(bytes: data)))
            }
        }
        let message = "plots need Debian's libjs-chart.js (apt-get install libjs-chart.js): "
            + chartJSPaths[0] + " is missing"
        return asset(ByteBuffer(string: "window.RIGD_CHART_MISSING = \(DashboardPages.jsString(message));\n"),
                     type: "text/javascript; charset=utf-8")
    }
}
