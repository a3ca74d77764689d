import Devices
import Foundation
import Synchronization
import Locking

/// A simulated device: the common firmware of docs/register-contract.md §0 around one kind's `FirmwareModel`.
///
/// It keeps the register image, answers requests with the contract's exceptions (02 for unmapped addresses and for
/// a float accessed from its second word, 03 for out-of-range values, leaving the image unchanged), increments the
/// heartbeat on every device tick, and runs the device-side watchdog: when HR 3 > 0 and HR 4 has not changed for
/// HR 3 ms, it drives its safe state and sets status bits 18 and 19 until the host writes HR 5 = 0xA5.
/// Thread-safe: a server thread and a plant thread may call it at once.
public final class SimulatedDevice<Model: FirmwareModel>: ModbusDevice, FaultInjectable {
    struct State: Sendable {
        var model: Model
        var serial: UInt32
        var unitId: UInt16 = 1
        var wordOrder: WordOrder = .abcd
        var watchdogMs: UInt16 = CommonRegisters.defaultWatchdogMs
        var hostHeartbeat: UInt16 = 0
        var lastHeartbeatChange: Double = 0
        var floats: [Float]
        var coils: [Bool]
        /// Device time of tick 0; set by the first `advance`.
        var origin: Double?
        var ticks: UInt64 = 0
        var watchdogTripped = false
        var safeState = false
        var estopPressed = false
        var offline = false
        /// Injected device fault: every request answered with this exception.
        var exceptionReplies: ModbusException?
        var disturbances: Set<String> = []
        var channelFaults: [Int: ChannelFault] = [:]
        /// Device time each channel fault was injected (drift grows from it).
        var faultSince: [Int: Double] = [:]
        /// Channels whose probe is in a standard (a calibration buffer), with its true value and since when.
        var standards: [Int: (value: Double, since: Double)] = [:]
        var ring: [Float]
        var ringWritten: UInt16 = 0
    }

    private let state: Locked<State>
    /// Injected answer delay, s, as a bit pattern: read on every request, kept out of the generic state's lock.
    private let delayBits = Atomic<UInt64>(0)
    public let kind: DeviceKind = Model.Profile.kind
    public let tickPeriod: Double = Model.tickPeriod
    private let ringEvery: UInt64

    public init(model: Model, serial: UInt32, unitId: UInt16 = 1) {
        var initial = State(model: model, serial: serial, unitId: unitId,
                            floats: Model.holdingFloats.map { max(0, $0.limits.lowerBound) },
                            coils: Array(repeating: false, count: Model.coilCount),
                            ring: Array(repeating: .nan, count: Model.ring?.capacity ?? 0))
        // A device whose host feeds no heartbeat (a sonde, a logger: nothing to switch) ships with its watchdog off;
        // armed, it would trip two seconds after start and hold a safe state nobody asked for.
        if !Model.Profile.usesHostWatchdog { initial.watchdogMs = 0 }
        state = Locked(initial)
        if let ring = Model.ring {
            ringEvery = max(1, UInt64((Double(ring.periodMicroseconds) / 1e6 / Model.tickPeriod).rounded()))
        } else {
            ringEvery = 0
        }
    }

    public var unitId: UInt8 { UInt8(truncatingIfNeeded: state.withLock { $0.unitId }) }

    // MARK: Time

    // Specialized per device kind: the device is reached through `any ModbusDevice`, and the unspecialized body
    // spends most of a virtual run looking up its generic metadata.
    @_specialize(where Model == MillFirmware)
    @_specialize(where Model == MassSpringDamperFirmware)
    @_specialize(where Model == ExtractionFirmware)
    @_specialize(where Model == HeatRigFirmware)
    @_specialize(where Model == AquaSondeFirmware)
    @_specialize(where Model == StreamStationFirmware)
    public func advance(to now: Double) {
        state.withLock { advance(&$0, to: now) }
    }

