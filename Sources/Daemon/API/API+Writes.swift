import Control
import Devices
import Foundation
import Hummingbird
import Stations
import DeviceTransports
import SimServe
import Locking

/// The API's writes. Each needs a token of role operator or admin (401 without one, 403 for a viewer's, before anything
/// else), a known station (404), a body of at most
/// `maximumBody` bytes (413) that is JSON (400) of the request's shape (422, `WriteBodies.swift`). Then the request
/// goes to the station's mailbox; the station's own validation decides, on its own thread, at its next tick, and the
/// handler answers with that verdict (200 or 422), or 503 when none came within `replyTimeout`.
extension API {
    package func writeRoutes() -> RouteCollection<APIRequestContext> {
        let routes = RouteCollection(context: APIRequestContext.self)
            .add(middleware: BearerTokenMiddleware(access: access, required: .operator))
        // A test message to a notification target (admin: it reaches people outside the plant).
        let admin = routes.group("/api/notify").add(middleware: BearerTokenMiddleware(access: access, required: .admin))
        admin.post("{target}/test") { _, context in
            let identity = try context.requireIdentity()
            let name = try context.parameters.require("target")
            guard let notifier, let result = await notifier.test(name) else {
                throw APIError(.notFound, "unknown_target", "no [[notify]] target named \"\(name)\" ("
                               + ((notifier?.targets.map(\.name)).map { $0.isEmpty ? "none configured" : $0.joined(separator: ", ") } ?? "none configured") + ")")
            }
            if let failure = result {
                throw APIError(.badGateway, "not_delivered", failure)
            }
            return Self.json(NotifyTestResult(target: name, delivered: true, by: identity.name))
        }
        // A configuration reload (admin): 200 with what changed, 422 with the file's problems (nothing changed), 409
        // while another reload runs. The body, if any, is not read.
        routes.group("/api/reload").add(middleware: BearerTokenMiddleware(access: access, required: .admin))
            .post { _, context in
                let identity = try context.requireIdentity()
                guard let reload else {
                    throw APIError(.notFound, "no_reload", "this rigd cannot reload its configuration")
                }
                let outcome = await reload(identity.name)
                if outcome.applied { return Self.json(outcome) }
                if outcome.errors == ["a reload is already in progress"] {
                    throw APIError(.conflict, "reload_in_progress", "a reload is already in progress; try again when it is done")
                }
                return Self.json(outcome, status: .unprocessableContent)
            }
        let station = routes.group("/api/stations/{name}").add(middleware: StationMiddleware(registry: registry))
        station.post("setpoints") { request, context in
            let body = try await request.decode(as: SettingRequest.self, context: context)
            return try await apply(.set(name: body.name, value: body.value), context)
        }
        station.post("run/start") { request, context in
            let body = try await request.decode(as: RunStartRequest.self, context: context)
            return try await apply(.startRun(body.recipe), context)
        }
        station.post("run/stop") { request, context in
            _ = try await request.decode(as: RunStopRequest.self, context: context)
            return try await apply(.stopRun, context)
        }
        station.post("hand") { request, context in
            let body = try await request.decode(as: HandBody.self, context: context)
            let station = try context.requireStation()
            // Without minutes: the longest hold the configuration allows.
            let seconds = body.minutes.map { $0 * 60 } ?? station.status().handMaxS
            return try await apply(.hand(output: body.output, value: body.value, seconds: seconds, why: body.why),
                                   context)
        }
        station.post("auto") { request, context in
            let body = try await request.decode(as: AutoBody.self, context: context)
            return try await apply(.auto(output: body.output, why: body.why), context)
        }
        // Probe calibration (docs/operations.md "Calibration"): the answer carries the station's calibration status
        // as the request left it.
        station.post("calibration/start") { request, context in
            let body = try await request.decode(as: CalibrationStartBody.self, context: context)
            return try await calibrate(.start(channel: body.channel, method: body.method, points: body.points,
                                              why: body.why), context)
        }
        station.post("calibration/point") { request, context in
            let body = try await request.decode(as: CalibrationPointBody.self, context: context)
            return try await calibrate(.point(standard: body.value, tempC: body.tempC, lot: body.lot), context)
        }
        station.post("calibration/finish") { request, context in
            let body = try await request.decode(as: CalibrationFinishBody.self, context: context)
            return try await calibrate(.finish(apply: body.apply), context)
        }
        station.post("calibration/cancel") { request, context in
            _ = try await request.decode(as: CalibrationCancelBody.self, context: context)
            return try await calibrate(.cancel, context)
        }
        station.post("alarms/{code}/acknowledge") { request, context in
            let code = try context.parameters.require("code")
            _ = try await request.decode(as: AcknowledgeRequest.self, context: context)
            return try await apply(.acknowledge(code: code, by: try context.requireIdentity().name), context)
        }
        return routes
    }

