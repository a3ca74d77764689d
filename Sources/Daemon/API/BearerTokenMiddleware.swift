import Hummingbird
import Stations
import DeviceTransports
import SimServe
import Locking

/// The API's token rule for the routes behind it: with `required`, a request without `Authorization: Bearer TOKEN`
/// (rigd's token, compared in constant time) gets 401 and nothing else about it is looked at. Writes always require
/// it; reads where rigd listens on a network address (`API.readsNeedToken`).
package struct BearerTokenMiddleware: RouterMiddleware {
    package typealias Context = APIRequestContext

    package let token: APIToken
    package let required: Bool

    package func handle(_ request: Request, context: Context,
                next: (Request, Context) async throws -> Response) async throws -> Response {
        guard required, !token.accepts(authorization: request.headers[.authorization]) else {
            return try await next(request, context)
        }
        return API.unauthorized()
    }

    package init(token: APIToken, required: Bool) {
        self.token = token
        self.required = required
    }
}
