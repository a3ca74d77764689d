import Devices
import Foundation
import Hummingbird
import Logging
import Sim

/// A simulated device the control interface can reach, by name and unit.
struct FaultTarget: Sendable {
    let name: String
    let unit: Int
    let device: any FaultInjectable
}

/// The control interface of `rigd simulate --control HOST:PORT` (loopback only): lists the devices and what is
/// injected, and applies `FaultRequest`s at run time. `rigd fault` and the HIL runner speak to it.
///
/// - `GET /devices` → `{"devices": [{name, unit, kind, channels, disturbances, injected}]}`
/// - `POST /faults` with a `FaultRequest` → 200 `{"applied": "…"}`, 404 no such device, 422 invalid (nothing changed)
struct FaultControl: Sendable {
    let targets: [FaultTarget]
    let logger: Logger

    struct Listing: Codable {
        struct Device: Codable {
            var name: String
            var unit: Int
            var kind: String
            var channels: [String]
            var disturbances: [String]
            var injected: [String]
        }
        var devices: [Device]
    }

    struct Applied: Codable { var applied: String }

    enum Resolution {
        case found(FaultTarget)
        case missing(String)
    }

    /// The device a request names (by station name, or unit), or the only one.
    func resolve(_ request: FaultRequest) -> Resolution {
        var candidates = targets
        if let name = request.station { candidates = candidates.filter { $0.name == name } }
        if let unit = request.unit { candidates = candidates.filter { $0.unit == unit } }
        if candidates.count == 1 { return .found(candidates[0]) }
        let known = targets.map { "\($0.name) (unit \($0.unit))" }.joined(separator: ", ")
        if candidates.isEmpty { return .missing("no such device; devices: \(known)") }
        return .missing("several devices match; name one with station or unit: \(known)")
    }

    func listing() -> Listing {
        Listing(devices: targets.map { t in
            Listing.Device(name: t.name, unit: t.unit, kind: t.device.kind.rawValue,
                           channels: t.device.channelSpecs.map(\.name), disturbances: t.device.disturbanceNames,
                           injected: t.device.injected.summary(channels: t.device.channelSpecs))
        })
    }

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/devices") { _, _ in API.json(listing()) }
        router.post("/faults") { request, _ in
            var request = request
            let buffer = try await request.collectBody(upTo: 64 * 1024)
            let fault: FaultRequest
            do {
                fault = try JSONDecoder().decode(FaultRequest.self, from: Data(buffer.readableBytesView))
            } catch {
                return API.error(.badRequest, "bad_json", "the body is not a fault request: \(error)")
            }
            let target: FaultTarget
            switch resolve(fault) {
            case .missing(let reason): return API.error(.notFound, "unknown_device", reason)
            case .found(let t): target = t
            }
            do {
                try fault.apply(to: target.device)
            } catch {
                return API.error(.unprocessableContent, "invalid_value", "\(error)")
            }
            var what = fault
            (what.station, what.unit) = (nil, nil)
            logger.notice("fault injected into \(target.name) (unit \(target.unit)): \(what)")
            return API.json(Applied(applied: "\(target.name): \(what)"))
        }
        return router
    }
}
