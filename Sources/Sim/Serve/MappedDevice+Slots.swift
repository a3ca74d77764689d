import Devices

extension MappedDevice {
    /// One value the map names, with what it stands for on the contract side.
    struct Slot: Sendable {
        enum Role: Sendable {
            case channel(DeviceMap.Channel)
            case qualityBit(DeviceMap.Channel, DeviceMap.QualityBit)
            case qualityWord(DeviceMap.Channel)
            /// The value the device serves instead of a reading it does not have (`fallback`).
            case fallback
            case command(DeviceMap.Command, Target)
            case identity(Double)
            case watchdogTimeout
            case heartbeat
            case reset(value: Double?)
            /// The watchdog's trip bit: the inner device's status bit 18 (host watchdog tripped).
            case tripped(DeviceMap.QualityBit)
            /// A register an acquisition sequence writes (`trigger`: its last write, which starts a measurement).
            case acquireWrite(sequence: Int, value: Double, trigger: Bool)
            /// The register that holds how long a measurement takes (ms, through the field's scale).
            case acquireWait(sequence: Int)
            /// A ready flag or status an acquisition sequence polls: `equals` once the measurement is done.
            case acquirePoll(sequence: Int, equals: Double)
            /// Registers a start-up write sets (`[[map.setup]]`): held as written, read back.
            case setupWrite(index: Int)
            /// A value the host checks (`[[map.expect]]`): what the map expects, unless "units changed" is injected.
            case expectation(index: Int)
            /// A `fresh` register (a sample counter) of `channels`: it advances, unless one of them is stale.
            case freshCounter(channels: [String])
            /// A register that holds a fixed value: a block pointer, a parameter ID (`[[map.locate]]`).
            case constant(Double)
            /// A `[[map.locate]]` layout-version register: 1, or 2 once the layout moved.
            case layoutVersion
            /// A channel's calibration register (`[[map.calibration]]`): its slope (`slope`) or offset, held as
            /// written (1 and 0 from power-up) and applied to the value the channel serves.
            case calibration(channel: String, slope: Bool)
        }

        /// Where a command's value lives.
        enum Target: Sendable, Equatable {
            /// A float32 setpoint of the contract (HR `address`, ABCD).
            case setpoint(address: Int)
            /// A contract coil.
            case coil(index: Int)
            /// A host relay: the instrument only holds what was written (reads it back).
            case local
        }

        var role: Role
        var field: DeviceMap.Field

        /// Commands and the watchdog's registers are written; channels, their quality and the identity are not.
        var isWritable: Bool {
            switch role {
            case .command, .watchdogTimeout, .heartbeat, .reset, .acquireWrite, .setupWrite, .calibration:
                field.table.isWritable
            case .channel, .qualityBit, .qualityWord, .fallback, .identity, .tripped, .acquireWait, .acquirePoll,
                 .expectation, .freshCounter, .constant, .layoutVersion: false
            }
        }
    }

    // MARK: Values found at start-up

    /// The parameter IDs the map's located values name in `block`, in the order they first appear.
    static func ids(in block: DeviceMap.Block, of map: DeviceMap) -> [Int] {
        var fields = map.channels.map(\.field) + map.expectations.map(\.field)
        fields += map.channels.flatMap { [$0.qualityWord, $0.fallback, $0.freshness?.field].compactMap { $0 } }
        var out: [Int] = []
        for f in fields where f.place?.block == block.name {
            if let id = f.place?.id, !out.contains(id) { out.append(id) }
        }
        return out
    }