    private func advance(_ s: inout State, to now: Double) {
        guard let origin = s.origin else {
            s.origin = now
            s.lastHeartbeatChange = now
            return
        }
        // Tick times are origin + n·period, computed from the count so long runs do not drift.
        while origin + Double(s.ticks + 1) * tickPeriod <= now {
            s.ticks += 1
            let t = origin + Double(s.ticks) * tickPeriod
            s.model.tick(dt: tickPeriod, actuators: actuators(s))
            if ringEvery > 0, s.ticks % ringEvery == 0, let ring = Model.ring {
                let reading = faulted(s.model.channelReading(ring.channel), index: ring.channel, s)
                s.ring[Int(s.ringWritten) % ring.capacity] = reading.raw
                s.ringWritten &+= 1
            }
            if s.watchdogMs > 0, !s.watchdogTripped, t - s.lastHeartbeatChange >= Double(s.watchdogMs) / 1000 {
                s.watchdogTripped = true
                enterSafeState(&s)
            }
        }
    }

    private func enterSafeState(_ s: inout State) {
        s.safeState = true
        for (i, register) in Model.holdingFloats.enumerated() {
            if let value = Model.safeHolding[register.address] { s.floats[i] = value }
        }
        for (index, value) in Model.safeCoils { s.coils[index] = value }
    }

    /// What the outputs do: the image, except that the safe state overrides it while latched.
    private func actuators(_ s: State) -> Actuators {
        var a = Actuators(floats: s.floats, coils: s.coils, registers: Model.holdingFloats)
        if s.safeState {
            for (i, register) in Model.holdingFloats.enumerated() {
                if let value = Model.safeHolding[register.address] { a.floats[i] = value }
            }
            for (index, value) in Model.safeCoils { a.coils[index] = value }
        }
        return a
    }

    private func readings(_ s: State) -> [ChannelReading] {
        var out = s.model.channelReadings()
        for (index, standard) in s.standards where index < out.count && !out[index].isFault {
            out[index] = inStandard(out[index], index: index, standard: standard, s)
        }
        for index in s.channelFaults.keys where index < out.count {
            out[index] = faulted(out[index], index: index, s)
        }
        return out
    }

    /// How long a simulated probe takes to settle in a standard: the time constant of its first-order response, s
    /// (t95 ≈ 12 s, a fast modern probe).
    public static var probeTimeConstant: Double { 4 }

    /// Channel `index` with its probe in a standard: from what it read in the water towards what it reads in the
    /// standard (through the model's probe errors), with the probe's time constant, and the sensor's noise.
    private func inStandard(_ reading: ChannelReading, index: Int, standard: (value: Double, since: Double),
                            _ s: State) -> ChannelReading {
        let target = s.model.probeReading(index, inStandard: standard.value)
        let elapsed = max(0, deviceTime(s) - standard.since)
        let settled = target + (Double(reading.raw) - target) * exp(-elapsed / Self.probeTimeConstant)
        let noise = s.model.probeNoise(index) * FaultNoise.normal(UInt64(s.serial), s.ticks, UInt64(index) &+ 3000)
        return ChannelReading(raw: Float(settled + noise), quality: reading.quality)
    }

    /// Channel `index`'s reading with its injected fault, if any.
    private func faulted(_ reading: ChannelReading, index: Int, _ s: State) -> ChannelReading {
        guard let fault = s.channelFaults[index] else { return reading }
        switch fault {
        case .lost: return .lost
        case .stuck(let value): return ChannelReading(raw: value, quality: reading.quality)
        case .offset(let delta): return ChannelReading(raw: reading.raw + delta, quality: reading.quality)
        case .drift(let perHour):
            let hours = (deviceTime(s) - (s.faultSince[index] ?? deviceTime(s))) / 3600
            return ChannelReading(raw: reading.raw + perHour * Float(hours), quality: reading.quality)
        case .noise(let sigma):
            let draw = FaultNoise.normal(UInt64(s.serial), s.ticks, UInt64(index))
            return ChannelReading(raw: reading.raw + sigma * Float(draw), quality: reading.quality)
        case .spikes(let size, let perHour):
            let chance = perHour * tickPeriod / 3600
            let draw = FaultNoise.uniform(UInt64(s.serial), s.ticks, UInt64(index) &+ 1000)
            guard draw < chance else { return reading }
            let sign: Float = FaultNoise.uniform(UInt64(s.serial), s.ticks, UInt64(index) &+ 2000) < 0.5 ? -1 : 1
            return ChannelReading(raw: reading.raw + sign * size, quality: reading.quality)
        }
    }

