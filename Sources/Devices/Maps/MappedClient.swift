import Foundation

/// A device described by a map (docs/maps.md), presented to a station as a device of rigd's register contract: the
/// station, its profile and its controller run unchanged, and this client turns each contract access into the reads
/// and writes the map names. The built-in map of a kind is the contract itself; a station without a map uses no
/// `MappedClient`.
///
/// What the contract has and a map does not:
/// - The header (IR 0–6) is made here: the kind's device type once the map's identity check passed (or, without
///   one, once the device answered a read of its first mapped value); status bits 0, or 18 and 19 (watchdog tripped,
///   safe state) when the map's `[map.watchdog] tripped` bit says the device tripped.
/// - Discrete inputs (the device's E-stop and limit switches) are not part of the map format: a mapped device reads
///   "E-stop released" and every other input off. A mapped device's E-stop belongs on a host line (`estop = …`).
/// - The word order (HR 2) is the contract's ABCD: the map's own orders are applied here.
/// - Without `[map.watchdog]`, HR 3 reads 0 (no device watchdog) and heartbeats are not sent anywhere.
/// - Channels with an acquisition sequence (`[[map.acquire]]`) are read only once it completed, across ticks; in
///   between, the last completed acquisition is served (docs/maps.md, "Acquisition").
///
/// - Important: Confined to its station's thread, as every `ModbusClient`.
public final class MappedClient: ModbusClient, ContractPlanning {
    public let base: any ModbusClient
    /// The map as loaded: with `[[map.locate]]`, its located values' registers are offsets in their blocks.
    public let declared: DeviceMap
    /// The map in use: `declared` with its located values where discovery found them (without them before it).
    public private(set) var map: DeviceMap
    /// Counts the layouts discovery found: a plan compiled under another is compiled again (`ContractPlanning`).
    public private(set) var planGeneration = 0
    /// What the last discovery found, and how it says so (`rigd probe`, the station's log).
    public private(set) var foundLayout: DeviceMap.Layout?
    public private(set) var layoutLines: [String] = []
    /// Told each time discovery finds a layout other than the last: one line per block, and per missing value.
    public var onLayout: (@Sendable (_ lines: [String]) -> Void)?
    /// When the layout-version registers were last read (station clock).
    private var versionCheckedAt: Double?
    /// Set by a read that found a located block's parameter ID changed: the blocks are found again after it.
    private var layoutMoved = false
    /// When discovery last ran (station clock).
    private var discoveredAt: Double?
    public let layout: ContractLayout
    /// Whether to keep the map's `inter_request_ms` of silence between requests (off for an in-memory device on the
    /// virtual clock, where no time passes in a call).
    private let paceRequests: Bool
    private var lastRequestEnd: UInt64 = 0
    private var probing = false
    private var heartbeat: UInt16 = 0
    /// The last value written to each command on this connection: a write of the same value is not sent again.
    private var written: [String: Double] = [:]
    private var plans: [PlanKey: ReadPlan] = [:]
    /// The answers to the plan `readContract` is running: its contract reads are answered from here. Nil otherwise,
    /// so that a contract read outside a plan goes to the device.
    private var snapshot: Image?
    /// FC 23 (`fc23`): the plan whose first holding-register read the writes now being made may go out with; the last
    /// holding-register write held back for it; and the answer of such a read, for the next run of that plan.
    private var combining: (plan: ReadPlan, request: Int, unit: Int?)?
    private var held: (unit: Int?, register: Int, words: [UInt16], name: String)?
    private var prefetched: (plan: ReadPlan, request: Int, values: [UInt16])?
    /// Called for every request sent to the device (not for the contract accesses answered here): the station's
    /// transaction count is what went on the wire.
    public var onRequest: (@Sendable () -> Void)?
    /// Why the device failed the map's identity check on the last connect, if it did.
    public private(set) var identityProblem: String?
    /// Why the whole device fails a `[[map.expect]]` without channels, since the last connect: every channel is bad.
    public private(set) var deviceProblem: String?
    /// Each channel's failed expectation, as last reported.
    private var problems: [String: String] = [:]
    /// Told when a channel's expectation starts or stops failing (`problem` nil): the station logs it.
    public var onProblem: (@Sendable (_ channel: String, _ problem: String?) -> Void)?
    /// Told when a channel's reading goes stale (its `fresh` register stopped, its acquisition is too old) and when it
    /// is fresh again (`why` nil): the station logs it.
    public var onStale: (@Sendable (_ channel: String, _ why: String?) -> Void)?
    /// Each channel's staleness, as last reported.
    private var staleness: [String: String] = [:]
    /// Per channel with a `fresh` register: its words as last seen changed, and when (station clock).
    private var freshSeen: [String: (words: [UInt16], at: Double)] = [:]
    /// Per unit (nil: the station's own): when a request to it last went through, on the station's clock. A unit not
    /// here has not answered since the connect: with `[map.wake]`, its next request wakes it.
    private var lastAsked: [Int?: Double] = [:]
    /// Whether the `[[map.setup]]` writes ran on this connection.
    private var setupDone = false
    /// The station's clock, seconds: what acquisition steps wait on (the virtual clock in a virtual run).
    private let clock: @Sendable () -> Double
    /// Each acquisition sequence's progress (`map.acquisitions` order).
    private var acquiring: [AcquisitionRun]
    /// On the read being made: the channels whose acquisition is still under way (served from their last completed
    /// acquisition, not read), and the sequences that completed (their channels are read now, and kept).
    private var underWay: Set<String> = []
    private var completed: Set<Int> = []

    private struct PlanKey: Hashable {
        var table: DeviceMap.Table
        var range: Range<Int>
        /// Channels left out (their acquisition is under way).
        var leaving: [String] = []
    }

    /// Where one acquisition sequence stands: the next step, when a wait ends, when a poll gives up; and the readings
    /// of its last completed acquisition.
    private struct AcquisitionRun {
        var step = 0
        var resumeAt: Double?
        var deadline: Double?
        var readings: [String: ChannelReading] = [:]
        /// When its last acquisition completed (station clock).
        var completedAt: Double?
    }

