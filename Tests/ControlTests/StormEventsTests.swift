import Testing
@testable import Control
import Locking

/// The paper's storm-event rule, loads and flow-weighted means, and seasons (docs/register-contract.md §D host laws).
@Suite struct StormEventsTests {
    /// One minute of record: rain intensity (mm/h) and discharge (m³/s) over that minute.
    struct Minute {
        var rain: Double
        var discharge: Double
    }

    /// A record of `minutes` one-minute samples; `rain(i)` and `discharge(i)` give minute i, which covers
    /// (60·i, 60·(i + 1)] and is fed with now = 60·(i + 1).
    static func record(minutes: Int, rain: (Int) -> Double, discharge: (Int) -> Double = { 1 + 0.01 * Double($0) })
        -> [Minute] {
        (0..<minutes).map { Minute(rain: rain($0), discharge: discharge($0)) }
    }

    /// Feeds `record` minute by minute from time 0.
    static func detect(_ record: [Minute], detector: StormEventDetector = StormEventDetector())
        -> StormEventDetector {
        var d = detector
        for (i, m) in record.enumerated() {
            d.add(now: 60 * Double(i + 1), rainMmH: m.rain, dischargeM3s: m.discharge, dt: 60)
        }
        return d
    }

    /// Rain (mm), flow (m³) and peak discharge of minutes `range`, summed by hand.
    static func totals(_ record: [Minute], _ range: ClosedRange<Int>) -> (rain: Double, flow: Double, peak: Double) {
        var rain = 0.0
        var flow = 0.0
        var peak = 0.0
        for i in range {
            rain += record[i].rain * 60 / 3600
            flow += record[i].discharge * 60
            peak = max(peak, record[i].discharge)
        }
        return (rain, flow, peak)
    }

    /// Two 30-minute bursts (3 mm/h, then 2 mm/h) with a break of `breakMinutes` of 0.3 mm/h drizzle between them,
    /// 20 dry minutes before and drizzle again for four hours after.
    static func twoBursts(breakMinutes: Int) -> (record: [Minute], first: ClosedRange<Int>, second: ClosedRange<Int>) {
        let first = 20...49
        let second = (50 + breakMinutes)...(79 + breakMinutes)
        let record = Self.record(minutes: second.upperBound + 1 + 240) { i in
            if first.contains(i) { return 3 }
            if second.contains(i) { return 2 }
            return i < first.lowerBound ? 0 : 0.3
        }
        return (record, first, second)
    }

    // MARK: - Storm events

    @Test func burstsAnHourAndAHalfApartAreOneEvent() throws {
        let (record, first, second) = Self.twoBursts(breakMinutes: 90)
        let d = Self.detect(record)
        #expect(d.events.count == 1)
        #expect(!d.inEvent)
        let event = try #require(d.events.first)
        // Starts where the first wet minute starts, ends when the last wet minute ends.
        #expect(event.start == 60 * Double(first.lowerBound))
        #expect(event.end == 60 * Double(second.upperBound + 1))
        // Everything from the first to the last wet minute, the break's drizzle included, nothing after.
        let expected = Self.totals(record, first.lowerBound...second.upperBound)
        #expect(abs(event.totalRainMm - expected.rain) < 1e-9)
        #expect(abs(event.totalRainMm - (1.5 + 90 * 0.3 / 60 + 1.0)) < 1e-9)
        #expect(abs(event.totalFlowM3 - expected.flow) < 1e-6)
        #expect(event.peakDischargeM3s == expected.peak)
        #expect(event.duration == 60 * Double(second.upperBound + 1 - first.lowerBound))
    }

