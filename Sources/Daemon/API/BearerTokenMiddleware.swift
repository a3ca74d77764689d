import Hummingbird
import Stations
import DeviceTransports
import SimServe
import Locking

/// The API's token rule for the routes behind it. The `Authorization: Bearer TOKEN` header names an identity
/// (`AccessControl`): the API token file's token (admin) or a named token of the tokens file with its role. With a
/// `required` role, a request without a valid token gets 401 and one whose token's role is below it gets 403;
/// nothing else about it is looked at. The identity found goes into the context, for the writes' audit.
/// Writes need `operator`; reads need `viewer` where rigd listens on a network address (`API.readsNeedToken`).
package struct BearerTokenMiddleware: RouterMiddleware {
    package typealias Context = APIRequestContext

    package let access: AccessControl
    package let required: Role?

    package func handle(_ request: Request, context: Context,
                next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.identity = access.identity(authorization: request.headers[.authorization])
        guard let required else { return try await next(request, context) }
        guard let identity = context.identity else { return API.unauthorized() }
        guard identity.role >= required else {
            return API.error(.forbidden, "forbidden",
                             "the token \"\(identity.name)\" has the role \(identity.role.rawValue); this request "
                             + "needs \(required.rawValue) or above")
        }
        return try await next(request, context)
    }

    package init(access: AccessControl, required: Role?) {
        self.access = access
        self.required = required
    }
}