    /// Where this instrument keeps its located blocks: each block with a pointer in a region of its own above every
    /// register the map names in its table (from the next multiple of 100), a block with `from` there; identified
    /// blocks in the order the map names their IDs. `moved` (the `layout_changed` fault): the pointers point one block
    /// further on, identified blocks come in reverse order.
    static func servedLayout(of map: DeviceMap, moved: Bool) -> DeviceMap.Layout {
        var highest: [Space: Int] = [:]
        var fields = map.channels.flatMap { [$0.field, $0.qualityWord, $0.fallback].compactMap { $0 } }
        fields += map.commands.map(\.field) + map.setup.map(\.field) + map.expectations.map(\.field)
        fields += map.blocks.flatMap { [$0.pointer, $0.version].compactMap { $0 } }
        fields += [map.identity?.field, map.watchdog?.timeout, map.watchdog?.heartbeat].compactMap { $0 }
        fields += map.calibrations.flatMap { [$0.slope, $0.offset].compactMap { $0 } }
        for f in fields where f.place == nil {
            let space = Space(unit: f.unit, table: f.table)
            highest[space] = max(highest[space] ?? -1, f.span.upperBound - 1)
        }
        for b in map.blocks {
            if let from = b.from {
                let space = Space(unit: b.unit, table: b.table)
                highest[space] = max(highest[space] ?? -1, from + b.stride * b.count - 1)
            }
        }
        var layout = DeviceMap.Layout()
        for b in map.blocks {
            let space = Space(unit: b.unit, table: b.table)
            var first: Int
            if let from = b.from {
                first = from
            } else {
                first = ((highest[space] ?? -1) / 100 + 1) * 100
                // Room for every block, and one more for the move.
                highest[space] = first + b.stride * (b.count + 1) - 1
                if moved { first += b.stride }
            }
            var ids = ids(in: b, of: map)
            if moved { ids.reverse() }
            var bases: [Int?: Int] = [:]
            if b.idOffset == nil {
                bases[nil] = first
            } else {
                for (k, id) in ids.enumerated() where k < b.count { bases[id] = first + k * b.stride }
            }
            layout.bases[b.name] = bases
            layout.versions[b.name] = moved ? 2 : 1
        }
        return layout
    }

    /// The registers that tell the host where the blocks are: each pointer (the region's first register, plus one when
    /// the map reads it one-based), each block's parameter ID (0 in a block that holds no parameter the map names),
    /// each layout-version register.
    static func locateSlots(of map: DeviceMap, _ layout: DeviceMap.Layout) -> [Slot] {
        var out: [Slot] = []
        for b in map.blocks {
            let bases = layout.bases[b.name] ?? [:]
            let first = bases.values.min() ?? b.from ?? 0
            if let pointer = b.pointer {
                out.append(Slot(role: .constant(Double(first + (b.pointerOneBased ? 1 : 0))), field: pointer))
            }
            if let version = b.version { out.append(Slot(role: .layoutVersion, field: version)) }
            guard let idOffset = b.idOffset else { continue }
            for k in 0..<b.count {
                let start = first + k * b.stride
                let id = bases.first { $0.value == start }?.key ?? nil
                out.append(Slot(role: .constant(Double(id ?? 0)),
                                field: DeviceMap.Field(table: b.table, register: start + idOffset, type: .uint16,
                                                       unit: b.unit)))
            }
        }
        return out
    }

    /// Every value `map` names, channel values, quality bits and words, commands, identity and watchdog.
    static func slots(of map: DeviceMap, layout: ContractLayout) -> [Slot] {
        var out: [Slot] = []
        for channel in map.channels {
            out.append(Slot(role: .channel(channel), field: channel.field))
            if let q = channel.quality {
                // A quality bit reads as a bool: a bit of a register, or a whole coil or discrete input; a status
                // field as the register, its value shifted into place (fields of one register are OR-ed together).
                let field = q.good != nil ? DeviceMap.Field(table: q.table, register: q.register, type: .uint16,
                                                            unit: q.unit)
                    : DeviceMap.Field(table: q.table, register: q.register, type: .bool,
                                      bit: q.table.holdsBits ? nil : q.bit, unit: q.unit)
                out.append(Slot(role: .qualityBit(channel, q), field: field))
            }
            if let word = channel.qualityWord { out.append(Slot(role: .qualityWord(channel), field: word)) }
            if let fallback = channel.fallback { out.append(Slot(role: .fallback, field: fallback)) }
        }
        // One counter per `fresh` register, however many channels it vouches for.
        var counters: [(field: DeviceMap.Field, channels: [String])] = []
        for channel in map.channels {
            guard let f = channel.freshness?.field else { continue }
            if let i = counters.firstIndex(where: { $0.field.location == f.location }) {
                counters[i].channels.append(channel.name)
            } else {
                counters.append((f, [channel.name]))
            }
        }
        for c in counters { out.append(Slot(role: .freshCounter(channels: c.channels), field: c.field)) }
        for command in map.commands {
            out.append(Slot(role: .command(command, target(of: command.name, in: layout)), field: command.field))
        }
        if let identity = map.identity { out.append(Slot(role: .identity(identity.equals), field: identity.field)) }
        if let watchdog = map.watchdog {
            out.append(Slot(role: .watchdogTimeout, field: watchdog.timeout))
            out.append(Slot(role: .heartbeat, field: watchdog.heartbeat))
            if let reset = watchdog.reset { out.append(Slot(role: .reset(value: watchdog.resetValue), field: reset)) }
            if let t = watchdog.tripped {
                let field = DeviceMap.Field(table: t.table, register: t.register, type: .bool,
                                            bit: t.table.holdsBits ? nil : t.bit, unit: t.unit)
                out.append(Slot(role: .tripped(t), field: field))
            }
        }
        for registers in map.calibrations {
            if let f = registers.slope { out.append(Slot(role: .calibration(channel: registers.channel, slope: true), field: f)) }
            if let f = registers.offset {
                out.append(Slot(role: .calibration(channel: registers.channel, slope: false), field: f))
            }
        }
        for (i, setup) in map.setup.enumerated() {
            // A register several set-up writes set (an unlock sequence) is one slot, the last write's.
            out.removeAll {
                if case .setupWrite = $0.role { $0.field.location.overlaps(setup.field.location) } else { false }
            }
            out.append(Slot(role: .setupWrite(index: i), field: setup.field))
        }
        for (i, e) in map.expectations.enumerated() where !e.isLayoutCheck {  // IDs: served by `locateSlots`
            // An expectation on a register the setup writes checks that it reads back as written: the register is
            // the setup's.
            guard !map.setup.contains(where: { $0.field.location.overlaps(e.field.location) })
            else { continue }
            out.append(Slot(role: .expectation(index: i), field: e.field))
        }
        for (i, acquisition) in map.acquisitions.enumerated() {
            let trigger = acquisition.trigger
            for step in acquisition.steps {
                switch step {
                case .write(let field, let value):
                    // Writes of one register are one slot (the last sequence that writes it wins the trigger).
                    let isTrigger = trigger.map { $0.field == field && $0.value == value } ?? false
                    out.removeAll { if case .acquireWrite = $0.role { $0.field == field } else { false } }
                    out.append(Slot(role: .acquireWrite(sequence: i, value: value, trigger: isTrigger), field: field))
                case .waitFrom(let field, _):
                    out.append(Slot(role: .acquireWait(sequence: i), field: field))
                case .poll(let field, let equals, _):
                    out.append(Slot(role: .acquirePoll(sequence: i, equals: equals), field: field))
                case .wait:
                    break
                }
            }
        }
        return out
    }

