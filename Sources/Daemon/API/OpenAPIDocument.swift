/// The HTTP API's contract (OpenAPI 3.1), served at /api/openapi.json. The document is `Resources/openapi.json`,
/// embedded in the binary by the build. `APIContractTests` checks the server against it: every route it serves is
/// documented here, and what each answers conforms to the schemas.
enum OpenAPIDocument {
    static var json: String { String(decoding: PackageResources.openapi_json, as: UTF8.self) }
}
