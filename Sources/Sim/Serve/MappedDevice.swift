import Devices
import Locking

/// A contract device (docs/register-contract.md) served through a device map (docs/maps.md), as a real instrument
/// with that register layout would answer: what `rigd simulate --map` serves.
///
/// The plant, firmware, faults and clock stay the inner device's; this wrapper moves values between the map's
/// registers and the contract's, through the map's types, byte orders and scaling. What it models of an instrument:
/// - A read of more than `maxReadRegisters` registers (2000 bits), or one reaching outside the lowest…highest
///   address the map names in that table, is exception 02. Registers in between that no value holds read 0: a read
///   plan may read through gaps.
/// - FC 23 (write, then read holding registers) only where the map says `fc23 = true`, else exception 01; its write
///   is taken as an FC 16's would be, its read as an FC 03's.
/// - FC 16 on an instrument without it (`maxWriteRegisters` 0) is exception 01, a longer one than it takes is 02. A
///   write to a register no command or watchdog value holds is 02, and so is a write to part of a multi-register
///   value, except on an instrument without FC 16: there FC 6 writes such a value one register at a time, first to
///   last, and the instrument takes it when the last arrives (a write of the first register starts over; any other
///   out of order is 02). A command outside its `limits` is 03 and changes nothing.
/// - A channel whose reading is a fault (or does not fit its type) serves its first `nan_if` raw value, else NaN in
///   a float type, else 0; its `quality` bit reads bad, its `quality_word` carries the contract's quality word.
/// - Commands named after a contract setpoint or coil mirror it; others (host relays) are held here and read back.
/// - An acquisition sequence (`[[map.acquire]]`) measures when its trigger (the sequence's last write, with the map's
///   value; another is 03) arrives and takes `simulateMs`, which its wait register holds; until then its channels
///   serve "no reading" and its poll register "not ready", then what it measured until the next trigger. The
///   `never_ready` fault (`setNeverReady`) keeps every measurement from finishing.
/// - Values on other unit ids (`unit = N`) are served at those units (`otherUnits`, one `Unit` each); each unit's
///   registers are its own. With `[map.wake] sleeps_after_ms`, each unit sleeps from power-up and after that much
///   silence: the first request wakes it and is not answered. A `fresh` register serves a counter that advances ten
///   times a second; the `stale` fault (`setStale`) freezes it with the channel's value.
/// - Values found at start-up (`[[map.locate]]`) sit in blocks of this instrument's choosing (`servedLayout`), its
///   pointers, parameter IDs and layout versions saying where; the `layout_changed` fault moves the blocks and
///   changes the versions (`setLayoutChanged`).
/// - Calibration registers (`[[map.calibration]]`) hold what was written (slope 1 and offset 0 from power-up), and
///   the channel serves slope × the inner device's reading + offset: the probe's own errors stay the inner device's.
/// - Without a `watchdog` in the map, the inner device's watchdog is turned off (HR 3 = 0): the instrument has none
///   and never trips. With one, its timeout is HR 3 in ms, any change of its heartbeat feeds HR 4, and its reset
///   value sends HR 5 = 0xA5.
///
/// - Important: The inner device is set up (HR 2 = ABCD, and HR 3 = 0 without a mapped watchdog) on the first
///   `advance` or `handle`, at that call's time rather than in `init`: a device's clock starts at its first call, so
///   the wrapper must not invent one. While the inner device does not answer (offline), set-up is retried each call.
public final class MappedDevice: ModbusDevice {
    /// The contract device whose plant is served; inject faults into it.
    public let device: any ModbusDevice
    public let map: DeviceMap
    public let layout: ContractLayout
    /// The map as loaded; `map` is it with its located values where this instrument keeps them.
    public let declared: DeviceMap
    private let slots: [Slot]
    /// Where the registers are: one view, or with `[[map.locate]]` two — the layout served, and the one it moves to
    /// under the `layout_changed` fault (the same slots, at other registers).
    private let views: [View]
    private let state: Locked<State>

    struct View: Sendable {
        var slots: [Slot]
        /// The slots that hold each address, by unit and table.
        var holders: [Space: [Int: [Int]]]
        /// The lowest and highest address the map names in each table of each unit.
        var extents: [Space: ClosedRange<Int>]
    }
    /// The host relays this instrument switches, by the map's command name, as last written; apart from `state`
    /// because the plant asks for them while `state` is held (in `advance`). Taken after `state`, never before.
    private let relays = Locked<[String: Bool]>([:])

