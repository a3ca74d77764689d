import Devices
import Foundation
import Hummingbird
import Logging
import Sim
import Stations
import DeviceTransports
import SimServe
import Locking

/// A simulated device the control interface can reach, by name and unit.
package struct FaultTarget: Sendable {
    package let name: String
    package let unit: Int
    package let device: any FaultInjectable

    package init(name: String, unit: Int, device: any FaultInjectable) {
        self.name = name
        self.unit = unit
        self.device = device
    }
}

/// The control interface of `rigd simulate --control HOST:PORT` (loopback only): lists the devices and what is
/// injected, and applies `FaultRequest`s at run time. `rigd fault` and the HIL runner speak to it.
///
/// - `GET /devices` → `{"devices": [{name, unit, kind, channels, disturbances, injected}]}`
/// - `POST /faults` with a `FaultRequest` → 200 `{"applied": "…"}`, 404 no such device, 422 invalid (nothing changed)
package struct FaultControl: Sendable {
    package let targets: [FaultTarget]
    package let logger: Logger

    package struct Listing: Codable {
        package struct Device: Codable {
            package var name: String
            package var unit: Int
            package var kind: String
            package var channels: [String]
            package var disturbances: [String]
            package var injected: [String]

            package init(name: String, unit: Int, kind: String, channels: [String], disturbances: [String],
                         injected: [String]) {
                self.name = name
                self.unit = unit
                self.kind = kind
                self.channels = channels
                self.disturbances = disturbances
                self.injected = injected
            }
        }
        package var devices: [Device]

        package init(devices: [Device]) {
            self.devices = devices
        }
    }

    package struct Applied: Codable { var applied: String }

    package enum Resolution {
        case found(FaultTarget)
        case missing(String)
    }

    /// The device a request names (by station name, or unit), or the only one.
    package func resolve(_ request: FaultRequest) -> Resolution {
        var candidates = targets
        if let name = request.station { candidates = candidates.filter { $0.name == name } }
        if let unit = request.unit { candidates = candidates.filter { $0.unit == unit } }
        if candidates.count == 1 { return .found(candidates[0]) }
        let known = targets.map { "\($0.name) (unit \($0.unit))" }.joined(separator: ", ")
        if candidates.isEmpty { return .missing("no such device; devices: \(known)") }
        return .missing("several devices match; name one with station or unit: \(known)")
    }

    package func listing() -> Listing {
        Listing(devices: targets.map { t in
            Listing.Device(name: t.name, unit: t.unit, kind: t.device.kind.rawValue,
                           channels: t.device.channelSpecs.map(\.name), disturbances: t.device.disturbanceNames,
                           injected: t.device.injected.summary(channels: t.device.channelSpecs))
        })
    }

    package func router() -> Router<BasicRequestContext> {
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

    package init(targets: [FaultTarget], logger: Logger) {
        self.targets = targets
        self.logger = logger
    }
}