    @Test func burstsTwoAndAHalfHoursApartAreTwoEvents() throws {
        let (record, first, second) = Self.twoBursts(breakMinutes: 150)
        let d = Self.detect(record)
        #expect(d.events.count == 2)
        try #require(d.events.count == 2)
        let a = d.events[0]
        let b = d.events[1]
        #expect(a.start == 60 * Double(first.lowerBound))
        #expect(a.end == 60 * Double(first.upperBound + 1))
        #expect(b.start == 60 * Double(second.lowerBound))
        #expect(b.end == 60 * Double(second.upperBound + 1))
        let ta = Self.totals(record, first)
        let tb = Self.totals(record, second)
        #expect(abs(a.totalRainMm - 1.5) < 1e-9 && abs(a.totalRainMm - ta.rain) < 1e-9)
        #expect(abs(b.totalRainMm - 1.0) < 1e-9 && abs(b.totalRainMm - tb.rain) < 1e-9)
        #expect(abs(a.totalFlowM3 - ta.flow) < 1e-6)
        #expect(abs(b.totalFlowM3 - tb.flow) < 1e-6)
        #expect(a.peakDischargeM3s == ta.peak)
        #expect(b.peakDischargeM3s == tb.peak)
    }

    @Test func drizzleBelowTheThresholdNeverStartsAnEvent() {
        var d = StormEventDetector()
        for i in 0..<(10 * 60) {
            d.add(now: 60 * Double(i + 1), rainMmH: 0.4, dischargeM3s: 3, dt: 60)
            #expect(!d.inEvent)
        }
        // Exactly at the threshold is not above it either.
        d.add(now: 60 * 601, rainMmH: 0.5, dischargeM3s: 3, dt: 60)
        #expect(d.events.isEmpty)
        d.add(now: 60 * 602, rainMmH: 0.51, dischargeM3s: 3, dt: 60)
        #expect(d.inEvent)
        #expect(d.events.count == 1)
    }

    @Test func aBreakOfExactlyTwoHoursKeepsTheEventAndOneMinuteMoreEndsIt() {
        let dry = 0.2
        for (breakMinutes, expectedEvents) in [(120, 1), (121, 2)] {
            let record = Self.record(minutes: 10 + breakMinutes + 10 + 200) { i in
                i < 10 || (i >= 10 + breakMinutes && i < 20 + breakMinutes) ? 4 : dry
            }
            let d = Self.detect(record)
            #expect(d.events.count == expectedEvents, "break of \(breakMinutes) min")
            #expect(!d.inEvent)
        }
    }

    @Test func theEventStaysOpenForTwoHoursAfterTheLastWetSample() throws {
        var d = StormEventDetector()
        d.add(now: 60, rainMmH: 5, dischargeM3s: 2, dt: 60)
        d.add(now: 120, rainMmH: 5, dischargeM3s: 3, dt: 60)
        #expect(d.inEvent)
        let open = try #require(d.openEvent)
        #expect(open.end == nil && open.start == 0)
        #expect(d.closedEvents.isEmpty)
        // Dry minutes: open until the break exceeds 7200 s, closed by the first sample that shows it.
        var t = 120.0
        while t < 120 + 7200 {
            t += 60
            d.add(now: t, rainMmH: 0, dischargeM3s: 9, dt: 60)
            #expect(d.inEvent, "still open at \(t)")
        }
        d.add(now: t + 60, rainMmH: 0, dischargeM3s: 9, dt: 60)
        #expect(!d.inEvent)
        let event = try #require(d.events.last)
        #expect(event.end == 120)
        #expect(abs(event.totalRainMm - 10.0 / 60) < 1e-12)
        #expect(event.totalFlowM3 == 300)
        // The large discharge after the last wet sample is outside [start, end].
        #expect(event.peakDischargeM3s == 3)
        #expect(d.closedEvents.count == 1)
        #expect(abs(event.totalFlowMm(areaKm2: 89) - 300 / 89e6 * 1000) < 1e-15)
    }

    @Test func aWetSampleAfterALongGapInTheDataStartsANewEvent() {
        var d = StormEventDetector()
        d.add(now: 600, rainMmH: 2, dischargeM3s: 1, dt: 60)
        // The station was silent for three hours; the next sample is wet again.
        d.add(now: 600 + 3 * 3600, rainMmH: 2, dischargeM3s: 1, dt: 60)
        #expect(d.events.count == 2)
        #expect(d.events.first?.end == 600)
        #expect(d.events.last?.start == Double(600 + 3 * 3600 - 60))
        #expect(d.inEvent)
    }

