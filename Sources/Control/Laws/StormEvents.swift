import Foundation

/// The paper's storm-event rule (Xiong, Cao and Liu 2025, §3.3): an event is a period of rain above 0.5 mm/h with
/// no break below that threshold longer than 2 h. Fed one sample at a time with the caller's time; pure, it never
/// reads a clock.
///
/// Conventions, used throughout:
/// - A sample stands for the interval (now − dt, now]: the rain intensity and discharge it carries held over the
///   dt before `now` (what a gauge reports for its last interval).
/// - A sample is *wet* when its intensity is strictly above the threshold.
/// - An event starts at the start of its first wet sample's interval (now − dt) and ends at the `now` of its last
///   wet sample: the last time intensity exceeded the threshold. The 2 h of dry waiting that close it are not part
///   of it.
/// - A break is the time from the end of one wet interval to the start of the next. A break of exactly `maxBreak`
///   keeps the event going; a longer one ends it. The event is closed by the first sample that proves the break too
///   long (a dry sample with now − last wet > maxBreak, or a wet sample starting more than maxBreak after it, e.g.
///   after a gap in the data).
/// - Totals (rain mm, flow m³, peak discharge) cover exactly [start, end]: every sample from the first wet one to
///   the last wet one, including the below-threshold samples of breaks inside, and none of the dry samples after
///   the last wet one. While an event is open, its totals run up to its latest wet sample.
///
/// A sample with a non-finite value, dt ≤ 0, or a time not after the previous sample's is ignored. Negative rain or
/// discharge count as 0.
public struct StormEventDetector: Sendable, Equatable {
    /// One storm event.
    public struct Event: Sendable, Equatable {
        /// Start of the first wet interval, s.
        public var start: Double
        /// Time of the last wet sample, s; nil while the event is open.
        public var end: Double?
        /// Rain over [start, end], mm.
        public var totalRainMm: Double
        /// Discharge × dt over [start, end], m³.
        public var totalFlowM3: Double
        /// Largest discharge sampled in [start, end], m³/s.
        public var peakDischargeM3s: Double

        public init(start: Double, end: Double?, totalRainMm: Double, totalFlowM3: Double,
                    peakDischargeM3s: Double) {
            self.start = start
            self.end = end
            self.totalRainMm = totalRainMm
            self.totalFlowM3 = totalFlowM3
            self.peakDischargeM3s = peakDischargeM3s
        }

        /// end − start, s; nil while open.
        public var duration: Double? { end.map { $0 - start } }

        /// The event's flow as a depth over a catchment of `areaKm2`, mm (the paper's "Total Flow (mm)"); 0 for
        /// a non-positive area.
        public func totalFlowMm(areaKm2: Double) -> Double {
            areaKm2 > 0 ? totalFlowM3 / (areaKm2 * 1e6) * 1000 : 0
        }
    }

    /// Intensity above which rain is storm rain, mm/h.
    public let thresholdMmH: Double
    /// Longest break that does not end an event, s.
    public let maxBreak: Double
    /// Closed events in order, then the open one (end nil), if any.
    public private(set) var events: [Event] = []

    /// `now` of the last wet sample of the open event.
    private var lastWet = 0.0
    /// Time of the last accepted sample.
    private var lastNow: Double?
    /// Rain, flow and peak of the samples since the last wet one: added to the event if the rain resumes in time.
    private var pendingRainMm = 0.0
    private var pendingFlowM3 = 0.0
    private var pendingPeakM3s = 0.0

    /// The paper's rule by default: 0.5 mm/h, breaks up to 2 h.
    public init(thresholdMmH: Double = 0.5, maxBreak: Double = 7200) {
        self.thresholdMmH = thresholdMmH
        self.maxBreak = maxBreak
    }

    /// Whether an event is open: from its first wet sample until a sample shows the break has grown too long.
    public var inEvent: Bool { events.last.map { $0.end == nil } ?? false }

    /// The open event, if any.
    public var openEvent: Event? { inEvent ? events.last : nil }

    /// Closed events only.
    public var closedEvents: ArraySlice<Event> { inEvent ? events.dropLast() : events[...] }

    /// Feeds the sample for (now − dt, now].
    public mutating func add(now: Double, rainMmH: Double, dischargeM3s: Double, dt: Double) {
        guard now.isFinite, rainMmH.isFinite, dischargeM3s.isFinite, dt.isFinite, dt > 0 else { return }
        if let last = lastNow, now <= last { return }
        lastNow = now
        let rainMm = max(0, rainMmH) * dt / 3600
        let discharge = max(0, dischargeM3s)
        let flowM3 = discharge * dt
        let wet = rainMmH > thresholdMmH

        if inEvent {
            if wet {
                if (now - dt) - lastWet > maxBreak {
                    close()
                    open(now: now, dt: dt, rainMm: rainMm, flowM3: flowM3, discharge: discharge)
                } else {
                    let i = events.count - 1
                    events[i].totalRainMm += pendingRainMm + rainMm
                    events[i].totalFlowM3 += pendingFlowM3 + flowM3
                    events[i].peakDischargeM3s = max(events[i].peakDischargeM3s, pendingPeakM3s, discharge)
                    clearPending()
                    lastWet = now
                }
            } else if now - lastWet > maxBreak {
                close()
            } else {
                pendingRainMm += rainMm
                pendingFlowM3 += flowM3
                pendingPeakM3s = max(pendingPeakM3s, discharge)
            }
        } else if wet {
            open(now: now, dt: dt, rainMm: rainMm, flowM3: flowM3, discharge: discharge)
        }
    }

