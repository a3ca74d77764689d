import Control
import Foundation
import Stations
import DeviceTransports
import SimServe
import Locking

/// `POST /api/stations/{name}/setpoints`: `{"name": SETTING, "value": NUMBER}` (a boolean is not a number).
package struct SettingRequest: WriteBody {
    package var name: String
    package var value: Double

    package static func shape(for station: (any AnyStation)?) -> String {
        let settings = station.map {
            "; settings of \($0.name): " + $0.status().settings.map(\.name).joined(separator: ", ")
        }
        return "the body must be {\"name\": SETTING, \"value\": NUMBER}" + (settings ?? "")
    }

    package init(name: String, value: Double) {
        self.name = name
        self.value = value
    }
}

/// `POST /api/stations/{name}/run/start`: nothing, `{}`, or `{"recipe": {"name": TEXT, "parameters": {KEY: NUMBER
/// or BOOLEAN, …}}}`; booleans become 1 and 0. Without a recipe the station runs its default one.
package struct RunStartRequest: OptionalWriteBody {
    package var recipe: RunRecipe?

    package static let absent = RunStartRequest(recipe: nil)

    package static func shape(for station: (any AnyStation)?) -> String { "the body must be a JSON object" }

    package init(recipe: RunRecipe?) { self.recipe = recipe }

    private enum Keys: String, CodingKey { case recipe }
    private enum RecipeKeys: String, CodingKey { case name, parameters }

    package init(from decoder: any Decoder) throws {
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
        package let stringValue: String
        package var intValue: Int? { nil }
        package init(stringValue: String) { self.stringValue = stringValue }
        package init?(intValue: Int) { nil }
    }
}

/// `POST /api/stations/{name}/run/stop`: no body needed; one that is there must be JSON, and is not looked at.
package struct RunStopRequest: OptionalWriteBody {
    package static let absent = RunStopRequest()

    package static func shape(for station: (any AnyStation)?) -> String { "the body, if any, must be JSON" }

    package init() {}
    package init(from decoder: any Decoder) throws {}
}

/// `POST /api/stations/{name}/alarms/{code}/acknowledge`: `{"by": NAME}`, 1–64 characters, not only blanks.
/// An acknowledgement's body, which may be left out: who acknowledges is the token's name. A `by` that earlier
/// clients send is still accepted (1–64 characters) but not recorded: the response's `by` says what was.
package struct AcknowledgeRequest: OptionalWriteBody {
    package var by: String?

    package static let absent = AcknowledgeRequest()

    package static func shape(for station: (any AnyStation)?) -> String {
        "the body, if any, must be {} or {\"by\": NAME} (1–64 characters; ignored: rigd records the token's name)"
    }

    private enum Keys: String, CodingKey { case by }

    package init() {}

    package init(from decoder: any Decoder) throws {
        by = try decoder.container(keyedBy: Keys.self).decodeIfPresent(String.self, forKey: .by)
        if let by, by.trimmingCharacters(in: .whitespaces).isEmpty || by.count > 64 {
            throw APIError.invalid(Self.shape(for: nil))
        }
    }
}

/// `POST /api/stations/{name}/hand`: `{"output": NAME, "value": NUMBER or BOOLEAN, "minutes": NUMBER, "why": TEXT}`;
/// `minutes` may be left out (the longest hold, `[daemon] hand_max_min`), `why` too (1–200 characters). A boolean
/// value is 1 or 0.
package struct HandBody: WriteBody {
    package var output: String
    package var value: Double
    package var minutes: Double?
    package var why: String?

    package static func shape(for station: (any AnyStation)?) -> String {
        let outputs = station.map {
            "; outputs of \($0.name): " + $0.status().handOutputs.map(\.name).joined(separator: ", ")
        }
        return "the body must be {\"output\": NAME, \"value\": NUMBER or BOOLEAN, \"minutes\": NUMBER (optional), "
            + "\"why\": TEXT (optional, 1–200 characters)}" + (outputs ?? "")
    }

    package init(output: String, value: Double, minutes: Double? = nil, why: String? = nil) {
        self.output = output
        self.value = value
        self.minutes = minutes
        self.why = why
    }

    private enum Keys: String, CodingKey { case output, value, minutes, why }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        output = try c.decode(String.self, forKey: .output)
        if let flag = try? c.decode(Bool.self, forKey: .value) {
            value = flag ? 1 : 0
        } else {
            value = try c.decode(Double.self, forKey: .value)
        }
        minutes = try HandBody.optional(Double.self, .minutes, in: c)
        why = try HandBody.reason(HandBody.optional(String.self, .why, in: c))
    }

    /// An optional key: absent is nil; present, it must be of its type (null is not absent).
    static func optional<T: Decodable, K: CodingKey>(_ type: T.Type, _ key: K,
                                                     in c: KeyedDecodingContainer<K>) throws -> T? {
        guard c.contains(key) else { return nil }
        if try c.decodeNil(forKey: key) {
            throw APIError.invalid("\(key.stringValue) must be \(T.self == String.self ? "a string" : "a number"), not null; leave it out instead")
        }
        return try c.decode(T.self, forKey: key)
    }

    /// A `why`: 1–200 characters, not only blanks.
    static func reason(_ why: String?) throws -> String? {
        guard let why else { return nil }
        let trimmed = why.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, trimmed.count <= 200 else {
            throw APIError.invalid("why must be 1–200 characters, not only blanks")
        }
        return trimmed
    }
}