    /// A command named after a contract setpoint or coil mirrors it; any other name (a host relay, `aerator_1` or
    /// `aerator-1`) is held by the instrument alone.
    static func target(of name: String, in layout: ContractLayout) -> Slot.Target {
        let snake = name.replacingOccurrences(of: "-", with: "_")
        if let setpoint = layout.setpoints.first(where: { $0.name == snake }) {
            return .setpoint(address: setpoint.address)
        }
        if let index = layout.coils.firstIndex(of: snake) { return .coil(index: index) }
        return .local
    }

    /// The registers (or, in a bit table, one 0/1 word) a channel's value field serves for `reading`, and whether
    /// the reading is bad: a fault, or a value the field's type cannot hold. A bad reading serves the channel's
    /// first `nan_if` raw value, else NaN in a float type, else 0.
    static func served(_ channel: DeviceMap.Channel, _ reading: ChannelReading) -> (words: [UInt16], bad: Bool) {
        let field = channel.field
        // A float32 encodes any double, as infinity when it is too large: that does not fit either.
        if let value = reading.value, let words = field.encode(value), field.rawNumber(words)?.isFinite ?? false {
            return (words, false)
        }
        if channel.fallback != nil, let words = fallbackWords(field) { return (words, true) }
        if field.type != .bool, let raw = channel.nanIf.first,
           let words = RegisterCodec.encode(raw, as: field.type, order: field.order) {
            return (words, true)
        }
        if field.type != .bool, let bits = channel.nanIfBits.first {
            return (RegisterCodec.registers(bigEndianBits: bits, count: field.type.registerCount, order: field.order),
                    true)
        }
        if field.type.isFloat, let words = RegisterCodec.encode(.nan, as: field.type, order: field.order) {
            return (words, true)
        }
        return (Array(repeating: 0, count: field.length), true)
    }
}

extension MappedDevice {
    /// What the simulated instrument keeps in a `fallback` register, and serves instead of a reading it does not have:
    /// −9999 where the type holds it (the usual "no data" of loggers), else the type's largest value.
    static func fallbackValue(_ type: RegisterType) -> Double {
        if let range = type.integerRange, !range.contains(-9999) { return range.upperBound }
        return -9999
    }

    /// `fallbackValue` in `field`'s registers.
    static func fallbackWords(_ field: DeviceMap.Field) -> [UInt16]? {
        RegisterCodec.encode(fallbackValue(field.type), as: field.type, order: field.order)
    }
}

extension RegisterType {
    /// float32 or float64.
    var isFloat: Bool { self == .float32 || self == .float64 }
}
