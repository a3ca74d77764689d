import Control
import Foundation
import TOMLKit

/// Reads a recipe file strictly:
///
/// ```toml
/// [recipe]
/// name = "trial-7"
/// circulation_s = 21600
/// height_mm = 200
/// fixed_nozzle = false
/// ```
///
/// or, for the heat rig, a ramp/soak profile:
///
/// ```toml
/// [recipe]
/// name = "anneal"
/// ramp1_c_per_min = 5
/// target1_c = 60
/// soak1_s = 600
/// ramp2_c_per_min = 2
/// target2_c = 40
/// soak2_s = 300
/// ```
///
/// Parameters are checked against the device's limits when the file is read, so a bad recipe stops rigd before
/// anything starts (exit 78), naming the file, line and key.
enum RecipeLoader {
    static func load(path: String) throws(ConfigError) -> RunRecipe {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(issues: [ConfigIssue(file: path, message: "cannot read: \(ConfigLoader.reason(error))")])
        }
        let root = try ConfigLoader.parseTOML(text, source: path)
        let reader = ConfigReader(file: path, lines: SourceLines(text))
        let top = TableReader(root, path: "", context: nil, reader: reader)
        var recipe = RunRecipe(name: "recipe")
        if let table = top.table("recipe") {
            table.context = "recipe"
            recipe.name = table.string("name") ?? URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
            let keys = table.table.keys.filter { $0 != "name" }
            if RampSoakProfile.describes(RunRecipe(name: "", parameters: Dictionary(uniqueKeysWithValues: keys.map { ($0, 0) }))) {
                for key in keys {
                    let value = table.double(key, default: .nan, range: -1e9...1e9)
                    if value.isFinite { recipe.parameters[key] = value }
                }
                do {
                    _ = try RampSoakProfile.make(from: recipe, targetLimits: HeatRigControlConfig.setpointLimits)
                } catch {
                    table.fail("", error.reason)
                }
                table.finish()
                top.finish()
                guard reader.issues.isEmpty else { throw ConfigError(issues: reader.issues) }
                return recipe
            }
            for spec in ExtractionRecipe.specs where table.has(spec.name) {
                if spec.name == "fixed_nozzle" {
                    if let b = table.bool("fixed_nozzle") { recipe.parameters["fixed_nozzle"] = b ? 1 : 0 }
                } else {
                    let value = table.double(spec.name, default: .nan, range: spec.limits)
                    if value.isFinite { recipe.parameters[spec.name] = value }
                }
            }
            table.finish()
            do {
                _ = try ExtractionRecipe.make(recipe, base: ExtractionRecipe())
            } catch {
                table.fail("", error.reason)
            }
        } else {
            reader.issue(path: nil, context: nil, key: nil, "no [recipe] table")
        }
        top.finish()
        guard reader.issues.isEmpty else { throw ConfigError(issues: reader.issues) }
        return recipe
    }
}