    private struct State: Sendable {
        var setUp = false
        /// Values of commands held here (host relays), by slot.
        var local: [Int: Double] = [:]
        /// The heartbeat's registers as last written, and how often they changed (what HR 4 is fed).
        var heartbeat: [UInt16]
        var heartbeatChanges: UInt16 = 0
        /// Registers of a multi-register value written so far with FC 6, by slot (instruments without FC 16).
        var pending: [Int: [UInt16]] = [:]
        /// Per acquisition sequence: when its measurement was triggered, and the readings it took (frozen at the
        /// first read after it was done, until the next trigger).
        var triggeredAt: [Double?]
        var measured: [[String: ChannelReading]]
        /// Injected: measurements never finish (`device = "never_ready"`).
        var neverReady = false
        /// The registers each start-up write set, as last written (nil: never, since power-up).
        var setupWords: [Int: [UInt16]] = [:]
        /// Injected: the instrument's units or parameter IDs changed (`device = "units_changed"`).
        var unitsChanged = false
        /// Injected: channels whose status says "sensor error" while their value reads normally.
        var statusError: Set<String> = []
        /// Injected: channels whose sensor board hung — their value and their `fresh` counter stand still, as first
        /// read after the fault began.
        var stale: [String: Frozen] = [:]
        /// Per unit (nil: the device's own): when it was last asked (`[map.wake] sleeps_after_ms`); a unit not here
        /// has slept since power-up.
        var lastAsked: [Int?: Double] = [:]
        /// Injected: the located blocks moved (`device = "layout_changed"`), and the layout version says so.
        var moved = false
        /// The instrument's own calibration of each channel (`[[map.calibration]]`), as last written: what it serves
        /// is slope × measured + offset. A channel not here has slope 1 and offset 0 (as after power-up).
        var calibration: [String: Calibration] = [:]
    }

    /// A channel's calibration as the instrument keeps it.
    struct Calibration: Sendable {
        var slope = 1.0
        var offset = 0.0
    }

    /// What a hung sensor board keeps serving.
    struct Frozen: Sendable {
        var reading: ChannelReading?
        var counter: Double?
    }

    /// Why a request is not answered with data: the inner device is silent, or an exception.
    enum Failure: Error {
        case offline
        case exception(ModbusException)
    }

    /// Bits one read may ask for (Modbus application protocol v1.1b3, §6.1).
    static let maxReadBits = 2000

    /// A table of one unit: the device's own (`unit` nil) or another the map names.
    struct Space: Hashable {
        var unit: Int?
        var table: DeviceMap.Table
    }

    /// Serves `device` (a contract device of `layout.kind`) through `map`.
    public init(device: any ModbusDevice, map: DeviceMap, layout: ContractLayout) {
        self.device = device
        self.declared = map
        self.layout = layout
        let layouts = map.locates ? [Self.servedLayout(of: map, moved: false), Self.servedLayout(of: map, moved: true)]
            : [DeviceMap.Layout()]
        var views: [View] = []
        var served: DeviceMap?
        for found in layouts {
            let located = map.locates ? map.located(found).map : map
            served = served ?? located
            let slots = Self.slots(of: located, layout: layout) + Self.locateSlots(of: map, found)
            var holders: [Space: [Int: [Int]]] = [:]
            var extents: [Space: ClosedRange<Int>] = [:]
            for (i, slot) in slots.enumerated() where slot.field.length > 0 {
                let f = slot.field
                let space = Space(unit: f.unit, table: f.table)
                for address in f.span { holders[space, default: [:]][address, default: []].append(i) }
                let span = f.span.lowerBound...(f.span.upperBound - 1)
                extents[space] = extents[space].map {
                    min($0.lowerBound, span.lowerBound)...max($0.upperBound, span.upperBound)
                } ?? span
            }
            views.append(View(slots: slots, holders: holders, extents: extents))
        }
        self.map = served ?? map
        self.views = views
        self.slots = views[0].slots
        state = Locked(State(heartbeat: Array(repeating: 0, count: map.watchdog?.heartbeat.length ?? 0),
                             triggeredAt: Array(repeating: nil, count: map.acquisitions.count),
                             measured: Array(repeating: [:], count: map.acquisitions.count)))
    }

