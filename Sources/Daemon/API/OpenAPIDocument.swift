import Foundation
import Stations
import DeviceTransports
import SimServe
import Locking

/// The HTTP API's contract (OpenAPI 3.1), served at /api/openapi.json. The document is `Resources/openapi.json`,
/// embedded in the binary by the build; what rigd serves is that file with the `Station` schema's `kind` enum set to
/// the kinds this rigd knows (`API.kindNames`). `APIContractTests` checks the server against it: every route it
/// serves is documented here, and what each answers conforms to the schemas.
package enum OpenAPIDocument {
    /// The schema whose `enum` lists the device kinds.
    package static let kindSchemaPath = ["components", "schemas", "Station", "properties", "kind"]

    /// The document as it is in the repository.
    package static var source: String { String(decoding: PackageResources.openapi_json, as: UTF8.self) }

    package enum RenderError: Error, CustomStringConvertible {
        case notAnObject
        case noKindSchema

        package var description: String {
            switch self {
            case .notAnObject: "openapi.json is not a JSON object"
            case .noKindSchema: "openapi.json has no schema at " + kindSchemaPath.joined(separator: ".")
            }
        }
    }

    /// The served document: `source` with `kindNames` as the `kind` enum (pretty-printed, keys sorted).
    package static func render(kindNames: [String]) throws -> String {
        guard let document = try JSONSerialization.jsonObject(with: Data(source.utf8)) as? [String: Any] else {
            throw RenderError.notAnObject
        }
        func setting(_ object: [String: Any], _ path: ArraySlice<String>) throws -> [String: Any] {
            var object = object
            guard let key = path.first else {
                object["enum"] = kindNames
                return object
            }
            guard let child = object[key] as? [String: Any] else { throw RenderError.noKindSchema }
            object[key] = try setting(child, path.dropFirst())
            return object
        }
        let rendered = try setting(document, kindSchemaPath[...])
        let data = try JSONSerialization.data(withJSONObject: rendered,
                                              options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// `render(kindNames:)`; the file as it is should it not render (`APIContractTests` makes sure it does).
    package static func json(kindNames: [String]) -> String {
        (try? render(kindNames: kindNames)) ?? source
    }
}
