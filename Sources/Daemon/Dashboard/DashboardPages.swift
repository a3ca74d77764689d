import Foundation
import Stations
import DeviceTransports
import SimServe
import Locking

/// The dashboard's HTML: page shells that `DashboardScript` fills from the HTTP API.
package enum DashboardPages {
    package static func overview() -> String {
        shell(title: "rigd — overview", page: "overview", station: nil, charts: false, main: #"""
            <section class="page-head overview-head">
              <h1>Stations</h1>
              <p id="summary" class="muted">Loading the stations…</p>
            </section>
            <p id="problem" class="problem" role="alert" hidden></p>
            <section id="stations" class="station-grid" aria-live="polite"></section>
            """#)
    }

    package static func station(name: String) -> String {
        shell(title: "rigd — \(name)", page: "station", station: name, charts: true, main: #"""
            <section class="page-head station-head">
              <div class="title-row">
                <h1 id="station-name">\#(html(name))</h1>
                <span id="station-mode" class="badge badge-mode" data-mode="">…</span>
                <span id="station-kind" class="kind"></span>
              </div>
              <p id="station-meta" class="muted"></p>
              <div id="station-status" class="status-row"></div>
            </section>
            <p id="problem" class="problem" role="alert" hidden></p>
            <div class="station-layout">
              <div class="column-main">
                <section class="card" id="plots-card">
                  <div class="card-head">
                    <h2>Plots</h2>
                    <div class="segmented" id="range-buttons" role="group" aria-label="Time range">
                      <button type="button" data-range="300">5 min</button>
                      <button type="button" data-range="900" class="active">15 min</button>
                      <button type="button" data-range="3600">1 h</button>
                      <button type="button" data-range="21600">6 h</button>
                    </div>
                  </div>
                  <p id="plots-note" class="muted small" hidden></p>
                  <div id="charts" class="charts"></div>
                </section>
                <section class="card" id="values-card">
                  <div class="card-head"><h2>Live values</h2><span id="values-age" class="muted small"></span></div>
                  <table class="values-table" id="values-table">
                    <thead><tr><th>Channel</th><th class="num">Value</th><th>Unit</th><th>Quality</th><th class="plot-col">Plot</th></tr></thead>
                    <tbody></tbody>
                  </table>
                </section>
                <section class="card" id="history-card">
                  <div class="card-head">
                    <h2>Run history</h2>
                    <div class="buttons">
                      <button type="button" class="secondary" data-download="runs">Runs (CSV)</button>
                      <button type="button" class="secondary" data-download="samples">Samples of the plot range (CSV)</button>
                    </div>
                  </div>
                  <p id="download-message" class="message" role="status"></p>
                  <div class="table-scroll">
                    <table class="history-table" id="history-table">
                      <thead><tr><th>#</th><th>Recipe</th><th>Outcome</th><th>Started</th><th>Duration</th><th>Results</th><th>Samples</th></tr></thead>
                      <tbody><tr><td colspan="7" class="muted">Loading…</td></tr></tbody>
                    </table>
                  </div>
                </section>
              </div>
              <div class="column-side">
                <section class="card" id="setpoints-card">
                  <div class="card-head"><h2>Settings</h2></div>
                  <p class="readonly-note" hidden>Read-only. <button type="button" class="link" data-ask-token>Enter the token</button> to change settings.</p>
                  <div id="settings"></div>
                </section>
                <section class="card" id="run-card">
                  <div class="card-head"><h2>Run</h2></div>
                  <div id="run-state" class="run-state"></div>
                  <p class="readonly-note" hidden>Read-only. <button type="button" class="link" data-ask-token>Enter the token</button> to start or stop runs.</p>
                  <div id="run-controls"></div>
                </section>
                <section class="card" id="alarms-card">
                  <div class="card-head"><h2>Alarms</h2></div>
                  <p class="readonly-note" hidden>Read-only. <button type="button" class="link" data-ask-token>Enter the token</button> to acknowledge alarms.</p>
                  <div id="alarms-active"></div>
                  <h3>Last 24 hours</h3>
                  <div id="alarms-recent" class="small"></div>
                </section>
                <section class="card" id="results-card">
                  <div class="card-head"><h2>Controller results</h2></div>
                  <dl id="results" class="results"></dl>
                </section>
              </div>
            </div>
            """#)
    }

    package static func notFound(name: String, known: [String]) -> String {
        let links = known.map { "<li><a href=\"\(html(stationPath($0)))\">\(html($0))</a></li>" }.joined()
        return shell(title: "rigd — no station \(name)", page: "missing", station: nil, charts: false, main: """
            <section class="page-head"><h1>No station “\(html(name))”</h1>
            <p>This rigd runs these stations:</p><ul>\(links)</ul></section>
            """)
    }

    /// A page: header with the token control, the simulated-plant banner, `main`, the token dialog, the script.
    package static func shell(title: String, page: String, station: String?, charts: Bool, main: String) -> String {
        let stationAttribute = station.map { " data-station=\"\(html($0))\"" } ?? ""
        let chartScript = charts ? "<script src=\"/dashboard/static/chart.js\"></script>\n" : ""
        return #"""
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\#(html(title))</title>
            <link rel="icon" href="/favicon.ico" type="image/svg+xml">
            <link rel="stylesheet" href="/dashboard/static/dashboard.css">
            </head>
            <body data-page="\#(page)"\#(stationAttribute)>
            <header class="top">
              <a class="brand" href="/dashboard"><span class="logo" aria-hidden="true">◉</span> rigd</a>
              <nav><a href="/dashboard">Overview</a><span id="nav-station"></span></nav>
              <span class="spacer"></span>
              <span id="live" class="live" title="Server-Sent Events from /api/stream">connecting…</span>
              <span id="token-state" class="token-state">read-only</span>
              <button type="button" id="token-button" class="secondary">Enter token</button>
            </header>
            <div id="sim-banner" class="sim-banner" role="status" hidden></div>
            <main>
            \#(main)
            </main>
            <dialog id="token-dialog" aria-labelledby="token-title">
              <form id="token-form" novalidate>
                <h2 id="token-title">Operator token</h2>
                <p>Changing settings, starting or stopping runs and acknowledging alarms need rigd's API token: the
                content of the file <code>api-token</code> in rigd's data directory (ask whoever runs rigd). It is
                kept in this browser tab until you close the tab or press “Forget token”.</p>
                <label for="token-input">Token</label>
                <input id="token-input" type="password" autocomplete="off" spellcheck="false">
                <label for="operator-input">Your name <span class="muted">(recorded with alarm acknowledgements)</span></label>
                <input id="operator-input" type="text" maxlength="64" autocomplete="name">
                <p id="token-error" class="message error" role="alert" hidden></p>
                <div class="dialog-actions">
                  <button type="button" id="token-cancel" class="secondary">Cancel</button>
                  <button type="submit" id="token-save" class="primary">Use token</button>
                </div>
              </form>
            </dialog>
            \#(chartScript)<script src="/dashboard/static/dashboard.js"></script>
            </body>
            </html>

            """#
    }

    package static let faviconSVG = #"""
        <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#1e3a5f"/><circle cx="16" cy="16" r="9" fill="none" stroke="#7dd3fc" stroke-width="3"/><circle cx="16" cy="16" r="3.5" fill="#fbbf24"/></svg>
        """#

    /// The station page's path, the name percent-encoded.
    package static func stationPath(_ name: String) -> String {
        "/dashboard/station/" + (name.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(["/"]))
                                 ?? name)
    }

    /// Text for HTML element content and quoted attribute values.
    package static func html(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    /// A JavaScript string literal (JSON string, with `<` escaped so it cannot close a script element).
    package static func jsString(_ text: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        let data = (try? encoder.encode(text)) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self).replacingOccurrences(of: "<", with: "\\u003c")
    }
}