/// `POST /api/stations/{name}/auto`: `{"output": NAME, "why": TEXT}`, both optional; without `output`, every output in
/// hand mode returns to auto.
package struct AutoBody: OptionalWriteBody {
    package var output: String?
    package var why: String?

    package static let absent = AutoBody()

    package static func shape(for station: (any AnyStation)?) -> String {
        "the body, if any, must be {\"output\": NAME (optional: every output), \"why\": TEXT (optional)}"
    }

    package init(output: String? = nil, why: String? = nil) {
        self.output = output
        self.why = why
    }

    private enum Keys: String, CodingKey { case output, why }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        output = try HandBody.optional(String.self, .output, in: c)
        why = try HandBody.reason(HandBody.optional(String.self, .why, in: c))
    }
}

/// `POST /api/stations/{name}/calibration/start`: `{"channel": NAME, "method": "ph" | "do" | "conductivity" |
/// "linear", "points": INTEGER (optional), "why": TEXT (optional)}`.
package struct CalibrationStartBody: WriteBody {
    package var channel: String
    package var method: CalibrationMethod
    package var points: Int?
    package var why: String?

    package static func shape(for station: (any AnyStation)?) -> String {
        let channels = station.map {
            "; channels of \($0.name): " + $0.status().calibration.channels
                .map { "\($0.name) (\($0.methods.joined(separator: ", ")))" }.joined(separator: ", ")
        }
        return "the body must be {\"channel\": NAME, \"method\": \"ph\", \"do\", \"conductivity\" or \"linear\", "
            + "\"points\": INTEGER (optional), \"why\": TEXT (optional, 1–200 characters)}" + (channels ?? "")
    }

    private enum Keys: String, CodingKey { case channel, method, points, why }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        channel = try c.decode(String.self, forKey: .channel)
        let name = try c.decode(String.self, forKey: .method)
        guard let method = CalibrationMethod(rawValue: name) else {
            throw APIError.invalid("method must be \"ph\", \"do\", \"conductivity\" or \"linear\", got \"\(name)\"")
        }
        self.method = method
        points = try HandBody.optional(Int.self, .points, in: c)
        why = try HandBody.reason(HandBody.optional(String.self, .why, in: c))
    }
}

/// `POST /api/stations/{name}/calibration/point`: `{"value": NUMBER, "temp_c": NUMBER, "lot": TEXT}`, each optional:
/// `value` is the standard's true value (left out for a DO saturation point: rigd computes it).
package struct CalibrationPointBody: OptionalWriteBody {
    package var value: Double?
    package var tempC: Double?
    package var lot: String?

    package static let absent = CalibrationPointBody()

    package static func shape(for station: (any AnyStation)?) -> String {
        "the body must be {\"value\": NUMBER (the standard's value; optional only for a DO saturation point), "
            + "\"temp_c\": NUMBER (optional), \"lot\": TEXT (optional)}"
    }

    package init(value: Double? = nil, tempC: Double? = nil, lot: String? = nil) {
        self.value = value
        self.tempC = tempC
        self.lot = lot
    }

    private enum Keys: String, CodingKey {
        case value, lot
        case tempC = "temp_c"
    }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        value = try HandBody.optional(Double.self, .value, in: c)
        tempC = try HandBody.optional(Double.self, .tempC, in: c)
        lot = try HandBody.optional(String.self, .lot, in: c)
    }
}

/// `POST /api/stations/{name}/calibration/finish`: `{"apply": BOOLEAN}`, optional (default true: an accepted
/// calibration is applied).
package struct CalibrationFinishBody: OptionalWriteBody {
    package var apply: Bool

    package static let absent = CalibrationFinishBody(apply: true)

    package static func shape(for station: (any AnyStation)?) -> String {
        "the body, if any, must be {\"apply\": BOOLEAN (optional, default true)}"
    }

    package init(apply: Bool) { self.apply = apply }

    private enum Keys: String, CodingKey { case apply }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        guard c.contains(.apply) else {
            apply = true
            return
        }
        guard let flag = try? c.decode(Bool.self, forKey: .apply) else {
            throw APIError.invalid("apply must be true or false")
        }
        apply = flag
    }
}

/// `POST /api/stations/{name}/calibration/cancel`: no body, or `{}`.
package struct CalibrationCancelBody: OptionalWriteBody {
    package static let absent = CalibrationCancelBody()

    package static func shape(for station: (any AnyStation)?) -> String { "the body, if any, must be a JSON object" }

    package init() {}

    package init(from decoder: any Decoder) throws {
        _ = try decoder.container(keyedBy: NoKeys.self)
    }

    private enum NoKeys: CodingKey {}
}