    /// Hands the request to the context's station and answers with its verdict.
    private func apply(_ request: OperatorRequest, _ context: APIRequestContext) async throws -> Response {
        try await apply(.controller(request), context)
    }

    private func apply(_ request: Stations.HandRequest, _ context: APIRequestContext) async throws -> Response {
        try await apply(.station(request), context)
    }

    /// A calibration request: the station's verdict, then its calibration status.
    private func calibrate(_ request: CalibrationRequest, _ context: APIRequestContext) async throws -> Response {
        let station = try context.requireStation()
        let identity = try context.requireIdentity()
        try await verdict(.calibration(request), station: station, by: identity.name)
        return Self.json(CalibrationAccepted(station: station.name, accepted: "\(request)", by: identity.name,
                                             calibration: station.status().calibration))
    }

    private func apply(_ request: Mailbox.Request, _ context: APIRequestContext) async throws -> Response {
        let station = try context.requireStation()
        let identity = try context.requireIdentity()
        try await verdict(request, station: station, by: identity.name)
        return Self.json(Accepted(station: station.name, accepted: "\(request)", by: identity.name))
    }

    /// Posts the request and waits for the station's verdict: returns when it was applied, throws the API's error
    /// otherwise (409 for a station that did not start, 422 for a rejection, 503 when no verdict came).
    private func verdict(_ request: Mailbox.Request, station: any AnyStation, by: String) async throws {
        if let refused = station as? NotStartedStation {
            throw APIError(.conflict, "station_refused", refused.rejection.reason)
        }
        switch await submit(request, by: by, to: station) {
        case .success?:
            return
        case .failure(let rejection)?:
            throw APIError.invalid(rejection.reason)
        case nil:
            throw APIError(.serviceUnavailable, "station_not_answering",
                           "station \(station.name) did not take the request within \(replyTimeout) s (its loop may "
                           + "be stuck or stopping); it may still be applied")
        }
    }

    /// Posts to the mailbox and waits for the station's verdict; nil if none came within `replyTimeout`.
    package func submit(_ request: Mailbox.Request, by: String?,
                        to station: any AnyStation) async -> Result<Void, CommandRejection>? {
        let box = ReplyBox()
        let timeout = replyTimeout
        return await withCheckedContinuation { continuation in
            box.set(continuation)
            station.mailbox.post(request, by: by) { result in box.resume(result) }
            Task {
                try? await Task.sleep(for: .seconds(timeout))
                box.resume(nil)
            }
        }
    }
}

/// One reply, delivered once: by the station or by the timeout, whichever comes first.
private final class ReplyBox: Sendable {
    private let continuation = Locked<CheckedContinuation<Result<Void, CommandRejection>?, Never>?>(nil)

    package func set(_ c: CheckedContinuation<Result<Void, CommandRejection>?, Never>) {
        continuation.withLock { $0 = c }
    }

    package func resume(_ result: Result<Void, CommandRejection>?) {
        let c = continuation.withLock { c in
            defer { c = nil }
            return c
        }
        c?.resume(returning: result)
    }
}