    /// Whether the map has acquisition sequences (`[[map.acquire]]`): what the `never_ready` fault acts on.
    public var acquires: Bool { !map.acquisitions.isEmpty }

    /// Injects (or takes away) the fault "the sequence never completes": a triggered measurement is never done, its
    /// ready flag never rises and its channels keep reading "not ready".
    public func setNeverReady(_ on: Bool) {
        state.withLock { $0.neverReady = on }
    }

    public var neverReady: Bool { state.withLock { $0.neverReady } }

    /// Whether the map has `[[map.expect]]` values: what the `units_changed` fault acts on.
    public var expects: Bool { map.expectations.contains { !$0.isLayoutCheck } }

    /// Injects (or takes away) "units changed": every `[[map.expect]]` register reads another value than the map
    /// expects (a units ID, a parameter ID, a model string changed on the instrument).
    public func setUnitsChanged(_ on: Bool) {
        state.withLock { $0.unitsChanged = on }
    }

    /// Injects (or takes away) "status says sensor error" on channel `name`: its quality bit, field or word reads
    /// a failure while its value still reads as a measurement. False when the map gives the channel no status.
    @discardableResult
    public func setStatusError(_ name: String, _ on: Bool) -> Bool {
        guard let channel = map.channel(named: name), channel.quality != nil || channel.qualityWord != nil else {
            return false
        }
        state.withLock { if on { $0.statusError.insert(name) } else { $0.statusError.remove(name) } }
        return true
    }

    /// Injects (or takes away) "stale" on channel `name`: its sensor board hangs, so its value and its `fresh`
    /// counter stand still. False when the map gives the channel no `fresh` register.
    @discardableResult
    public func setStale(_ name: String, _ on: Bool) -> Bool {
        guard map.channel(named: name)?.freshness?.field != nil else { return false }
        state.withLock { if on { $0.stale[name] = $0.stale[name] ?? Frozen() } else { $0.stale[name] = nil } }
        return true
    }

    /// Injects (or takes away) "layout changed": the located blocks (`[[map.locate]]`) move — the pointers point
    /// one block further, identified blocks come in reverse order — and the layout-version registers read 2.
    public func setLayoutChanged(_ on: Bool) {
        state.withLock { $0.moved = on }
    }

    /// Takes every instrument fault away (`never_ready`, `units_changed`, `layout_changed`, status errors, stale
    /// channels).
    public func clearInstrumentFaults() {
        state.withLock {
            $0.moved = false
            $0.neverReady = false
            $0.unitsChanged = false
            $0.statusError = []
            $0.stale = [:]
        }
    }

    /// The sample counter a `fresh` register serves: ten counts a second of device time.
    static func counter(now: Double) -> Double { (now * 10).rounded(.down) }

    /// Whether the start-up writes set what the map writes (a fresh instrument, or one given another parameter list,
    /// serves no readings: its data registers do not hold the map's parameters).
    private func configured(_ s: State) -> Bool {
        map.setup.indices.allSatisfy { i in
            s.setupWords[i] == map.setup[i].words || map.setup.indices.contains { j in
                j > i && map.setup[j].field.location.overlaps(map.setup[i].field.location)  // overwritten later
            }
        }
    }

    /// Whether sequence `i`'s measurement is done at `now`: triggered (a sequence without a write measures all the
    /// time), `simulateMs` ago, and not held back by the `never_ready` fault.
    private func measured(_ i: Int, _ s: State, now: Double) -> Bool {
        guard !s.neverReady else { return false }
        guard map.acquisitions[i].trigger != nil else { return true }
        guard let at = s.triggeredAt[i] else { return false }
        // A microsecond's grace: a host that waited exactly this long on the same clock must find it done, whatever
        // the rounding of its sums.
        return now - at >= map.acquisitions[i].simulateMs / 1000 - 1e-6
    }

    /// Whether the host relay `name` (`aerator-1` or `aerator_1`) that this instrument switches is on, as last
    /// written: off until it is written, as an instrument's outputs after power-up. Nil when the map does not name it.
    public func relay(_ name: String) -> Bool? {
        guard let command = map.command(named: name) else { return nil }
        return relays.withLock { $0[command.name] ?? false }
    }

