import Control
import Devices
import Stations

/// A station that is another station in every respect; a test subclasses it to change one behaviour (its mode, its
/// way of stopping) and leaves the rest to the inner station.
class ForwardingStation: AnyStation, @unchecked Sendable {
    let inner: any AnyStation

    init(_ inner: any AnyStation) {
        self.inner = inner
    }

    var name: String { inner.name }
    var kind: DeviceKind { inner.kind }
    var descriptor: any StationKind.Type { inner.descriptor }
    var mode: StationMode { inner.mode }
    var endpoint: String { inner.endpoint }
    var bus: String? { inner.bus }
    var mailbox: Mailbox { inner.mailbox }
    var simulation: SimulationHandles? { inner.simulation }
    var loopSpecs: [LoopSpec] { inner.loopSpecs }
    func start(now: Double) { inner.start(now: now) }
    func makeLoops() -> [FixedRateLoop] { inner.makeLoops() }
    func serveRequests(now: Double) { inner.serveRequests(now: now) }
    func driveSafeState(now: Double) { inner.driveSafeState(now: now) }
    func report(includeLateness: Bool) -> [String: ReportValue] { inner.report(includeLateness: includeLateness) }
    func attach(_ outputs: StationOutputs) { inner.attach(outputs) }
    func status() -> StationStatus { inner.status() }
    func setTickHook(_ hook: (@Sendable (_ now: Double) -> Void)?) { inner.setTickHook(hook) }
}