    private func status(_ s: State, _ readings: [ChannelReading]) -> StatusBits {
        var bits = s.model.statusBits
        if readings.contains(where: { $0.quality.contains(.sensorFailure) || !$0.raw.isFinite }) {
            bits.insert(.sensorMalfunction)
        }
        if s.estopPressed { bits.insert(.estopPressed) }
        if s.watchdogTripped { bits.insert(.watchdogTripped) }
        if s.safeState { bits.insert(.safeState) }
        return bits
    }

    // MARK: Requests

    // Specialized per device kind: the device is reached through `any ModbusDevice`, and the unspecialized body
    // spends most of a virtual run looking up its generic metadata.
    @_specialize(where Model == MillFirmware)
    @_specialize(where Model == MassSpringDamperFirmware)
    @_specialize(where Model == ExtractionFirmware)
    @_specialize(where Model == HeatRigFirmware)
    @_specialize(where Model == AquaSondeFirmware)
    @_specialize(where Model == StreamStationFirmware)
    public func handle(_ request: ModbusRequest, now: Double) -> ModbusResponse? {
        state.withLock { (s: inout State) -> ModbusResponse? in
            advance(&s, to: now)
            if s.offline { return nil }
            if let code = s.exceptionReplies { return .exception(code) }
            switch request {
            case .readInputRegisters(let address, let count):
                return result(inputRegisters(s, address: address, count: count)) { .registers($0) }
            case .readHoldingRegisters(let address, let count):
                return result(holdingRegisters(s, address: address, count: count)) { .registers($0) }
            case .readCoils(let address, let count):
                guard address >= 0, address + count <= s.coils.count else { return .exception(.illegalDataAddress) }
                return .bits(Array(s.coils[address..<address + count]))
            case .readDiscreteInputs(let address, let count):
                let inputs = s.model.discreteInputs(estopPressed: s.estopPressed)
                guard address >= 0, address + count <= inputs.count else { return .exception(.illegalDataAddress) }
                return .bits(Array(inputs[address..<address + count]))
            case .writeCoil(let address, let value):
                return writeCoils(&s, address: address, values: [value])
            case .writeCoils(let address, let values):
                return writeCoils(&s, address: address, values: values)
            case .writeRegister(let address, let value):
                return writeRegisters(&s, address: address, values: [value], now: now)
            case .writeRegisters(let address, let values):
                return writeRegisters(&s, address: address, values: values, now: now)
            case .writeAndReadRegisters(let writeAddress, let values, let readAddress, let readCount):
                // The write first, then the read, under the same lock: the read sees what the write did.
                let written = writeRegisters(&s, address: writeAddress, values: values, now: now)
                guard written == .written else { return written }
                return result(holdingRegisters(s, address: readAddress, count: readCount)) { .registers($0) }
            }
        }
    }

    private func result(_ r: Result<[UInt16], ModbusException>,
                        _ wrap: ([UInt16]) -> ModbusResponse) -> ModbusResponse {
        switch r {
        case .success(let values): wrap(values)
        case .failure(let code): .exception(code)
        }
    }