    public var kind: DeviceKind { device.kind }
    public var unitId: UInt8 { device.unitId }
    public var tickPeriod: Double { device.tickPeriod }
    public var answerDelay: Double { device.answerDelay }

    public func isListening(now: Double) -> Bool { device.isListening(now: now) }

    public func advance(to now: Double) {
        state.withLock { s in
            setUp(&s, now: now)
            device.advance(to: now)
        }
    }

    public func handle(_ request: ModbusRequest, now: Double) -> ModbusResponse? {
        handle(request, unit: nil, now: now)
    }

    /// Answers a request to `unit`, another unit id the map names (nil: the device's own).
    public func handle(_ request: ModbusRequest, unit: Int?, now: Double) -> ModbusResponse? {
        func at(_ table: DeviceMap.Table) -> Space { Space(unit: unit, table: table) }
        // An offline instrument answers nothing, also from the registers it keeps itself (set-up, calibration, host
        // relays), not only from those the inner device serves.
        if (device as? any FaultInjectable)?.injected.offline == true { return nil }
        return state.withLock { (s: inout State) -> ModbusResponse? in
            setUp(&s, now: now)
            if let sleepsAfter = map.wake?.sleepsAfterMs {
                // Asleep (since power-up, or left alone that long): the request wakes the unit and is not answered.
                let asleep = s.lastAsked[unit].map { now - $0 >= sleepsAfter / 1000 } ?? true
                s.lastAsked[unit] = now
                if asleep { return nil }
            }
            do throws(Failure) {
                switch request {
                case .readInputRegisters(let address, let count):
                    return .registers(try read(at(.input), address, count, &s, now: now))
                case .readHoldingRegisters(let address, let count):
                    return .registers(try read(at(.holding), address, count, &s, now: now))
                case .readCoils(let address, let count):
                    return .bits(try read(at(.coil), address, count, &s, now: now).map { $0 != 0 })
                case .readDiscreteInputs(let address, let count):
                    return .bits(try read(at(.discrete), address, count, &s, now: now).map { $0 != 0 })
                case .writeCoil(let address, let value):
                    try write(at(.coil), address, [value ? 1 : 0], single: true, &s, now: now)
                case .writeCoils(let address, let values):
                    try write(at(.coil), address, values.map { $0 ? 1 : 0 }, single: false, &s, now: now)
                case .writeRegister(let address, let value):
                    try write(at(.holding), address, [value], single: true, &s, now: now)
                case .writeRegisters(let address, let values):
                    guard map.maxWriteRegisters > 0 else { throw .exception(.illegalFunction) }
                    guard values.count <= map.maxWriteRegisters else { throw .exception(.illegalDataAddress) }
                    try write(at(.holding), address, values, single: false, &s, now: now)
                case .writeAndReadRegisters(let writeAddress, let values, let readAddress, let readCount):
                    // Only an instrument whose map says `fc23 = true` has it; the write is checked and applied as an
                    // FC 16 would be, then the read answered.
                    guard map.fc23 else { throw .exception(.illegalFunction) }
                    guard values.count <= map.maxWriteRegisters else { throw .exception(.illegalDataAddress) }
                    try write(at(.holding), writeAddress, values, single: false, &s, now: now)
                    return .registers(try read(at(.holding), readAddress, readCount, &s, now: now))
                }
                return .written
            } catch {
                switch error {
                case .offline: return nil
                case .exception(let code): return .exception(code)
                }
            }
        }
    }

    /// HR 2 = ABCD, so channel blocks and setpoints decode one way; HR 3 = 0 when the map has no watchdog.
    private func setUp(_ s: inout State, now: Double) {
        guard !s.setUp else { return }
        var writes = [ModbusRequest.writeRegister(address: CommonRegisters.wordOrder, value: WordOrder.abcd.rawValue)]
        if map.watchdog == nil { writes.append(.writeRegister(address: CommonRegisters.watchdogTimeoutMs, value: 0)) }
        s.setUp = writes.allSatisfy { device.handle($0, now: now) == .written }
    }

