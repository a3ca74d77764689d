/// A device map (docs/maps.md): where a Modbus instrument keeps the channels and commands of a device kind, in what
/// types and byte orders, and what it can take (read and write sizes, gaps, silence between requests). Registers are
/// 0-based protocol addresses whatever notation the file used. Loaded and validated by `MapLoader` (Stations).
public struct DeviceMap: Sendable, Equatable {
    /// A Modbus data table.
    public enum Table: String, Sendable, CaseIterable, CustomStringConvertible {
        case input, holding, coil, discrete

        /// Coils and discrete inputs hold bits; input and holding registers hold words.
        public var holdsBits: Bool { self == .coil || self == .discrete }
        public var isWritable: Bool { self == .holding || self == .coil }
        public var description: String { rawValue }
    }

    /// Where one value sits and how it is encoded.
    public struct Field: Sendable, Equatable {
        public var table: Table
        /// 0-based protocol address of the first register (or bit).
        public var register: Int
        public var type: RegisterType
        /// Registers a string takes (1 for every other type but the 32/64-bit ones, which take `type.registerCount`).
        public var length: Int
        public var order: ByteOrder
        /// For a bool read from a register: the bit (0 = least significant), or nil for a whole coil/input.
        public var bit: Int?
        /// value = raw × scale + offset.
        public var scale: Double
        public var offset: Double
        /// The unit id it is read from or written to, when not the station's own (docs/maps.md, "Several unit ids").
        public var unit: Int?
        /// A value in a block found at start-up (`locate`): `register` is its offset in the block, until the map is
        /// `located` (docs/maps.md, "Values found at start-up").
        public var place: Place?

        public init(table: Table, register: Int, type: RegisterType, length: Int? = nil, order: ByteOrder = .abcd,
                    bit: Int? = nil, scale: Double = 1, offset: Double = 0, unit: Int? = nil) {
            self.table = table
            self.register = register
            self.type = type
            self.length = length ?? (table.holdsBits ? 1 : type.registerCount)
            self.order = order
            self.bit = bit
            self.scale = scale
            self.offset = offset
            self.unit = unit
        }

        /// The registers (or bits) it occupies.
        public var span: Range<Int> { register..<(register + length) }

        /// Its unit, table and registers.
        public var location: Location { Location(unit: unit, table, span) }

        /// `holding 140`, or `unit 11 holding 140` on another unit, or `block ph (id 17) + 0` before it is found: for
        /// messages.
        public var name: String {
            if let place { return "\(place) + \(register)" }
            return (unit.map { "unit \($0) " } ?? "") + "\(table) \(register)"
        }
    }

    /// Where a located value is: in the block of `block` (a `[[map.locate]]`) whose parameter ID is `id` (nil: the
    /// block the pointer gives).
    public struct Place: Sendable, Hashable, CustomStringConvertible {
        public var block: String
        public var id: Int?

        public init(block: String, id: Int? = nil) {
            self.block = block
            self.id = id
        }

        /// `block ph (id 17)`.
        public var description: String { "block \(block)" + (id.map { " (id \($0))" } ?? "") }
    }

    /// `[[map.locate]]`: blocks of values whose address the device tells at start-up (docs/maps.md, "Values found at
    /// start-up"). The region starts where `pointer` says (its value, less one when `pointerOneBased`) or at `from`;
    /// it holds `count` blocks of `stride` registers, each with its parameter ID at `idOffset` (nil: one block, not
    /// identified). A change of `version` (a layout-version register) means the layout moved.
    public struct Block: Sendable, Equatable {
        public var name: String
        public var table: Table
        public var unit: Int?
        public var pointer: Field?
        public var pointerOneBased: Bool
        public var from: Int?
        public var stride: Int
        public var count: Int
        public var idOffset: Int?
        public var version: Field?