    /// Input registers: header IR 0–6, the switch word at IR 99, channel blocks from IR 100, and the sample ring if the
    /// kind has one, with the switch word again just below it (IR 199).
    private func inputRegisters(_ s: State, address: Int, count: Int) -> Result<[UInt16], ModbusException> {
        // The channel readings (and the header, whose status bits come from them) are made only when the request
        // touches them: a sample-ring read at 200 Hz needs neither.
        let channelEnd = CommonRegisters.channelBase + CommonRegisters.channelStride * Model.Profile.channels.count
        func isSecondWord(_ a: Int) -> Bool {
            if a > CommonRegisters.channelBase, a < channelEnd {
                return (a - CommonRegisters.channelBase) % CommonRegisters.channelStride == 1
            }
            if let ring = Model.ring, a > ring.samplesAddress, a < ring.base + ring.registerCount {
                return (a - ring.samplesAddress) % 2 == 1
            }
            return false
        }
        guard !isSecondWord(address) else { return .failure(.illegalDataAddress) }
        var readings: [ChannelReading]?
        var header: [UInt16]?
        var out: [UInt16] = []
        out.reserveCapacity(count)
        for a in address..<address + count {
            if a >= 0, a < DeviceHeader.registerCount {
                if header == nil {
                    if readings == nil { readings = self.readings(s) }
                    header = DeviceHeader(deviceType: kind.deviceType, profileVersion: CommonRegisters.sheetVersion,
                                          serialNumber: s.serial, status: status(s, readings!),
                                          heartbeat: UInt16(truncatingIfNeeded: s.ticks)).registers
                }
                out.append(header![a])
            } else if a == CommonRegisters.switchWord || a == Model.ring?.switchWordAddress,
                      case let inputs = s.model.discreteInputs(estopPressed: s.estopPressed), !inputs.isEmpty {
                var word: UInt16 = 0
                for (bit, on) in inputs.prefix(16).enumerated() where on {
                    word |= 1 << UInt16(bit)
                }
                out.append(word)
            } else if a >= CommonRegisters.channelBase, a < channelEnd {
                if readings == nil { readings = self.readings(s) }
                let offset = a - CommonRegisters.channelBase
                out.append(ChannelBlock.word(offset % CommonRegisters.channelStride,
                                             of: readings![offset / CommonRegisters.channelStride], order: s.wordOrder))
            } else if let ring = Model.ring, a >= ring.base, a < ring.base + ring.registerCount {
                // Only the words asked for are encoded (a reader takes a few new slots at a time).
                switch a - ring.base {
                case 0: out.append(s.ringWritten)
                case 1: out.append(ring.periodRegister)
                case let offset:
                    out.append(RegisterCodec.word((offset - 2) % 2, of: s.ring[(offset - 2) / 2], order: s.wordOrder))
                }
            } else {
                return .failure(.illegalDataAddress)
            }
        }
        return .success(out)
    }

    /// Where a holding register lives: a common one, or word `word` of float register `index`.
    private enum HoldingSlot { case common(Int), float(index: Int, word: Int) }

    private func slot(_ address: Int) -> HoldingSlot? {
        if address >= 0, address < CommonRegisters.holdingCount { return .common(address) }
        for (i, register) in Model.holdingFloats.enumerated()
        where address == register.address || address == register.address + 1 {
            return .float(index: i, word: address - register.address)
        }
        return nil
    }

    private func holdingRegisters(_ s: State, address: Int, count: Int) -> Result<[UInt16], ModbusException> {
        if case .float(_, 1)? = slot(address) { return .failure(.illegalDataAddress) }
        var out: [UInt16] = []
        for a in address..<address + count {
            switch slot(a) {
            case .common(let r)?:
                let value: UInt16 = switch r {
                case CommonRegisters.unitId: s.unitId
                case CommonRegisters.wordOrder: s.wordOrder.rawValue
                case CommonRegisters.watchdogTimeoutMs: s.watchdogMs
                case CommonRegisters.hostHeartbeat: s.hostHeartbeat
                default: 0  // HR 1 reserved; HR 5 is a command and reads 0
                }
                out.append(value)
            case .float(let i, let word)?:
                out.append(RegisterCodec.word(word, of: s.floats[i], order: s.wordOrder))
            case nil:
                return .failure(.illegalDataAddress)
            }
        }
        return .success(out)
    }

