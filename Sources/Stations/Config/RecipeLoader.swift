import Control
import Devices
import DeviceTransports
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
/// or a cut for the mill (`duration_s`, `spindle_rpm`, `feed_override_pct`). Each kind with runs says which keys its
/// recipes have (`StationKind.recipes`); the file goes to every kind whose format accepts its keys, and a file no
/// kind accepts is an error naming its keys. Parameters are checked against each kind's limits when the file is
/// read, so a bad recipe stops rigd before anything starts (exit 78), naming the file, line and key.
package enum RecipeLoader {
    /// A recipe and the kinds it is for.
    package struct Loaded: Sendable {
        package var recipe: RunRecipe
        /// The kinds whose recipe format accepts the file's keys, in registry order.
        package var kinds: [DeviceKind]

        package init(recipe: RunRecipe, kinds: [DeviceKind]) {
            self.recipe = recipe
            self.kinds = kinds
        }
    }

    package static func load(path: String, kinds: KindRegistry = .builtIn) throws(ConfigError) -> Loaded {
        let text = try ConfigLoader.readText(path)
        let root = try ConfigLoader.parseTOML(text, source: path)
        let reader = ConfigReader(file: path, lines: SourceLines(text))
        let top = TableReader(root, path: "", context: nil, reader: reader)
        var recipe = RunRecipe(name: "recipe")
        var accepting: [DeviceKind] = []
        if let table = top.table("recipe") {
            table.context = "recipe"
            recipe.name = table.string("name") ?? URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
            let keys = Set(table.table.keys.filter { $0 != "name" })
            let formats = kinds.kinds.compactMap { kind in kind.recipes.map { (kind.kind, $0) } }
            let matching = formats.filter { $0.1.accepts(keys) }
            if matching.isEmpty {
                let named = keys.isEmpty ? "no keys" : "keys " + keys.sorted().joined(separator: ", ")
                let known = formats.map { "\($0.0): \($0.1.keys)" }.joined(separator: "; ")
                reader.issue(path: "recipe", context: "recipe", key: nil,
                             "no device kind takes a recipe with \(named) (\(known))")
            } else {
                // Each kind checks the keys against its own limits; a problem two kinds share is reported once.
                var seen: Set<String> = []
                for (kind, format) in matching {
                    let kindReader = ConfigReader(file: path, lines: reader.lines)
                    let kindTable = TableReader(table.table, path: table.path, context: table.context,
                                                reader: kindReader, prefix: table.prefix)
                    var read = RunRecipe(name: recipe.name)
                    format.read(kindTable, &read)
                    for issue in kindReader.issues where seen.insert(issue.description).inserted {
                        reader.append(issue)
                    }
                    if kindReader.issues.isEmpty { accepting.append(kind) }
                    recipe.parameters.merge(read.parameters) { first, _ in first }
                }
            }
        } else {
            reader.issue(path: nil, context: nil, key: nil, "no [recipe] table")
        }
        top.finish()
        guard reader.issues.isEmpty else { throw ConfigError(issues: reader.issues) }
        return Loaded(recipe: recipe, kinds: accepting)
    }
}
