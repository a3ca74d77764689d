import Control
import Foundation
import RigdTestKit
import Stations
import Testing

@Suite struct RecipeLoaderTests {
    @Test func readsARampSoakRecipe() throws {
        let path = try temporaryFile("""
            [recipe]
            name = "anneal"
            ramp1_c_per_min = 5
            target1_c = 60
            soak1_s = 600
            ramp2_c_per_min = 2
            target2_c = 40
            soak2_s = 300
            """)
        let loaded = try RecipeLoader.load(path: path)
        let recipe = loaded.recipe
        #expect(loaded.kinds == [.heatRig])
        #expect(recipe.name == "anneal" && recipe.parameters.count == 6 && recipe.parameters["target2_c"] == 40)
        #expect(RampSoakProfile.describes(recipe))
    }

    @Test func aBadRampSoakRecipeNamesTheProblem() throws {
        let path = try temporaryFile("""
            [recipe]
            ramp1_c_per_min = 5
            target1_c = 95
            soak1_s = 600
            """)
        do {
            _ = try RecipeLoader.load(path: path)
            Issue.record("a 95 °C target was accepted")
        } catch {
            #expect(error.description.contains("target1_c must be within 0.0…85.0"), "\(error.description)")
            #expect(error.description.contains(path))
        }
    }

    @Test func extractionRecipesStillLoad() throws {
        let path = try temporaryFile("""
            [recipe]
            name = "trial"
            height_mm = 250
            fixed_nozzle = true
            """)
        let loaded = try RecipeLoader.load(path: path)
        let recipe = loaded.recipe
        #expect(loaded.kinds == [.extraction])
        #expect(recipe.parameters == ["height_mm": 250, "fixed_nozzle": 1])
        #expect(!RampSoakProfile.describes(recipe))
    }

    @Test func aRecipeGoesToEveryKindWhoseFormatTakesIt() throws {
        let cut = try temporaryFile("[recipe]\nname = \"slot\"\nspindle_rpm = 9000\nduration_s = 120\n")
        #expect(try RecipeLoader.load(path: cut).kinds == [.cncMill])
        // A recipe with only a name: every kind whose parameters are all optional (the MSD experiment has none).
        let plain = try temporaryFile("[recipe]\nname = \"defaults\"\n")
        #expect(try RecipeLoader.load(path: plain).kinds == [.extraction, .cncMill, .msdRig])
    }

    @Test func aRecipeNoKindTakesNamesItsKeys() throws {
        let path = try temporaryFile("[recipe]\nname = \"x\"\nheight_mm = 250\nspindle_rpm = 9000\n")
        do {
            _ = try RecipeLoader.load(path: path)
            Issue.record("a recipe mixing extraction and mill keys was accepted")
        } catch {
            #expect(error.description.contains("no device kind takes a recipe with keys height_mm, spindle_rpm"),
                    "\(error.description)")
            #expect(error.description.contains("cnc-mill: duration_s, spindle_rpm, feed_override_pct"))
        }
    }

    @Test func aRecipeOutOfAKindsLimitsIsRejected() throws {
        let path = try temporaryFile("[recipe]\nspindle_rpm = 90000\n")
        #expect(throws: ConfigError.self) { try RecipeLoader.load(path: path) }
    }
}