    /// Validates every register first and applies all or nothing.
    private func writeRegisters(_ s: inout State, address: Int, values: [UInt16], now: Double) -> ModbusResponse {
        let end = address + values.count
        // A float must be written whole: neither word alone, whichever end of the request cuts it.
        if case .float(_, 1)? = slot(address) { return .exception(.illegalDataAddress) }
        if case .float(_, 0)? = slot(end - 1) { return .exception(.illegalDataAddress) }
        var commonWrites: [(Int, UInt16)] = []
        var floatWrites: [(Int, Float)] = []
        var a = address
        while a < end {
            switch slot(a) {
            case .common(let r)?:
                let v = values[a - address]
                let valid = switch r {
                case CommonRegisters.unitId: CommonRegisters.unitIdLimits.contains(v)
                case CommonRegisters.reserved: false
                case CommonRegisters.wordOrder: WordOrder(rawValue: v) != nil
                case CommonRegisters.watchdogTimeoutMs: CommonRegisters.watchdogLimits.contains(v)
                case CommonRegisters.command: v == 0 || v == CommonRegisters.resetFaultsCommand
                default: true
                }
                if r == CommonRegisters.reserved { return .exception(.illegalDataAddress) }
                guard valid else { return .exception(.illegalDataValue) }
                commonWrites.append((r, v))
                a += 1
            case .float(let i, _)?:
                // Decoded in the word order in force before this request (a request changing HR 2 and a float
                // together is decoded with the old order, as a real device parsing sequentially would).
                let value = RegisterCodec.float32(values, at: a - address, order: s.wordOrder)
                guard Model.holdingFloats[i].accepts(value) else { return .exception(.illegalDataValue) }
                floatWrites.append((i, value))
                a += 2
            case nil:
                return .exception(.illegalDataAddress)
            }
        }
        for (i, value) in floatWrites { s.floats[i] = value }
        for (r, v) in commonWrites {
            switch r {
            case CommonRegisters.unitId: s.unitId = v
            case CommonRegisters.wordOrder: s.wordOrder = WordOrder(rawValue: v) ?? .abcd
            case CommonRegisters.watchdogTimeoutMs:
                s.watchdogMs = v
                s.lastHeartbeatChange = now
            case CommonRegisters.hostHeartbeat:
                if v != s.hostHeartbeat { s.lastHeartbeatChange = now }
                s.hostHeartbeat = v
            case CommonRegisters.command where v == CommonRegisters.resetFaultsCommand:
                resetFaults(&s, now: now)
            default: break
            }
        }
        return .written
    }

    private func writeCoils(_ s: inout State, address: Int, values: [Bool]) -> ModbusResponse {
        guard address >= 0, address + values.count <= s.coils.count else { return .exception(.illegalDataAddress) }
        s.coils.replaceSubrange(address..<address + values.count, with: values)
        return .written
    }

    /// HR 5 = 0xA5: clears the watchdog trip and leaves the safe state unless the E-stop is still pressed.
    private func resetFaults(_ s: inout State, now: Double) {
        s.watchdogTripped = false
        s.lastHeartbeatChange = now
        if !s.estopPressed { s.safeState = false }
    }

    // MARK: Operator and fault injection

    /// Presses or releases the E-stop. Pressing drives the safe state; releasing leaves it latched until reset.
    public func setEstop(pressed: Bool) {
        state.withLock { s in
            s.estopPressed = pressed
            if pressed { enterSafeState(&s) }
        }
    }

    /// Injects (or, with nil, removes) a fault on one channel.
    public func setChannelFault(_ fault: ChannelFault?, channel: Int) {
        state.withLock { s in
            s.channelFaults[channel] = fault
            s.faultSince[channel] = deviceTime(s)
        }
    }

    /// The device's own time: its last tick.
    private func deviceTime(_ s: State) -> Double {
        (s.origin ?? 0) + Double(s.ticks) * tickPeriod
    }

    /// Puts channel `channel`'s probe in a standard of true value `standard` (a calibration buffer, 100 % air-saturated
    /// water), or with nil takes it out: the channel then reads the water again.
    public func setStandard(_ standard: Double?, channel: Int) {
        state.withLock { s in
            if let standard { s.standards[channel] = (standard, deviceTime(s)) } else { s.standards[channel] = nil }
        }
    }

