import Control
import Devices

/// What to do when a configured device does not answer at start.
enum Fallback: String, Sendable, CaseIterable {
    /// Wire the in-process simulator and mark the station simulated (the default).
    case simulate
    /// Refuse to start, naming the station and the address.
    case fail
}

/// Simulator options for a station, used whenever it runs simulated.
struct SimulatorConfig: Sendable, Equatable {
    /// Plant preset; nil: the kind's default (the first of `SimulatorCatalog.presets(for:)`).
    var preset: String?
    /// Overrides the run's seed for this station's simulator.
    var seed: UInt64?
}

/// A kind's control settings.
enum ControlConfig: Sendable {
    case heatRig(HeatRigControlConfig)
    case extraction(ExtractionControlConfig)
    case aquaculture(AquacultureControlConfig)
    case mill(MillControlConfig)
    case massSpringDamper(MassSpringDamperControlConfig)
    case stream(StreamControlConfig)
}

/// One `[[station]]` table.
struct StationConfig: Sendable {
    var name: String
    var kind: DeviceKind
    var address: DeviceAddress
    var fallback: Fallback = .simulate
    var probeTimeoutMs = 1000
    var responseTimeoutMs = 500
    var control: ControlConfig
    var simulator = SimulatorConfig()
    /// Host E-stop input (asserted = pressed) and beacon output, on the host's GPIO.
    var estop: GPIOLineAddress?
    var beacon: GPIOLineAddress?
    /// Host relay outputs by the controller's relay name ("aerator-1", "exchange", "feeder"), on the host's GPIO.
    var relays: [String: GPIOLineAddress] = [:]

    /// The serial line the device is on, if any: every station on one line shares one bus thread.
    var bus: String? {
        if case .rtu(let settings, _) = address { settings.path } else { nil }
    }

    var timeouts: ModbusTimeouts {
        ModbusTimeouts(connect: .milliseconds(probeTimeoutMs), response: .milliseconds(responseTimeoutMs))
    }
}

/// A whole configuration file (or the embedded demo).
struct Configuration: Sendable {
    /// The file it came from, for messages.
    var source: String
    var stations: [StationConfig]
}
