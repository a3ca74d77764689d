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
/// Writes need `Authorization: Bearer TOKEN`; reads too when the listener is not loopback.
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

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        // Rendered once: the document as in the repository, with this rigd's kinds.
        let document = ByteBuffer(string: OpenAPIDocument.json(kindNames: kindNames))
        router.get("/api/openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: document))
        }
        router.get("/metrics") { request, _ in
            if let denied = readDenied(request) { return denied }
            let text = metrics.render(stations.map { $0.status() })
            return Response(status: .ok, headers: [.contentType: MetricsExporter.contentType],
                            body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        router.get("/api/health") { request, _ in
            if let denied = readDenied(request) { return denied }
            let statuses = stations.map { $0.status() }
            return Self.json(Health(stations: statuses.count, simulated: statuses.filter { $0.mode == "simulated" }.count,
                                    linksDown: statuses.filter { !$0.link.up }.count,
                                    activeAlarms: statuses.reduce(0) { $0 + $1.alarms.count },
                                    droppedRecords: recorder?.droppedRecords ?? 0))
        }
        router.get("/api/stations") { request, _ in
            if let denied = readDenied(request) { return denied }
            return Self.json(StationList(stations: stations.map { $0.status() }))
        }
        router.get("/api/stations/{name}") { request, context in
            if let denied = readDenied(request) { return denied }
            let name = try context.parameters.require("name")
            guard let station = station(named: name) else { return Self.unknownStation(name) }
            return Self.json(station.status())
        }
        router.get("/api/stations/{name}/samples") { request, context in
            if let denied = readDenied(request) { return denied }
            let name = try context.parameters.require("name")
            guard station(named: name) != nil else { return Self.unknownStation(name) }
            let q = Query(request)
            let window: (Double, Double)
            let limit: Int
            switch (Self.timeWindow(q), Self.limit(q, default: 10_000)) {
            case (.failure(let e), _), (_, .failure(let e)): return e.response
            case (.success(let w), .success(let l)): (window, limit) = (w, l)
            }
            let channel = q.get("channel").map { String($0) }
            return try await withLog { db in
                let rows = try LogQueries.samples(db, station: name, from: window.0, to: window.1, channel: channel,
                                                  limit: limit)
                return Self.json(SampleList(station: name, from: window.0, to: window.1, samples: rows))
            }
        }
        router.get("/api/alarms") { request, _ in
            if let denied = readDenied(request) { return denied }
            let q = Query(request)
            let activeText = q.get("active") ?? "false"
            guard ["true", "1", "false", "0"].contains(activeText) else {
                return Self.error(.unprocessableContent, "invalid_value",
                                  "active must be true, false, 1 or 0, got \"\(activeText)\"")
            }
            let active = activeText == "true" || activeText == "1"
            let h: History
            switch history(q, defaultSpan: 30 * 86_400) {
            case .failure(let refusal): return refusal.response
            case .success(let value): h = value
            }
            return try await withLog { db in
                Self.json(AlarmList(alarms: try LogQueries.alarms(db, station: h.station, from: h.from, to: h.to,
                                                                  activeOnly: active, limit: h.limit)))
            }
        }
        router.get("/api/runs") { request, _ in
            if let denied = readDenied(request) { return denied }
            let q = Query(request)
            let h: History
            switch history(q, defaultSpan: 365 * 86_400) {
            case .failure(let refusal): return refusal.response
            case .success(let value): h = value
            }
            return try await withLog { db in
                Self.json(RunList(runs: try LogQueries.runs(db, station: h.station, from: h.from, to: h.to,
                                                            limit: h.limit)))
            }
        }
        router.get("/api/events") { request, _ in
            if let denied = readDenied(request) { return denied }
            let q = Query(request)
            let h: History
            switch history(q, defaultSpan: 3600) {
            case .failure(let refusal): return refusal.response
            case .success(let value): h = value
            }
            return try await withLog { db in
                Self.json(EventList(events: try LogQueries.events(db, station: h.station, from: h.from, to: h.to,
                                                                  limit: h.limit)))
            }
        }
        router.get("/api/stream") { request, _ in
            if let denied = readDenied(request) { return denied }
            let text = Query(request).get("interval").map { String($0) } ?? "1"
            guard let interval = Double(text), (0.1...60).contains(interval) else {
                return Self.error(.unprocessableContent, "invalid_value",
                                  "interval must be 0.1–60 seconds, got \"\(text)\"")
            }
            return liveStream(interval: interval)
        }

        // Writes
        router.post("/api/stations/{name}/setpoints") { request, context in
            var request = request
            return try await write(&request, context) { station, body in
                guard let object = body as? [String: Any], let name = object["name"] as? String,
                      let value = (object["value"] as? NSNumber).map(\.doubleValue), !(object["value"] is Bool)
                else {
                    return .invalid("the body must be {\"name\": SETTING, \"value\": NUMBER}; settings of "
                                    + "\(station.name): " + station.status().settings.map(\.name).joined(separator: ", "))
                }
                return .request(.set(name: name, value: value))
            }
        }
        router.post("/api/stations/{name}/run/start") { request, context in
            var request = request
            return try await write(&request, context, emptyBodyAllowed: true) { _, body in
                guard let body else { return .request(.startRun(nil)) }
                guard let object = body as? [String: Any] else { return .invalid("the body must be a JSON object") }
                guard let recipe = object["recipe"] else { return .request(.startRun(nil)) }
                guard let r = recipe as? [String: Any] else {
                    return .invalid("recipe must be {\"name\": TEXT, \"parameters\": {KEY: NUMBER, …}}")
                }
                var parameters: [String: Double] = [:]
                for (key, value) in (r["parameters"] as? [String: Any]) ?? [:] {
                    if let flag = value as? Bool { parameters[key] = flag ? 1 : 0; continue }
                    guard let number = value as? NSNumber else {
                        return .invalid("recipe parameter \(key) must be a number or a boolean")
                    }
                    parameters[key] = number.doubleValue
                }
                if let p = r["parameters"], !(p is [String: Any]) {
                    return .invalid("recipe.parameters must be an object of numbers")
                }
                if let name = r["name"], !(name is String) {
                    return .invalid("recipe.name must be a string")
                }
                return .request(.startRun(RunRecipe(name: (r["name"] as? String) ?? "api", parameters: parameters)))
            }
        }
        router.post("/api/stations/{name}/run/stop") { request, context in
            var request = request
            return try await write(&request, context, emptyBodyAllowed: true) { _, _ in .request(.stopRun) }
        }
        router.post("/api/stations/{name}/alarms/{code}/acknowledge") { request, context in
            var request = request
            let code = try context.parameters.require("code")
            return try await write(&request, context) { _, body in
                guard let by = (body as? [String: Any])?["by"] as? String,
                      !by.trimmingCharacters(in: .whitespaces).isEmpty, by.count <= 64 else {
                    return .invalid("the body must be {\"by\": NAME}: who acknowledges (1–64 characters)")
                }
                return .request(.acknowledge(code: code, by: by))
            }
        }
        addDashboard(to: router)
        return router
    }

    // MARK: Writes

    enum Parsed {
        case request(OperatorRequest)
        case invalid(String)
    }

    /// Authorizes, finds the station, parses the body, and hands the request to the station's mailbox.
    private func write(_ request: inout Request, _ context: BasicRequestContext, emptyBodyAllowed: Bool = false,
                       parse: (any AnyStation, Any?) -> Parsed) async throws -> Response {
        // Authorization first: without a valid token nothing else is looked at.
        guard token.accepts(authorization: request.headers[.authorization]) else { return Self.unauthorized() }
        let name = try context.parameters.require("name")
        guard let station = station(named: name) else { return Self.unknownStation(name) }
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: Self.maximumBody)
        } catch {
            return Self.error(.contentTooLarge, "body_too_large", "the body exceeds \(Self.maximumBody) bytes")
        }
        var body: Any?
        if buffer.readableBytes > 0 {
            do {
                body = try JSONSerialization.jsonObject(with: Data(buffer.readableBytesView), options: [.fragmentsAllowed])
            } catch {
                return Self.error(.badRequest, "bad_json", "the body is not JSON: \(error.localizedDescription)")
            }
        } else if !emptyBodyAllowed {
            return Self.error(.badRequest, "bad_json", "a JSON body is required")
        }
        let operatorRequest: OperatorRequest
        switch parse(station, body) {
        case .invalid(let reason): return Self.error(.unprocessableContent, "invalid_value", reason)
        case .request(let r): operatorRequest = r
        }
        switch await submit(operatorRequest, to: station) {
        case .success?:
            return Self.json(Accepted(station: name, accepted: "\(operatorRequest)"))
        case .failure(let rejection)?:
            return Self.error(.unprocessableContent, "invalid_value", rejection.reason)
        case nil:
            return Self.error(.serviceUnavailable, "station_not_answering",
                              "station \(name) did not take the request within \(replyTimeout) s (its loop may be "
                              + "stuck or stopping); it may still be applied")
        }
    }

    /// Posts to the mailbox and waits for the station's verdict; nil if none came within `replyTimeout`.
    func submit(_ request: OperatorRequest, to station: any AnyStation) async -> Result<Void, CommandRejection>? {
        let box = ReplyBox()
        let timeout = replyTimeout
        return await withCheckedContinuation { continuation in
            box.set(continuation)
            station.mailbox.post(request) { result in box.resume(result) }
            Task {
                try? await Task.sleep(for: .seconds(timeout))
                box.resume(nil)
            }
        }
    }

    // MARK: Server-Sent Events

    /// `event: values` with every station's values every `interval` seconds, until the client goes or rigd stops.
    private func liveStream(interval: Double) -> Response {
        let stations = self.stations
        let body = ResponseBody { writer in
            var id = 0
            // A comment line first, so clients see the stream open at once.
            try await writer.write(ByteBuffer(string: ": rigd live values every \(interval) s\nretry: 2000\n\n"))
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                let frame = LiveFrame(stations: stations.map { LiveFrame.Entry($0.status()) })
                let data = (try? StationStatus.encoder().encode(frame)) ?? Data("{}".utf8)
                id += 1
                try await writer.write(ByteBuffer(string: "id: \(id)\nevent: values\ndata: "
                                                  + String(decoding: data, as: UTF8.self) + "\n\n"))
                // Wakes at once when rigd shuts down, so an open stream never holds up the shutdown.
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(interval)) }
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                        body: body)
    }

    // MARK: Helpers

    private func readDenied(_ request: Request) -> Response? {
        guard readsNeedToken, !token.accepts(authorization: request.headers[.authorization]) else { return nil }
        return Self.unauthorized()
    }

    private func withLog(_ body: @Sendable (Database) throws -> Response) async throws -> Response {
        guard let recorder else {
            return Self.error(.serviceUnavailable, "no_data_log", "this rigd keeps no data log")
        }
        do {
            return try await recorder.reader.read { db in try body(db) }
        } catch {
            return Self.error(.internalServerError, "data_log_error", "reading the data log failed: \(error)")
        }
    }

    /// A request's query parameters (the first of each name).
    struct Query {
        let values: [String: String]
        init(_ request: Request) {
            values = Dictionary(request.uri.queryParameters.map { (String($0.key), String($0.value)) },
                                uniquingKeysWith: { first, _ in first })
        }
        func get(_ name: String) -> String? { values[name] }
    }

    struct QueryError: Error {
        let reason: String
        var response: Response { API.error(.unprocessableContent, "invalid_value", reason) }
    }

    /// A history request's station filter, window and row limit.
    struct History {
        var station: String?
        var from: Double
        var to: Double
        var limit: Int
    }

    /// The refusal of a history request: 404 for an unknown station, 422 for a bad window or limit.
    struct HistoryRefusal: Error {
        let response: Response
    }

    /// `?station&from&to&limit` of the history endpoints (alarms, runs, events).
    func history(_ q: Query, defaultSpan: Double) -> Result<History, HistoryRefusal> {
        let stationName = q.get("station")
        if let stationName, station(named: stationName) == nil {
            return .failure(HistoryRefusal(response: Self.unknownStation(stationName)))
        }
        switch (Self.timeWindow(q, defaultSpan: defaultSpan), Self.limit(q, default: 1000)) {
        case (.failure(let e), _), (_, .failure(let e)):
            return .failure(HistoryRefusal(response: e.response))
        case (.success(let w), .success(let l)):
            return .success(History(station: stationName, from: w.0, to: w.1, limit: l))
        }
    }

    static func timeWindow(_ q: Query,
                           defaultSpan: Double = 3600) -> Result<(Double, Double), QueryError> {
        let now = Date().timeIntervalSince1970
        var to = now
        if let text = q.get("to") {
            guard let t = TimeArgument.parse(String(text), now: now) else {
                return .failure(QueryError(reason: "to: \(TimeArgument.help), got \"\(text)\""))
            }
            to = t
        }
        var from = to - defaultSpan
        if let text = q.get("from") {
            guard let t = TimeArgument.parse(String(text), now: now) else {
                return .failure(QueryError(reason: "from: \(TimeArgument.help), got \"\(text)\""))
            }
            from = t
        }
        guard from <= to else { return .failure(QueryError(reason: "from is after to")) }
        return .success((from, to))
    }

    static func limit(_ q: Query, default fallback: Int) -> Result<Int, QueryError> {
        guard let text = q.get("limit") else { return .success(fallback) }
        guard let n = Int(text), (1...maximumRows).contains(n) else {
            return .failure(QueryError(reason: "limit must be 1–\(maximumRows), got \"\(text)\""))
        }
        return .success(n)
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
        error(.notFound, "unknown_station", "no station named \"\(name)\"")
    }

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

/// One reply, delivered once: by the station or by the timeout, whichever comes first.
private final class ReplyBox: Sendable {
    private let continuation = Locked<CheckedContinuation<Result<Void, CommandRejection>?, Never>?>(nil)

    func set(_ c: CheckedContinuation<Result<Void, CommandRejection>?, Never>) {
        continuation.withLock { $0 = c }
    }

    func resume(_ result: Result<Void, CommandRejection>?) {
        let c = continuation.withLock { c in
            defer { c = nil }
            return c
        }
        c?.resume(returning: result)
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
