import Hummingbird

/// The API's token rule for the routes behind it: with `required`, a request without `Authorization: Bearer TOKEN`
/// (rigd's token, compared in constant time) gets 401 and nothing else about it is looked at. Writes always require
/// it; reads where rigd listens on a network address (`API.readsNeedToken`).
struct BearerTokenMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext

    let token: APIToken
    let required: Bool

    func handle(_ request: Request, context: Context,
                next: (Request, Context) async throws -> Response) async throws -> Response {
        guard required, !token.accepts(authorization: request.headers[.authorization]) else {
            return try await next(request, context)
        }
        return API.unauthorized()
    }
}
