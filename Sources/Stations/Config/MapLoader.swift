import Devices
import Foundation
import TOMLKit

/// Reads a device map (docs/maps.md) as strictly as a configuration: unknown keys, a channel or command the kind
/// does not have, registers that overlap, a value longer than one read may be, limits the register type cannot
/// hold — every problem with file, line and key (`ConfigError`, exit 78).
package enum MapLoader {
    /// Loads `path`; throws `ConfigError` naming the file.
    package static func load(path: String, kinds: KindRegistry = .builtIn) throws(ConfigError) -> DeviceMap {
        try parse(try ConfigLoader.readText(path), source: path, kinds: kinds)
    }

    /// Parses map text (a `[map]` table); `source` names it in messages.
    package static func parse(_ text: String, source: String, kinds: KindRegistry = .builtIn) throws(ConfigError)
        -> DeviceMap {
        let root = try ConfigLoader.parseTOML(text, source: source)
        let reader = ConfigReader(file: source, lines: SourceLines(text))
        let top = TableReader(root, path: "", context: nil, reader: reader)
        guard let table = top.table("map") else {
            top.finish()
            reader.issue(path: nil, context: nil, key: "map", "is required: a map file is one [map] table")
            throw ConfigError(issues: reader.issues)
        }
        top.finish()
        let map = read(table, kinds: kinds)
        guard reader.issues.isEmpty, let map else {
            throw ConfigError(issues: reader.issues.isEmpty
                ? [ConfigIssue(file: source, message: "the map could not be read")] : reader.issues)
        }
        return map
    }

    /// Reads a `[map]` table (a map file's, or a station's inline `[station.map]`); nil when it has problems (they
    /// are in the table's reader).
    /// `defaultKind`: the kind of the station an inline `[station.map]` belongs to, which it need not repeat.
    package static func read(_ t: TableReader, kinds: KindRegistry = .builtIn, defaultKind: String? = nil) -> DeviceMap? {
        let before = t.reader.issues.count
        let kindName = t.string("kind", required: defaultKind == nil) ?? defaultKind
        let kind = kindName.flatMap(kinds.kind(named:))
        if let kindName, kind == nil {
            t.fail("kind", "unknown kind \"\(kindName)\" (kinds: \(kinds.names.joined(separator: ", ")))")
        }
        let name = t.string("name", required: true) ?? ""
        let numbering = t.string("numbering") ?? "zero-based"
        if !["zero-based", "one-based"].contains(numbering) {
            t.fail("numbering", "must be \"zero-based\" or \"one-based\", got \"\(numbering)\"")
        }
        var context = FieldContext(oneBased: numbering == "one-based", order: byteOrder(t, "word_order") ?? .abcd)
        var map = DeviceMap(kind: kind?.kind ?? DeviceKind("?", deviceType: 0), name: name,
                            wordOrder: context.order)
        map.unit = t.int("unit", default: 1, range: 1...247)
        context.mainUnit = map.unit
        map.maxReadRegisters = t.int("max_read_registers", default: 125, range: 1...125)
        map.maxWriteRegisters = t.int("max_write_registers", default: 123, range: 0...123)
        map.maxGap = t.int("max_gap", default: 8, range: 0...125)
        map.interRequestMs = t.int("inter_request_ms", default: 0, range: 0...10_000)
        map.evenAlignment = t.bool("even_alignment") ?? false
        map.readTwice = t.bool("read_twice") ?? false
        map.fc23 = t.bool("fc23") ?? false
        if map.fc23, map.maxWriteRegisters == 0 {
            t.fail("fc23", "needs FC 16 (FC 23 writes as FC 16 does), but max_write_registers = 0 says the device has "
                   + "none: give max_write_registers, or remove fc23")
        }
        if let line = t.table("line") {
            if line.isSet("baud") {
                let baud = line.int("baud", default: 9600, range: 1...1_000_000)
                if !SerialSettings.baudRates.contains(baud) {
                    line.fail("baud", "\(baud) is not a standard rate (\(SerialSettings.baudRates.map(String.init).joined(separator: ", ")))")
                }
                map.line.baud = baud
            }
            if let parity = line.string("parity") {
                map.line.parity = SerialSettings.Parity(rawValue: parity.uppercased())
                if map.line.parity == nil { line.fail("parity", "must be \"N\", \"E\" or \"O\", got \"\(parity)\"") }
            }
            if line.isSet("data_bits") { map.line.dataBits = line.int("data_bits", default: 8, range: 7...8) }
            if line.isSet("stop_bits") { map.line.stopBits = line.int("stop_bits", default: 1, range: 1...2) }
            line.finish()
        }
        if let identity = t.table("identity") {
            if let field = readField(identity, context: context, allowBit: false) {
                let equals = identity.double("equals", default: .nan, range: -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude)
                if !identity.has("equals") {
                    identity.fail("equals", "is required: the value the identity register must hold")
                } else if !fits(equals, field) {
                    identity.fail("equals", "\(TableReader.format(equals)) does not fit a \(field.type)")
                }
                map.identity = DeviceMap.Identity(field: field, equals: equals)
            }
            identity.finish()
        }
        for (i, b) in (t.arrayOfTables("locate") ?? []).enumerated() {
            b.context = "locate \(i + 1)"
            if let block = readBlock(b, context: context, maxRead: map.maxReadRegisters) {
                if map.blocks.contains(where: { $0.name == block.name }) {
                    b.fail("name", "\"\(block.name)\" is named twice")
                }
                map.blocks.append(block)
            }
            b.finish()
        }
        context.blocks = Dictionary(map.blocks.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var located: [Located] = []
        let channelNames = kind.map { k in k.describe().channels.map(\.name) } ?? []
        var ageOnly: [(name: String, reader: TableReader)] = []
        for (i, c) in (t.arrayOfTables("channel") ?? []).enumerated() {
            c.context = "channel \(i + 1)"
            if let channel = readChannel(c, context: context, known: channelNames, kind: kindName ?? "?") {
                if map.channels.contains(where: { $0.name == channel.name }) {
                    c.fail("name", "\"\(channel.name)\" is mapped twice")
                }
                if let f = channel.freshness, f.field == nil { ageOnly.append((channel.name, c)) }
                map.channels.append(channel)
                located.append(Located(what: "channel \(channel.name)", reader: c, field: channel.field))
            }
            c.finish()
        }
        let commandNames = kind.map(commands(of:)) ?? []
        for (i, c) in (t.arrayOfTables("command") ?? []).enumerated() {
            c.context = "command \(i + 1)"
            if let command = readCommand(c, context: context, known: commandNames, kind: kindName ?? "?") {
                if map.commands.contains(where: { $0.name == command.name }) {
                    c.fail("name", "\"\(command.name)\" is mapped twice")
                }
                map.commands.append(command)
                located.append(Located(what: "command \(command.name)", reader: c, field: command.field))
            }
            c.finish()
        }
        for (i, c) in (t.arrayOfTables("calibration") ?? []).enumerated() {
            c.context = "calibration \(i + 1)"
            if let registers = readCalibration(c, context: context, map: map) {
                if map.calibration(of: registers.channel) != nil {
                    c.fail("channel", "\(registers.channel) has calibration registers twice")
                }
                map.calibrations.append(registers)
                for (part, field) in [("slope", registers.slope), ("offset", registers.offset)] {
                    if let field {
                        located.append(Located(what: "calibration \(part) of \(registers.channel)", reader: c,
                                               field: field))
                    }
                }
            }
            c.finish()
        }
        if let identity = map.identity { located.append(Located(what: "identity", reader: t, field: identity.field)) }
        if let w = t.table("watchdog") {
            map.watchdog = readWatchdog(w, context: context)
            if let watchdog = map.watchdog {
                located += [Located(what: "watchdog timeout", reader: w, field: watchdog.timeout),
                            Located(what: "watchdog heartbeat", reader: w, field: watchdog.heartbeat)]
                if let reset = watchdog.reset { located.append(Located(what: "watchdog reset", reader: w, field: reset)) }
                if let t = watchdog.tripped {
                    let field = DeviceMap.Field(table: t.table, register: t.register, type: .bool,
                                                bit: t.table.holdsBits ? nil : t.bit, unit: t.unit)
                    located.append(Located(what: "watchdog trip bit", reader: w, field: field))
                }
            }
            w.finish()
        }
        if let w = t.table("wake") {
            map.wake = readWake(w)
            w.finish()
        }
        for (i, st) in (t.arrayOfTables("setup") ?? []).enumerated() {
            st.context = "setup \(i + 1)"
            if let setup = readSetup(st, context: context, map: map, located: located) { map.setup.append(setup) }
            st.finish()
        }
        for (i, e) in (t.arrayOfTables("expect") ?? []).enumerated() {
            e.context = "expect \(i + 1)"
            if let expectation = readExpectation(e, context: context, map: map) { map.expectations.append(expectation) }
            e.finish()
        }
        for (i, a) in (t.arrayOfTables("acquire") ?? []).enumerated() {
            a.context = "acquire \(i + 1)"
            if let acquisition = readAcquisition(a, number: i + 1, context: context, map: map, located: located) {
                for name in acquisition.channels where map.acquisition(of: name) != nil {
                    a.fail("channels", "\(name) is acquired by two sequences")
                }
                map.acquisitions.append(acquisition)
            }
            a.finish()
        }
        for (name, reader) in ageOnly where map.acquisition(of: name) == nil {
            reader.fail("fresh", "max_age_ms without a register applies to a channel an acquisition sequence acquires "
                        + "(its last acquisition may be that old); \(name) is read on every tick: give the register "
                        + "that must advance (a sample counter, an uptime)")
        }
        t.finish()
        checkLayout(located, maxRead: map.maxReadRegisters)
        return t.reader.issues.count == before ? map : nil
    }

    // MARK: Acquisition

    /// Longest wait, poll timeout or simulated measurement a sequence may name: 10 min.
    static let longestStepMs = 600_000.0

    /// `[[map.acquire]]`: `channels` (default: all), `simulate_ms`, and its `[[map.acquire.step]]`s, each one of
    /// `write`, `wait_ms`, `wait` or `poll`. A write may not touch a value the map reads (a channel, its quality, the
    /// identity, the watchdog's registers), and touches a command's registers only within limits the map gave it.
    static func readAcquisition(_ a: TableReader, number: Int, context: FieldContext, map: DeviceMap,
                                located: [Located]) -> DeviceMap.Acquisition? {
        var channels = map.channels.map(\.name)
        if a.isSet("channels"), let names = a.stringArray("channels") {
            if names.isEmpty { a.fail("channels", "must name at least one channel (leave it out for all)") }
            for name in names where map.channel(named: name) == nil {
                a.fail("channels", "\(name) is not a channel of this map (mapped: "
                       + map.channels.map(\.name).joined(separator: ", ") + ")")
            }
            channels = names
        }
        let simulateMs: Double? = a.isSet("simulate_ms")
            ? a.double("simulate_ms", default: 0, range: 0...longestStepMs) : nil
        // The unit its steps address unless one says otherwise (a probe at another unit of the line).
        var context = context
        context.unit = readUnit(a, context: context)
        var steps: [DeviceMap.Acquisition.Step] = []
        let tables = a.arrayOfTables("step") ?? []
        if tables.isEmpty { a.fail("step", "is required: at least one [[map.acquire.step]] (write, wait_ms, wait or poll)") }
        for (i, st) in tables.enumerated() {
            st.context = "acquire \(number) step \(i + 1)"
            if let step = readStep(st, context: context, map: map, located: located) { steps.append(step) }
            st.finish()
        }
        guard steps.count == tables.count, !steps.isEmpty else { return nil }
        return DeviceMap.Acquisition(channels: channels, steps: steps, simulateMs: simulateMs)
    }

    static func readStep(_ st: TableReader, context: FieldContext, map: DeviceMap,
                         located: [Located]) -> DeviceMap.Acquisition.Step? {
        let actions = ["write", "wait_ms", "wait", "poll"].filter(st.isSet)
        guard actions.count == 1, let action = actions.first else {
            st.fail(actions.first ?? "write", actions.isEmpty
                    ? "a step is one of write, wait_ms, wait or poll"
                    : "a step is one action, not \(actions.joined(separator: " and "))")
            for key in actions { st.markRead(key) }
            return nil
        }
        switch action {
        case "wait_ms":
            return .wait(ms: st.double("wait_ms", default: 0, range: 0...longestStepMs))
        case "wait":
            guard let w = st.table("wait") else { return nil }
            defer { w.finish() }
            let field = readField(w, context: context, allowBit: false, defaultType: .uint16)
            let maxMs = w.double("max_ms", default: 60_000, range: 1...longestStepMs)
            if let field, field.type == .string || field.table.holdsBits {
                w.fail("type", "the wait is a number in an input or holding register")
                return nil
            }
            return field.map { .waitFrom($0, maxMs: maxMs) }
        case "poll":
            guard let p = st.table("poll") else { return nil }
            defer { p.finish() }
            let field = readField(p, context: context, defaultType: p.isSet("bit") ? .bool : .uint16)
            let timeoutMs = p.double("timeout_ms", default: 5000, range: 1...longestStepMs)
            guard p.has("equals") else {
                p.fail("equals", "is required: the value that means ready")
                return nil
            }
            let equals = p.double("equals", default: 0, range: -1e300...1e300)
            guard let field else { return nil }
            if field.type == .string {
                p.fail("type", "a ready flag or status is a number or a bit")
                return nil
            }
            if !fits(equals, field) {
                p.fail("equals", "\(TableReader.format(equals)) does not fit a \(field.type)")
                return nil
            }
            return .poll(field, equals: equals, timeoutMs: timeoutMs)
        default:
            guard let w = st.table("write") else { return nil }
            defer { w.finish() }
            let field = readField(w, context: context, defaultType: w.isSet("bit") ? .bool : .uint16)
            guard let field else { return nil }
            if !field.table.isWritable {
                w.fail("table", "must be coil or holding (it is written), not \(field.table)")
                return nil
            }
            if field.type == .string {
                w.fail("type", "a step writes a number (a string is for identity registers)")
                return nil
            }
            if field.scale != 1 || field.offset != 0 {
                w.fail("scale", "a step writes its raw value: no scale or offset")
                return nil
            }
            guard let value = rawValue(w, "value", field: field) else { return nil }
            if let (key, message) = writeProblem(field, value: value, map: map, located: located) {
                w.fail(key, message)
                return nil
            }
            return .write(field, value: value)
        }
    }

    /// Why a sequence or set-up write of raw `value` (nil: several registers) to `field` may not be: it writes over a
    /// value the map reads, or a command without limits or outside them. Nil when it may.
    static func writeProblem(_ field: DeviceMap.Field, value: Double?, map: DeviceMap,
                             located: [Located]) -> (key: String, message: String)? {
        for (what, f) in statusFields(map) where f.location.overlaps(field.location) {
            return ("register", "writes over \(what) at \(f.name): only registers of its own or "
                    + "commands with limits may be written")
        }
        for l in located where l.field.place == nil && l.field.location.overlaps(field.location) {
            if let a = l.field.bit, let b = field.bit, a != b { continue }
            guard l.what.hasPrefix("command "), let command = map.command(named: String(l.what.dropFirst(8))) else {
                return ("register", "writes over \(l.what) at \(l.field.name): only registers of "
                        + "its own or commands with limits may be written")
            }
            if command.limits == fullRange(of: command.field) {
                return ("register", "writes command \(command.name), which has no limits in this map (give it min "
                        + "and max)")
            }
            guard let value, field.span == command.field.span,
                  command.limits.contains(value * command.field.scale + command.field.offset) else {
                return ("value", "\(value.map(TableReader.format) ?? "the registers") written to command "
                        + "\(command.name) is outside its limits \(TableReader.format(command.limits.lowerBound))…"
                        + "\(TableReader.format(command.limits.upperBound)) (or not its whole register)")
            }
        }
        return nil
    }

    // MARK: Setup and expectations

    /// `[[map.setup]]`: `write = { table, register, value | values, type }` (raw: a value through its type, or
    /// `values` as one register each) and `settle_ms`.
    static func readSetup(_ t: TableReader, context: FieldContext, map: DeviceMap,
                          located: [Located]) -> DeviceMap.Setup? {
        let settleMs = t.double("settle_ms", default: 0, range: 0...longestStepMs)
        guard let w = t.table("write") else {
            t.fail("write", "is required: { table, register, value } or { table, register, values = [...] }")
            return nil
        }
        defer { w.finish() }
        if w.isSet("values") {
            if w.isSet("value") || w.isSet("type") {
                w.fail("values", "is a list of raw registers: not with value or type")
                w.markRead("value")
                w.markRead("type")
            }
            let unit = readUnit(w, context: context)
            guard let table = readTable(w), let register = registerAddress(w, table: table, context: context) else {
                return nil
            }
            w.markRead("values")
            var words: [UInt16] = []
            for item in w.table["values"]?.array.map(Array.init) ?? [] {
                guard let n = item.int, (0...65_535).contains(n) else {
                    w.fail("values", "must be whole numbers 0…65535 (one register each)")
                    return nil
                }
                words.append(UInt16(n))
            }
            guard !words.isEmpty, words.count <= 123 else {
                w.fail("values", "must name 1…123 registers")
                return nil
            }
            guard table == .holding else {
                w.fail("table", "a list of registers is written to holding registers, not \(table)")
                return nil
            }
            let field = DeviceMap.Field(table: table, register: register, type: .uint16, length: words.count,
                                        unit: unit)
            if let (key, message) = writeProblem(field, value: words.count == 1 ? Double(words[0]) : nil, map: map,
                                                 located: located) {
                w.fail(key, message)
                return nil
            }
            return DeviceMap.Setup(field: field, words: words, settleMs: settleMs)
        }
        let field = readField(w, context: context, defaultType: w.isSet("bit") ? .bool : .uint16)
        guard let field else { return nil }
        if !field.table.isWritable || field.type == .string || field.scale != 1 || field.offset != 0 {
            w.fail("table", "a set-up write is a raw number to a holding register or a coil")
            return nil
        }
        guard let value = rawValue(w, "value", field: field), let words = field.encode(value) else { return nil }
        if field.type == .bool, field.bit != nil {
            w.fail("bit", "a set-up write writes whole registers")
            return nil
        }
        if let (key, message) = writeProblem(field, value: value, map: map, located: located) {
            w.fail(key, message)
            return nil
        }
        return DeviceMap.Setup(field: field, words: words, settleMs: settleMs)
    }

    /// `[[map.expect]]`: `table, register, type, length, equals` (a number, or a string for `type = "string"`),
    /// `channels` (default: none, the whole device) and `what`.
    static func readExpectation(_ t: TableReader, context: FieldContext, map: DeviceMap) -> DeviceMap.Expectation? {
        var context = context
        context.mayLocate = true
        let field = readField(t, context: context, allowBit: true, defaultType: .uint16)
        var channels: [String] = []
        if t.isSet("channels"), let names = t.stringArray("channels") {
            for name in names where map.channel(named: name) == nil {
                t.fail("channels", "\(name) is not a channel of this map")
            }
            channels = names
        }
        let what = t.string("what")
        guard t.has("equals") else {
            t.fail("equals", "is required: the value the device must hold")
            return nil
        }
        t.markRead("equals")
        let raw = t.table["equals"]
        guard let field else { return nil }
        var equals: DeviceMap.Expectation.Value
        if let text = raw?.string {
            guard field.type == .string else {
                t.fail("equals", "\"\(text)\" is a string: give type = \"string\" and its length")
                return nil
            }
            equals = .text(text)
        } else if let number = raw?.double ?? raw?.int.map(Double.init) {
            guard field.type != .string, fits(number, field) else {
                t.fail("equals", "\(TableReader.format(number)) does not fit a \(field.type)")
                return nil
            }
            equals = .number(number)
        } else {
            t.fail("equals", "must be a number or a string")
            return nil
        }
        if field.type == .string, case .text(let text) = equals, text.utf8.count > 2 * field.length {
            t.fail("equals", "\"\(text)\" is longer than \(field.length) registers hold")
        }
        return DeviceMap.Expectation(field: field, equals: equals, channels: channels, what: what)
    }

    /// The registers a channel's reading depends on besides its value: quality bits and fields, quality words,
    /// fallback values.
    static func statusFields(_ map: DeviceMap) -> [(what: String, field: DeviceMap.Field)] {
        map.channels.flatMap { c -> [(what: String, field: DeviceMap.Field)] in
            var out: [(what: String, field: DeviceMap.Field)] = []
            if let q = c.quality {
                out.append(("the quality of \(c.name)", DeviceMap.Field(table: q.table, register: q.register,
                                                                         type: q.table.holdsBits ? .bool : .uint16,
                                                                         unit: q.unit)))
            }
            if let w = c.qualityWord { out.append(("the quality word of \(c.name)", w)) }
            if let f = c.fallback { out.append(("the fallback value of \(c.name)", f)) }
            if let f = c.freshness?.field { out.append(("the freshness register of \(c.name)", f)) }
            return out
        }
    }

    /// A raw number, or a hex bit mask ("0x0007"), that `field` can hold.
    static func rawValue(_ t: TableReader, _ key: String, field: DeviceMap.Field) -> Double? {
        guard t.has(key) else {
            t.fail(key, "is required: the raw value to write (a number, or a bit mask such as \"0x0007\")")
            return nil
        }
        t.markRead(key)
        let v = t.table[key]
        var value: Double?
        if let text = v?.string {
            if let bits = bitPattern(text, field: field) { value = Double(bits) }
        } else {
            value = v?.double ?? v?.int.map(Double.init)
        }
        guard let value else {
            t.fail(key, "must be a number or a hex bit mask (\"0x0007\", at most \(4 * field.type.registerCount) digits)")
            return nil
        }
        if !fits(value, field) {
            t.fail(key, "\(TableReader.format(value)) does not fit a \(field.type)")
            return nil
        }
        return value
    }

    /// What a command's type can hold after scale and offset: its limits when the map gives none.
    static func fullRange(of f: DeviceMap.Field) -> ClosedRange<Double> {
        if f.type == .bool { return 0...1 }
        guard let range = f.type.integerRange else { return -1e12...1e12 }
        let ends = [range.lowerBound * f.scale + f.offset, range.upperBound * f.scale + f.offset]
        return ends.min()!...ends.max()!
    }

    /// The names a map may give commands of `kind`: the device's setpoints and coils, and the host relays the kind
    /// drives (as `aerator_1` or `aerator-1`).
    package static func commands(of kind: any StationKind.Type) -> [String] {
        kind.commandNames + kind.possibleRelays.map { $0.replacingOccurrences(of: "-", with: "_") }
    }

    /// Whether `name` is one of `known` (a relay may be written `aerator-1` or `aerator_1`).
    static func isCommand(_ name: String, of known: [String]) -> Bool {
        known.contains(name.replacingOccurrences(of: "-", with: "_"))
    }

    // MARK: Fields

    struct FieldContext {
        var oneBased: Bool
        var order: ByteOrder
        /// The map's `unit`: a field that names it is the station's own (nil), which an address may move.
        var mainUnit = 1
        /// The unit a field without `unit` is on (nil: the station's own): a channel's, for its quality registers.
        var unit: Int?
        /// The map's `[[map.locate]]` blocks, by name.
        var blocks: [String: DeviceMap.Block] = [:]
        /// Whether a value read here may be located (`locate`): a channel's or an expectation's.
        var mayLocate = false
        /// The block a located channel is in: its status registers, fallback and `fresh` are offsets there too.
        var place: DeviceMap.Place?
    }

    /// `[[map.locate]]`: `name`, `table` (holding), `unit`, `pointer = { register, type, one_based }` or `from`,
    /// `stride`, `count`, `id_offset`, `version = { register, type }`.
    static func readBlock(_ b: TableReader, context: FieldContext, maxRead: Int) -> DeviceMap.Block? {
        let name = b.string("name", required: true)
        if let name { b.context = "locate \"\(name)\"" }
        var context = context
        context.unit = readUnit(b, context: context)
        let tableName = b.string("table") ?? "holding"
        let table = DeviceMap.Table(rawValue: tableName)
        if table == nil || table?.holdsBits == true {
            b.fail("table", "must be input or holding (blocks of registers), got \"\(tableName)\"")
        }
        let stride = b.int("stride", default: 1, range: 1...125)
        if !b.isSet("stride") { b.fail("stride", "is required: the registers one parameter's block takes (8 on an In-Situ sonde)") }
        if stride > maxRead { b.fail("stride", "\(stride) registers do not fit one read (max_read_registers \(maxRead))") }
        let count = b.int("count", default: 1, range: 1...64)
        var idOffset: Int?
        if b.isSet("id_offset") { idOffset = b.int("id_offset", default: 0, range: 0...(stride - 1)) }
        if idOffset == nil, count > 1 {
            b.fail("count", "\(count) blocks need id_offset: where each block holds its parameter ID, to tell them apart")
        }
        func register(_ r: TableReader, what: String) -> DeviceMap.Field? {
            var inner = r.isSet("table") ? nil : table
            if inner == nil { inner = readTable(r) }
            guard let t = inner, let address = registerAddress(r, table: t, context: context) else { return nil }
            var type = RegisterType.uint16
            if let text = r.string("type") {
                guard let parsed = RegisterType(rawValue: text), parsed.integerRange != nil else {
                    r.fail("type", "\(what) is a whole number: uint16, int16, uint32 or int32, got \"\(text)\"")
                    return nil
                }
                type = parsed
            }
            if t.holdsBits { r.fail("table", "\(what) is a register (input or holding), not a bit") }
            return DeviceMap.Field(table: t, register: address, type: type, order: byteOrder(r, "word_order") ?? context.order,
                                   unit: context.unit)
        }
        var pointer: DeviceMap.Field?
        var oneBased = false
        var from: Int?
        if let p = b.table("pointer") {
            pointer = register(p, what: "a pointer")
            oneBased = p.bool("one_based") ?? false
            p.finish()
            if b.isSet("from") {
                b.fail("from", "is given with pointer: give one of them")
                b.markRead("from")
            }
        } else if b.isSet("from") {
            // The first block's first register, in the map's numbering.
            let n = b.int("from", default: 0, range: (context.oneBased ? 1 : 0)...(context.oneBased ? 65_536 : 65_535))
            from = context.oneBased ? n - 1 : n
        } else {
            b.fail("pointer", "is required (or from): the register that says where the blocks start, or where they start")
        }
        var version: DeviceMap.Field?
        if let v = b.table("version") {
            version = register(v, what: "a layout version")
            v.finish()
        }
        if let from, from + stride * count > 65_536 {
            b.fail("from", "\(count) block(s) of \(stride) registers from \(from) pass the last register (65535)")
        }
        guard let name, let table else { return nil }
        return DeviceMap.Block(name: name, table: table, unit: context.unit, pointer: pointer, pointerOneBased: oneBased,
                               from: from, stride: stride, count: count, idOffset: idOffset, version: version)
    }

    /// `locate = "NAME"` and `id = N` on a channel or expectation: the block its `register` is an offset in. Returns
    /// the context its field is read in (with `place` set).
    static func readPlace(_ t: TableReader, context: FieldContext) -> FieldContext {
        var context = context
        guard t.isSet("locate") else {
            if t.isSet("id"), context.place == nil {
                t.fail("id", "is the parameter ID of a located block: give locate too")
                t.markRead("id")
            }
            return context
        }
        guard context.mayLocate, context.place == nil else {
            t.fail("locate", context.place == nil ? "is for values read: channels and expectations"
                   : "follows the channel's: its status registers are in the same block")
            t.markRead("locate")
            return context
        }
        guard let name = t.string("locate") else { return context }
        guard let block = context.blocks[name] else {
            let known = context.blocks.keys.sorted().map { "\"\($0)\"" }.joined(separator: ", ")
            t.fail("locate", "no [[map.locate]] is named \"\(name)\"" + (known.isEmpty ? "" : " (blocks: \(known))"))
            return context
        }
        var id: Int?
        if block.idOffset != nil {
            id = t.int("id", default: 1, range: 1...65_535)
            if !t.isSet("id") { t.fail("id", "is required: the parameter ID of the block in \(name) that holds it") }
        } else if t.isSet("id") {
            t.fail("id", "block \(name) has no id_offset: its blocks carry no parameter ID")
            t.markRead("id")
        }
        context.place = DeviceMap.Place(block: name, id: id)
        return context
    }

    /// Where a value is: its unit, table and register (0-based); in a located block, the block's unit and table and the
    /// offset in it (`placedRegister`).
    static func readWhere(_ t: TableReader, context: FieldContext) -> (unit: Int?, table: DeviceMap.Table?, register: Int?) {
        guard let place = context.place else {
            let unit = readUnit(t, context: context)
            let table = readTable(t)
            return (unit, table, table.flatMap { registerAddress(t, table: $0, context: context) })
        }
        let placed = placedRegister(t, context: context)
        return (context.blocks[place.block]?.unit, placed?.table, placed?.offset)
    }

    /// Inside a located block: the value's table (the block's; `table` may repeat it), its offset (`register`, 0 to
    /// the stride − 1, whatever the map's numbering) and its unit (the block's).
    static func placedRegister(_ t: TableReader, context: FieldContext) -> (table: DeviceMap.Table, offset: Int)? {
        guard let place = context.place, let block = context.blocks[place.block] else { return nil }
        if let text = t.string("table"), text != block.table.rawValue {
            t.fail("table", "a value in block \(place.block) is in its table (\(block.table)), got \"\(text)\"")
        }
        if t.isSet("unit") {
            t.fail("unit", "a value in block \(place.block) is on its unit")
            t.markRead("unit")
        }
        guard t.has("register") else {
            t.fail("register", "is required: the offset in the block (0…\(block.stride - 1))")
            return nil
        }
        let offset = t.int("register", default: 0, range: 0...(block.stride - 1))
        if let written = t.table["register"]?.int, !(0..<block.stride).contains(written) { return nil }
        return (block.table, offset)
    }

    /// `unit = N`: the unit id a value is on, when it is not the map's (docs/maps.md, "Several unit ids"); nil for the
    /// map's own unit, which the station's address may move. Without the key, the context's.
    static func readUnit(_ t: TableReader, context: FieldContext) -> Int? {
        guard t.isSet("unit") else { return context.unit }
        let unit = t.int("unit", default: context.mainUnit, range: 1...247)
        // A unit out of range is reported; kept as written, the value it names overlaps nothing by mistake.
        if let written = t.table["unit"]?.int, !(1...247).contains(written) { return written }
        return unit == context.mainUnit ? nil : unit
    }

    static func byteOrder(_ t: TableReader, _ key: String) -> ByteOrder? {
        guard let text = t.string(key) else { return nil }
        guard let order = ByteOrder(rawValue: text.uppercased()) else {
            t.fail(key, "must be ABCD, CDAB, BADC or DCBA, got \"\(text)\"")
            return nil
        }
        return order
    }

    /// A register number as the manual writes it, 0-based: an integer in the map's numbering, a string of digits in
    /// the map's numbering, or a reference form ("40038", "400038": table digit, then the 1-based number).
    static func registerAddress(_ t: TableReader, table: DeviceMap.Table, context: FieldContext) -> Int? {
        guard t.has("register") else {
            t.fail("register", "is required")
            return nil
        }
        let raw = t.table["register"]
        t.markRead("register")
        var number: Int?
        var oneBased = context.oneBased
        if let i = raw?.int {
            number = i
        } else if let s = raw?.string, !s.isEmpty, s.allSatisfy(\.isASCIIDigit) {
            if s.count == 5 || s.count == 6, let digit = s.first, "0134".contains(digit) {
                let expected: Character = ["coil": "0", "discrete": "1", "input": "3", "holding": "4"][table.rawValue]!
                guard digit == expected else {
                    t.fail("register", "\"\(s)\" is a \(referenceTable(digit)) reference, but the table is \(table)")
                    return nil
                }
                number = Int(s.dropFirst())
                oneBased = true
            } else {
                number = Int(s)
            }
        } else {
            t.fail("register", "must be an integer or a string of digits (\"38\", \"40038\"), got \(raw.map { "\($0.type)" } ?? "nothing")")
            return nil
        }
        guard let n = number else { return nil }
        let address = oneBased ? n - 1 : n
        guard (0...65_535).contains(address) else {
            t.fail("register", oneBased ? "must be 1…65536 in one-based numbering, got \(n)" : "must be 0…65535, got \(n)")
            return nil
        }
        return address
    }

    private static func referenceTable(_ digit: Character) -> String {
        ["0": "coil", "1": "discrete input", "3": "input register", "4": "holding register"][digit] ?? "?"
    }

    static func readTable(_ t: TableReader) -> DeviceMap.Table? {
        guard let text = t.string("table", required: true) else { return nil }
        guard let table = DeviceMap.Table(rawValue: text) else {
            t.fail("table", "must be input, holding, coil or discrete, got \"\(text)\"")
            return nil
        }
        return table
    }

    /// table, register, type (with length, word_order, bit, scale, offset where they apply).
    static func readField(_ t: TableReader, context: FieldContext, allowBit: Bool = true,
                          defaultType: RegisterType? = nil) -> DeviceMap.Field? {
        let context = readPlace(t, context: context)
        if t.isSet("locate"), context.place == nil {
            // Refused already (an unknown block, or not a value read): its other keys say nothing more.
            for key in ["table", "register", "type", "id", "unit", "word_order", "scale", "offset", "bit", "length"] {
                t.markRead(key)
            }
            return nil
        }
        let (unit, table, register) = readWhere(t, context: context)
        var type = defaultType
        if let text = t.string("type", required: defaultType == nil) {
            type = RegisterType(rawValue: text)
            if type == nil {
                t.fail("type", "must be one of \(RegisterType.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(text)\"")
            }
        }
        let order = byteOrder(t, "word_order") ?? context.order
        let scale = t.double("scale", default: 1, range: -1e12...1e12)
        if scale == 0 { t.fail("scale", "must not be 0") }
        let offset = t.double("offset", default: 0, range: -1e12...1e12)
        var bit: Int?
        if t.isSet("bit") {
            if allowBit { bit = t.int("bit", default: 0, range: 0...15) } else { t.fail("bit", "is not allowed here") }
        }
        guard let table, let register, let type else { return nil }
        var length: Int?
        if type == .string {
            length = t.int("length", default: 1, range: 1...125)
            if !t.isSet("length") { t.fail("length", "is required for a string (registers it takes)") }
        }
        if table.holdsBits && type != .bool {
            t.fail("type", "must be bool in the \(table) table, got \(type)")
            return nil
        }
        if !table.holdsBits && type == .bool && bit == nil {
            t.fail("bit", "is required for a bool in the \(table) table (which bit of the register)")
            return nil
        }
        if bit != nil && type != .bool {
            t.fail("bit", "applies to type bool only, not \(type)")
            return nil
        }
        var field = DeviceMap.Field(table: table, register: register, type: type, length: length, order: order, bit: bit,
                                    scale: scale, offset: offset, unit: unit)
        if let place = context.place, let block = context.blocks[place.block] {
            field.place = place
            if register + field.length > block.stride {
                t.fail("register", "\(type) at offset \(register) passes the end of block \(place.block) "
                       + "(\(block.stride) registers)")
            }
        }
        return field
    }

    /// Whether `value` (in engineering units) can be written or matched through `field`.
    static func fits(_ value: Double, _ field: DeviceMap.Field) -> Bool {
        guard value.isFinite else { return false }
        let raw = (value - field.offset) / field.scale
        switch field.type {
        case .float32: return abs(raw) <= Double(Float.greatestFiniteMagnitude)
        case .float64: return true
        case .string: return false
        default:
            guard let range = field.type.integerRange else { return false }
            return range.contains(raw.rounded())
        }
    }

    static func readChannel(_ t: TableReader, context: FieldContext, known: [String],
                            kind: String) -> DeviceMap.Channel? {
        let name = t.string("name", required: true)
        if let name {
            t.context = "channel \"\(name)\""
            if !known.isEmpty, !known.contains(name) {
                t.fail("name", "\"\(name)\" is not a channel of \(kind) (channels: \(known.joined(separator: ", ")))")
            }
        }
        var locating = context
        locating.mayLocate = true
        let field = readField(t, context: locating)
        if field?.type == .string { t.fail("type", "a channel is a number; string is for identity registers") }
        // Its quality registers and fallback value are on its unit unless they say otherwise; in its block when it is
        // located.
        var context = context
        context.unit = field?.unit ?? context.unit
        context.place = field?.place
        var nanIf: [Double] = []
        var nanIfBits: [UInt64] = []
        if t.isSet("nan_if") {
            let v = t.table["nan_if"]
            t.markRead("nan_if")
            let expected = "a raw number, a bit pattern such as \"0xFFFFFFFF\", or an array of them (raw values "
                + "meaning \"no reading\")"
            for element in v?.array.map(Array.init) ?? (v.map { [$0] } ?? []) {
                if let d = element.double ?? element.int.map(Double.init) {
                    nanIf.append(d)
                } else if let text = element.string {
                    guard let bits = bitPattern(text, field: field) else {
                        t.fail("nan_if", "\"\(text)\" is not a bit pattern of a \(field?.type.rawValue ?? "value"): "
                               + "0x and at most \(4 * (field?.type.registerCount ?? 1)) hex digits")
                        break
                    }
                    nanIfBits.append(bits)
                } else {
                    t.fail("nan_if", "must be \(expected)")
                    break
                }
            }
        }
        let quality = t.table("quality").flatMap { readQuality($0, context: context) }
        var qualityWord: DeviceMap.Field?
        if let q = t.table("quality_word") {
            qualityWord = readField(q, context: context, allowBit: false, defaultType: .uint16)
            if let w = qualityWord, w.type != .uint16 || w.table.holdsBits {
                q.fail("type", "a quality word is a uint16 input or holding register")
            }
            q.finish()
        }
        var fallback: DeviceMap.Field?
        if let f = t.table("fallback") {
            fallback = readField(f, context: context, allowBit: false, defaultType: field?.type)
            if let fb = fallback, let field, fb.type != field.type || fb.table.holdsBits != field.table.holdsBits {
                f.fail("type", "the fallback register holds a value of the channel's type (\(field.type)), got \(fb.type)")
            }
            if let fb = fallback, fb.scale != 1 || fb.offset != 0 {
                f.fail("scale", "a fallback register is compared raw: no scale or offset")
            }
            f.finish()
        }
        var freshness: DeviceMap.Freshness?
        if let f = t.table("fresh") {
            freshness = readFreshness(f, context: context)
            f.finish()
        }
        guard let name, let field else { return nil }
        return DeviceMap.Channel(name: name, field: field, nanIf: nanIf, nanIfBits: nanIfBits, quality: quality,
                                 qualityWord: qualityWord, fallback: fallback, freshness: freshness)
    }

    /// `fresh = { table, register, type, max_age_ms }` (a counter, uptime or timestamp that must change at least
    /// every `max_age_ms`) or `fresh = { max_age_ms }` (the oldest acquisition that may be served).
    static func readFreshness(_ f: TableReader, context: FieldContext) -> DeviceMap.Freshness? {
        let maxAge = f.has("max_age_ms") ? f.double("max_age_ms", default: 1000, range: 100...86_400_000) : nil
        if maxAge == nil { f.fail("max_age_ms", "is required: how long the reading may stand still before it is not used") }
        guard f.isSet("table") || f.isSet("register") else {
            for key in ["type", "unit", "word_order", "scale", "offset", "bit"] where f.isSet(key) {
                f.fail(key, "belongs to a register: give its table and register too")
                f.markRead(key)
            }
            return maxAge.map { DeviceMap.Freshness(field: nil, maxAgeMs: $0) }
        }
        guard let field = readField(f, context: context, allowBit: false, defaultType: .uint16) else { return nil }
        if field.table.holdsBits || field.type == .string {
            f.fail("type", "a counter, uptime or timestamp is a number in an input or holding register")
            return nil
        }
        return maxAge.map { DeviceMap.Freshness(field: field, maxAgeMs: $0) }
    }

    /// `[map.wake]`: `first_timeout_ms`, `retries`, `settle_ms`, `sleeps_after_ms`.
    static func readWake(_ w: TableReader) -> DeviceMap.Wake {
        var wake = DeviceMap.Wake()
        if w.isSet("first_timeout_ms") { wake.firstTimeoutMs = w.double("first_timeout_ms", default: 1000, range: 1...60_000) }
        wake.retries = w.int("retries", default: 0, range: 0...10)
        wake.settleMs = w.double("settle_ms", default: 0, range: 0...longestStepMs)
        if w.isSet("sleeps_after_ms") {
            wake.sleepsAfterMs = w.double("sleeps_after_ms", default: 60_000, range: 100...86_400_000)
        }
        return wake
    }

    /// `"0x7FC00000"`: a bit pattern that fits `field`'s registers.
    static func bitPattern(_ text: String, field: DeviceMap.Field?) -> UInt64? {
        guard text.lowercased().hasPrefix("0x"), let field, !field.table.holdsBits, field.type != .string else {
            return nil
        }
        let digits = text.dropFirst(2)
        guard !digits.isEmpty, digits.count <= 4 * field.type.registerCount, let bits = UInt64(digits, radix: 16) else {
            return nil
        }
        return bits
    }

    /// `quality = { table, register, bit, bad_when }` (one status bit) or `{ table, register, shift, width, good,
    /// not_available }` (a status field: bits of a register, or a whole register as an enumeration).
    static func readQuality(_ q: TableReader, context: FieldContext) -> DeviceMap.QualityBit? {
        let (unit, table, register) = readWhere(q, context: context)
        func placing(_ bit: DeviceMap.QualityBit) -> DeviceMap.QualityBit {
            var bit = bit
            bit.place = context.place
            return bit
        }
        let isField = q.isSet("good") || q.isSet("shift") || q.isSet("width") || q.isSet("not_available")
        guard isField else {
            let bit = q.int("bit", default: 0, range: 0...15)
            let badWhen = q.int("bad_when", default: 1, range: 0...1)
            q.finish()
            guard let table, let register else { return nil }
            return placing(.init(table: table, register: register, bit: bit, badWhen: badWhen == 1, unit: unit))
        }
        for key in ["bit", "bad_when"] where q.isSet(key) {
            q.fail(key, "is for one status bit; a status field has shift, width, good and not_available")
            q.markRead(key)
        }
        if table?.holdsBits == true {
            q.fail("table", "a status field is in an input or holding register (a coil or discrete input is one bit: "
                   + "use bit and bad_when)")
        }
        let shift = q.int("shift", default: 0, range: 0...15)
        let width = q.int("width", default: 16 - shift, range: 1...16)
        if shift + width > 16 { q.fail("width", "shift \(shift) + width \(width) passes the register's 16 bits") }
        let limit = width >= 16 ? 65535 : (1 << width) - 1
        func values(_ key: String, required: Bool) -> [Int] {
            guard q.isSet(key) else {
                if required { q.fail(key, "is required: the field's values that mean good, e.g. good = [0]") }
                return []
            }
            q.markRead(key)
            let v = q.table[key]
            let items = v?.array.map(Array.init) ?? (v.map { [$0] } ?? [])
            if required && items.isEmpty {
                q.fail(key, "must name at least one value (what the device reports for a good reading)")
            }
            var out: [Int] = []
            for item in items {
                guard let n = item.int, (0...limit).contains(n) else {
                    q.fail(key, "must be whole numbers 0…\(limit) (what \(width) bit(s) hold)")
                    return out
                }
                out.append(n)
            }
            return out
        }
        let good = values("good", required: true)
        let notAvailable = values("not_available", required: false)
        if let both = good.first(where: notAvailable.contains) {
            q.fail("not_available", "\(both) is also in good")
        }
        if limit < 65535, Set(good + notAvailable).count > limit {
            q.fail("good", "every value of the field is good or not available: it can never say a sensor failed")
        }
        q.finish()
        guard let table, let register else { return nil }
        return placing(.init(table: table, register: register, shift: shift, width: width, good: good,
                             notAvailable: notAvailable, unit: unit))
    }

    static func readCommand(_ t: TableReader, context: FieldContext, known: [String],
                            kind: String) -> DeviceMap.Command? {
        let name = t.string("name", required: true)
        if let name {
            t.context = "command \"\(name)\""
            if !isCommand(name, of: known) {
                let list = known.isEmpty ? "it has none" : "commands: " + known.joined(separator: ", ")
                t.fail("name", "\"\(name)\" is not a command or relay of \(kind) (\(list))")
            }
        }
        let field = readField(t, context: context)
        if let field, !field.table.isWritable {
            t.fail("table", "must be coil or holding for a command (it is written), not \(field.table)")
        }
        if field?.type == .string { t.fail("type", "a command is a number, not a string") }
        let full = field.map(fullRange(of:)) ?? (0...1)
        let min = t.double("min", default: full.lowerBound, range: -1e300...1e300)
        let max = t.double("max", default: full.upperBound, range: -1e300...1e300)
        guard let name, let field else { return nil }
        guard min <= max else {
            t.fail("max", "must not be below min (\(TableReader.format(min)))")
            return nil
        }
        for (key, limit) in [("min", min), ("max", max)] where !fits(limit, field) {
            var how = ""
            if field.scale != 1 { how += " with scale \(TableReader.format(field.scale))" }
            if field.offset != 0 { how += (how.isEmpty ? " with" : " and") + " offset \(TableReader.format(field.offset))" }
            t.fail(key, "\(TableReader.format(limit)) cannot be written as \(field.type)\(how) (raw "
                   + "\(TableReader.format((limit - field.offset) / field.scale)))")
        }
        return DeviceMap.Command(name: name, field: field, limits: min...max)
    }

    /// `[[map.calibration]]`: `channel` (a channel of this map), and `slope` and/or `offset`, each a holding register
    /// of a number type (default float32) where the device keeps that part of its own calibration of the channel.
    static func readCalibration(_ c: TableReader, context: FieldContext,
                                map: DeviceMap) -> DeviceMap.CalibrationRegisters? {
        let channel = c.string("channel", required: true)
        if let channel, map.channel(named: channel) == nil {
            let names = map.channels.map(\.name).joined(separator: ", ")
            c.fail("channel", "\"\(channel)\" is not a channel of this map (its channels: \(names))")
        }
        var parts: [String: DeviceMap.Field] = [:]
        for key in ["slope", "offset"] {
            guard let p = c.table(key) else { continue }
            if let field = readField(p, context: context, allowBit: false, defaultType: .float32) {
                if field.table != .holding {
                    c.fail(key, "must be a holding register (rigd writes it), not \(field.table)")
                } else if field.type == .string {
                    c.fail(key, "must be a number type, not string")
                } else if field.place != nil {
                    c.fail(key, "cannot be in a block found at start-up (locate): give its register")
                } else {
                    parts[key] = field
                }
            }
            p.finish()
        }
        if !c.isSet("slope") && !c.isSet("offset") {
            c.fail("slope", "or offset is required: where the device keeps its calibration of the channel "
                   + "({ table = \"holding\", register, type })")
        }
        guard let channel, map.channel(named: channel) != nil, !parts.isEmpty else { return nil }
        return DeviceMap.CalibrationRegisters(channel: channel, slope: parts["slope"], offset: parts["offset"])
    }

    static func readWatchdog(_ w: TableReader, context: FieldContext) -> DeviceMap.Watchdog? {
        var timeout: DeviceMap.Field?
        var timeoutMs = 0.0
        if let t = w.table("timeout") {
            timeout = readField(t, context: context, allowBit: false, defaultType: .uint16)
            timeoutMs = t.double("value_ms", default: 2000, range: 1...3_600_000)
            t.finish()
        } else {
            w.fail("timeout", "is required: { table, register, type, value_ms }")
        }
        var heartbeat: DeviceMap.Field?
        if let h = w.table("heartbeat") {
            heartbeat = readField(h, context: context, allowBit: false, defaultType: .uint16)
            h.finish()
        } else {
            w.fail("heartbeat", "is required: { table, register }")
        }
        var reset: DeviceMap.Field?
        var resetValue: Double?
        if let r = w.table("reset") {
            reset = readField(r, context: context, allowBit: false, defaultType: .uint16)
            resetValue = r.double("value", default: 0, range: 0...65_535)
            r.finish()
        }
        var tripped: DeviceMap.QualityBit?
        if let t = w.table("tripped") {
            let unit = readUnit(t, context: context)
            let table = readTable(t)
            let register = table.flatMap { registerAddress(t, table: $0, context: context) }
            let bit = t.int("bit", default: 0, range: 0...15)
            let when = t.int("when", default: 1, range: 0...1)
            if let table, let register {
                tripped = .init(table: table, register: register, bit: bit, badWhen: when == 1, unit: unit)
            }
            t.finish()
        }
        for (key, field) in [("timeout", timeout), ("heartbeat", heartbeat), ("reset", reset)] {
            if let field, field.table != .holding { w.fail(key, "must be a holding register, not \(field.table)") }
        }
        guard let timeout, let heartbeat else { return nil }
        if !fits(timeoutMs, timeout) { w.fail("timeout", "value_ms \(TableReader.format(timeoutMs)) does not fit a \(timeout.type)") }
        return DeviceMap.Watchdog(timeout: timeout, timeoutMs: timeoutMs, heartbeat: heartbeat, reset: reset,
                                  resetValue: resetValue, tripped: tripped)
    }

    // MARK: Layout

    /// A mapped value with the table it was read from, for messages with its line.
    struct Located {
        var what: String
        var reader: TableReader
        var field: DeviceMap.Field
    }

    /// Registers no two values may share (bits of one register may), and values one read can hold.
    static func checkLayout(_ located: [Located], maxRead: Int) {
        for l in located where !l.field.table.holdsBits && l.field.length > maxRead {
            l.reader.fail("type", "\(l.field.type) takes \(l.field.length) registers, more than "
                          + "max_read_registers (\(maxRead)) allows in one read")
        }
        for (i, a) in located.enumerated() {
            // A located value's register is an offset in its block: it can overlap only another of the same block.
            for b in located[(i + 1)...] where a.field.place == b.field.place && a.field.location.overlaps(b.field.location) {
                // Bits of one register may be shared out; a bit may not share a register with a whole value.
                if let bitA = a.field.bit, let bitB = b.field.bit, a.field.register == b.field.register, bitA != bitB {
                    continue
                }
                let span = a.field.span.count == 1 ? "\(a.field.register)"
                    : "\(a.field.span.lowerBound)–\(a.field.span.upperBound - 1)"
                b.reader.fail("register", "overlaps \(a.what) at \(a.field.unit.map { "unit \($0) " } ?? "")"
                              + "\(a.field.table) \(span)")
            }
        }
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
