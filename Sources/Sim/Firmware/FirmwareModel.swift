import Devices
import Foundation

/// One device kind's own firmware logic around its plant: what the actuators do to the physics and what the sensors
/// and switches read. The common parts of every device (header, heartbeat, device watchdog, safe state, word order,
/// range checks and exceptions, channel blocks, sample ring) live in `SimulatedDevice`.
public protocol FirmwareModel: Sendable {
    associatedtype Profile: DeviceProfile

    /// Device tick, s: the plant is stepped and the heartbeat incremented this often.
    static var tickPeriod: Double { get }
    /// Float holding registers from HR 100 on, with the limits that answer exception 03.
    static var holdingFloats: [FloatRegister] { get }
    static var coilCount: Int { get }
    static var discreteInputCount: Int { get }
    static var ring: SampleRingLayout? { get }
    /// Values the device drives in its safe state: float registers by address, coils by index.
    static var safeHolding: [Int: Float] { get }
    static var safeCoils: [Int: Bool] { get }

    /// One device tick of physics with the actuators as the firmware drives them.
    mutating func tick(dt: Double, actuators: Actuators)
    /// The channels as the sensors read them (before injected faults), in block order.
    func channelReadings() -> [ChannelReading]
    /// Channel `index` as its sensor reads it, the same as `channelReadings()[index]`: the sample ring takes one
    /// channel every millisecond, and a model can give it without making the others.
    func channelReading(_ index: Int) -> ChannelReading
    /// The discrete inputs; `estopPressed` is the state of the E-stop button.
    func discreteInputs(estopPressed: Bool) -> [Bool]
    /// Status bits the device raises on its own (alarms, warnings, interlocks); the core adds 5, 17, 18 and 19.
    var statusBits: StatusBits { get }

    /// Plant disturbances this kind can be put through (fault injection, HIL scenarios), e.g. `fan_failure`.
    static var disturbances: [String] { get }
    /// Starts or ends a disturbance of `disturbances`; unknown names are refused by the caller first.
    mutating func setDisturbance(_ name: String, active: Bool)

    /// What channel `index`'s probe reads in a standard of true value `standard` once settled (a calibration buffer):
    /// the standard through the probe's own slope and offset errors, if the model has them. Default: the standard.
    func probeReading(_ index: Int, inStandard standard: Double) -> Double
    /// The sensor noise of channel `index` in a standard, one standard deviation. Default 0.
    func probeNoise(_ index: Int) -> Double
}

extension FirmwareModel {
    public func channelReading(_ index: Int) -> ChannelReading { channelReadings()[index] }
    public static var disturbances: [String] { [] }
    public mutating func setDisturbance(_ name: String, active: Bool) {}
    public func probeReading(_ index: Int, inStandard standard: Double) -> Double { standard }
    public func probeNoise(_ index: Int) -> Double { 0 }
}

/// The actuator image a model acts on: float holding registers (in `holdingFloats` order) and coils.
public struct Actuators: Sendable, Equatable {
    public var floats: [Float]
    public var coils: [Bool]
    let registers: [FloatRegister]

    public func value(_ register: FloatRegister) -> Float {
        // By address: this runs every device tick, and the address is what identifies a register.
        guard let i = registers.firstIndex(where: { $0.address == register.address }) else {
            preconditionFailure("\(register.name) is not one of this model's holding registers")
        }
        return floats[i]
    }

    public func coil(_ index: Int) -> Bool { coils[index] }
}

/// A fault injected into one channel of a simulated device.
public enum ChannelFault: Sendable, Equatable {
    /// NaN with quality 0x80, as a lost sensor reads.
    case lost
    /// The value freezes at this number.
    case stuck(Float)
    /// A fixed offset is added.
    case offset(Float)
    /// An offset that grows by this much per hour from the moment the fault is injected (a drifting calibration).
    case drift(perHour: Float)
    /// Gaussian noise of this standard deviation is added to every reading.
    case noise(sigma: Float)
    /// Spikes of ± this size, on average this many per hour (each lasts one device tick).
    case spikes(size: Float, perHour: Double)
}

/// Deterministic pseudo-random numbers for injected faults: the same device, tick and channel give the same draw,
/// so a faulted virtual run is repeatable from its seed.
enum FaultNoise {
    static func uniform(_ a: UInt64, _ b: UInt64, _ c: UInt64) -> Double {
        var z = a &* 0x9E37_79B9_7F4A_7C15 ^ b &* 0xBF58_476D_1CE4_E5B9 ^ c &* 0x94D0_49BB_1331_11EB
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return (Double(z >> 11) + 0.5) / Double(1 << 53)
    }

    /// A standard normal draw (Box–Muller).
    static func normal(_ a: UInt64, _ b: UInt64, _ c: UInt64) -> Double {
        let u1 = uniform(a, b, c &* 2)
        let u2 = uniform(a, b, c &* 2 &+ 1)
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}

extension ChannelReading {
    /// A reading of `value` with the under/over-range quality bits its channel's range implies.
    static func checked(_ value: Double, _ spec: ChannelSpec) -> ChannelReading {
        var quality = ChannelQuality.ok
        if value < spec.range.lowerBound { quality.insert(.underRange) }
        if value > spec.range.upperBound { quality.insert(.overRange) }
        return ChannelReading(raw: Float(value), quality: quality)
    }
}
