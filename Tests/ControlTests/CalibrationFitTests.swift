import Control
import Foundation
import Testing

/// The calibration fit (issue 23 part 2, `Calibration.swift`): from points a probe read in standards to the host's
/// correction, with the acceptance checks, and the stability window that decides when a point is read.
@Suite struct CalibrationFitTests {
    /// A probe that reads `k · true + c`.
    private static func points(_ standards: [Double], k: Double, c: Double, tempC: Double? = 25) -> [CalibrationPoint] {
        standards.map { CalibrationPoint(standard: $0, raw: k * $0 + c, tempC: tempC) }
    }

    @Test func twoPHBuffersGiveTheElectrodesSlopeAndOffsetAndACorrectionThatUndoesThem() throws {
        // An electrode at 97 % of Nernstian that reads 0.1 pH high at pH 7.
        let k = 0.97, c = 7 * (1 - k) + 0.1
        let fit = try CalibrationFit.fit(.ph, points: Self.points([7.00, 4.01], k: k, c: c), acceptance: .init())
        #expect(fit.accepted, "\(fit.failures)")
        #expect(abs(try #require(fit.slopePct) - 97) < 1e-9)
        // 0.1 pH at 25 °C is 5.916 mV.
        #expect(abs(try #require(fit.offset) - 0.1 * 59.16) < 0.01)
        for truth in [4.0, 6.5, 8.2, 10.0] {
            #expect(abs(fit.correction.apply(k * truth + c) - truth) < 1e-9)
        }
    }

    @Test func threePHBuffersAreFittedByLeastSquares() throws {
        var points = Self.points([4.01, 7.00, 10.01], k: 0.98, c: 0.2)
        points[1].raw += 0.03  // the middle buffer reads a little off the line
        let fit = try CalibrationFit.fit(.ph, points: points, acceptance: .init())
        // The least-squares slope of these three points: the middle one does not move it (symmetric standards).
        #expect(abs(try #require(fit.slopePct) - 98) < 0.01)
        #expect(abs(fit.correction.apply(points[0].raw) - 4.01) < 0.02)
    }

    @Test func oneBufferMovesTheOffsetOnly() throws {
        let fit = try CalibrationFit.fit(.ph, points: [CalibrationPoint(standard: 7, raw: 7.12)], acceptance: .init())
        #expect(fit.correction.slope == 1)
        #expect(abs(fit.correction.apply(7.12) - 7) < 1e-9)
        #expect(abs(fit.correction.apply(5.12) - 5) < 1e-9)
    }

    @Test func aPHElectrodeOutsideTheLimitsIsRejected() throws {
        // 90 % of Nernstian, and an offset of 0.6 pH (35 mV): both limits fail, and both are said.
        let fit = try CalibrationFit.fit(.ph, points: Self.points([7, 4], k: 0.9, c: 7 * 0.1 + 0.6),
                                         acceptance: .init())
        #expect(!fit.accepted)
        #expect(fit.failures.contains { $0.contains("slope 90 % of Nernstian is outside 95…105 %") }, "\(fit.failures)")
        #expect(fit.failures.contains { $0.contains("mV at pH 7 is beyond ±30 mV") }, "\(fit.failures)")
    }

    @Test func dissolvedOxygenWithAndWithoutAZero() throws {
        // Saturation only: a gain through zero.
        let one = try CalibrationFit.fit(.dissolvedOxygen, points: [CalibrationPoint(standard: 8.26, raw: 7.6)],
                                         acceptance: .init())
        #expect(one.accepted)
        #expect(abs(one.correction.apply(7.6) - 8.26) < 1e-9 && one.correction.offset == 0)
        // Zero and saturation: the zero reading is taken off.
        let two = try CalibrationFit.fit(.dissolvedOxygen, points: [CalibrationPoint(standard: 0, raw: 0.2),
                                                                   CalibrationPoint(standard: 8.26, raw: 7.8)],
                                         acceptance: .init())
        #expect(two.accepted && two.offset == 0.2 && two.offsetUnit == "mg/L")
        #expect(abs(two.correction.apply(0.2)) < 1e-9 && abs(two.correction.apply(7.8) - 8.26) < 1e-9)
        // A membrane reading 60 % is past saving.
        let bad = try CalibrationFit.fit(.dissolvedOxygen, points: [CalibrationPoint(standard: 8.26, raw: 4.96)],
                                         acceptance: .init())
        #expect(!bad.accepted && bad.failures.first?.contains("gain 60.05 % is outside 80…120 %") == true,
                "\(bad.failures)")
    }

    @Test func conductivityIsAGainAndLinearIsALine() throws {
        let cell = try CalibrationFit.fit(.conductivity, points: [CalibrationPoint(standard: 35, raw: 36.4)],
                                          acceptance: .init())
        let gain = try #require(cell.slopePct)
        #expect(cell.accepted && abs(gain - 104) < 1e-9)
        #expect(abs(cell.correction.apply(36.4) - 35) < 1e-9)
        let line = try CalibrationFit.fit(.linear, points: [CalibrationPoint(standard: 0, raw: 0.5),
                                                           CalibrationPoint(standard: 100, raw: 98.5)],
                                          acceptance: .init())
        #expect(line.accepted)
        #expect(abs(line.correction.apply(0.5)) < 1e-9 && abs(line.correction.apply(98.5) - 100) < 1e-9)
    }

    @Test func pointsTheMethodCannotFitAreRefused() {
        #expect(throws: CalibrationError.self) {
            try CalibrationFit.fit(.linear, points: [CalibrationPoint(standard: 1, raw: 1)], acceptance: .init())
        }
        #expect(throws: CalibrationError.self) {
            try CalibrationFit.fit(.ph, points: [CalibrationPoint(standard: 7, raw: 7.1),
                                                 CalibrationPoint(standard: 7, raw: 7.2)], acceptance: .init())
        }
        #expect(throws: CalibrationError.self) {
            try CalibrationFit.fit(.ph, points: Self.points([4, 7, 10, 12], k: 1, c: 0), acceptance: .init())
        }
        #expect(throws: CalibrationError.self) {
            try CalibrationFit.fit(.conductivity, points: [CalibrationPoint(standard: 35, raw: .nan)],
                                   acceptance: .init())
        }
    }

    @Test func aReadingIsStableOnlyWhenTheWindowIsSpannedAndInsideTheBand() {
        var w = StabilityWindow(window: 60, band: 0.02)
        // Settling: the first readings move too much.
        for (t, v) in [(0.0, 4.5), (10, 4.2), (20, 4.1), (30, 4.08)] { w.add(v, at: t) }
        #expect(!w.isStable)
        for t in stride(from: 40.0, through: 90, by: 10) { w.add(4.03 + (t.truncatingRemainder(dividingBy: 20) == 0 ? 0.005 : 0), at: t) }
        // 30…90 s: 4.08 is still in the window (60 s back from 90 s), too far from the mean.
        #expect(!w.isStable)
        w.add(4.03, at: 100)
        #expect(w.isStable, "spread \(String(describing: w.spread)) over \(w.covered) s")
        // A slow loop (a reading every 10 s) against a 5 s window: three readings, still compared.
        var slow = StabilityWindow(window: 5, band: 0.1)
        slow.add(35.7, at: 0)
        slow.add(37.0, at: 10)
        #expect(!slow.isStable)
        slow.add(37.05, at: 20)
        #expect(!slow.isStable)
        slow.add(37.07, at: 30)
        #expect(slow.isStable && slow.covered == 20)
    }
}