    /// Asks the inner device; silence and exceptions are thrown, to be passed on as they are.
    @discardableResult
    private func ask(_ request: ModbusRequest, now: Double) throws(Failure) -> ModbusResponse {
        guard let response = device.handle(request, now: now) else { throw .offline }
        if case .exception(let code) = response { throw .exception(code) }
        return response
    }

    // MARK: Reads

    /// What one read has asked the inner device so far: each value is computed once, however many registers of it
    /// the request covers.
    private struct ReadCache {
        var readings: [String: ChannelReading] = [:]
        var words: [Int: [UInt16]] = [:]
    }

    /// Where the registers are now: the layout served, or the one it moved to (`layout_changed`).
    private func view(_ s: State) -> View { views[s.moved ? views.count - 1 : 0] }

    /// `count` registers (or bits, as 0/1) from `address`: each the OR of the values that hold it (bits of one
    /// register may belong to several), 0 where none does.
    private func read(_ space: Space, _ address: Int, _ count: Int, _ s: inout State,
                      now: Double) throws(Failure) -> [UInt16] {
        let limit = space.table.holdsBits ? Self.maxReadBits : map.maxReadRegisters
        let view = view(s)
        guard count >= 1, count <= limit, let extent = view.extents[space], address >= extent.lowerBound,
              address + count - 1 <= extent.upperBound else { throw .exception(.illegalDataAddress) }
        var cache = ReadCache()
        var out = [UInt16](repeating: 0, count: count)
        for a in address..<(address + count) {
            for i in view.holders[space]?[a] ?? [] {
                out[a - address] |= try words(i, &cache, &s, now: now)[a - view.slots[i].field.register]
            }
        }
        return out
    }

    /// The registers slot `i` serves now, exactly its field's length.
    private func words(_ i: Int, _ cache: inout ReadCache, _ s: inout State, now: Double) throws(Failure) -> [UInt16] {
        if let words = cache.words[i] { return words }
        // The served layout's slot: its registers, and the pointer and ID values that lead there.
        let slot = view(s).slots[i]
        let field = slot.field
        var words: [UInt16]
        switch slot.role {
        case .channel(let channel):
            words = Self.served(channel, try reading(channel.name, &cache, &s, now: now)).words
        case .qualityBit(let channel, let quality):
            let reading = try reading(channel.name, &cache, &s, now: now)
            var served = reading.quality
            // A number the map's type cannot hold is served as "no reading".
            if !reading.isFault, Self.served(channel, reading).bad { served.insert(.notAvailable) }
            // NaN without a word of why is a failure; "not available" (no reading yet, not ready) stays that.
            if !reading.raw.isFinite, !served.contains(.notAvailable) { served.insert(.sensorFailure) }
            if s.statusError.contains(channel.name) { served = .sensorFailure }
            words = [quality.word(for: served)]
        case .fallback:
            words = Self.fallbackWords(field) ?? Array(repeating: 0, count: field.length)
        case .qualityWord(let channel):
            let reading = try reading(channel.name, &cache, &s, now: now)
            var quality = reading.quality
            // A number the map's type cannot hold is served as "no reading".
            if !reading.isFault, Self.served(channel, reading).bad { quality.insert(.notAvailable) }
            if s.statusError.contains(channel.name) { quality.insert(.sensorFailure) }
            words = field.encode(Double(quality.rawValue)) ?? [quality.rawValue]
        case .command(_, let target):
            words = Self.encode(try commandValue(i, target, s, now: now), field)
        case .identity(let equals):
            words = Self.encode(equals, field)
        case .watchdogTimeout:
            guard case .registers(let r) = try ask(.readHoldingRegisters(address: CommonRegisters.watchdogTimeoutMs,
                                                                          count: 1), now: now), let ms = r.first
            else { throw .exception(.serverDeviceFailure) }
            words = Self.encode(Double(ms), field)
        case .heartbeat:
            words = s.heartbeat
        case .reset:
            words = []  // a command register: reads 0, as the contract's HR 5
        case .tripped(let t):
            guard case .registers(let r) = try ask(.readInputRegisters(address: CommonRegisters.status, count: 2),
                                                   now: now), r.count == 2
            else { throw .exception(.serverDeviceFailure) }
            let status = StatusBits(rawValue: RegisterCodec.uint32(r, at: 0))
            words = field.encode(status.contains(.watchdogTripped) == t.badWhen ? 1 : 0) ?? [0]
        case .acquireWrite(_, let value, _):
            words = Self.encode(s.local[i] ?? value, field)
        case .setupWrite(let index):
            words = s.setupWords[index] ?? Array(repeating: 0, count: field.length)
        case .expectation(let index):
            switch map.expectations[index].equals {
            case .number(let v):
                words = Self.encode(s.unitsChanged ? v + 1 : v, field)
            case .text(let t):
                words = RegisterCodec.encodeString(s.unitsChanged ? "CHANGED" : t, length: field.length,
                                                   order: field.order)
            }
        case .freshCounter(let channels):
            var counter = Self.counter(now: now)
            for name in channels where s.stale[name] != nil {
                if s.stale[name]?.counter == nil { s.stale[name]?.counter = counter }
                counter = s.stale[name]?.counter ?? counter
            }
            if let range = field.type.integerRange { counter = counter.truncatingRemainder(dividingBy: range.upperBound + 1) }
            words = Self.encode(counter, field)
        case .acquireWait(let sequence):
            words = Self.encode(map.acquisitions[sequence].simulateMs, field)
        case .constant(let value):
            words = Self.encode(value, field)
        case .layoutVersion:
            words = Self.encode(s.moved ? 2 : 1, field)
        case .calibration(let channel, let slope):
            let held = s.calibration[channel] ?? Calibration()
            words = Self.encode(slope ? held.slope : held.offset, field)
        case .acquirePoll(let sequence, let equals):
            // Not ready: any other value (0, or 1 when ready is 0).
            words = Self.encode(measured(sequence, s, now: now) ? equals : (equals == 0 ? 1 : 0), field)
        }
        // A field built in code may give a length its type does not fill; the map's registers are what count.
        if words.count != field.length {
            words = Array((words + Array(repeating: 0, count: field.length)).prefix(field.length))
        }
        cache.words[i] = words
        return words
    }

