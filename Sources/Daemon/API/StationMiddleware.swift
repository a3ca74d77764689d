import Hummingbird
import Stations
import DeviceTransports
import SimServe
import Locking

/// Resolves the path's `{name}` to one of rigd's stations (`APIRequestContext.station`), or answers 404
/// `unknown_station` before the route sees the request (a write's body is then never read).
package struct StationMiddleware: RouterMiddleware {
    package typealias Context = APIRequestContext

    package let registry: StationRegistry

    package func handle(_ request: Request, context: Context,
                next: (Request, Context) async throws -> Response) async throws -> Response {
        let name = try context.parameters.require("name")
        guard let station = registry.station(named: name) else { return API.unknownStation(name) }
        var context = context
        context.station = station
        return try await next(request, context)
    }

    package init(registry: StationRegistry) {
        self.registry = registry
    }
}