        public init(name: String, table: Table, unit: Int? = nil, pointer: Field? = nil, pointerOneBased: Bool = false,
                    from: Int? = nil, stride: Int, count: Int = 1, idOffset: Int? = nil, version: Field? = nil) {
            self.name = name
            self.table = table
            self.unit = unit
            self.pointer = pointer
            self.pointerOneBased = pointerOneBased
            self.from = from
            self.stride = stride
            self.count = count
            self.idOffset = idOffset
            self.version = version
        }
    }

    /// What discovery found (`[[map.locate]]`): per block, the first register of each parameter's block by ID (the
    /// key nil for a block without IDs), and the layout version each block's `version` register read.
    public struct Layout: Sendable, Equatable {
        public var bases: [String: [Int?: Int]] = [:]
        public var versions: [String: Double] = [:]

        public init(bases: [String: [Int?: Int]] = [:], versions: [String: Double] = [:]) {
            self.bases = bases
            self.versions = versions
        }
    }

    /// Where registers (or bits) are: a unit (nil: the station's own), a table and the addresses in it.
    public struct Location: Sendable, Hashable, CustomStringConvertible {
        public var unit: Int?
        public var table: Table
        public var range: Range<Int>

        public init(unit: Int? = nil, _ table: Table, _ range: Range<Int>) {
            self.unit = unit
            self.table = table
            self.range = range
        }

        /// Whether they share a register (or bit): same unit, same table, overlapping addresses.
        public func overlaps(_ other: Location) -> Bool {
            unit == other.unit && table == other.table && range.overlaps(other.range)
        }

        /// Whether it holds all of `other`.
        public func contains(_ other: Location) -> Bool {
            unit == other.unit && table == other.table && range.lowerBound <= other.range.lowerBound
                && other.range.upperBound <= range.upperBound
        }

        public var description: String {
            (unit.map { "unit \($0) " } ?? "") + "\(table) \(range.lowerBound)"
                + (range.count > 1 ? "…\(range.upperBound - 1)" : "")
        }
    }

    /// A status bit that marks a channel's reading bad (or, for the watchdog, the device tripped); or a status field
    /// of `width` bits from bit `bit` (a 4-bit field, a whole enumeration register) whose values `good` mean good,
    /// `notAvailable` "no reading" and any other a sensor failure (docs/maps.md, "Quality").
    public struct QualityBit: Sendable, Equatable {
        public var table: Table
        public var register: Int
        /// The bit, or the lowest bit of the field (its shift).
        public var bit: Int
        /// The bit's value that means "bad" (the one-bit form).
        public var badWhen: Bool
        /// Bits in the field (1: the one-bit form, unless `good` is given).
        public var width: Int
        /// The field's values that mean good; nil: the one-bit form (`badWhen`).
        public var good: [Int]?
        /// The field's values that mean "not available" (not set, no reading yet) rather than a sensor failure.
        public var notAvailable: [Int]
        /// The unit id it is read from, when not the station's own.
        public var unit: Int?
        /// In a located block (`register` is then its offset there): as `Field.place`.
        public var place: Place?

        public init(table: Table, register: Int, bit: Int, badWhen: Bool, unit: Int? = nil) {
            self.table = table
            self.register = register
            self.bit = bit
            self.badWhen = badWhen
            self.width = 1
            self.good = nil
            self.notAvailable = []
            self.unit = unit
        }

        /// A status field: `width` bits from `shift`, good when its value is one of `good`.
        public init(table: Table, register: Int, shift: Int, width: Int, good: [Int], notAvailable: [Int] = [],
                    unit: Int? = nil) {
            self.table = table
            self.register = register
            self.bit = shift
            self.badWhen = true
            self.width = width
            self.good = good
            self.notAvailable = notAvailable
            self.unit = unit
        }

        /// Its unit, table and register.
        public var location: Location { Location(unit: unit, table, span) }

        /// The field's value in `word` (a register, or 0/1 for a coil or discrete input).
        public func value(_ word: UInt16) -> Int {
            table.holdsBits ? (word != 0 ? 1 : 0) : Int(RegisterCodec.bits(word, shift: bit, width: width))
        }

