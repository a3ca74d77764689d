/// The documents compiled into the binary (`Package.swift` resources, `embedInCode`), by their file name in
/// `Sources/Daemon/Resources`: what a test compares with the repository's files.
package enum EmbeddedDocuments {
    package static let files: [(name: String, bytes: [UInt8])] = [
        ("dashboard.html", PackageResources.dashboard_html),
        ("dashboard-overview.html", PackageResources.dashboard_overview_html),
        ("dashboard-station.html", PackageResources.dashboard_station_html),
        ("dashboard-missing.html", PackageResources.dashboard_missing_html),
        ("dashboard.css", PackageResources.dashboard_css),
        ("dashboard.js", PackageResources.dashboard_js),
        ("favicon.svg", PackageResources.favicon_svg),
        ("openapi.json", PackageResources.openapi_json),
        ("recording.html", PackageResources.recording_html),
        ("recording.js", PackageResources.recording_js),
    ]
}
