/// The contract's registers as a station last read them, so that each loop reads from the device only what it needs
/// (docs/maps.md, "Read plans"). `refresh` reads a set of spans now, in one plan; a contract read that the refreshed
/// spans cover is then answered from memory, and any other read goes to the device (and is not kept: the sample ring,
/// or a part of the snapshot no loop refreshes, is always read fresh). Writes go to the device, and the outputs they
/// set are kept as written until the next refresh reads them back.
///
/// The plan of a set of spans is made once: by the device's own planner when it has one (`ContractPlanning`: a mapped
/// device merges them in its own registers), else merged in the contract under `maxRead` and `maxGap`.
///
/// - Important: Confined to its station's thread, as every `ModbusClient`.
public final class SnapshotCache: ModbusClient {
    public let base: any ModbusClient
    private let maxRead: Int
    private let maxGap: Int
    private var plans: [[ContractSpan]: ReadPlan] = [:]
    /// Per table (`DeviceMap.Table.allCases` order): the words, and whether each was refreshed since the last connect.
    private var words: [[UInt16]] = Array(repeating: [], count: DeviceMap.Table.allCases.count)
    private var valid: [[Bool]] = Array(repeating: [], count: DeviceMap.Table.allCases.count)

    public init(base: any ModbusClient, maxRead: Int = 125, maxGap: Int = 8) {
        self.base = base
        self.maxRead = maxRead
        self.maxGap = maxGap
    }

    /// The device serves its discrete inputs as a word at IR 99 too (contract 1.01, `CommonRegisters.switchWord`): a
    /// refresh of discrete inputs 0…15 then reads that word instead, in the same request as the channel blocks above
    /// it. Set when the station connects, from the profile version in the header; only for a contract device (a mapped
    /// one plans in its own registers).
    public var switchWord = false {
        didSet { if switchWord != oldValue { plans = [:] } }
    }

    /// Whether discrete inputs 0…15 are read as the switch word (`switchWord`, on a contract device).
    public var readsSwitchWord: Bool { switchWord && !(base is ContractPlanning) }

    /// Keeps `word`, a switch word read elsewhere (the one below a sample ring), as the discrete inputs of `span`.
    public func keepSwitches(_ word: UInt16, as span: ContractSpan) {
        precondition(span.table == .discrete && span.span.lowerBound >= 0 && span.span.upperBound <= 16)
        keep(span, span.span.map { (word >> UInt16($0)) & 1 })
    }

    /// `spans` as a contract device is asked for them: the discrete inputs as the switch word, when it has one.
    private func asked(_ spans: [ContractSpan]) -> [ContractSpan] {
        guard readsSwitchWord else { return spans }
        return spans.map { s in
            guard s.table == .discrete, s.span.lowerBound >= 0, s.span.upperBound <= 16 else { return s }
            return ContractSpan(.input, CommonRegisters.switchWord..<(CommonRegisters.switchWord + 1))
        }
    }

    public var endpoint: String { base.endpoint }
    public var isConnected: Bool { base.isConnected }

    public func connect() throws {
        forget()
        try base.connect()
    }

    public func close() {
        forget()
        base.close()
    }

    public func withinProbeTimeout<T>(_ body: () throws -> T) throws -> T { try base.withinProbeTimeout(body) }

    /// Drops everything read: after a reconnect the device may hold anything.
    public func forget() {
        for i in valid.indices { valid[i] = Array(repeating: false, count: valid[i].count) }
    }

    /// The generation of the plans kept (`ContractPlanning.planGeneration`).
    private var plansGeneration = 0

    /// Changes when the device's plans were compiled again (a mapped device's values found at another place).
    public var planGeneration: Int { (base as? ContractPlanning)?.planGeneration ?? 0 }

    /// The requests `refresh(spans)` sends.
    public func plan(_ spans: [ContractSpan]) -> ReadPlan {
        if planGeneration != plansGeneration {
            plans = [:]
            plansGeneration = planGeneration
        }
        if let plan = plans[spans] { return plan }
        let plan = (base as? ContractPlanning)?.contractPlan(spans)
            ?? ReadPlan.compile(asked(spans).map { ($0.table, $0.span) }, maxRead: maxRead, maxGap: maxGap)
        plans[spans] = plan
        return plan
    }

    /// Runs `body`'s writes. A mapped device with FC 23 (`fc23`) sends the last holding-register write together with
    /// the first holding-register read of `next`'s plan, and that answer serves the next `refresh(next)` (docs/maps.md,
    /// "FC 23"); any other device just writes.
    public func combiningWrites(prefetching next: [ContractSpan], _ body: () throws -> Void) throws {
        guard let planner = base as? ContractPlanning, !next.isEmpty else { return try body() }
        try planner.combiningWrites(prefetching: plan(next), body)
    }

