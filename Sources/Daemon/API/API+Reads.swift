import Foundation
import GRDB
import Hummingbird
import ServiceLifecycle
import Stations
import DeviceTransports
import SimServe
import Locking

/// The API's reads: live status from the stations, history from the data log, the live stream, metrics. They need
/// the token where rigd listens on a network address (`readsNeedToken`).
extension API {
    package func readRoutes() -> RouteCollection<APIRequestContext> {
        let routes = RouteCollection(context: APIRequestContext.self)
            .add(middleware: BearerTokenMiddleware(access: access, required: readsNeedToken ? .viewer : nil))
        routes.get("/metrics") { _, _ in
            let text = metrics.render(stations.map { $0.status() })
            return Response(status: .ok, headers: [.contentType: MetricsExporter.contentType],
                            body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        routes.get("/api/health") { _, _ in
            let statuses = stations.map { $0.status() }
            return Self.json(Health(stations: statuses.count, simulated: statuses.filter { $0.mode == "simulated" }.count,
                                    refused: statuses.filter { $0.mode == "refused" }.count,
                                    linksDown: statuses.filter { !$0.link.up }.count,
                                    activeAlarms: statuses.reduce(0) { $0 + $1.alarms.count },
                                    droppedRecords: recorder?.droppedRecords ?? 0))
        }
        routes.get("/api/whoami") { _, context in
            // Behind the reads' rule, which on loopback lets requests without a token through: say so with 401.
            guard let identity = context.identity else { return Self.unauthorized() }
            return Self.json(WhoAmI(name: identity.name, role: identity.role.rawValue,
                                    mayWrite: identity.role >= .operator))
        }
        routes.get("/api/notify") { _, _ in
            Self.json(NotifyList(targets: notifier?.status ?? []))
        }
        let kindList = KindList(kinds: kinds)
        routes.get("/api/kinds") { _, _ in
            Self.json(kindList)
        }
        routes.get("/api/stations") { _, _ in
            Self.json(StationList(stations: stations.map { $0.status() }))
        }
        routes.get("/api/alarms") { request, _ in
            let q = Query(request)
            let activeText = q.get("active") ?? "false"
            guard ["true", "1", "false", "0"].contains(activeText) else {
                throw APIError.invalid("active must be true, false, 1 or 0, got \"\(activeText)\"")
            }
            let active = activeText == "true" || activeText == "1"
            let h = try history(q, defaultSpan: 30 * 86_400)
            return try await withLog { db in
                Self.json(AlarmList(alarms: try LogQueries.alarms(db, station: h.station, from: h.from, to: h.to,
                                                                  activeOnly: active, limit: h.limit)))
            }
        }
        routes.get("/api/runs") { request, _ in
            let h = try history(Query(request), defaultSpan: 365 * 86_400)
            return try await withLog { db in
                Self.json(RunList(runs: try LogQueries.runs(db, station: h.station, from: h.from, to: h.to,
                                                            limit: h.limit)))
            }
        }
        routes.get("/api/events") { request, _ in
            let h = try history(Query(request), defaultSpan: 3600)
            return try await withLog { db in
                Self.json(EventList(events: try LogQueries.events(db, station: h.station, from: h.from, to: h.to,
                                                                  limit: h.limit)))
            }
        }
        routes.get("/api/calibrations") { request, _ in
            let h = try history(Query(request), defaultSpan: 10 * 365 * 86_400)
            return try await withLog { db in
                let records = try CalibrationLog.records(db, station: h.station, from: h.from, to: h.to)
                return Self.json(CalibrationList(calibrations: Array(records.reversed().prefix(h.limit))))
            }
        }
        routes.get("/api/stream") { request, _ in
            let text = Query(request).get("interval") ?? "1"
            guard let interval = Double(text), (0.1...60).contains(interval) else {
                throw APIError.invalid("interval must be 0.1–60 seconds, got \"\(text)\"")
            }
            return liveStream(interval: interval)
        }

        let station = routes.group("/api/stations/{name}").add(middleware: StationMiddleware(registry: registry))
        station.get { _, context in
            Self.json(try context.requireStation().status())
        }
        station.get("samples") { request, context in
            let name = try context.requireStation().name
            let q = Query(request)
            let window = try Self.timeWindow(q)
            let limit = try Self.limit(q, default: 10_000)
            let channel = q.get("channel")
            return try await withLog { db in
                let rows = try LogQueries.samples(db, station: name, from: window.from, to: window.to,
                                                  channel: channel, limit: limit)
                return Self.json(SampleList(station: name, from: window.from, to: window.to, samples: rows))
            }
        }
        station.get("samples/summary") { request, context in
            let name = try context.requireStation().name
            let q = Query(request)
            let window = try Self.timeWindow(q)
            let pointsText = q.get("points") ?? "1000"
            guard let points = Int(pointsText), (10...5000).contains(points) else {
                throw APIError.invalid("points must be an integer within 10…5000, got \"\(pointsText)\"")
            }
            let channel = q.get("channel")
            return try await withLog { db in
                let (bucket, buckets) = try LogQueries.summary(db, station: name, from: window.from, to: window.to,
                                                               channel: channel, points: points)
                return Self.json(SummaryList(station: name, from: window.from, to: window.to, bucketS: bucket,
                                             buckets: buckets))
            }
        }
        station.get("export.csv") { request, context in
            try await exportCSV(request, context)
        }
        return routes
    }

    // MARK: Server-Sent Events

    /// `event: values` with every station's values every `interval` seconds, until the client goes or rigd stops.
    package func liveStream(interval: Double) -> Response {
        let registry = self.registry
        let body = ResponseBody { writer in
            var id = 0
            // A comment line first, so clients see the stream open at once.
            try await writer.write(ByteBuffer(string: ": rigd live values every \(interval) s\nretry: 2000\n\n"))
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                let frame = LiveFrame(stations: registry.stations.map { LiveFrame.Entry($0.status()) })
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

    // MARK: Query parameters

    /// A request's query parameters (the first of each name).
    package struct Query {
        package let values: [String: String]
        package init(_ request: Request) {
            values = Dictionary(request.uri.queryParameters.map { (String($0.key), String($0.value)) },
                                uniquingKeysWith: { first, _ in first })
        }
        package func get(_ name: String) -> String? { values[name] }
    }

    /// A history request's station filter, window and row limit.
    package struct History {
        package var station: String?
        package var from: Double
        package var to: Double
        package var limit: Int

        package init(station: String? = nil, from: Double, to: Double, limit: Int) {
            self.station = station
            self.from = from
            self.to = to
            self.limit = limit
        }
    }

    /// `?station&from&to&limit` of the history endpoints (alarms, runs, events): 404 for an unknown station, 422
    /// for a bad window or limit.
    package func history(_ q: Query, defaultSpan: Double) throws(APIError) -> History {
        let stationName = q.get("station")
        if let stationName, station(named: stationName) == nil {
            throw APIError(.notFound, "unknown_station", Self.unknownStationReason(stationName))
        }
        let window = try Self.timeWindow(q, defaultSpan: defaultSpan)
        return History(station: stationName, from: window.from, to: window.to, limit: try Self.limit(q, default: 1000))
    }

    /// `?from&to`: Unix seconds, ISO 8601 or relative; `to` defaults to now, `from` to `defaultSpan` before `to`.
    package static func timeWindow(_ q: Query, defaultSpan: Double = 3600) throws(APIError) -> (from: Double, to: Double) {
        let now = Date().timeIntervalSince1970
        var to = now
        if let text = q.get("to") {
            guard let t = TimeArgument.parse(text, now: now) else {
                throw APIError.invalid("to: \(TimeArgument.help), got \"\(text)\"")
            }
            to = t
        }
        var from = to - defaultSpan
        if let text = q.get("from") {
            guard let t = TimeArgument.parse(text, now: now) else {
                throw APIError.invalid("from: \(TimeArgument.help), got \"\(text)\"")
            }
            from = t
        }
        guard from <= to else { throw APIError.invalid("from is after to") }
        return (from, to)
    }

    /// `?limit`: 1…`maximumRows`, default `fallback`.
    package static func limit(_ q: Query, default fallback: Int) throws(APIError) -> Int {
        guard let text = q.get("limit") else { return fallback }
        guard let n = Int(text), (1...maximumRows).contains(n) else {
            throw APIError.invalid("limit must be 1–\(maximumRows), got \"\(text)\"")
        }
        return n
    }
}
