import Control
import Devices
import Foundation

/// A station that was not started because something answered at its address, but not as its kind (another device
/// type, or exception replies to the register contract's reads), and whose fallback is "simulate": a present device is
/// never replaced by the simulator, so the station stays in mode `refused` with the reason, visible in the API, on the
/// dashboard and in the data log. It has no loops and never touches the device; every operator request is rejected
/// at once with the reason. Reload the configuration (or restart rigd) once the device or the configuration is fixed.
package final class NotStartedStation: AnyStation {
    package let name: String
    package let kind: DeviceKind
    package let descriptor: any StationKind.Type
    package var mode: StationMode { .refused }
    package let endpoint: String
    package var bus: String? { nil }
    package let mailbox = Mailbox()
    package var simulation: SimulationHandles? { nil }
    package let reason: String

    package init(config: StationConfig, reason: String) {
        name = config.name
        kind = config.kind
        descriptor = config.descriptor
        endpoint = "\(config.address)"
        self.reason = reason
    }

    /// What an operator's request to this station is told.
    package var rejection: CommandRejection {
        CommandRejection("station \(name) is refused: its device at \(endpoint) \(reason); it was not started and is "
                         + "not simulated (fix the device or the configuration, then reload the configuration or restart rigd)")
    }

    package func start(now: Double) {}
    package var loopSpecs: [LoopSpec] { [] }
    package func makeLoops() -> [FixedRateLoop] { [] }

    package func serveRequests(now: Double) {
        for envelope in mailbox.drain() { envelope.reply(.failure(rejection)) }
    }

    package func driveSafeState(now: Double) {}

    package func report(includeLateness: Bool) -> [String: ReportValue] {
        ["name": .string(name), "kind": .string(kind.rawValue), "mode": .string(mode.rawValue),
         "address": .string(endpoint), "refused_reason": .string(reason)]
    }

    /// Records the refusal in the data log as an event, so the log says why the station has no samples.
    package func attach(_ outputs: StationOutputs) {
        outputs.recorder?.record(.event(station: name, t: Date().timeIntervalSince1970, kind: "station_refused",
                                        message: "device at \(endpoint) \(reason); not started, not simulated"))
    }

    package func status() -> StationStatus {
        StationStatus(name: name, kind: kind.rawValue, mode: mode.rawValue, address: endpoint,
                      link: .init(up: false, transactions: 0, linkErrors: 0, transactionErrors: 0, errorsByKind: [:],
                                  reconnects: 0, lastError: reason),
                      loops: [], deviceStatus: [], channels: [], alarms: [], relays: [:], settings: [], results: [:],
                      refusedReason: reason)
    }

    package func setTickHook(_ hook: (@Sendable (_ now: Double) -> Void)?) {}
}