        /// What `word` says of the reading: good (`[]`), `.notAvailable` or `.sensorFailure`.
        public func quality(_ word: UInt16) -> ChannelQuality {
            guard let good else { return isBad(word) ? .sensorFailure : [] }
            let v = value(word)
            if good.contains(v) { return [] }
            return notAvailable.contains(v) ? .notAvailable : .sensorFailure
        }

        /// The word (shifted into place) a device serves for a reading of `quality`: the first good value, the first
        /// "not available" value, or the first value that is neither.
        public func word(for quality: ChannelQuality) -> UInt16 {
            let v: Int
            if let good {
                let failed = quality.contains(.sensorFailure)
                if !failed && !quality.contains(.notAvailable) {
                    v = good.first ?? 0
                } else if !failed, let na = notAvailable.first {
                    v = na
                } else {
                    v = (0..<(1 << width)).first { !good.contains($0) && !notAvailable.contains($0) }
                        ?? notAvailable.first ?? 0
                }
            } else {
                let bad = !quality.isDisjoint(with: [.sensorFailure, .notAvailable])
                v = bad == badWhen ? 1 : 0
            }
            return table.holdsBits ? UInt16(v & 1) : UInt16(truncatingIfNeeded: v << bit)
        }

        /// `bit 3 = 1`, `bits 4…7 in [0]`: how the map's status is read, for messages.
        public var description: String {
            guard let good else {
                return "\(unit.map { "unit \($0) " } ?? "")\(table) \(register) bit \(bit) = \(badWhen ? 1 : 0) is bad"
            }
            let bits = width == 16 && bit == 0 ? "" : width == 1 ? " bit \(bit)" : " bits \(bit)…\(bit + width - 1)"
            let na = notAvailable.isEmpty ? "" : ", not available when in \(notAvailable)"
            return "\(unit.map { "unit \($0) " } ?? "")\(table) \(register)\(bits) good when in \(good)\(na)"
        }

        /// The register (or bit) it reads.
        public var span: Range<Int> { register..<(register + 1) }

        /// Whether `word` (a register, or 0/1 for a coil or discrete input) has the bit at its "bad" value.
        public func isBad(_ word: UInt16) -> Bool {
            (table.holdsBits ? word != 0 : RegisterCodec.bits(word, shift: bit, width: 1) == 1) == badWhen
        }
    }

    public struct Channel: Sendable, Equatable {
        /// A channel of the kind (its `ChannelSpec` name).
        public var name: String
        public var field: Field
        /// Raw values that mean "no reading" (quality "not available").
        public var nanIf: [Double]
        /// Raw bit patterns that mean "no reading" (`nan_if = "0xFFFFFFFF"`): the value's registers as one big-endian
        /// number in the field's byte order, so NaN patterns compare exactly.
        public var nanIfBits: [UInt64]
        public var quality: QualityBit?
        /// A whole quality word in the register contract's meaning (docs/register-contract.md §0: 0x80 failure,
        /// 0x01 not available, …), as the built-in maps have it.
        public var qualityWord: Field?
        /// The register where the device keeps the value it serves instead of a reading it does not have (an
        /// "offline fallback" value): a reading equal to it is "not available", never a measurement.
        public var fallback: Field?
        /// How rigd knows the reading is new (`fresh`): a register that must advance, or a maximum age.
        public var freshness: Freshness?

        public init(name: String, field: Field, nanIf: [Double] = [], nanIfBits: [UInt64] = [],
                    quality: QualityBit? = nil, qualityWord: Field? = nil, fallback: Field? = nil,
                    freshness: Freshness? = nil) {
            self.name = name
            self.field = field
            self.nanIf = nanIf
            self.nanIfBits = nanIfBits
            self.quality = quality
            self.qualityWord = qualityWord
            self.fallback = fallback
            self.freshness = freshness
        }

