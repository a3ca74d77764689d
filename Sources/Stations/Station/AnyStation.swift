import Control
import Devices
import DeviceTransports
import Foundation
import Sim

/// Whether a station drives its real device or the in-process simulator, or was refused (something answered at its
/// address, but not as its kind: it is neither driven nor simulated). Chosen once, at wiring.
package enum StationMode: String, Sendable, Codable {
    case real, simulated, refused
}

/// What the daemon needs of any station, whatever its kind.
package protocol AnyStation: AnyObject, Sendable {
    var name: String { get }
    var kind: DeviceKind { get }
    /// The kind's descriptor: what the generic code may ask of the station's kind (its recipes, presets, …).
    var descriptor: any StationKind.Type { get }
    var mode: StationMode { get }
    var endpoint: String { get }
    /// The serial line the station's device is on (stations on one line share a thread), nil for TCP and sim.
    var bus: String? { get }
    var mailbox: Mailbox { get }
    var simulation: SimulationHandles? { get }
    /// Opens the link (the station is wired already; a failure here leaves it to reconnect with backoff).
    func start(now: Double)
    /// The loops `makeLoops` makes: their names and periods, known before they are made.
    var loopSpecs: [LoopSpec] { get }
    /// The station's loops, to be run by one `LoopRunner` on the station's thread (or the virtual runner).
    func makeLoops() -> [FixedRateLoop]
    /// Takes the operator's waiting requests between ticks. Call on the station's thread.
    func serveRequests(now: Double)
    /// Writes the safe state (if the link is up) and closes the link. Call on the station's thread.
    func driveSafeState(now: Double)
    /// The station's entry in the run report.
    func report(includeLateness: Bool) -> [String: ReportValue]
    /// Sends records to the data log and lateness to metrics from now on. Call before the station's thread starts.
    func attach(_ outputs: StationOutputs)
    /// The station as the API shows it; safe from any thread.
    func status() -> StationStatus
    /// Installs a hook called at the start of every tick with the tick's time, before anything else; nil removes it.
    /// A test aid (`rigd run --debug-hang` blocks in it): production stations run without one.
    func setTickHook(_ hook: (@Sendable (_ now: Double) -> Void)?)
}
