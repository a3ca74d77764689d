// libFuzzer target: the recipe loader (`RecipeLoader.load`, as `rigd run --recipe FILE` calls it: the bytes are
// the file). Extraction recipes and heat-rig ramp/soak profiles; any bytes must give a `RunRecipe` whose
// parameters are finite, or a `ConfigError` whose every issue names the file — never a crash.
import Daemon
import Stations
import SimServe
import DeviceTransports
import Control
import Foundation

let path = NSTemporaryDirectory() + "rigd-fuzz-recipe-\(getpid()).toml"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let written = FileManager.default.createFile(atPath: path,
                                                 contents: Data(UnsafeBufferPointer(start: data, count: size)))
    fuzzCheck(written, "cannot write \(path)")
    do {
        let recipe = try RecipeLoader.load(path: path).recipe
        for (key, value) in recipe.parameters {
            fuzzCheck(value.isFinite, "recipe parameter \(key) = \(value)")
        }
        if RampSoakProfile.describes(recipe) {
            _ = try? RampSoakProfile.make(from: recipe, targetLimits: HeatRigControlConfig.setpointLimits)
        } else {
            _ = try? ExtractionRecipe.make(recipe, base: ExtractionRecipe())
        }
    } catch {
        fuzzCheck(!error.issues.isEmpty, "a ConfigError without issues")
        for issue in error.issues {
            fuzzCheck(issue.file == path, "an issue that does not name the file: \(issue)")
        }
    }
    return 0
}