        /// Why `raw` (the value's registers, exactly its length) is no reading: `nan_if 65535`, `nan_if 0x7FC00000`;
        /// nil when it is one. `fallback` is the fallback register's words, when the map has one.
        public func noReading(_ raw: [UInt16], fallback fallbackWords: [UInt16]? = nil) -> String? {
            if let number = field.rawNumber(raw), nanIf.contains(number) {
                return "nan_if " + (number == number.rounded() && abs(number) < 1e15 ? String(Int64(number)) : "\(number)")
            }
            if !nanIfBits.isEmpty, !field.table.holdsBits, field.type != .string {
                let bits = RegisterCodec.bigEndianBits(raw.prefix(field.type.registerCount), order: field.order)
                if nanIfBits.contains(bits) {
                    return "nan_if 0x" + String(bits, radix: 16, uppercase: true)
                }
            }
            if let fallback, let fallbackWords, let mine = field.rawNumber(raw),
               let theirs = fallback.rawNumber(fallbackWords), mine == theirs {
                return "the device's fallback value (\(fallback.table) \(fallback.register))"
            }
            return nil
        }
    }

    /// A staleness rule (`fresh`, docs/maps.md "Wake-up and staleness"): a reading is "not available" — never used —
    /// once `field` (a sample counter, an uptime, a timestamp) has not changed for `maxAgeMs`, or, without a field,
    /// once the acquisition it was taken by is older than `maxAgeMs`.
    public struct Freshness: Sendable, Equatable {
        public var field: Field?
        public var maxAgeMs: Double

        public init(field: Field?, maxAgeMs: Double) {
            self.field = field
            self.maxAgeMs = maxAgeMs
        }
    }

    /// How to wake a device that sleeps or answers slowly at first (`[map.wake]`, docs/maps.md "Wake-up and
    /// staleness"): the first request after a connect, or after the device has been left alone `sleepsAfterMs`, may
    /// take `firstTimeoutMs` and is sent up to `retries` more times when it gets no answer; then `settleMs` of quiet.
    public struct Wake: Sendable, Equatable {
        /// The first request's response timeout, ms; nil: the station's.
        public var firstTimeoutMs: Double?
        public var retries: Int
        public var settleMs: Double
        /// Silence after which the device is asleep again; nil: it only needs waking after a connect.
        public var sleepsAfterMs: Double?

        public init(firstTimeoutMs: Double? = nil, retries: Int = 0, settleMs: Double = 0,
                    sleepsAfterMs: Double? = nil) {
            self.firstTimeoutMs = firstTimeoutMs
            self.retries = retries
            self.settleMs = settleMs
            self.sleepsAfterMs = sleepsAfterMs
        }
    }

    public struct Command: Sendable, Equatable {
        /// A command of the kind, or a relay the kind drives.
        public var name: String
        public var field: Field
        /// What rigd enforces before writing, in engineering units.
        public var limits: ClosedRange<Double>

        public init(name: String, field: Field, limits: ClosedRange<Double>) {
            self.name = name
            self.field = field
            self.limits = limits
        }
    }

    /// Where the device keeps its own calibration of a channel (`[[map.calibration]]`, docs/maps.md "Calibration
    /// registers"): it serves value = slope × measured + offset, in the channel's unit. A device may keep only one of
    /// the two (a low-cost probe's "pH offset"): the other is then 1 (slope) or 0 (offset) and cannot change.
    public struct CalibrationRegisters: Sendable, Equatable {
        public var channel: String
        public var slope: Field?
        public var offset: Field?

        public init(channel: String, slope: Field?, offset: Field?) {
            self.channel = channel
            self.slope = slope
            self.offset = offset
        }

        /// `holding 400 (slope), holding 402 (offset)`: for messages and records.
        public var description: String {
            [slope.map { "\($0.name) (slope, \($0.type))" }, offset.map { "\($0.name) (offset, \($0.type))" }]
                .compactMap { $0 }.joined(separator: ", ")
        }
    }

    public struct Identity: Sendable, Equatable {
        public var field: Field
        public var equals: Double