    @Test func invalidSamplesAreIgnored() {
        var d = StormEventDetector()
        d.add(now: 60, rainMmH: 3, dischargeM3s: 1, dt: 60)
        let before = d
        d.add(now: 120, rainMmH: .nan, dischargeM3s: 1, dt: 60)
        d.add(now: 120, rainMmH: 3, dischargeM3s: .infinity, dt: 60)
        d.add(now: 120, rainMmH: 3, dischargeM3s: 1, dt: 0)
        d.add(now: 120, rainMmH: 3, dischargeM3s: 1, dt: -60)
        d.add(now: .nan, rainMmH: 3, dischargeM3s: 1, dt: 60)
        d.add(now: 60, rainMmH: 3, dischargeM3s: 1, dt: 60)
        d.add(now: 30, rainMmH: 3, dischargeM3s: 1, dt: 60)
        #expect(d == before)
        d.add(now: 120, rainMmH: 3, dischargeM3s: 1, dt: 60)
        #expect(d != before)
        #expect(abs((d.events.last?.totalRainMm ?? 0) - 0.1) < 1e-12)
    }

    @Test func customThresholdAndBreak() {
        let d = Self.detect(Self.record(minutes: 200) { i in i < 10 || (i >= 40 && i < 50) ? 1.0 : 0 },
                            detector: StormEventDetector(thresholdMmH: 0.9, maxBreak: 1200))
        #expect(d.thresholdMmH == 0.9 && d.maxBreak == 1200)
        // A 30-minute break is longer than the 20 allowed.
        #expect(d.events.count == 2)
        let drizzle = Self.detect(Self.record(minutes: 200) { _ in 1.0 },
                                  detector: StormEventDetector(thresholdMmH: 1.0))
        #expect(drizzle.events.isEmpty)
    }

    // MARK: - Loads

    @Test func loadAccountMatchesAHandComputedSeries() {
        var account = LoadAccount()
        #expect(account.samples == 0 && account.loadKg == 0 && account.fwmcMgL == 0 && account.arithmeticMeanMgL == 0)
        // (C mg/L, Q m³/s, dt s)
        let series: [(Double, Double, Double)] = [(0.1, 2, 60), (0.3, 5, 60), (0.2, 1, 120), (0.5, 10, 30)]
        for (c, q, dt) in series { account.add(concentrationMgL: c, dischargeM3s: q, dt: dt) }
        // Σ C·Q·dt = 12 + 90 + 24 + 150 = 276 g; Σ Q·dt = 120 + 300 + 120 + 300 = 840 m³.
        #expect(account.samples == 4)
        #expect(abs(account.loadKg - 0.276) < 1e-9)
        #expect(abs(account.flowM3 - 840) < 1e-9)
        #expect(abs(account.fwmcMgL - 276.0 / 840.0) < 1e-9)
        #expect(abs(account.arithmeticMeanMgL - 0.275) < 1e-9)
        #expect(abs(account.arithmeticLoadKg - 0.275 * 840 / 1000) < 1e-9)
        // Invalid samples change nothing; negatives count as zero.
        let before = account
        account.add(concentrationMgL: .nan, dischargeM3s: 1, dt: 60)
        account.add(concentrationMgL: 1, dischargeM3s: .infinity, dt: 60)
        account.add(concentrationMgL: 1, dischargeM3s: 1, dt: 0)
        #expect(account == before)
        account.add(concentrationMgL: -1, dischargeM3s: 4, dt: 10)
        #expect(account.samples == 5)
        #expect(abs(account.loadKg - 0.276) < 1e-9)
        #expect(abs(account.flowM3 - 880) < 1e-9)
        #expect(abs(account.arithmeticMeanMgL - 1.1 / 5) < 1e-9)
    }

    /// Hourly samples over a year-like sequence of flows, with C = f(Q).
    static func account(concentration: (Double) -> Double) -> LoadAccount {
        var account = LoadAccount()
        for i in 0..<1000 {
            // Mostly low flow with a few storm peaks.
            let q = 0.2 + (i % 100 < 8 ? 10 * Double(i % 100) : 0)
            account.add(concentrationMgL: concentration(q), dischargeM3s: q, dt: 3600)
        }
        return account
    }