    /// `clock`: the station's clock in seconds (acquisition waits); by default the monotonic clock.
    public init(base: any ModbusClient, map: DeviceMap, layout: ContractLayout, paceRequests: Bool = true,
                clock: (@Sendable () -> Double)? = nil) {
        self.base = base
        self.declared = map
        self.map = map.locates ? map.located(DeviceMap.Layout()).map : map
        self.snapshotPlan = self.map.snapshotPlan
        self.layout = layout
        self.paceRequests = paceRequests
        self.clock = clock ?? { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
        acquiring = Array(repeating: AcquisitionRun(), count: map.acquisitions.count)
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

    /// After a reconnect the device may hold anything: every command is written again, every acquisition starts over
    /// and nothing it acquired before is served.
    private func forget() {
        setupDone = false
        deviceProblem = nil
        written = [:]
        snapshot = nil
        prefetched = nil
        acquiring = Array(repeating: AcquisitionRun(), count: map.acquisitions.count)
        freshSeen = [:]
        lastAsked = [:]
    }

    public func withinProbeTimeout<T>(_ body: () throws -> T) throws -> T {
        probing = true
        defer { probing = false }
        return try base.withinProbeTimeout(body)
    }

    // MARK: The plans

    /// Every value a station's snapshot reads, as requests (of the layout found, with `[[map.locate]]`).
    public private(set) var snapshotPlan: ReadPlan

    private func plan(_ key: PlanKey, _ spans: () -> [DeviceMap.Location]) -> ReadPlan {
        if let plan = plans[key] { return plan }
        let plan = ReadPlan.compile(spans(), maxRead: map.maxReadRegisters, maxGap: map.maxGap,
                                    evenAlignment: map.evenAlignment)
        plans[key] = plan
        return plan
    }

    /// The answers to a plan's requests.
    private struct Image {
        var parts: [(ReadPlan.Request, [UInt16])] = []

        func words(_ location: DeviceMap.Location) -> [UInt16]? {
            for (request, values) in parts where request.location.contains(location) {
                return Array(values[(location.range.lowerBound - request.start)..<(location.range.upperBound - request.start)])
            }
            return nil
        }

        func words(_ field: DeviceMap.Field) -> [UInt16]? { words(field.location) }

        func covers(_ spans: [DeviceMap.Location]) -> Bool {
            spans.allSatisfy { words($0) != nil }
        }
    }

    /// The image of `spans`: this snapshot's when it holds them, else one read of them now.
    private func image(_ key: PlanKey, _ spans: [DeviceMap.Location]) throws -> Image {
        if let snapshot, snapshot.covers(spans) { return snapshot }
        return try execute(plan(key) { spans })
    }

    private func execute(_ plan: ReadPlan) throws -> Image {
        var image = Image()
        // An FC 23 answer serves only the very next plan run, and only if it is the plan it was read for.
        let early = prefetched.flatMap { $0.plan == plan ? $0 : nil }
        prefetched = nil
        for (index, request) in plan.requests.enumerated() {
            if let early, early.request == index {
                image.parts.append((request, early.values))
                continue
            }
            var values = try read(request)
            if map.readTwice, !request.table.holdsBits {
                // A device that updates a 32-bit value with two single-register writes can be caught between them:
                // keep a value only when two reads agree (three tries, then the read fails).
                var tries = 1
                while true {
                    let again = try read(request)
                    if again == values { break }
                    values = again
                    tries += 1
                    if tries >= 3 {
                        throw ModbusTransactionError(endpoint: endpoint, operation: "read \(request) twice",
                                                     kind: .badData, message: "two reads never agreed (read_twice)")
                    }
                }
            }
            image.parts.append((request, values))
        }
        return image
    }

    private func read(_ request: ReadPlan.Request) throws -> [UInt16] {
        try paced { try on(request.unit) { try base.readWords(request.table, at: request.start, count: request.count) } }
    }

    // MARK: FC 23

    /// Runs `body`'s writes. With `fc23`, when `next` reads holding registers (and is not read twice), the last
    /// holding-register write that would end the batch is held back and sent with `next`'s first holding-register read
    /// as one FC 23; its answer serves the next `execute(next)`, one period old by then. Any other request the batch
    /// makes sends a held write first, so the device sees the writes in their order. A batch that fails sends nothing
    /// it held, and a held write that is not known to have arrived is not counted as written.
    public func combiningWrites(prefetching next: ReadPlan, _ body: () throws -> Void) throws {
        guard map.fc23, !map.readTwice, let index = next.requests.firstIndex(where: { $0.table == .holding }) else {
            return try body()
        }
        combining = (next, index, next.requests[index].unit)
        defer {
            combining = nil
            held = nil
        }
        do {
            try body()
        } catch {
            if let held { written[held.name] = nil }
            throw error
        }
        guard let write = held else { return }
        held = nil
        let read = next.requests[index]
        do {
            let values = try pacedNow {
                try on(write.unit) {
                    try base.writeAndReadRegisters(writeAt: write.register, values: write.words, readAt: read.start,
                                                   count: read.count)
                }
            }
            prefetched = (next, index, values)
        } catch {
            written[write.name] = nil
            throw error
        }
    }

    /// Sends a held write now (another request is about to go).
    private func sendHeld() throws {
        guard let write = held else { return }
        held = nil
        do {
            try pacedNow { try on(write.unit) { try base.writeRegisters(at: write.register, values: write.words) } }
        } catch {
            written[write.name] = nil
            throw error
        }
    }

    /// Runs `body`'s requests addressed to `unit` (nil: the station's own): every request names its unit, so a held
    /// write sent on the way goes to its own.
    private func on<T>(_ unit: Int?, _ body: () throws -> T) throws -> T {
        guard let wake = map.wake else { return try base.addressing(unit: unit, body) }
        let now = clock()
        let asleep = lastAsked[unit].map { last in wake.sleepsAfterMs.map { now - last >= $0 / 1000 } ?? false } ?? true
        guard asleep else {
            let result = try base.addressing(unit: unit, body)
            lastAsked[unit] = clock()
            return result
        }
        // The first request since the connect, or since the device fell asleep: the map's longer timeout and
        // retries, then its settle time.
        let result = try base.addressing(unit: unit) {
            try base.waking(retries: wake.retries, timeout: wake.firstTimeoutMs.map { .milliseconds(Int64($0)) }, body)
        }
        lastAsked[unit] = clock()
        if wake.settleMs > 0, paceRequests { usleep(UInt32(min(wake.settleMs, 600_000) * 1000)) }
        return result
    }

    /// Runs one request after the silence the map asks for since the last one, a held write first.
    private func paced<T>(_ body: () throws -> T) throws -> T {
        try sendHeld()
        return try pacedNow(body)
    }

    /// Runs one request after the silence the map asks for since the last one.
    private func pacedNow<T>(_ body: () throws -> T) throws -> T {
        if paceRequests, map.interRequestMs > 0 {
            let due = lastRequestEnd + UInt64(map.interRequestMs) * 1_000_000
            let now = DispatchTime.now().uptimeNanoseconds
            if now < due { usleep(UInt32((due - now) / 1000)) }
        }
        defer { lastRequestEnd = DispatchTime.now().uptimeNanoseconds }
        onRequest?()
        return try body()
    }

    // MARK: Decoding

    /// The contract reading of `channel` from `image`: bad, never rescaled, when an expectation that vouches for it
    /// (or the whole device's, checked at connect) failed.
    private func reading(_ channel: DeviceMap.Channel, _ image: Image) -> ChannelReading {
        if let fresh = channel.freshness, let f = fresh.field, let words = image.words(f) {
            // A counter, uptime or timestamp that stood still longer than the map allows: the reading is old.
            let now = clock()
            if let seen = freshSeen[channel.name], seen.words == words {
                if now - seen.at > fresh.maxAgeMs / 1000 {
                    stale(channel.name, "\(f.name) has not changed for \(format((now - seen.at).rounded())) s "
                          + "(max_age_ms \(format(fresh.maxAgeMs)))")
                    return .notAvailable
                }
            } else {
                freshSeen[channel.name] = (words, now)
            }
            stale(channel.name, nil)
        }
        if !map.expectations.isEmpty {
            if let problem = deviceProblem {
                report(channel.name, problem)
                return ChannelReading(raw: .nan, quality: .sensorFailure)
            }
            for e in map.expectations where e.channels.contains(channel.name) {
                guard let raw = image.words(e.field), let problem = e.problem(raw) else { continue }
                if e.isLayoutCheck {
                    // The block moved: what is there now is another parameter. Not used; found again after this read.
                    layoutMoved = true
                    return .notAvailable
                }
                report(channel.name, problem)
                return ChannelReading(raw: .nan, quality: .sensorFailure)
            }
            report(channel.name, nil)
        }
        guard let raw = image.words(channel.field), let number = channel.field.rawNumber(raw) else {
            return .notAvailable
        }
        if channel.noReading(raw, fallback: channel.fallback.flatMap { image.words($0) }) != nil {
            return .notAvailable
        }
        let value = number * channel.field.scale + channel.field.offset
        var quality = ChannelQuality.ok
        if let word = channel.qualityWord, let q = image.words(word)?.first {
            quality = ChannelQuality(rawValue: q)
        }
        if let status = channel.quality, let word = image.words(status.location)?.first {
            quality.formUnion(status.quality(word))
        }
        guard value.isFinite else { return ChannelReading(raw: .nan, quality: quality.union(.sensorFailure)) }
        return ChannelReading(raw: Float(value), quality: quality)
    }

    private func commandValue(_ command: DeviceMap.Command, _ image: Image) throws -> Double {
        guard let raw = image.words(command.field), let value = command.field.value(raw) else {
            throw ModbusTransactionError(endpoint: endpoint, operation: "read \(command.name)", kind: .badData)
        }
        return value
    }

    private func refuse(_ operation: String, _ code: ModbusException = .illegalDataAddress,
                        _ message: String? = nil) -> ModbusTransactionError {
        ModbusTransactionError(endpoint: endpoint, operation: operation, kind: .exception(code),
                               message: message)
    }

    // MARK: Planned reads (ContractPlanning)

    /// The map's registers behind `spans` of the contract: the channels of the channel blocks they touch (with their
    /// quality registers), the commands of the setpoints and coils, the watchdog's trip bit for the header.
    private func fieldSpans(_ spans: [ContractSpan], leaving: Set<String> = []) -> [DeviceMap.Location] {
        let base = CommonRegisters.channelBase, stride = CommonRegisters.channelStride
        var out: [DeviceMap.Location] = []
        for s in spans where !s.span.isEmpty {
            switch s.table {
            case .input where s.span.upperBound <= CommonRegisters.headerCount:
                if let t = map.watchdog?.tripped { out.append(t.location) }
            case .input:
                guard s.span.lowerBound >= base else { continue }
                let first = (s.span.lowerBound - base) / stride
                let last = min((s.span.upperBound - 1 - base) / stride, layout.channels.count - 1)
                guard first <= last else { continue }
                out += map.spans(of: layout.channels[first...last].filter { !leaving.contains($0) }
                    .compactMap { map.channel(named: $0) })
            case .holding:
                for setpoint in layout.setpoints where s.span.overlaps(setpoint.address..<(setpoint.address + 2)) {
                    if let c = map.command(named: setpoint.name) { out.append(c.field.location) }
                }
            case .coil:
                for i in s.span where i >= 0 && i < layout.coils.count {
                    if let c = map.command(named: layout.coils[i]) { out.append(c.field.location) }
                }
            case .discrete:
                break
            }
        }
        return out
    }

    public func contractPlan(_ spans: [ContractSpan]) -> ReadPlan {
        ReadPlan.compile(fieldSpans(spans), maxRead: map.maxReadRegisters, maxGap: map.maxGap,
                         evenAlignment: map.evenAlignment)
    }

    public func readContract(_ spans: [ContractSpan], plan: ReadPlan) throws -> [[UInt16]] {
        let generation = planGeneration
        try checkLayoutVersion()
        // A plan compiled before the layout moved reads where the values were.
        let current = generation == planGeneration ? plan : contractPlan(spans)
        if !map.acquisitions.isEmpty { try acquire(channelNames(spans)) }
        defer { (underWay, completed) = ([], []) }
        let leaving = underWay.sorted()
        let plan = leaving.isEmpty ? current : reducedPlans[ReducedKey(spans: spans, leaving: leaving)] ?? {
            let reduced = ReadPlan.compile(fieldSpans(spans, leaving: underWay), maxRead: map.maxReadRegisters,
                                           maxGap: map.maxGap, evenAlignment: map.evenAlignment)
            reducedPlans[ReducedKey(spans: spans, leaving: leaving)] = reduced
            return reduced
        }()
        do {
            snapshot = try execute(plan)
        } catch {
            forgetCompleted()
            // A device that refuses the addresses where its blocks were found (02) may have laid them out again:
            // found again, and this read fails as it came.
            if declared.locates, (error as? ModbusTransactionError)?.exception == .illegalDataAddress {
                try rediscover()
            }
            throw error
        }
        defer { snapshot = nil }
        let words = try spans.map { try readWords($0.table, at: $0.span.lowerBound, count: $0.span.count) }
        if layoutMoved {
            layoutMoved = false
            try rediscover()
        }
        return words
    }

    /// The read after a completed acquisition failed: what it measured is lost, and nothing older is served instead.
    private func forgetCompleted() {
        for i in completed { acquiring[i] = AcquisitionRun() }
    }

    private struct ReducedKey: Hashable {
        var spans: [ContractSpan]
        var leaving: [String]
    }

    /// Plans of contract spans without the channels whose acquisition is under way.
    private var reducedPlans: [ReducedKey: ReadPlan] = [:]

    /// The map's channels in the channel blocks `spans` touch.
    private func channelNames(_ spans: [ContractSpan]) -> [String] {
        let base = CommonRegisters.channelBase, stride = CommonRegisters.channelStride
        var names: [String] = []
        for s in spans where s.table == .input && s.span.upperBound > base {
            let first = max(0, (s.span.lowerBound - base) / stride)
            let last = min((s.span.upperBound - 1 - base) / stride, layout.channels.count - 1)
            if first <= last { names += layout.channels[first...last] }
        }
        return names
    }

    // MARK: Values found at start-up

    /// How often the layout-version registers are read, seconds of the station's clock. An identified block is
    /// checked on every read besides (its ID is read with its value).
    static let versionCheckSeconds = 5.0

    /// Finds the `[[map.locate]]` blocks (docs/maps.md, "Values found at start-up"): each block's pointer (or its
    /// fixed start), then, for identified blocks, the parameter ID of each; the map in use becomes `declared` with
    /// its located values there. A value whose block is not found is left out of the map: its channel reads "not
    /// available". Called after the setup writes on every connect, and when a layout version changes; a layout other
    /// than the last is told to `onLayout` and compiles the plans again.
    public func discover() throws {
        var found = DeviceMap.Layout()
        var lines: [String] = []
        for block in declared.blocks {
            if let version = block.version, let v = version.value(try read(ReadPlan.Request(version))) {
                found.versions[block.name] = v
            }
            let first: Int
            let how: String
            let unit = block.unit.map { "unit \($0) " } ?? ""
            if let pointer = block.pointer {
                let value = pointer.value(try read(ReadPlan.Request(pointer)))
                let start = value.map { Int(exactly: $0.rounded()) ?? -1 }.map { block.pointerOneBased ? $0 - 1 : $0 }
                how = "\(pointer.name) reads \(value.map(format) ?? "nothing")"
                    + (block.pointerOneBased ? " (one-based)" : "")
                guard let start, start >= 0, start + block.stride * block.count <= 65_536 else {
                    lines.append("block \(block.name): NOT FOUND: \(how), no block there")
                    continue
                }
                first = start
            } else {
                first = block.from ?? 0
                how = "fixed by the map"
            }
            var bases: [Int?: Int] = [:]
            if let idOffset = block.idOffset {
                // Each block's parameter ID, in reads of whole blocks within the map's read size; ID 0 is an empty
                // block.
                let perRead = max(1, declared.maxReadRegisters / block.stride)
                var k = 0
                while k < block.count {
                    let n = min(perRead, block.count - k)
                    let request = ReadPlan.Request(table: block.table, start: first + k * block.stride,
                                                   count: (n - 1) * block.stride + idOffset + 1, unit: block.unit)
                    let words = try read(request)
                    for j in 0..<n {
                        let id = Int(words[j * block.stride + idOffset])
                        if id != 0, bases[id] == nil { bases[id] = first + (k + j) * block.stride }
                    }
                    k += n
                }
            } else {
                bases[nil] = first
            }
            found.bases[block.name] = bases
            let blocks = bases.sorted { $0.value < $1.value }
                .map { ($0.key.map { "id \($0) at " } ?? "at ") + "\($0.value)…\($0.value + block.stride - 1)" }
            let version = found.versions[block.name].map { "; layout version \(format($0))" } ?? ""
            lines.append("block \(block.name): \(how)\(version): \(unit)\(block.table) "
                         + (blocks.isEmpty ? "no parameter in \(block.count) block(s) from \(first)"
                            : blocks.joined(separator: ", ")))
        }
        let (resolved, missing) = declared.located(found)
        lines += missing.map { "not found: \($0)" }
        if found != foundLayout {
            foundLayout = found
            map = resolved
            snapshotPlan = map.snapshotPlan
            plans = [:]
            reducedPlans = [:]
            planGeneration += 1
            layoutLines = lines
            onLayout?(lines)
        }
        versionCheckedAt = clock()
        discoveredAt = versionCheckedAt
    }

    /// Finds the blocks again after a read suggested they moved, at most once a second: a device whose blocks flap
    /// must not turn every read into a discovery.
    private func rediscover() throws {
        if let at = discoveredAt, clock() - at < 1 { return }
        try discover()
    }

    /// Reads the layout-version registers every `versionCheckSeconds`: a version other than discovery's finds the values again.
    private func checkLayoutVersion() throws {
        guard let found = foundLayout, !found.versions.isEmpty else { return }
        let now = clock()
        if let at = versionCheckedAt, now - at < Self.versionCheckSeconds { return }
        versionCheckedAt = now
        for block in declared.blocks {
            guard let version = block.version, let was = found.versions[block.name] else { continue }
            let now = version.value(try read(ReadPlan.Request(version)))
            if now != was {
                try discover()
                return
            }
        }
    }

    // MARK: Acquisition sequences

    /// Runs the acquisition sequences of `names`' channels as far as they go now (docs/maps.md, "Acquisition"): a
    /// sequence's writes, then its waits and polls, each checked again on later reads until it is done. Sets
    /// `underWay` (channels to serve from their last acquisition) and `completed` (sequences whose channels this read
    /// reads fresh). A sequence that fails — a poll that times out, a wait the device asks for longer than the map
    /// allows, a request that fails — starts over and its channels are "not available" until it completes again; the
    /// failure is thrown as a transaction error (kind `notReady`, or the request's own).
    private func acquire(_ names: [String]) throws {
        underWay = []
        completed = []
        guard !map.acquisitions.isEmpty else { return }
        for (i, acquisition) in map.acquisitions.enumerated() where acquisition.channels.contains(where: names.contains) {
            do {
                if try advance(i) {
                    completed.insert(i)
                } else {
                    underWay.formUnion(acquisition.channels)
                }
            } catch {
                acquiring[i] = AcquisitionRun()
                underWay = []
                completed = []
                throw error
            }
        }
    }

    /// Runs sequence `i`'s steps until one must wait; true when every step is done (its channels may be read now).
    private func advance(_ i: Int) throws -> Bool {
        let acquisition = map.acquisitions[i]
        var run = acquiring[i]
        defer { acquiring[i] = run }
        while run.step < acquisition.steps.count {
            let step = acquisition.steps[run.step]
            switch step {
            case .write(let field, let value):
                try write(field, value: value, name: "acquisition step \(run.step + 1)")
            case .wait(let ms):
                let due = run.resumeAt ?? clock() + ms / 1000
                run.resumeAt = due
                guard clock() >= due else { return false }
            case .waitFrom(let field, let maxMs):
                if run.resumeAt == nil {
                    let raw = try read(ReadPlan.Request(field))
                    guard let ms = field.value(raw), ms.isFinite, ms >= 0 else {
                        throw notReady(acquisition, "\(step.description): the register holds no wait")
                    }
                    guard ms <= maxMs else {
                        throw notReady(acquisition, "\(step.description): the device asks for \(format(ms)) ms")
                    }
                    run.resumeAt = clock() + ms / 1000
                }
                guard let due = run.resumeAt, clock() >= due else { return false }
            case .poll(let field, let equals, let timeoutMs):
                let deadline = run.deadline ?? clock() + timeoutMs / 1000
                run.deadline = deadline
                let raw = try read(ReadPlan.Request(field))
                let value = field.value(raw)
                if value != equals {
                    guard clock() >= deadline else { return false }
                    throw notReady(acquisition, "\(step.description) timed out, reads "
                                   + (value.map { format($0) } ?? "nothing"))
                }
            }
            run.step += 1
            run.resumeAt = nil
            run.deadline = nil
        }
        run.step = 0
        return true
    }

    /// What `rigd check --plans` and the API's `read_plan` say of the acquisition sequences a loop with `spans` runs
    /// (one line each), and, when one cannot fit the loop's `period` (s), how often its channels are read then.
    public func acquisitionLines(_ spans: [ContractSpan], period: Double) -> [String] {
        let names = channelNames(spans)
        return map.acquisitions.filter { $0.channels.contains(where: names.contains) }.map { a in
            var line = "acquire " + a.channels.joined(separator: ", ") + " first: "
                + a.steps.map(\.description).joined(separator: ", ")
            let least = a.fixedWaitMs / 1000
            if a.longestMs > 0 {
                // A step that waits resumes on a later tick; the next acquisition starts on the tick after the read.
                let ticks = Int((least / period).rounded(.up)) + 1
                let varies = a.longestMs > a.fixedWaitMs
                line += "; takes " + (varies ? "\(format(a.fixedWaitMs))…\(format(a.longestMs))" : format(a.longestMs))
                    + " ms" + (a.longestMs / 1000 >= period ? ", more than the loop's period" : "")
                if ticks > 1 || varies {
                    line += ": the loop runs on, serving the last acquisition, and reads these channels every "
                        + (ticks > 1 ? "\(ticks) ticks" : "tick") + (varies ? " at best" : "")
                }
            }
            return line
        }
    }

    /// Tells `onStale` when channel `name` goes stale or is fresh again (not while it stays stale: the reason's age
    /// grows on every read).
    private func stale(_ name: String, _ why: String?) {
        guard (staleness[name] == nil) != (why == nil) else { return }
        staleness[name] = why
        onStale?(name, why)
    }

    /// Tells `onProblem` when channel `name`'s failed expectation changes.
    private func report(_ name: String, _ problem: String?) {
        guard problems[name] != problem else { return }
        problems[name] = problem
        onProblem?(name, problem)
    }

    /// Runs acquisition sequence `i` as far as it goes now, as a loop's read does; true when every step is done. A
    /// failed sequence starts over. `rigd probe` calls it until it is done, sleeping in between.
    public func advanceAcquisition(_ i: Int) throws -> Bool {
        do {
            return try advance(i)
        } catch {
            acquiring[i] = AcquisitionRun()
            throw error
        }
    }

    /// The `[[map.setup]]` writes, in order, each followed by its settle time, as every connect makes them (and
    /// `rigd probe`). A write the device refuses is thrown as it came (a present device that refuses its setup is
    /// refused, never simulated), named by its step.
    public func setUp() throws {
        for (i, setup) in map.setup.enumerated() {
            do {
                if setup.field.table == .coil {
                    try paced {
                        try on(setup.field.unit) {
                            try base.writeCoil(at: setup.field.register, value: setup.words.first != 0)
                        }
                    }
                } else {
                    try writeWords(unit: setup.field.unit, at: setup.field.register, setup.words,
                                   name: "setup \(i + 1)")
                }
            } catch let error as ModbusTransactionError {
                throw ModbusTransactionError(endpoint: endpoint, operation: "setup \(i + 1) of \(map.name): "
                                             + setup.description, kind: error.kind, errno: error.errno,
                                             message: error.message)
            }
            // The settle time on a real link; an in-memory device on the station's clock needs none.
            if setup.settleMs > 0, paceRequests { usleep(UInt32(min(setup.settleMs, 600_000) * 1000)) }
        }
    }

    /// The whole device's `[[map.expect]]` values, after the setup on every connect: the first that fails is
    /// `deviceProblem`, and every channel reads bad until a connect finds them right.
    private func checkDevice() throws {
        deviceProblem = nil
        for e in map.expectations where e.channels.isEmpty {
            let raw = try read(ReadPlan.Request(e.field))
            if let problem = e.problem(raw) {
                deviceProblem = problem
                break
            }
        }
    }

    private func notReady(_ acquisition: DeviceMap.Acquisition, _ message: String) -> ModbusTransactionError {
        ModbusTransactionError(endpoint: endpoint, operation: "acquire " + acquisition.channels.joined(separator: ", "),
                               kind: .notReady, message: message)
    }

    /// The reading of `channel` for this read: from the image, or, while its acquisition is under way, from its last
    /// completed acquisition ("not available" before the first); a completed acquisition's readings are kept.
    private func acquiredReading(_ channel: DeviceMap.Channel, _ image: Image) -> ChannelReading {
        guard let i = map.acquisition(of: channel.name) else { return reading(channel, image) }
        if underWay.contains(channel.name) {
            // An acquisition older than the map allows is not served (`fresh = { max_age_ms }`).
            if let fresh = channel.freshness, fresh.field == nil, let at = acquiring[i].completedAt {
                let age = clock() - at
                if age > fresh.maxAgeMs / 1000 {
                    stale(channel.name, "its last acquisition is \(format(age.rounded())) s old (max_age_ms "
                          + "\(format(fresh.maxAgeMs)))")
                    return .notAvailable
                }
            }
            return acquiring[i].readings[channel.name] ?? .notAvailable
        }
        let r = reading(channel, image)
        if completed.contains(i) {
            acquiring[i].readings[channel.name] = r
            acquiring[i].completedAt = clock()
            if channel.freshness?.field == nil { stale(channel.name, nil) }
        }
        return r
    }

    // MARK: Contract reads

    public func readInputRegisters(at address: Int, count: Int) throws -> [UInt16] {
        let span = address..<(address + count)
        if span.upperBound <= CommonRegisters.headerCount { return try header()[span] .map { $0 } }
        let base = CommonRegisters.channelBase, stride = CommonRegisters.channelStride
        guard address >= base, span.upperBound <= base + stride * layout.channels.count else {
            throw refuse("read input registers \(address)+\(count) (not in the map of \(map.name))")
        }
        let first = (address - base) / stride, last = (span.upperBound - 1 - base) / stride
        let channels = (first...last).map { layout.channels[$0] }
        // A read outside a plan (`readContract`) runs the channels' acquisition sequences itself.
        let direct = snapshot == nil && !map.acquisitions.isEmpty
        if direct { try acquire(channels) }
        defer { if direct { (underWay, completed) = ([], []) } }
        let mapped = channels.compactMap { map.channel(named: $0) }.filter { !underWay.contains($0.name) }
        let image: Image
        do {
            let leaving = underWay.isEmpty ? [] : underWay.sorted()
            image = try self.image(PlanKey(table: .input, range: span, leaving: leaving), map.spans(of: mapped))
        } catch {
            if direct { forgetCompleted() }
            throw error
        }
        var words: [UInt16] = []
        for name in channels {
            let r = map.channel(named: name).map { acquiredReading($0, image) } ?? .notAvailable
            words += RegisterCodec.encode(r.raw, order: .abcd) + [r.quality.rawValue, 0]
        }
        let offset = address - (base + stride * first)
        return Array(words[offset..<(offset + count)])
    }

    /// IR 0–6: the kind's device type, the contract version, serial 0, status 0, a counter. While connecting, the
    /// identity check (or one read, to see that the device answers as mapped) decides the device type.
    private func header() throws -> [UInt16] {
        var deviceType = layout.kind.deviceType
        var status = StatusBits()
        if !probing {
            // A device that shows its watchdog trip: the contract's bits 18 and 19, so the controller sees its safe
            // state and asks for the reset (HR 5 = 0xA5 → the map's reset value).
            if let tripped = map.watchdog?.tripped {
                let image = try image(PlanKey(table: tripped.table, range: tripped.span), [tripped.location])
                if let word = image.words(tripped.location)?.first, tripped.isBad(word) {
                    status = [.watchdogTripped, .safeState]
                }
            }
        } else {
            identityProblem = nil
            if let identity = map.identity {
                let image = try execute(ReadPlan(requests: [ReadPlan.Request(identity.field)]))
                let value = image.words(identity.field).flatMap { identity.field.value($0) }
                if value != identity.equals {
                    let f = identity.field
                    identityProblem = "fails the map's identity check: \(f.unit.map { "unit \($0) " } ?? "")\(f.table) "
                        + "register \(f.register) reads \(value.map { format($0) } ?? "nothing"), "
                        + "\(map.name) expects \(format(identity.equals))"
                    deviceType = 0
                }
            } else if let first = snapshotPlan.requests.first {
                _ = try read(first)
            }
            if deviceType != 0, !setupDone {
                try setUp()
                if declared.locates { try discover() }
                try checkDevice()
                setupDone = true
            }
        }
        heartbeat &+= 1
        return [deviceType, CommonRegisters.sheetVersion, 0, 0] + RegisterCodec.encode(status.rawValue) + [heartbeat]
    }

    private func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    public func readHoldingRegisters(at address: Int, count: Int) throws -> [UInt16] {
        let span = address..<(address + count)
        if span.upperBound <= CommonRegisters.holdingCount {
            var words: [UInt16] = [UInt16(map.unit), 0, 0, 0, heartbeat, 0]
            if span.contains(CommonRegisters.watchdogTimeoutMs) { words[3] = try armWatchdog() }
            return Array(words[span])
        }
        let setpoints = layout.setpoints.filter { span.overlaps($0.address..<($0.address + 2)) }
        guard !setpoints.isEmpty, let lowest = setpoints.first?.address, lowest <= address,
              let highest = setpoints.last, span.upperBound <= highest.address + 2 else {
            throw refuse("read holding registers \(address)+\(count) (not in the map of \(map.name))")
        }
        let commands = setpoints.compactMap { map.command(named: $0.name) }
        let image = try image(PlanKey(table: .holding, range: span), commands.map(\.field.location))
        var words: [UInt16] = []
        for setpoint in setpoints {
            let value = try map.command(named: setpoint.name).map { try commandValue($0, image) }
                ?? written[setpoint.name] ?? 0
            words += RegisterCodec.encode(Float(value), order: .abcd)
        }
        return Array(words[(address - lowest)..<(address - lowest + count)])
    }

    /// HR 3 as a contract device answers it: with a mapped watchdog, rigd arms it with the map's timeout (once per
    /// connection) and reports that; without one, 0 (off).
    private func armWatchdog() throws -> UInt16 {
        guard let watchdog = map.watchdog else { return 0 }
        if written["watchdog.timeout"] != watchdog.timeoutMs {
            try write(watchdog.timeout, value: watchdog.timeoutMs, name: "watchdog timeout")
            written["watchdog.timeout"] = watchdog.timeoutMs
        }
        return UInt16(clamping: Int(watchdog.timeoutMs))
    }

    public func readCoils(at address: Int, count: Int) throws -> [Bool] {
        guard address >= 0, address + count <= layout.coils.count else {
            throw refuse("read coils \(address)+\(count) (not in the map of \(map.name))")
        }
        let names = Array(layout.coils[address..<(address + count)])
        let commands = names.compactMap { map.command(named: $0) }
        let image = try image(PlanKey(table: .coil, range: address..<(address + count)),
                              commands.map(\.field.location))
        return try names.map { name in
            try map.command(named: name).map { try commandValue($0, image) != 0 } ?? (written[name].map { $0 != 0 } ?? false)
        }
    }

    /// DI 0 "E-stop released"; every other input off (maps have no discrete inputs of the contract).
    public func readDiscreteInputs(at address: Int, count: Int) throws -> [Bool] {
        (address..<(address + count)).map { $0 == 0 }
    }

    // MARK: Contract writes

    public func writeRegister(at address: Int, value: UInt16) throws {
        switch address {
        case CommonRegisters.watchdogTimeoutMs:
            guard let watchdog = map.watchdog else { return }
            try write(watchdog.timeout, value: Double(value), name: "watchdog timeout")
            written["watchdog.timeout"] = Double(value)
        case CommonRegisters.hostHeartbeat:
            heartbeat = value
            guard let watchdog = map.watchdog else { return }
            // Any changing value feeds a watchdog: the counter's bits, whatever the register's type.
            let words = [UInt16](repeating: 0, count: max(0, watchdog.heartbeat.length - 1)) + [value]
            try writeWords(unit: watchdog.heartbeat.unit, at: watchdog.heartbeat.register, words, name: "heartbeat")
        case CommonRegisters.command:
            guard value == CommonRegisters.resetFaultsCommand, let watchdog = map.watchdog,
                  let reset = watchdog.reset, let resetValue = watchdog.resetValue else { return }
            try write(reset, value: resetValue, name: "watchdog reset")
            // A device leaving its safe state may hold other outputs than those last written: write them all again.
            written = written.filter { $0.key.hasPrefix("watchdog.") }
        default:
            try writeRegisters(at: address, values: [value])
        }
    }

    public func writeRegisters(at address: Int, values: [UInt16]) throws {
        let span = address..<(address + values.count)
        let setpoints = layout.setpoints.filter { span.overlaps($0.address..<($0.address + 2)) }
        guard !setpoints.isEmpty, setpoints.allSatisfy({ span.contains($0.address) && $0.address + 2 <= span.upperBound })
        else { throw refuse("write holding registers \(address)+\(values.count) (not whole setpoints of the contract)") }
        for setpoint in setpoints {
            let offset = setpoint.address - address
            let value = Double(RegisterCodec.float32(values, at: offset, order: .abcd))
            try command(setpoint.name, value)
        }
    }

    public func writeCoil(at address: Int, value: Bool) throws {
        try writeCoils(at: address, values: [value])
    }

    public func writeCoils(at address: Int, values: [Bool]) throws {
        guard address >= 0, address + values.count <= layout.coils.count else {
            throw refuse("write coils \(address)+\(values.count) (the contract has \(layout.coils.count) coils)")
        }
        for (i, value) in values.enumerated() { try command(layout.coils[address + i], value ? 1 : 0) }
    }

    /// Switches a host relay the map names (`aerator-1` or `aerator_1`) through the device: written unless this
    /// connection already wrote that value, as a contract command is. A relay the map lacks is not written.
    public func writeRelay(_ name: String, on: Bool) throws {
        try command(name, on ? 1 : 0)
    }

    /// Whether the map names the host relay `name` (`aerator-1` or `aerator_1`) as a command of the device.
    public func switchesRelay(_ name: String) -> Bool {
        map.command(named: name) != nil
    }

    // MARK: The device's own calibration

    /// Channel `channel`'s calibration as the device holds it now, read from its `[[map.calibration]]` registers:
    /// the slope is 1 where the map names no slope register, the offset 0 where it names no offset register. Nil when
    /// the map names no calibration registers for the channel.
    public func deviceCalibration(of channel: String) throws -> (slope: Double, offset: Double)? {
        guard let registers = map.calibration(of: channel) else { return nil }
        func value(_ field: DeviceMap.Field?, _ part: String, default fallback: Double) throws -> Double {
            guard let field else { return fallback }
            guard let v = field.value(try read(ReadPlan.Request(field))), v.isFinite else {
                throw ModbusTransactionError(endpoint: endpoint, operation: "read \(channel)'s calibration \(part) "
                                             + "(\(field.name))", kind: .badData, message: "not a finite number")
            }
            return v
        }
        return (try value(registers.slope, "slope", default: 1), try value(registers.offset, "offset", default: 0))
    }

    /// Writes `slope` and `offset` into channel `channel`'s `[[map.calibration]]` registers (only those the map
    /// names) and reads them back: a device that does not hold what was written throws. Returns what the device holds
    /// now, as read back (the values through the registers' types: an integer register rounds). The caller makes sure
    /// the map names the registers a value needs (`deviceCalibration` gives the ones it lacks as 1 and 0).
    @discardableResult
    public func writeDeviceCalibration(of channel: String, slope: Double,
                                       offset: Double) throws -> (slope: Double, offset: Double) {
        guard let registers = map.calibration(of: channel) else {
            throw refuse("write \(channel)'s calibration", .illegalDataAddress, "the map names no calibration registers")
        }
        var held = (slope: slope, offset: offset)
        for (part, field, value) in [("slope", registers.slope, slope), ("offset", registers.offset, offset)] {
            guard let field else { continue }
            let name = "\(channel)'s calibration \(part)"
            guard let words = field.encode(value) else {
                throw refuse("write \(name) = \(value)", .illegalDataValue,
                             "\(value) does not fit the map's \(field.type) (\(field.name))")
            }
            try writeWords(unit: field.unit, at: field.register, words, name: name)
            let back = try read(ReadPlan.Request(field))
            guard back == words else {
                throw ModbusTransactionError(endpoint: endpoint, operation: "write \(name) (\(field.name))",
                                             kind: .badData, message: "wrote \(words), the device reads back \(back)")
            }
            let now = field.value(back) ?? value
            if part == "slope" { held.slope = now } else { held.offset = now }
        }
        return held
    }

    /// Writes command `name` through the map, unless this connection already wrote that value.
    private func command(_ name: String, _ value: Double) throws {
        guard let command = map.command(named: name) else {
            // Optional equipment the device does not have (the loader refuses a map without a required command).
            written[name] = value
            return
        }
        guard command.limits.contains(value) else {
            throw refuse("write \(name) = \(value)", .illegalDataValue,
                         "\(value) is outside the map's limits for \(name) (\(command.limits.lowerBound)…"
                            + "\(command.limits.upperBound))")
        }
        if written[name] == value { return }
        written[name] = nil  // unknown until the write succeeds
        try write(command.field, value: value, name: name)
        written[name] = value
    }

    private func write(_ field: DeviceMap.Field, value: Double, name: String) throws {
        switch field.table {
        case .coil:
            try paced { try on(field.unit) { try base.writeCoil(at: field.register, value: value != 0) } }
        case .holding:
            if field.type == .bool, let bit = field.bit {
                // One bit of a register: read, change that bit, write the word back.
                let word = try paced { try on(field.unit) { try base.readHoldingRegisters(at: field.register, count: 1)[0] } }
                let mask = UInt16(1) << UInt16(bit)
                try writeWords(unit: field.unit, at: field.register, [value != 0 ? word | mask : word & ~mask],
                               name: name)
                return
            }
            guard let words = field.encode(value) else {
                throw refuse("write \(name) = \(value)", .illegalDataValue,
                             "\(value) does not fit the map's \(field.type) for \(name)")
            }
            try writeWords(unit: field.unit, at: field.register, words, name: name)
        case .input, .discrete:
            throw refuse("write \(name)", .illegalFunction, "\(field.table) registers cannot be written")
        }
    }

    /// FC 16 where the map allows it (as many registers as it allows at a time), FC 6 one register at a time otherwise.
    private func writeWords(unit: Int?, at register: Int, _ words: [UInt16], name: String) throws {
        // FC 23 goes to one unit: only a write to the unit of the read it would go with is held for it.
        if let combining, combining.unit == unit, words.count <= map.maxWriteRegisters {
            try sendHeld()
            held = (unit, register, words, name)
            return
        }
        if map.maxWriteRegisters == 0 {
            for (i, word) in words.enumerated() {
                try paced { try on(unit) { try base.writeRegister(at: register + i, value: word) } }
            }
            return
        }
        var start = 0
        while start < words.count {
            let end = min(words.count, start + map.maxWriteRegisters)
            try paced { try on(unit) { try base.writeRegisters(at: register + start, values: Array(words[start..<end])) } }
            start = end
        }
    }
}

extension DeviceMap {
    /// The reads of every value a station's snapshot takes: the channels (with their quality registers) and the
    /// commands (read back), merged within the device's limits.
    public var snapshotPlan: ReadPlan {
        ReadPlan.compile(snapshotSpans, maxRead: maxReadRegisters, maxGap: maxGap, evenAlignment: evenAlignment)
    }

    /// What a snapshot reads: the channels with their quality registers, the commands, the watchdog's trip bit.
    public var snapshotSpans: [Location] {
        spans(of: channels) + commands.map(\.field.location) + (watchdog?.tripped.map { [$0.location] } ?? [])
    }

    /// The registers (or bits) `channels` occupy, with their quality registers and the expectations that vouch for
    /// them (`[[map.expect]]` with `channels`: read with them, so a changed units ID is seen at once).
    public func spans(of channels: [Channel]) -> [Location] {
        channels.flatMap { channel -> [Location] in
            var spans = [channel.field.location]
            if let q = channel.quality { spans.append(q.location) }
            if let w = channel.qualityWord { spans.append(w.location) }
            if let f = channel.fallback { spans.append(f.location) }
            if let f = channel.freshness?.field { spans.append(f.location) }
            for e in expectations where e.channels.contains(channel.name) { spans.append(e.field.location) }
            return spans
        }
    }

    /// The command called `name`, if the device has it (a relay may be written `aerator-1` or `aerator_1`, in the map
    /// and in `name` alike).
    public func command(named name: String) -> Command? {
        let key = name.replacingOccurrences(of: "-", with: "_")
        return commands.first { $0.name == name || $0.name.replacingOccurrences(of: "-", with: "_") == key }
    }
}
