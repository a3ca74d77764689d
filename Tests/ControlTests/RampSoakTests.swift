@testable import Control
import Testing
import Locking

@Suite struct RampSoakTests {
    let recipe = RunRecipe(name: "anneal", parameters: [
        "ramp1_c_per_min": 6, "target1_c": 60, "soak1_s": 300,
        "ramp2_c_per_min": 3, "target2_c": 45, "soak2_s": 120,
    ])

    @Test func setpointRampsThenSoaksSegmentBySegment() throws {
        let p = try RampSoakProfile.make(from: recipe, targetLimits: 0...85)
        // From 30 °C: 30 K at 6 K/min = 300 s, soak 300 s; 15 K at 3 K/min = 300 s, soak 120 s.
        #expect(p.duration(from: 30) == 1020)
        #expect(p.point(at: 0, from: 30) == .init(setpointC: 30, segment: 0, soaking: false, done: false))
        #expect(p.point(at: 150, from: 30).setpointC == 45)
        #expect(p.point(at: 450, from: 30) == .init(setpointC: 60, segment: 0, soaking: true, done: false))
        #expect(p.point(at: 700, from: 30).setpointC == 55, "ramping down at 3 K/min")
        #expect(p.point(at: 950, from: 30) == .init(setpointC: 45, segment: 1, soaking: true, done: false))
        #expect(p.point(at: 1020, from: 30).done)
        // Starting hotter than the first target ramps down to it.
        #expect(p.point(at: 60, from: 70).setpointC == 64)
    }

    @Test func recipesAreCheckedKeyByKey() {
        func reason(_ parameters: [String: Double]) -> String? {
            do {
                _ = try RampSoakProfile.make(from: RunRecipe(name: "r", parameters: parameters), targetLimits: 0...84)
                return nil
            } catch {
                return error.reason
            }
        }
        #expect(reason(["ramp1_c_per_min": 5, "target1_c": 60])?.contains("missing soak1_s") == true)
        #expect(reason(["ramp1_c_per_min": 0, "target1_c": 60, "soak1_s": 1])?.contains("ramp1_c_per_min") == true)
        #expect(reason(["ramp1_c_per_min": 5, "target1_c": 90, "soak1_s": 1])?.contains("target1_c must be within 0.0…84.0") == true)
        #expect(reason(["ramp1_c_per_min": 5, "target1_c": 60, "soak1_s": 1, "ramp3_c_per_min": 1, "target3_c": 50,
                        "soak3_s": 1])?.contains("ramp3_c_per_min is not part") == true, "segment 2 missing")
        #expect(reason([:])?.contains("needs ramp1_c_per_min") == true)
        #expect(reason(["ramp1_c_per_min": 5, "target1_c": 60, "soak1_s": 1]) == nil)
        #expect(RampSoakProfile.describes(recipe))
        #expect(!RampSoakProfile.describes(RunRecipe(name: "x", parameters: ["height_mm": 200])))
    }
}
