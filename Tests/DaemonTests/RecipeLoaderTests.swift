import Control
import Foundation
import Testing
@testable import Daemon

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
        let recipe = try RecipeLoader.load(path: path)
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
        let recipe = try RecipeLoader.load(path: path)
        #expect(recipe.parameters == ["height_mm": 250, "fixed_nozzle": 1])
        #expect(!RampSoakProfile.describes(recipe))
    }
}
