/// The requests that read a set of mapped values: the fewest reads that cover them under the device's limits
/// (docs/maps.md, "Read plans"). Values of one table are merged into one request while the gap between them is at
/// most `maxGap` registers and the request stays within `maxRead`; a value is never split across two requests.
public struct ReadPlan: Sendable, Equatable, CustomStringConvertible {
    /// One read: a function code's table, a first address and a count (0-based protocol addresses).
    public struct Request: Sendable, Equatable, Hashable, CustomStringConvertible {
        public var table: DeviceMap.Table
        public var start: Int
        public var count: Int
        /// The unit it asks, when not the station's own.
        public var unit: Int?

        public init(table: DeviceMap.Table, start: Int, count: Int, unit: Int? = nil) {
            self.table = table
            self.start = start
            self.count = count
            self.unit = unit
        }

        /// The registers (or bits) of `field`, read alone.
        public init(_ field: DeviceMap.Field) {
            self.init(table: field.table, start: field.register, count: field.length, unit: field.unit)
        }

        public var span: Range<Int> { start..<(start + count) }

        /// Its unit, table and registers.
        public var location: DeviceMap.Location { DeviceMap.Location(unit: unit, table, span) }

        /// The Modbus function code that reads `table`.
        public var functionCode: Int {
            switch table {
            case .coil: 1
            case .discrete: 2
            case .holding: 3
            case .input: 4
            }
        }

        /// `FC 04 input 256…267 (12)`.
        public var description: String {
            let code = functionCode < 10 ? "0\(functionCode)" : "\(functionCode)"
            return (unit.map { "unit \($0) " } ?? "") + "FC \(code) \(table) \(start)…\(start + count - 1) (\(count))"
        }
    }

    public var requests: [Request]

    public init(requests: [Request]) { self.requests = requests }

    /// Registers (or bits) read that no value needs: the price of merging across gaps.
    public func unused(for spans: [DeviceMap.Location]) -> Int {
        var needed = Set<DeviceMap.Location>()
        for s in spans { for r in s.range { needed.insert(DeviceMap.Location(unit: s.unit, s.table, r..<(r + 1))) } }
        return requests.reduce(0) { $0 + $1.count } - needed.count
    }

    public func unused(for spans: [(table: DeviceMap.Table, span: Range<Int>)]) -> Int {
        unused(for: spans.map { DeviceMap.Location($0.table, $0.span) })
    }

    public var description: String { requests.map(\.description).joined(separator: "; ") }

    /// Plans the reads of `spans` (each one value's registers or bits, in any order, overlaps allowed): each unit's
    /// separately (the station's own first), each table's separately.
    /// - Parameters:
    ///   - maxRead: registers per read (1…125); bits are read up to 2000 at a time.
    ///   - maxGap: registers (or bits) a request may read through to merge two values.
    ///   - evenAlignment: requests start on an even address and have an even count (devices that serve 32-bit
    ///     values only whole).
    public static func compile(_ spans: [DeviceMap.Location], maxRead: Int, maxGap: Int,
                               evenAlignment: Bool = false) -> ReadPlan {
        var requests: [Request] = []
        let units: [Int?] = [nil] + Set(spans.compactMap(\.unit)).sorted()
        for unit in units {
            for table in DeviceMap.Table.allCases {
                let limit = table.holdsBits ? 2000 : max(1, maxRead)
                let align = evenAlignment && !table.holdsBits
                let sorted = spans.filter { $0.unit == unit && $0.table == table && !$0.range.isEmpty }.map(\.range)
                    .sorted { ($0.lowerBound, $0.upperBound) < ($1.lowerBound, $1.upperBound) }
                var current: Range<Int>?
                for span in sorted {
                    let next = align ? aligned(span) : span
                    if let c = current {
                        let merged = c.lowerBound..<max(c.upperBound, next.upperBound)
                        if next.lowerBound - c.upperBound <= maxGap, merged.count <= limit {
                            current = merged
                            continue
                        }
                        requests.append(Request(table: table, start: c.lowerBound, count: c.count, unit: unit))
                    }
                    current = next
                }
                if let c = current {
                    requests.append(Request(table: table, start: c.lowerBound, count: c.count, unit: unit))
                }
            }
        }
        return ReadPlan(requests: requests)
    }

    /// Plans the reads of `spans` of the station's own unit.
    public static func compile(_ spans: [(table: DeviceMap.Table, span: Range<Int>)], maxRead: Int, maxGap: Int,
                               evenAlignment: Bool = false) -> ReadPlan {
        compile(spans.map { DeviceMap.Location($0.table, $0.span) }, maxRead: maxRead, maxGap: maxGap,
                evenAlignment: evenAlignment)
    }

    /// `span` widened to an even start and an even end.
    private static func aligned(_ span: Range<Int>) -> Range<Int> {
        let start = span.lowerBound - span.lowerBound % 2
        let end = span.upperBound + span.upperBound % 2
        return start..<end
    }
}