        public init(field: Field, equals: Double) {
            self.field = field
            self.equals = equals
        }
    }

    /// The device's own host watchdog.
    public struct Watchdog: Sendable, Equatable {
        public var timeout: Field
        public var timeoutMs: Double
        public var heartbeat: Field
        public var reset: Field?
        public var resetValue: Double?
        /// The bit that says the device tripped into its safe state (`badWhen`: the value that means tripped); nil
        /// when the device does not show it.
        public var tripped: QualityBit?

        public init(timeout: Field, timeoutMs: Double, heartbeat: Field, reset: Field? = nil, resetValue: Double? = nil,
                    tripped: QualityBit? = nil) {
            self.timeout = timeout
            self.timeoutMs = timeoutMs
            self.heartbeat = heartbeat
            self.reset = reset
            self.resetValue = resetValue
            self.tripped = tripped
        }
    }

    /// An acquisition sequence (`[[map.acquire]]`, docs/maps.md "Acquisition"): steps the host runs before it reads
    /// `channels` — trigger a measurement, wait, poll a ready flag — for instruments that answer only when asked.
    public struct Acquisition: Sendable, Equatable {
        public enum Step: Sendable, Equatable {
            /// Write a raw value (a parameter bitmask, "force sample") with FC 6/16, or FC 5 to a coil.
            case write(Field, value: Double)
            /// Wait a fixed time.
            case wait(ms: Double)
            /// Wait the time the device keeps in a register (its value × the field's scale, in ms), at most `maxMs`.
            case waitFrom(Field, maxMs: Double)
            /// Read a register (or a bit) until it holds `equals`; a sequence failure after `timeoutMs`.
            case poll(Field, equals: Double, timeoutMs: Double)

            /// `write holding 1 = 7`, `wait 500 ms`, …: for messages and `rigd check`.
            public var description: String {
                switch self {
                case .write(let f, let v): "write \(f.name) = \(Acquisition.format(v))"
                case .wait(let ms): "wait \(Acquisition.format(ms)) ms"
                case .waitFrom(let f, let maxMs):
                    "wait the ms in \(f.name)" + (f.scale != 1 ? " × \(Acquisition.format(f.scale))" : "")
                        + " (at most \(Acquisition.format(maxMs)))"
                case .poll(let f, let equals, let timeoutMs):
                    "poll \(f.name)\(f.bit.map { " bit \($0)" } ?? "") until \(Acquisition.format(equals))"
                        + " (timeout \(Acquisition.format(timeoutMs)) ms)"
                }
            }
        }

        /// The channels it acquires (names of the map's channels).
        public var channels: [String]
        public var steps: [Step]
        /// How long the simulated instrument takes to measure after the trigger (the last write), in ms: what its
        /// wait register holds and when its ready flag rises. Not used by the host.
        public var simulateMs: Double

        public init(channels: [String], steps: [Step], simulateMs: Double? = nil) {
            self.channels = channels
            self.steps = steps
            self.simulateMs = simulateMs ?? Self.defaultSimulateMs(steps)
        }

        /// The sequence's fixed waits, or 1000 ms when it waits only for the device (a wait register or a poll).
        public static func defaultSimulateMs(_ steps: [Step]) -> Double {
            let fixed = steps.reduce(0.0) { if case .wait(let ms) = $1 { $0 + ms } else { $0 } }
            let asks = steps.contains {
                switch $0 {
                case .waitFrom, .poll: true
                case .write, .wait: false
                }
            }
            return fixed > 0 ? fixed : (asks ? 1000 : 0)
        }

        /// The least time the host spends on it, ms: its fixed waits (a register's wait is known only at run time).
        public var fixedWaitMs: Double {
            steps.reduce(0.0) { if case .wait(let ms) = $1 { $0 + ms } else { $0 } }
        }

