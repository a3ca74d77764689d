import Foundation
import Hummingbird
import Stations
import DeviceTransports
import SimServe
import Locking

/// The request context of rigd's HTTP API: Hummingbird's core storage, the station a `StationMiddleware` resolved
/// from the path, and the body decoder that refuses with the API's own statuses and error bodies.
package struct APIRequestContext: RequestContext {
    package var coreContext: CoreRequestContextStorage
    /// The path's `{name}` station, once `StationMiddleware` found it.
    package var station: (any AnyStation)?
    /// Who the request's token names, once `BearerTokenMiddleware` looked (nil: no valid token).
    package var identity: Identity?

    package init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }

    /// Bodies past this size are refused with 413 before they are parsed.
    package var maxUploadSize: Int { API.maximumBody }

    package var requestDecoder: APIBodyDecoder { APIBodyDecoder(station: station) }

    /// The station of a route behind `StationMiddleware`.
    package func requireStation() throws -> any AnyStation {
        guard let station else {
            throw APIError(.internalServerError, "no_station", "the route resolved no station (rigd bug)")
        }
        return station
    }

    /// The identity of a route behind `BearerTokenMiddleware` with a required role.
    package func requireIdentity() throws -> Identity {
        guard let identity else {
            throw APIError(.internalServerError, "no_identity", "the route resolved no identity (rigd bug)")
        }
        return identity
    }
}

/// A refusal with the API's error body: `{"error": CODE, "reason": TEXT}`. Thrown from a handler or the body
/// decoder, Hummingbird's router turns it into the response.
package struct APIError: HTTPResponseError {
    package let status: HTTPResponse.Status
    package let code: String
    package let reason: String

    package init(_ status: HTTPResponse.Status, _ code: String, _ reason: String) {
        self.status = status
        self.code = code
        self.reason = reason
    }

    package static func invalid(_ reason: String) -> APIError { APIError(.unprocessableContent, "invalid_value", reason) }

    package func response(from request: Request, context: some RequestContext) throws -> Response {
        API.error(status, code, reason)
    }
}

/// A write's JSON body. What it must look like is said to the client when it does not (422).
package protocol WriteBody: Decodable, Sendable {
    /// The 422 reason for a body of the wrong shape; a decoder may throw `APIError` for a more precise one.
    static func shape(for station: (any AnyStation)?) -> String
}

/// A write whose body may be left out: an empty body is `absent`.
package protocol OptionalWriteBody: WriteBody {
    static var absent: Self { get }
}

/// Decodes a write's body, in the API's order of refusals: 413 past `maxUploadSize`, 400 for no body (where one is
/// required) or one that is not JSON, 422 for JSON of the wrong shape (`WriteBody.shape`).
package struct APIBodyDecoder: RequestDecoder {
    /// The station written to, for the reasons that name its settings.
    package let station: (any AnyStation)?

    package func decode<T: Decodable>(_ type: T.Type, from request: Request, context: some RequestContext) async throws -> T {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: context.maxUploadSize)
        } catch {
            throw APIError(.contentTooLarge, "body_too_large", "the body exceeds \(context.maxUploadSize) bytes")
        }
        guard buffer.readableBytes > 0 else {
            if let absent = (T.self as? any OptionalWriteBody.Type)?.absent as? T { return absent }
            throw APIError(.badRequest, "bad_json", "a JSON body is required")
        }
        let data = Data(buffer.readableBytesView)
        // Not JSON (400) and JSON of the wrong shape (422) are different refusals; the decoder's errors do not
        // tell them apart reliably, a parse does.
        do {
            _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            throw APIError(.badRequest, "bad_json", "the body is not JSON: \(error.localizedDescription)")
        }
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let refusal as APIError {
            throw refusal
        } catch {
            let shape = (T.self as? any WriteBody.Type)?.shape(for: station) ?? "the body does not fit this request"
            throw APIError.invalid(shape)
        }
    }

    package init(station: (any AnyStation)?) {
        self.station = station
    }
}