    /// Reads `spans` from the device now and keeps them. When the read fails, what was kept of them is dropped: the
    /// next snapshot reads them from the device (and fails the same way) instead of handing on old values for as
    /// long as other loops' reads succeed.
    public func refresh(_ spans: [ContractSpan]) throws {
        guard !spans.isEmpty else { return }
        do {
            try read(spans)
        } catch {
            for s in spans { drop(s) }
            throw error
        }
    }

    private func drop(_ span: ContractSpan) {
        let t = index(span.table)
        for i in span.span where i >= 0 && i < valid[t].count { valid[t][i] = false }
    }

    private func read(_ spans: [ContractSpan]) throws {
        let plan = plan(spans)
        if let planner = base as? ContractPlanning {
            for (span, values) in zip(spans, try planner.readContract(spans, plan: plan)) { keep(span, values) }
            return
        }
        for request in plan.requests {
            keep(ContractSpan(request.table, request.span),
                 try base.readWords(request.table, at: request.start, count: request.count))
        }
        for (span, asked) in zip(spans, asked(spans)) where span.table == .discrete && asked.table == .input {
            guard let word = kept(.input, CommonRegisters.switchWord, 1)?[0] else { continue }
            keepSwitches(word, as: span)
        }
    }

    private func index(_ table: DeviceMap.Table) -> Int {
        switch table {
        case .input: 0
        case .holding: 1
        case .coil: 2
        case .discrete: 3
        }
    }

    private func keep(_ span: ContractSpan, _ values: [UInt16]) {
        let t = index(span.table)
        if words[t].count < span.span.upperBound {
            words[t] += Array(repeating: 0, count: span.span.upperBound - words[t].count)
            valid[t] += Array(repeating: false, count: span.span.upperBound - valid[t].count)
        }
        // One access to each array for the whole span (this runs for every read of every tick).
        let n = Swift.min(span.span.count, values.count)
        let range = span.span.lowerBound..<(span.span.lowerBound + n)
        words[t].replaceSubrange(range, with: values.prefix(n))
        valid[t].replaceSubrange(range, with: repeatElement(true, count: n))
    }

    /// The kept words of `span`, when every one of them was refreshed.
    private func kept(_ table: DeviceMap.Table, _ address: Int, _ count: Int) -> [UInt16]? {
        let t = index(table)
        guard address >= 0, count > 0, address + count <= valid[t].count else { return nil }
        for i in address..<(address + count) where !valid[t][i] { return nil }
        return Array(words[t][address..<(address + count)])
    }

    /// Updates kept outputs to what was just written (only where they were kept).
    private func wrote(_ table: DeviceMap.Table, _ address: Int, _ values: [UInt16]) {
        let t = index(table)
        for (i, value) in zip(address..., values) where i >= 0 && i < valid[t].count && valid[t][i] {
            words[t][i] = value
        }
    }

    // MARK: ModbusClient

    public func readInputRegisters(at address: Int, count: Int) throws -> [UInt16] {
        try kept(.input, address, count) ?? base.readInputRegisters(at: address, count: count)
    }

    public func readHoldingRegisters(at address: Int, count: Int) throws -> [UInt16] {
        try kept(.holding, address, count) ?? base.readHoldingRegisters(at: address, count: count)
    }

    public func readCoils(at address: Int, count: Int) throws -> [Bool] {
        if let bits = kept(.coil, address, count) { return bits.map { $0 != 0 } }
        return try base.readCoils(at: address, count: count)
    }

    public func readDiscreteInputs(at address: Int, count: Int) throws -> [Bool] {
        if let bits = kept(.discrete, address, count) { return bits.map { $0 != 0 } }
        return try base.readDiscreteInputs(at: address, count: count)
    }

    public func writeRegister(at address: Int, value: UInt16) throws {
        try base.writeRegister(at: address, value: value)
        wrote(.holding, address, [value])
    }

    public func writeRegisters(at address: Int, values: [UInt16]) throws {
        try base.writeRegisters(at: address, values: values)
        wrote(.holding, address, values)
    }

    public func writeCoil(at address: Int, value: Bool) throws {
        try base.writeCoil(at: address, value: value)
        wrote(.coil, address, [value ? 1 : 0])
    }

    public func writeCoils(at address: Int, values: [Bool]) throws {
        try base.writeCoils(at: address, values: values)
        wrote(.coil, address, values.map { $0 ? 1 : 0 })
    }
}