        /// The longest it may take before it fails or completes, ms: fixed waits, register waits at their maximum,
        /// polls to their timeout.
        public var longestMs: Double {
            steps.reduce(0.0) {
                switch $1 {
                case .write: $0
                case .wait(let ms): $0 + ms
                case .waitFrom(_, let maxMs): $0 + maxMs
                case .poll(_, _, let timeoutMs): $0 + timeoutMs
                }
            }
        }

        /// The register the device takes as its trigger: the last write.
        public var trigger: (field: Field, value: Double)? {
            for step in steps.reversed() { if case .write(let f, let v) = step { return (f, v) } }
            return nil
        }

        static func format(_ v: Double) -> String {
            v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v)
        }
    }

    /// A start-up write (`[[map.setup]]`): run once after every connect, in order — a parameter list, a word-order
    /// register, an unlock sequence.
    public struct Setup: Sendable, Equatable {
        /// Where it writes (holding registers, or a coil); `words` are its raw registers (a coil: one 0/1 word).
        public var field: Field
        public var words: [UInt16]
        /// A wait after the write before anything else is sent (a device that restarts a measurement or reconfigures).
        public var settleMs: Double

        public init(field: Field, words: [UInt16], settleMs: Double = 0) {
            self.field = field
            self.words = words
            self.settleMs = settleMs
        }

        /// `write holding 128…131 = 1, 18, 212, 0`.
        public var description: String {
            let span = words.count > 1 ? "\(field.register)…\(field.register + words.count - 1)" : "\(field.register)"
            return "write \(field.unit.map { "unit \($0) " } ?? "")\(field.table) \(span) = " + words.map(String.init).joined(separator: ", ")
        }
    }

    /// A value the device must hold (`[[map.expect]]`): a units ID, a parameter ID, a model string.
    public struct Expectation: Sendable, Equatable {
        public enum Value: Sendable, Equatable, CustomStringConvertible {
            case number(Double)
            case text(String)

            public var description: String {
                switch self {
                case .number(let v): v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v)
                case .text(let t): "\"\(t)\""
                }
            }
        }

        public var field: Field
        public var equals: Value
        /// The channels it vouches for, checked with every read of them; empty: the whole device, checked after every
        /// connect (a mismatch marks every channel bad).
        public var channels: [String]
        /// What it is, for messages ("pH units ID").
        public var what: String
        /// Added by `located`: the parameter ID of a located channel's block, read with the channel on every read. A
        /// mismatch means the layout moved: the reading is not available and the blocks are found again.
        public var isLayoutCheck = false

        public init(field: Field, equals: Value, channels: [String] = [], what: String? = nil) {
            self.field = field
            self.equals = equals
            self.channels = channels
            self.what = what ?? field.name
        }

        /// What `raw` (the field's registers) holds, as the map writes it.
        public func found(_ raw: [UInt16]) -> Value? {
            switch equals {
            case .number: field.value(raw).map(Value.number)
            case .text: .text(RegisterCodec.decodeString(raw, order: field.order))
            }
        }

        /// Why `raw` is not what the device must hold; nil when it is.
        public func problem(_ raw: [UInt16]) -> String? {
            let value = found(raw)
            guard value != equals else { return nil }
            return "\(what) (\(field.name)) reads \(value.map { "\($0)" } ?? "nothing"), the map "
                + "expects \(equals)"
        }
    }

    public var kind: DeviceKind
    public var name: String
    public var wordOrder: ByteOrder
    public var unit: Int
    public var maxReadRegisters: Int
    /// 0: the device has no FC 16; writes go one register at a time with FC 6.
    public var maxWriteRegisters: Int
    public var maxGap: Int
    public var interRequestMs: Int
    /// Reads start on an even address with an even count (a device that serves 32-bit values only whole).
    public var evenAlignment = false
    /// Every read is made twice and kept only when both agree (a device that updates a 32-bit value with two
    /// single-register writes).
    public var readTwice = false
    /// The device answers FC 23 (write and read holding registers in one request): a loop's holding-register write and
    /// its next read of holding registers go as one request (docs/maps.md, "FC 23").
    public var fc23 = false
    /// The serial line settings the device requires, if the map names them (checked against an rtu:// address).
    public var line = LineRequirements()
    public var identity: Identity?
    public var channels: [Channel]
    public var commands: [Command]
    public var watchdog: Watchdog?
    /// Acquisition sequences (`[[map.acquire]]`), each for its channels.
    public var acquisitions: [Acquisition] = []
    /// Start-up writes (`[[map.setup]]`), in order.
    public var setup: [Setup] = []
    /// Values the device must hold (`[[map.expect]]`).
    public var expectations: [Expectation] = []
    /// How the device is woken (`[map.wake]`); nil: it answers at once.
    public var wake: Wake?
    /// Blocks found at start-up (`[[map.locate]]`).
    public var blocks: [Block] = []
    /// The device's own calibration registers, per channel (`[[map.calibration]]`).
    public var calibrations: [CalibrationRegisters] = []

    public init(kind: DeviceKind, name: String, wordOrder: ByteOrder = .abcd, unit: Int = 1,
                maxReadRegisters: Int = 125, maxWriteRegisters: Int = 123, maxGap: Int = 8, interRequestMs: Int = 0,
                identity: Identity? = nil, channels: [Channel] = [], commands: [Command] = [],
                watchdog: Watchdog? = nil) {
        self.kind = kind
        self.name = name
        self.wordOrder = wordOrder
        self.unit = unit
        self.maxReadRegisters = maxReadRegisters
        self.maxWriteRegisters = maxWriteRegisters
        self.maxGap = maxGap
        self.interRequestMs = interRequestMs
        self.identity = identity
        self.channels = channels
        self.commands = commands
        self.watchdog = watchdog
    }

    /// Serial settings a device requires; nil: any.
    public struct LineRequirements: Sendable, Equatable {
        public var baud: Int?
        public var parity: SerialSettings.Parity?
        public var dataBits: Int?
        public var stopBits: Int?

        public init(baud: Int? = nil, parity: SerialSettings.Parity? = nil, dataBits: Int? = nil, stopBits: Int? = nil) {
            self.baud = baud
            self.parity = parity
            self.dataBits = dataBits
            self.stopBits = stopBits
        }

        /// How `settings` disagree with these requirements ("baud 9600, the map requires 19200"), empty if they agree.
        public func disagreements(_ settings: SerialSettings) -> [String] {
            var out: [String] = []
            if let baud, baud != settings.baud { out.append("baud \(settings.baud), the map requires \(baud)") }
            if let parity, parity != settings.parity {
                out.append("parity \(settings.parity.rawValue), the map requires \(parity.rawValue)")
            }
            if let dataBits, dataBits != settings.dataBits {
                out.append("data bits \(settings.dataBits), the map requires \(dataBits)")
            }
            if let stopBits, stopBits != settings.stopBits {
                out.append("stop bits \(settings.stopBits), the map requires \(stopBits)")
            }
            return out
        }
    }

    /// The channel called `name`, if the device has it.
    public func channel(named name: String) -> Channel? { channels.first { $0.name == name } }

    /// Where the device keeps its own calibration of channel `name`, if the map says.
    public func calibration(of name: String) -> CalibrationRegisters? { calibrations.first { $0.channel == name } }

    /// The unit ids besides the station's own that the map's values name (docs/maps.md, "Several unit ids").
    public var otherUnits: [Int] {
        var fields = channels.flatMap { c in [c.field, c.qualityWord, c.fallback, c.freshness?.field].compactMap { $0 } }
        fields += commands.map(\.field) + setup.map(\.field) + expectations.map(\.field)
        fields += [identity?.field, watchdog?.timeout, watchdog?.heartbeat, watchdog?.reset].compactMap { $0 }
        fields += calibrations.flatMap { [$0.slope, $0.offset].compactMap { $0 } }
        for a in acquisitions {
            for step in a.steps {
                switch step {
                case .write(let f, _), .waitFrom(let f, _), .poll(let f, _, _): fields.append(f)
                case .wait: break
                }
            }
        }
        for b in blocks { fields += [b.pointer, b.version].compactMap { $0 } }
        var units = Set(fields.compactMap(\.unit))
        for b in blocks { if let u = b.unit { units.insert(u) } }
        for q in channels.compactMap(\.quality) + [watchdog?.tripped].compactMap({ $0 }) {
            if let u = q.unit { units.insert(u) }
        }
        return units.sorted()
    }

    /// Whether values are found at start-up (`[[map.locate]]`).
    public var locates: Bool { !blocks.isEmpty }

    /// This map with its located values at the registers `layout` found (docs/maps.md, "Values found at start-up"): a
    /// channel or expectation whose block was not found is left out (the channel reads "not available"), and `missing`
    /// says which and why. With an empty layout: the map before discovery, without its located values.
    public func located(_ layout: Layout) -> (map: DeviceMap, missing: [String]) {
        var out = self
        var missing: [String] = []
        func resolve(_ field: Field?) -> Field?? {
            guard let field else { return .some(nil) }
            guard let place = field.place else { return field }
            guard let base = layout.bases[place.block]?[place.id] else { return .none }
            var f = field
            f.register = base + field.register
            f.place = nil
            return f
        }
        func why(_ place: Place?) -> String {
            guard let place else { return "" }
            if layout.bases[place.block] == nil { return "block \(place.block) was not found" }
            return "no block of \(place.block) has parameter ID \(place.id.map(String.init) ?? "?")"
        }
        out.channels = channels.compactMap { c in
            var c = c
            guard let field = resolve(c.field) ?? nil, let word = resolve(c.qualityWord),
                  let fallback = resolve(c.fallback), let fresh = resolve(c.freshness?.field) else {
                missing.append("\(c.name): \(why(c.field.place))")
                return nil
            }
            c.field = field
            c.qualityWord = word
            c.fallback = fallback
            if c.freshness != nil { c.freshness?.field = fresh }
            if var q = c.quality, let place = q.place {
                guard let base = layout.bases[place.block]?[place.id] else {
                    missing.append("\(c.name): \(why(place))")
                    return nil
                }
                q.register += base
                q.place = nil
                c.quality = q
            }
            return c
        }
        // Each identified block's ID is read with its channel: a block that moved is noticed on the next read.
        var checks: [Expectation] = []
        for c in channels {
            guard let place = c.field.place, let id = place.id, let base = layout.bases[place.block]?[id],
                  let block = blocks.first(where: { $0.name == place.block }), let idOffset = block.idOffset else { continue }
            var check = Expectation(field: Field(table: block.table, register: base + idOffset, type: .uint16,
                                                 unit: block.unit),
                                    equals: .number(Double(id)), channels: [c.name], what: "\(c.name)'s parameter ID")
            check.isLayoutCheck = true
            checks.append(check)
        }
        out.expectations = checks + expectations.compactMap { e in
            guard let field = resolve(e.field) ?? nil else {
                missing.append("expectation \(e.what): \(why(e.field.place))")
                return nil
            }
            var e = e
            e.field = field
            return e
        }
        return (out, missing)
    }

    /// The index of the acquisition sequence that acquires channel `name`, if one does.
    public func acquisition(of name: String) -> Int? {
        acquisitions.firstIndex { $0.channels.contains(name) }
    }
}

extension ModbusClient {
    /// Reads `count` registers or bits of `table` from `start`, bits as words of 0 and 1.
    public func readWords(_ table: DeviceMap.Table, at start: Int, count: Int) throws -> [UInt16] {
        switch table {
        case .input: try readInputRegisters(at: start, count: count)
        case .holding: try readHoldingRegisters(at: start, count: count)
        case .coil: try readCoils(at: start, count: count).map { $0 ? 1 : 0 }
        case .discrete: try readDiscreteInputs(at: start, count: count).map { $0 ? 1 : 0 }
        }
    }
}
