/// Follows a measurement towards a setpoint: when it first reached the band, when it last entered the band for
/// good, its overshoot and the worst error since settling.
public struct SettlingTracker: Sendable, Equatable {
    public let setpoint: Double
    public let band: Double
    public let startedAt: Double
    public private(set) var reachedAt: Double?
    public private(set) var settledAt: Double?
    public private(set) var maxErrorSinceSettled = 0.0
    public private(set) var overshoot = 0.0
    public private(set) var last: Double?
    private var approachFromBelow: Bool?

    public init(setpoint: Double, band: Double, startedAt: Double = 0) {
        self.setpoint = setpoint
        self.band = band
        self.startedAt = startedAt
    }

    public mutating func observe(_ value: Double, at now: Double) {
        let error = value - setpoint
        if approachFromBelow == nil { approachFromBelow = error < 0 }
        last = value
        let inBand = abs(error) <= band
        if inBand && reachedAt == nil { reachedAt = now }
        if reachedAt != nil, let below = approachFromBelow {
            overshoot = max(overshoot, below ? error : -error)
        }
        if inBand {
            if settledAt == nil {
                settledAt = now
                maxErrorSinceSettled = 0
            }
            maxErrorSinceSettled = max(maxErrorSinceSettled, abs(error))
        } else {
            settledAt = nil
        }
    }

    public func results() -> [String: ReportValue] {
        [
            "setpoint_c": .number(setpoint),
            "settle_band_c": .number(band),
            "settled": .bool(settledAt != nil),
            "reached_s": ReportValue(reachedAt.map { $0 - startedAt }),
            "settled_s": ReportValue(settledAt.map { $0 - startedAt }),
            "max_abs_error_since_settled_c": ReportValue(settledAt == nil ? nil : maxErrorSinceSettled),
            "overshoot_c": ReportValue(reachedAt == nil ? nil : overshoot),
            "final_c": ReportValue(last),
        ]
    }
}
