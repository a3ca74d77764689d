import Control
import Foundation

/// `POST /api/stations/{name}/setpoints`: `{"name": SETTING, "value": NUMBER}` (a boolean is not a number).
struct SettingRequest: WriteBody {
    var name: String
    var value: Double

    static func shape(for station: (any AnyStation)?) -> String {
        let settings = station.map {
            "; settings of \($0.name): " + $0.status().settings.map(\.name).joined(separator: ", ")
        }
        return "the body must be {\"name\": SETTING, \"value\": NUMBER}" + (settings ?? "")
    }
}

/// `POST /api/stations/{name}/run/start`: nothing, `{}`, or `{"recipe": {"name": TEXT, "parameters": {KEY: NUMBER
/// or BOOLEAN, …}}}`; booleans become 1 and 0. Without a recipe the station runs its default one.
struct RunStartRequest: OptionalWriteBody {
    var recipe: RunRecipe?

    static let absent = RunStartRequest(recipe: nil)

    static func shape(for station: (any AnyStation)?) -> String { "the body must be a JSON object" }

    init(recipe: RunRecipe?) { self.recipe = recipe }

    private enum Keys: String, CodingKey { case recipe }
    private enum RecipeKeys: String, CodingKey { case name, parameters }

    init(from decoder: any Decoder) throws {
        let body = try decoder.container(keyedBy: Keys.self)
        // Present but null is not absent: it is a recipe of the wrong type.
        guard body.contains(.recipe) else {
            recipe = nil
            return
        }
        let r: KeyedDecodingContainer<RecipeKeys>
        do {
            r = try body.nestedContainer(keyedBy: RecipeKeys.self, forKey: .recipe)
        } catch {
            throw APIError.invalid("recipe must be {\"name\": TEXT, \"parameters\": {KEY: NUMBER, …}}")
        }
        var parameters: [String: Double] = [:]
        if r.contains(.parameters) {
            let p: KeyedDecodingContainer<AnyKey>
            do {
                p = try r.nestedContainer(keyedBy: AnyKey.self, forKey: .parameters)
            } catch {
                throw APIError.invalid("recipe.parameters must be an object of numbers")
            }
            for key in p.allKeys {
                if let flag = try? p.decode(Bool.self, forKey: key) {
                    parameters[key.stringValue] = flag ? 1 : 0
                } else if let number = try? p.decode(Double.self, forKey: key) {
                    parameters[key.stringValue] = number
                } else {
                    throw APIError.invalid("recipe parameter \(key.stringValue) must be a number or a boolean")
                }
            }
        }
        var name = "api"
        if r.contains(.name) {
            do {
                name = try r.decode(String.self, forKey: .name)
            } catch {
                throw APIError.invalid("recipe.name must be a string")
            }
        }
        recipe = RunRecipe(name: name, parameters: parameters)
    }

    /// A recipe parameter's name.
    private struct AnyKey: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}

/// `POST /api/stations/{name}/run/stop`: no body needed; one that is there must be JSON, and is not looked at.
struct RunStopRequest: OptionalWriteBody {
    static let absent = RunStopRequest()

    static func shape(for station: (any AnyStation)?) -> String { "the body, if any, must be JSON" }

    init() {}
    init(from decoder: any Decoder) throws {}
}

/// `POST /api/stations/{name}/alarms/{code}/acknowledge`: `{"by": NAME}`, 1–64 characters, not only blanks.
struct AcknowledgeRequest: WriteBody {
    var by: String

    static func shape(for station: (any AnyStation)?) -> String {
        "the body must be {\"by\": NAME}: who acknowledges (1–64 characters)"
    }

    private enum Keys: String, CodingKey { case by }

    init(from decoder: any Decoder) throws {
        by = try decoder.container(keyedBy: Keys.self).decode(String.self, forKey: .by)
        guard !by.trimmingCharacters(in: .whitespaces).isEmpty, by.count <= 64 else {
            throw APIError.invalid(Self.shape(for: nil))
        }
    }
}
