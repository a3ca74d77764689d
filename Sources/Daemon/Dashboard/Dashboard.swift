import Hummingbird

/// The technicians' web dashboard (issue 7), served by the API's router. Placeholder until the pages land.
extension API {
    func addDashboard(to router: Router<BasicRequestContext>) {}
}
