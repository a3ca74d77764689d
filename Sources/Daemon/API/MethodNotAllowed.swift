import Hummingbird
import Locking

/// Answers 405 with an `Allow` header, instead of the router's 404, for a path rigd serves with other methods (TRACE or
/// DELETE on `/api/health`, GET on a write). A path no route serves stays 404. The routes are handed over once the
/// router is complete (`RouteTable.set`); the middleware only looks at requests the router could not place.
package struct MethodNotAllowedMiddleware: RouterMiddleware {
    package typealias Context = APIRequestContext

    /// The router's routes, filled in after every route was added.
    package final class RouteTable: Sendable {
        private let routes = Locked<[(path: RouterPath, method: HTTPRequest.Method)]>([])

        package init() {}

        package func set(_ routes: [Router<APIRequestContext>.RouteDescription]) {
            self.routes.withLock { $0 = routes.map { ($0.path, $0.method) } }
        }

        /// The methods served on `path`, sorted; empty when no route has the path.
        package func methods(for path: String) -> [String] {
            let parts = path.split(separator: "/", omittingEmptySubsequences: true)
            let served = routes.withLock { routes in routes.filter { Self.matches($0.path, parts) }.map(\.method.rawValue) }
            return Array(Set(served)).sorted()
        }

        static func matches(_ template: RouterPath, _ parts: [Substring]) -> Bool {
            var i = 0
            for element in template.components {
                if element.description == "**" { return true }
                guard i < parts.count, element ~= parts[i] else { return false }
                i += 1
            }
            return i == parts.count
        }
    }

    package let table: RouteTable

    package init(table: RouteTable) {
        self.table = table
    }

    package func handle(_ request: Request, context: Context,
                        next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            let allowed = table.methods(for: request.uri.path)
            guard !allowed.isEmpty, !allowed.contains(request.method.rawValue) else { throw error }
            var response = API.error(.methodNotAllowed, "method_not_allowed",
                                     "\(request.uri.path) does not take \(request.method.rawValue); it takes "
                                     + allowed.joined(separator: ", "))
            response.headers[.allow] = allowed.joined(separator: ", ")
            return response
        }
    }
}
