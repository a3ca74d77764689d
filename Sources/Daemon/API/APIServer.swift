import Control
import Devices
import Foundation
import GRDB
import Hummingbird
import Logging
import ServiceLifecycle

/// rigd's HTTP API (docs/api.md; the contract is `OpenAPIDocument`, served at /api/openapi.json).
///
/// Reads come from the stations' published status and the data log. Writes go through the station's mailbox, so
/// the station's own validation decides, on its own thread, at its next tick; the handler waits for that verdict.
/// Writes need `Authorization: Bearer TOKEN`; reads too when the listener is not loopback. The routes are in
/// `API+Reads.swift`, `API+Writes.swift` and `Dashboard.swift`.
struct API: Sendable {
    let stations: [any AnyStation]
    let recorder: Recorder?
    let metrics: MetricsExporter
    let token: APIToken
    /// Reads need the token too (a listener reachable from the network).
    let readsNeedToken: Bool
    /// How long a write waits for the station's verdict before answering 503.
    var replyTimeout: Double = 5
    /// The device kinds rigd knows: the OpenAPI document's `Station.kind` enum.
    var kindNames: [String] = API.builtInKindNames

    /// Today's six kinds, until the caller passes the kinds' registry.
    static let builtInKindNames = ["heat-rig", "extraction", "aqua-sonde", "cnc-mill", "msd-rig", "stream-station"]

    static let maximumBody = 64 * 1024
    static let maximumRows = 100_000

    func station(named name: String) -> (any AnyStation)? { stations.first { $0.name == name } }

    // MARK: Router

    /// Every route: the OpenAPI document, the reads, the writes, the dashboard. Route collections carry their own
    /// token rule (`BearerTokenMiddleware`) and station lookup (`StationMiddleware`).
    func router() -> Router<APIRequestContext> {
        let router = Router(context: APIRequestContext.self)
        // Rendered once: the document as in the repository, with this rigd's kinds.
        let document = ByteBuffer(string: OpenAPIDocument.json(kindNames: kindNames))
        router.get("/api/openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: document))
        }
        router.addRoutes(readRoutes())
        router.addRoutes(writeRoutes())
        router.addRoutes(dashboardRoutes())
        return router
    }

    // MARK: Helpers

    /// Runs `body` on the data log; 503 without one, 500 when reading fails.
    func withLog(_ body: @Sendable (Database) throws -> Response) async throws -> Response {
        guard let recorder else {
            return Self.error(.serviceUnavailable, "no_data_log", "this rigd keeps no data log")
        }
        do {
            return try await recorder.reader.read { db in try body(db) }
        } catch {
            return Self.error(.internalServerError, "data_log_error", "reading the data log failed: \(error)")
        }
    }

    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? StationStatus.encoder().encode(value)) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func error(_ status: HTTPResponse.Status, _ code: String, _ reason: String) -> Response {
        json(ErrorBody(error: code, reason: reason), status: status)
    }

    static func unauthorized() -> Response {
        var response = error(.unauthorized, "unauthorized",
                             "this request needs Authorization: Bearer TOKEN (the token is in rigd's token file)")
        response.headers[.wwwAuthenticate] = "Bearer realm=\"rigd\""
        return response
    }

    static func unknownStation(_ name: String) -> Response {
        error(.notFound, "unknown_station", unknownStationReason(name))
    }

    static func unknownStationReason(_ name: String) -> String { "no station named \"\(name)\"" }

    // MARK: Documents

    struct ErrorBody: Codable { var error: String; var reason: String }
    struct Accepted: Codable { var station: String; var accepted: String }
    struct StationList: Codable { var stations: [StationStatus] }
    struct SampleList: Codable { var station: String; var from: Double; var to: Double; var samples: [LogQueries.Sample] }
    struct AlarmList: Codable { var alarms: [LogQueries.AlarmEntry] }
    struct RunList: Codable { var runs: [LogQueries.RunEntry] }
    struct EventList: Codable { var events: [LogQueries.EventEntry] }
    struct Health: Codable {
        var stations: Int
        var simulated: Int
        var linksDown: Int
        var activeAlarms: Int
        var droppedRecords: UInt64
    }

    /// One SSE frame: the values of every station.
    struct LiveFrame: Codable {
        struct Entry: Codable {
            var name: String
            var mode: String
            var linkUp: Bool
            var updatedAt: Double?
            var values: [String: Double?]
            var alarms: [String]
            var phase: String?
            var run: String?

            init(_ s: StationStatus) {
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
        var stations: [Entry]
    }
}

/// Runs the API's HTTP server as a service of rigd's service group; a failure (the port is taken) names the address.
struct APIServer: Service {
    let app: any Service
    let address: ListenAddress

    struct Failed: Error, CustomStringConvertible {
        let address: ListenAddress
        let underlying: any Error
        var description: String { "HTTP API on \(address) failed: \(underlying)" }
    }

    func run() async throws {
        do {
            try await app.run()
        } catch {
            throw Failed(address: address, underlying: error)
        }
    }
}

extension APIServer {
    /// Builds the server; `onListening` gets the bound address (port 0 picks a free port).
    init(api: API, address: ListenAddress, logger: Logger, onListening: @escaping @Sendable (String) -> Void) {
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