    private mutating func open(now: Double, dt: Double, rainMm: Double, flowM3: Double, discharge: Double) {
        events.append(Event(start: now - dt, end: nil, totalRainMm: rainMm, totalFlowM3: flowM3,
                            peakDischargeM3s: discharge))
        lastWet = now
        clearPending()
    }

    private mutating func close() {
        events[events.count - 1].end = lastWet
        clearPending()
    }

    private mutating func clearPending() {
        pendingRainMm = 0
        pendingFlowM3 = 0
        pendingPeakM3s = 0
    }
}

/// Running load and flow-weighted mean concentration of one nutrient over one period (a season, a year), next to
/// the arithmetic mean of the same samples, as the paper compares them (§2.3.4).
///
/// load = Σ C·Q·Δt (mg/L × m³/s × s = g; reported in kg), FWMC = Σ C·Q·Δt / Σ Q·Δt. With samples at a fixed
/// interval the arithmetic mean is the time average; when concentration rises with flow, FWMC exceeds it.
/// A sample with a non-finite value or dt ≤ 0 is ignored; negative concentration or discharge count as 0.
public struct LoadAccount: Sendable, Equatable {
    /// Σ C·Q·Δt, kg.
    public private(set) var loadKg: Double = 0
    /// Σ Q·Δt, m³.
    public private(set) var flowM3: Double = 0
    /// Mean of the concentrations added, mg/L (0 before the first sample).
    public private(set) var arithmeticMeanMgL: Double = 0
    /// Samples added.
    public private(set) var samples: Int = 0

    /// Σ C·Q·Δt in g (= mg/L·m³), kept unscaled so FWMC is a plain ratio of sums.
    private var massG = 0.0
    private var concentrationSum = 0.0

    /// An empty account.
    public init() {}

    /// Flow-weighted mean concentration Σ C·Q·Δt / Σ Q·Δt, mg/L (0 until some flow has been added).
    public var fwmcMgL: Double { flowM3 > 0 ? massG / flowM3 : 0 }

    /// The load the arithmetic-mean method estimates: mean C × total flow, kg. Below `loadKg` when concentration
    /// rises with flow — the paper's point that averaging underestimates event-driven loads.
    public var arithmeticLoadKg: Double { arithmeticMeanMgL * flowM3 / 1000 }

    /// Adds a sample: concentration C (mg/L) with discharge Q (m³/s) held for dt (s).
    public mutating func add(concentrationMgL: Double, dischargeM3s: Double, dt: Double) {
        guard concentrationMgL.isFinite, dischargeM3s.isFinite, dt.isFinite, dt > 0 else { return }
        let c = max(0, concentrationMgL)
        let q = max(0, dischargeM3s)
        massG += c * q * dt
        flowM3 += q * dt
        loadKg = massG / 1000
        samples += 1
        concentrationSum += c
        arithmeticMeanMgL = concentrationSum / Double(samples)
    }

    /// Load per unit area, kg/ha (the paper divides by the 8900 ha watershed); 0 for a non-positive area.
    public func yieldKgPerHa(areaHa: Double) -> Double {
        areaHa > 0 ? loadKg / areaHa : 0
    }
}

/// How a year is cut into seasons.
public enum SeasonConvention: Sendable, Equatable {
    /// Northern-hemisphere meteorological seasons: winter Dec–Feb, spring Mar–May, summer Jun–Aug, autumn Sep–Nov.
    case meteorological
    /// Calendar quarters, as the paper uses them: winter Jan–Mar, spring Apr–Jun, summer Jul–Sep, autumn Oct–Dec.
    case quarters
}

/// Seasons of a year by day of the year. Days are 0-based (0 is 1 January 00:00) in 365-day years, as the plant
/// counts them; month boundaries are those of a common year (1 March is day 59, 1 December day 334).
public enum Season: String, Sendable, CaseIterable {
    case winter, spring, summer, autumn

    /// The meteorological season of `dayOfYear` (wrapped into 0..<365).
    public static func of(dayOfYear: Double) -> Season {
        of(dayOfYear: dayOfYear, convention: .meteorological)
    }

    /// The season of `dayOfYear` (wrapped into 0..<365) under `convention`. A non-finite day is winter.
    public static func of(dayOfYear: Double, convention: SeasonConvention) -> Season {
        guard dayOfYear.isFinite else { return .winter }
        let r = dayOfYear.truncatingRemainder(dividingBy: 365)
        let day = r < 0 ? r + 365 : r
        switch convention {
        case .meteorological:
            // 1 Mar, 1 Jun, 1 Sep, 1 Dec.
            if day < 59 { return .winter }
            if day < 151 { return .spring }
            if day < 243 { return .summer }
            if day < 334 { return .autumn }
            return .winter
        case .quarters:
            // 1 Apr, 1 Jul, 1 Oct.
            if day < 90 { return .winter }
            if day < 181 { return .spring }
            if day < 273 { return .summer }
            return .autumn
        }
    }

    /// Year (from 1) and season of plant time `time` (s) for a plant started on day `startDayOfYear`.
    ///
    /// Years are 365-day calendar years counted from the start's year, so a plant started on day 300 is in year 2
    /// from its 65th day. Under the meteorological convention a calendar year's winter collects both its
    /// January–February and its December, as in the paper's per-year tables.
    public static func period(time: Double, startDayOfYear: Double,
                              convention: SeasonConvention = .meteorological) -> (year: Int, season: Season) {
        let days = startDayOfYear + time / 86400
        let year = (days / 365).rounded(.down)
        // Beyond Int's range (or non-finite) there is no meaningful year.
        guard year.magnitude < 1e15 else { return (1, .winter) }
        return (Int(year) + 1, of(dayOfYear: days - year * 365, convention: convention))
    }
}