    /// Channel `name` from the inner device's block (float32 ABCD, quality); "not available" if the contract has no
    /// such channel.
    private func reading(_ name: String, _ cache: inout ReadCache, _ s: inout State,
                         now: Double) throws(Failure) -> ChannelReading {
        if let reading = cache.readings[name] { return reading }
        if let frozen = s.stale[name] {
            // A hung sensor board: what it served when it hung.
            let reading: ChannelReading
            if let held = frozen.reading { reading = held } else { reading = try liveReading(name, s, now: now) }
            s.stale[name]?.reading = reading
            cache.readings[name] = reading
            return reading
        }
        guard configured(s) else {
            cache.readings[name] = .notAvailable
            return .notAvailable
        }
        // A channel an acquisition sequence triggers: "not ready" (no reading) until the measurement is done, then what
        // it measured, held until the next trigger.
        if let i = map.acquisition(of: name), map.acquisitions[i].trigger != nil || s.neverReady {
            guard measured(i, s, now: now) else {
                cache.readings[name] = .notAvailable
                return .notAvailable
            }
            if let held = s.measured[i][name] {
                cache.readings[name] = held
                return held
            }
            let taken = try liveReading(name, s, now: now)
            s.measured[i][name] = taken
            cache.readings[name] = taken
            return taken
        }
        let reading = try liveReading(name, s, now: now)
        cache.readings[name] = reading
        return reading
    }

    /// Channel `name` as the inner device reads it now, through the instrument's own calibration of it.
    private func liveReading(_ name: String, _ s: State, now: Double) throws(Failure) -> ChannelReading {
        var reading = ChannelReading.notAvailable
        if let address = layout.channelAddress(name) {
            let request = ModbusRequest.readInputRegisters(address: address, count: CommonRegisters.channelStride)
            guard case .registers(let r) = try ask(request, now: now), r.count == CommonRegisters.channelStride else {
                throw .exception(.serverDeviceFailure)
            }
            reading = ChannelBlock.decode(r, count: 1, order: .abcd)[0]
        }
        if let c = s.calibration[name], let value = reading.value {
            reading = ChannelReading(raw: Float(c.slope * value + c.offset), quality: reading.quality)
        }
        return reading
    }