    @Test func fwmcSitsAboveTheMeanWhenConcentrationRisesWithFlowAndBelowWhenItFalls() {
        let rising = Self.account { q in 0.1 * q.squareRoot() }
        #expect(rising.fwmcMgL > 1.5 * rising.arithmeticMeanMgL)
        #expect(rising.loadKg > rising.arithmeticLoadKg)
        let falling = Self.account { q in 2 / (1 + q) }
        #expect(falling.fwmcMgL < 0.7 * falling.arithmeticMeanMgL)
        #expect(falling.loadKg < falling.arithmeticLoadKg)
        let flat = Self.account { _ in 0.05 }
        #expect(abs(flat.fwmcMgL - flat.arithmeticMeanMgL) < 1e-12)
    }

    @Test func yieldIsLoadPerArea() {
        var account = LoadAccount()
        account.add(concentrationMgL: 0.2, dischargeM3s: 1, dt: 86400)
        // 0.2 g/m³ × 86 400 m³ = 17.28 kg over the paper's 8900 ha.
        #expect(abs(account.loadKg - 17.28) < 1e-9)
        #expect(abs(account.yieldKgPerHa(areaHa: 8900) - 17.28 / 8900) < 1e-15)
        #expect(account.yieldKgPerHa(areaHa: 1) == account.loadKg)
        #expect(account.yieldKgPerHa(areaHa: 0) == 0)
    }

    // MARK: - Seasons

    @Test func meteorologicalSeasonBoundaries() {
        let cases: [(Double, Season)] = [
            (0, .winter), (58.999, .winter), (59, .spring), (150.999, .spring), (151, .summer), (242.999, .summer),
            (243, .autumn), (333.999, .autumn), (334, .winter), (364.999, .winter),
            // Wrapped into the year.
            (365, .winter), (365 + 59, .spring), (-1, .winter), (-365 + 151, .summer),
        ]
        for (day, season) in cases {
            #expect(Season.of(dayOfYear: day) == season, "day \(day)")
            #expect(Season.of(dayOfYear: day, convention: .meteorological) == season, "day \(day)")
        }
        #expect(Season.allCases.map(\.rawValue) == ["winter", "spring", "summer", "autumn"])
        #expect(Season.of(dayOfYear: .nan) == .winter)
    }

    @Test func calendarQuarterBoundaries() {
        let cases: [(Double, Season)] = [
            (0, .winter), (89.999, .winter), (90, .spring), (180.999, .spring), (181, .summer), (272.999, .summer),
            (273, .autumn), (364.999, .autumn), (365, .winter),
        ]
        for (day, season) in cases {
            #expect(Season.of(dayOfYear: day, convention: .quarters) == season, "day \(day)")
        }
    }

    @Test func periodNamesTheYearAndSeasonOfAPlantTime() {
        let p1 = Season.period(time: 0, startDayOfYear: 0)
        #expect(p1.year == 1 && p1.season == .winter)
        let p2 = Season.period(time: 100 * 86400, startDayOfYear: 0)
        #expect(p2.year == 1 && p2.season == .spring)
        // Started on day 300 (late October): autumn of year 1, December is year 1's winter, day 65 is 1 January.
        let p3 = Season.period(time: 0, startDayOfYear: 300)
        #expect(p3.year == 1 && p3.season == .autumn)
        let p4 = Season.period(time: 40 * 86400, startDayOfYear: 300)
        #expect(p4.year == 1 && p4.season == .winter)
        let p5 = Season.period(time: 65 * 86400, startDayOfYear: 300)
        #expect(p5.year == 2 && p5.season == .winter)
        let p6 = Season.period(time: (65 + 90) * 86400, startDayOfYear: 300, convention: .quarters)
        #expect(p6.year == 2 && p6.season == .spring)
        let p7 = Season.period(time: 2 * 365 * 86400 + 200 * 86400, startDayOfYear: 0)
        #expect(p7.year == 3 && p7.season == .summer)
    }
}
