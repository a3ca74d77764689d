import Control
import Devices
import Foundation
import GRDB
import Hummingbird
import Logging
import ServiceLifecycle
import Stations
import DeviceTransports
import SimServe
import Locking

/// rigd's HTTP API (docs/api.md; the contract is `OpenAPIDocument`, served at /api/openapi.json).
///
/// Reads come from the stations' published status and the data log. Writes go through the station's mailbox, so
/// the station's own validation decides, on its own thread, at its next tick; the handler waits for that verdict.
/// Writes need `Authorization: Bearer TOKEN`; reads too when the listener is not loopback. The routes are in
/// `API+Reads.swift`, `API+Writes.swift` and `Dashboard.swift`.
package struct API: Sendable {
    /// The stations now: a configuration reload may replace them, so every handler looks them up as it runs.
    package let registry: StationRegistry
    package var stations: [any AnyStation] { registry.stations }
    /// `POST /api/reload` (admin): reloads the configuration; nil: rigd was not started with one that can reload.
    package var reload: (@Sendable (_ by: String) async -> ReloadOutcome)?
    package let recorder: Recorder?
    package let metrics: MetricsExporter
    /// Who may read and write: the API token file's token and the tokens file's named tokens.
    package let access: AccessControl
    /// Reads need the token too (a listener reachable from the network).
    package let readsNeedToken: Bool
    /// Alarm notifications (`[[notify]]`), for `GET /api/notify` and the test message; nil: none configured.
    package var notifier: Notifier?
    /// How long a write waits for the station's verdict before answering 503.
    package var replyTimeout: Double = 5
    /// The device kinds rigd knows (`GET /api/kinds`; their names are the OpenAPI document's `Station.kind` enum).
    package var kinds: [KindDescription] = KindRegistry.builtIn.descriptions
    package var kindNames: [String] { kinds.map(\.name) }

    package static let maximumBody = 64 * 1024
    package static let maximumRows = 100_000

    package func station(named name: String) -> (any AnyStation)? { registry.station(named: name) }

    // MARK: Router

    /// Every route: the OpenAPI document, the reads, the writes, the dashboard. Route collections carry their own
    /// token rule (`BearerTokenMiddleware`) and station lookup (`StationMiddleware`).
    package func router() -> Router<APIRequestContext> {
        let router = Router(context: APIRequestContext.self)
        // Before every route: it sees the router's 404 for a path served with other methods and makes it a 405.
        let table = MethodNotAllowedMiddleware.RouteTable()
        router.add(middleware: MethodNotAllowedMiddleware(table: table))
        // Rendered once: the document as in the repository, with this rigd's kinds.
        let document = ByteBuffer(string: OpenAPIDocument.json(kindNames: kindNames))
        router.get("/api/openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: document))
        }
        router.addRoutes(readRoutes())
        router.addRoutes(writeRoutes())
        router.addRoutes(dashboardRoutes())
        table.set(router.routes)
        return router
    }

    // MARK: Helpers

    /// Runs `body` on the data log; 503 without one, 500 when reading fails.
    package func withLog(_ body: @Sendable (Database) throws -> Response) async throws -> Response {
        guard let recorder else {
            return Self.error(.serviceUnavailable, "no_data_log", "this rigd keeps no data log")
        }
        do {
            return try await recorder.reader.read { db in try body(db) }
        } catch {
            return Self.error(.internalServerError, "data_log_error", "reading the data log failed: \(error)")
        }
    }

    package static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? StationStatus.encoder().encode(value)) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    package static func error(_ status: HTTPResponse.Status, _ code: String, _ reason: String) -> Response {
        json(ErrorBody(error: code, reason: reason), status: status)
    }

    package static func unauthorized() -> Response {
        var response = error(.unauthorized, "unauthorized",
                             "this request needs Authorization: Bearer TOKEN (the API token file's token, or a named "
                             + "token from `rigd token add`)")
        response.headers[.wwwAuthenticate] = "Bearer realm=\"rigd\""
        return response
    }

    package static func unknownStation(_ name: String) -> Response {
        error(.notFound, "unknown_station", unknownStationReason(name))
    }

    package static func unknownStationReason(_ name: String) -> String { "no station named \"\(name)\"" }

    // MARK: Documents

    package struct ErrorBody: Codable { var error: String; var reason: String }
    package struct Accepted: Codable { var station: String; var accepted: String; var by: String }
    package struct CalibrationAccepted: Codable {
        var station: String; var accepted: String; var by: String; var calibration: CalibrationStatus
    }
    package struct CalibrationList: Codable { var calibrations: [CalibrationRecord] }
    package struct StationList: Codable { var stations: [StationStatus] }
    package struct WhoAmI: Codable { var name: String; var role: String; var mayWrite: Bool }
    package struct NotifyList: Codable { var targets: [Notifier.TargetStatus] }
    package struct SummaryList: Codable {
        var station: String; var from: Double; var to: Double; var bucketS: Double; var buckets: [LogQueries.Bucket]
    }
    package struct NotifyTestResult: Codable { var target: String; var delivered: Bool; var by: String }
    package struct SampleList: Codable { var station: String; var from: Double; var to: Double; var samples: [LogQueries.Sample] }
    package struct AlarmList: Codable { var alarms: [LogQueries.AlarmEntry] }
    package struct RunList: Codable { var runs: [LogQueries.RunEntry] }
    package struct EventList: Codable { var events: [LogQueries.EventEntry] }
    package struct Health: Codable {
        package var stations: Int
        package var simulated: Int
        /// Stations not started because their device answered as something else (mode `refused`).
        package var refused: Int
        package var linksDown: Int
        package var activeAlarms: Int
        package var droppedRecords: UInt64

        package init(stations: Int, simulated: Int, refused: Int, linksDown: Int, activeAlarms: Int,
                     droppedRecords: UInt64) {
            self.stations = stations
            self.simulated = simulated
            self.refused = refused
            self.linksDown = linksDown
            self.activeAlarms = activeAlarms
            self.droppedRecords = droppedRecords
        }
    }

    /// One SSE frame: the values of every station.
    package struct LiveFrame: Codable {
        package struct Entry: Codable {
            package var name: String
            package var mode: String
            package var linkUp: Bool
            package var updatedAt: Double?
            package var values: [String: Double?]
            package var alarms: [String]
            package var phase: String?
            package var run: String?

            package init(_ s: StationStatus) {
                name = s.name
                mode = s.mode
                linkUp = s.link.up
                updatedAt = s.updatedAt
                values = Dictionary(uniqueKeysWithValues: s.channels.map { ($0.name, $0.value) })
                alarms = s.alarms.map(\.code)
                phase = s.phase
                run = s.run?.outcome
            }
        }
        package var stations: [Entry]

        package init(stations: [Entry]) {
            self.stations = stations
        }
    }

    package init(stations: [any AnyStation], recorder: Recorder?, metrics: MetricsExporter, access: AccessControl, readsNeedToken: Bool, replyTimeout: Double = 5,
                 kinds: [KindDescription] = KindRegistry.builtIn.descriptions) {
        self.init(registry: StationRegistry(stations), recorder: recorder, metrics: metrics, access: access,
                  readsNeedToken: readsNeedToken, replyTimeout: replyTimeout, kinds: kinds)
    }

    package init(registry: StationRegistry, recorder: Recorder?, metrics: MetricsExporter, access: AccessControl,
                 readsNeedToken: Bool, replyTimeout: Double = 5,
                 kinds: [KindDescription] = KindRegistry.builtIn.descriptions) {
        self.registry = registry
        self.recorder = recorder
        self.metrics = metrics
        self.access = access
        self.readsNeedToken = readsNeedToken
        self.replyTimeout = replyTimeout
        self.kinds = kinds
    }
}

/// Runs the API's HTTP server as a service of rigd's service group; a failure (the port is taken) names the address.
package struct APIServer: Service {
    package let app: any Service
    package let address: ListenAddress

    package struct Failed: Error, CustomStringConvertible {
        package let address: ListenAddress
        package let underlying: any Error
        package var description: String { "HTTP API on \(address) failed: \(underlying)" }

        package init(address: ListenAddress, underlying: any Error) {
            self.address = address
            self.underlying = underlying
        }
    }

    package func run() async throws {
        do {
            try await app.run()
        } catch {
            throw Failed(address: address, underlying: error)
        }
    }

    package init(app: any Service, address: ListenAddress) {
        self.app = app
        self.address = address
    }
}

extension APIServer {
    /// Builds the server; `onListening` gets the bound address (port 0 picks a free port).
    package init(api: API, address: ListenAddress, logger: Logger, onListening: @escaping @Sendable (String) -> Void) {
        let app = Application(
            router: api.router(),
            configuration: ApplicationConfiguration(address: .hostname(address.host, port: address.port),
                                                    serverName: "rigd"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? address.port
                onListening(ListenAddress(host: address.host, port: port).description)
            },
            logger: logger)
        self.init(app: app, address: address)
    }
}