    /// A command's engineering value: the inner setpoint or coil it mirrors, or what was written here.
    private func commandValue(_ i: Int, _ target: Slot.Target, _ s: State, now: Double) throws(Failure) -> Double {
        switch target {
        case .setpoint(let address):
            guard case .registers(let r) = try ask(.readHoldingRegisters(address: address, count: 2), now: now),
                  r.count == 2 else { throw .exception(.serverDeviceFailure) }
            return Double(RegisterCodec.float32(r, at: 0, order: .abcd))
        case .coil(let index):
            guard case .bits(let b) = try ask(.readCoils(address: index, count: 1), now: now), let on = b.first else {
                throw .exception(.serverDeviceFailure)
            }
            return on ? 1 : 0
        case .local:
            return s.local[i] ?? 0
        }
    }

    /// `value` through `field`; NaN in a float type, 0 otherwise, when the type cannot hold it.
    static func encode(_ value: Double, _ field: DeviceMap.Field) -> [UInt16] {
        if let words = field.encode(value) { return words }
        if field.type.isFloat, let words = RegisterCodec.encode(.nan, as: field.type, order: field.order) {
            return words
        }
        return Array(repeating: 0, count: field.length)
    }

    // MARK: Writes

    /// Writes `values` from `address`: every register must belong to a command or watchdog value, every value is
    /// written whole (or, without FC 16, word by word with FC 6) and within its limits; then all are applied in
    /// order. `single`: FC 5 or FC 6.
    private func write(_ space: Space, _ address: Int, _ values: [UInt16], single: Bool,
                       _ s: inout State, now: Double) throws(Failure) {
        let table = space.table
        let end = address + values.count
        var touched: [Int] = []
        let view = view(s)
        for a in address..<end {
            let writable = (view.holders[space]?[a] ?? []).filter { slots[$0].isWritable }
            guard !writable.isEmpty else { throw .exception(.illegalDataAddress) }
            for i in writable where !touched.contains(i) { touched.append(i) }
        }
        var complete: [(slot: Int, raw: [UInt16])] = []
        for i in touched {
            let span = view.slots[i].field.span
            if span.lowerBound >= address, span.upperBound <= end {
                complete.append((i, Array(values[(span.lowerBound - address)..<(span.upperBound - address)])))
            } else if single, map.maxWriteRegisters == 0, !table.holdsBits {
                // No FC 16: the value arrives one register at a time, first to last; the first starts over.
                let offset = address - span.lowerBound
                var words: [UInt16] = offset == 0 ? [] : s.pending[i] ?? []
                guard words.count == offset else {
                    s.pending[i] = nil
                    throw .exception(.illegalDataAddress)
                }
                words.append(values[0])
                if words.count == span.count {
                    s.pending[i] = nil
                    complete.append((i, words))
                } else {
                    s.pending[i] = words
                }
            } else {
                throw .exception(.illegalDataAddress)
            }
        }
        // All or nothing: every value is checked before any is applied.
        var changes: [(slot: Int, value: Double, raw: [UInt16])] = []
        for (i, raw) in complete {
            guard let value = slots[i].field.value(raw), value.isFinite else { throw .exception(.illegalDataValue) }
            if case .command(let command, _) = slots[i].role, !command.limits.contains(value) {
                throw .exception(.illegalDataValue)
            }
            changes.append((i, value, raw))
        }
        for change in changes { try apply(change.slot, change.value, change.raw, &s, now: now) }
    }