    /// An offline device answers nothing: TCP clients time out, the in-memory client reports a link error.
    public func setOffline(_ offline: Bool) {
        state.withLock { $0.offline = offline }
    }

    /// Every request is answered this many seconds late (a slow or overloaded device); 0 for none. Servers apply it.
    public func setAnswerDelay(_ seconds: Double) {
        delayBits.store(max(0, seconds).bitPattern, ordering: .relaxed)
    }

    public var answerDelay: Double { Double(bitPattern: delayBits.load(ordering: .relaxed)) }

    /// Every request is answered with this exception (nil: normal answers), e.g. 04 server device failure.
    public func setExceptionReplies(_ code: ModbusException?) {
        state.withLock { $0.exceptionReplies = code }
    }

    public var disturbanceNames: [String] { Model.disturbances }
    public var channelSpecs: [ChannelSpec] { Model.Profile.channels }

    /// Starts or ends a plant disturbance by name; throws for a name this kind does not have.
    public func setDisturbance(_ name: String, active: Bool) throws(UnknownDisturbance) {
        guard Model.disturbances.contains(name) else {
            throw UnknownDisturbance(name: name, kind: kind, known: Model.disturbances)
        }
        state.withLock { s in
            s.model.setDisturbance(name, active: active)
            if active { s.disturbances.insert(name) } else { s.disturbances.remove(name) }
        }
    }

    /// What is injected now, for the control interface's listing.
    public var injected: InjectedFaults {
        state.withLock { s in
            InjectedFaults(offline: s.offline, answerDelay: answerDelay, exceptionReplies: s.exceptionReplies,
                           disturbances: s.disturbances.sorted(), channels: s.channelFaults)
        }
    }

    /// Reads the model (the plant's true state) under the lock, for tests and reports.
    public func withModel<T>(_ body: (Model) -> T) -> T {
        state.withLock { body($0.model) }
    }

    /// Changes the model under the lock: plant faults and disturbances (a stuck fan, a clogging filter).
    public func mutateModel(_ body: (inout Model) -> Void) {
        state.withLock { body(&$0.model) }
    }

    /// The status bits as IR 4–5 would read now.
    public var status: StatusBits {
        state.withLock { status($0, readings($0)) }
    }

    /// Device ticks run so far (the heartbeat is their low 16 bits).
    public var ticks: UInt64 { state.withLock { $0.ticks } }
}

/// The faults any simulated device takes, whatever its kind (docs/register-contract.md §0), for code that holds `any
/// ModbusDevice`.
public protocol FaultInjectable: AnyObject, Sendable {
    var kind: DeviceKind { get }
    /// Injects (or, with nil, removes) a fault on one channel.
    func setChannelFault(_ fault: ChannelFault?, channel: Int)
    /// An offline device answers nothing.
    func setOffline(_ offline: Bool)
    func setAnswerDelay(_ seconds: Double)
    func setExceptionReplies(_ code: ModbusException?)
    var disturbanceNames: [String] { get }
    /// The device's channels, in block order (fault targets by name).
    var channelSpecs: [ChannelSpec] { get }
    func setDisturbance(_ name: String, active: Bool) throws(UnknownDisturbance)
    var injected: InjectedFaults { get }
    /// Puts a channel's probe in a calibration standard (nil: back in the water).
    func setStandard(_ standard: Double?, channel: Int)
}

/// What is injected into a simulated device now.
public struct InjectedFaults: Sendable, Equatable {
    public var offline: Bool
    public var answerDelay: Double
    public var exceptionReplies: ModbusException?
    public var disturbances: [String]
    /// Channel faults by channel index.
    public var channels: [Int: ChannelFault]
}

public struct UnknownDisturbance: Error, CustomStringConvertible {
    public let name: String
    public let kind: DeviceKind
    public let known: [String]
    public var description: String {
        "\(kind) has no disturbance \"\(name)\" (" + (known.isEmpty ? "it has none" : "known: " + known.joined(separator: ", ")) + ")"
    }
}