    /// Passes one checked value on to the inner device (or keeps it, for a host relay).
    private func apply(_ i: Int, _ value: Double, _ raw: [UInt16], _ s: inout State, now: Double) throws(Failure) {
        switch slots[i].role {
        case .command(_, .setpoint(let address)):
            try ask(.writeRegisters(address: address, values: RegisterCodec.encode(Float(value), order: .abcd)),
                    now: now)
        case .command(_, .coil(let index)):
            try ask(.writeCoil(address: index, value: value != 0), now: now)
        case .command(let command, .local):
            s.local[i] = value
            relays.withLock { $0[command.name] = value != 0 }
        case .watchdogTimeout:
            let limits = CommonRegisters.watchdogLimits
            let ms = min(max(value.rounded(), Double(limits.lowerBound)), Double(limits.upperBound))
            try ask(.writeRegister(address: CommonRegisters.watchdogTimeoutMs, value: UInt16(ms)), now: now)
        case .heartbeat:
            // The instrument's heartbeat may be any width; HR 4 only needs to see that it changed.
            guard raw != s.heartbeat else { return }
            s.heartbeat = raw
            s.heartbeatChanges &+= 1
            try ask(.writeRegister(address: CommonRegisters.hostHeartbeat, value: s.heartbeatChanges), now: now)
        case .reset(let resetValue):
            guard resetValue.map({ $0 == value }) ?? true else { return }
            try ask(.writeRegister(address: CommonRegisters.command, value: CommonRegisters.resetFaultsCommand),
                    now: now)
        case .acquireWrite(let sequence, let expected, let trigger):
            // The trigger starts a measurement; the value must be the one the map writes (another bitmask asks for
            // parameters this instrument does not measure).
            if trigger {
                guard value == expected else { throw .exception(.illegalDataValue) }
                s.triggeredAt[sequence] = now
                s.measured[sequence] = [:]
            }
            s.local[i] = value
        case .setupWrite(let index):
            s.setupWords[index] = raw
        case .calibration(let channel, let slope):
            if slope { s.calibration[channel, default: Calibration()].slope = value } else {
                s.calibration[channel, default: Calibration()].offset = value
            }
        case .channel, .qualityBit, .qualityWord, .fallback, .identity, .tripped, .acquireWait, .acquirePoll,
             .expectation, .freshCounter, .constant, .layoutVersion:
            break  // not writable: `write` refused it
        }
    }
}

extension MappedDevice {
    /// Another unit id the map names (a probe at unit 11 of the same line, a logger's module), served as a device of
    /// its own on the line: its requests are answered from the same instrument, in that unit's registers. Faults
    /// stay the instrument's: an offline instrument silences every unit.
    public final class Unit: ModbusDevice {
        public let owner: MappedDevice
        public let unit: Int

        init(owner: MappedDevice, unit: Int) {
            self.owner = owner
            self.unit = unit
        }

        public var kind: DeviceKind { owner.kind }
        public var unitId: UInt8 { UInt8(clamping: unit) }
        public var tickPeriod: Double { owner.tickPeriod }
        public var answerDelay: Double { owner.answerDelay }
        public func advance(to now: Double) { owner.advance(to: now) }
        public func isListening(now: Double) -> Bool { owner.isListening(now: now) }
        public func handle(_ request: ModbusRequest, now: Double) -> ModbusResponse? {
            owner.handle(request, unit: unit, now: now)
        }
    }

    /// The other unit ids the map names (`map.otherUnits`), each served as a device of its own.
    public var otherUnits: [Int: any ModbusDevice] {
        Dictionary(uniqueKeysWithValues: map.otherUnits.map { ($0, Unit(owner: self, unit: $0) as any ModbusDevice) })
    }
}

/// Faults go to the contract device inside (its plant, sensors and link); the instrument adds its own:
/// `setNeverReady` (an acquisition sequence that never completes).
extension MappedDevice: FaultInjectable {
    private var inner: (any FaultInjectable)? { device as? any FaultInjectable }

    public func setChannelFault(_ fault: ChannelFault?, channel: Int) { inner?.setChannelFault(fault, channel: channel) }
    public func setOffline(_ offline: Bool) { inner?.setOffline(offline) }
    public func setAnswerDelay(_ seconds: Double) { inner?.setAnswerDelay(seconds) }
    public func setExceptionReplies(_ code: ModbusException?) { inner?.setExceptionReplies(code) }
    public func setStandard(_ standard: Double?, channel: Int) { inner?.setStandard(standard, channel: channel) }
    public var disturbanceNames: [String] { inner?.disturbanceNames ?? [] }
    public var channelSpecs: [ChannelSpec] { inner?.channelSpecs ?? [] }

    public func setDisturbance(_ name: String, active: Bool) throws(UnknownDisturbance) {
        guard let inner else { throw UnknownDisturbance(name: name, kind: kind, known: []) }
        try inner.setDisturbance(name, active: active)
    }

    public var injected: InjectedFaults {
        inner?.injected ?? InjectedFaults(offline: false, answerDelay: 0, exceptionReplies: nil, disturbances: [],
                                          channels: [:])
    }
}
