import Daemon
import Foundation
import Glibc
import RigdTestKit
import Stations
import Testing

/// The HTTP API against its contract, `Sources/Daemon/Resources/openapi.json` as `OpenAPIDocument` serves it at
/// /api/openapi.json (with the kinds rigd knows), and the write bodies it documents. The running server is checked
/// by `openapi_check.py` (next to this file: openapi-spec-validator for the document, jsonschema for every answer);
/// `scripts/test` pip-installs what it needs.
@Suite("API contract: rigd against its OpenAPI document")
struct APIContractTests {
    /// Every route `API.router()` serves, as "METHOD PATH" (the router keeps no list to ask).
    static let routes: Set<String> = [
        "GET /api/openapi.json", "GET /metrics", "GET /api/health", "GET /api/kinds", "GET /api/stations", "GET /api/whoami", "GET /api/notify", "POST /api/notify/{target}/test",
        "POST /api/reload",
        "GET /api/stations/{name}",
        "GET /api/stations/{name}/samples", "GET /api/stations/{name}/samples/summary", "GET /api/stations/{name}/export.csv", "GET /api/alarms", "GET /api/runs", "GET /api/events", "GET /api/stream",
        "POST /api/stations/{name}/setpoints", "POST /api/stations/{name}/run/start",
        "POST /api/stations/{name}/run/stop", "POST /api/stations/{name}/alarms/{code}/acknowledge",
        "POST /api/stations/{name}/hand", "POST /api/stations/{name}/auto",
        "POST /api/stations/{name}/calibration/start", "POST /api/stations/{name}/calibration/point",
        "POST /api/stations/{name}/calibration/finish", "POST /api/stations/{name}/calibration/cancel",
        "GET /api/calibrations",
    ]

    static let checker = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("openapi_check.py").path

    /// `rigd run` on the embedded demo plant with the API on a free loopback port: (rigd, base URL, token file).
    static func startDemoPlant() throws -> (rigd: ChildProcess, base: String, tokenFile: String) {
        let dataDir = NSTemporaryDirectory() + "rigd-api-contract-\(UUID().uuidString)"
        let rigd = try ChildProcess(try rigdBinary(), ["run", "--http", "127.0.0.1:0", "--data-dir", dataDir,
                                                       "--status-every", "0", "--for", "120s"])
        let base = try rigd.apiBase()
        return (rigd, base, dataDir + "/api-token")
    }

    /// Runs openapi_check.py: its exit status and everything it printed.
    static func runChecker(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let r = try runToCompletion("/usr/bin/env", ["python3", checker] + arguments, timeout: 100)
        return (r.status, r.stdout + (r.stderr.isEmpty ? "" : "\nstderr:\n" + r.stderr))
    }

    static func document() throws -> [String: Any] {
        let text = try OpenAPIDocument.render(kindNames: KindRegistry.builtIn.names)
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8))
        guard let doc = object as? [String: Any] else { throw TestFailure("the served document is not a JSON object") }
        return doc
    }

    /// `object` with `change` applied to the object at `path` (keys of nested objects).
    static func edit(_ object: [String: Any], at path: ArraySlice<String>,
                     _ change: (inout [String: Any]) -> Void) -> [String: Any] {
        var object = object
        if let key = path.first {
            object[key] = edit(object[key] as? [String: Any] ?? [:], at: path.dropFirst(), change)
        } else {
            change(&object)
        }
        return object
    }

    @Test func theServerConformsToItsOpenAPIDocument() throws {
        let (rigd, base, tokenFile) = try Self.startDemoPlant()
        defer { try? FileManager.default.removeItem(atPath: rigd.dataDirectory ?? "/nonexistent") }
        let viewer = try runToCompletion(try rigdBinary(), ["token", "add", "viewer-check", "--role", "viewer",
                                                            "--data-dir", try #require(rigd.dataDirectory)], timeout: 30)
        try #require(viewer.status == 0, "rigd token add: \(viewer.stderr)")
        let viewerFile = try #require(rigd.dataDirectory) + "/viewer.token"
        try viewer.stdout.write(toFile: viewerFile, atomically: true, encoding: .utf8)
        let check = try Self.runChecker([base, tokenFile, "--viewer-token-file", viewerFile])
        #expect(check.status == 0, "openapi_check.py \(base): rigd and its OpenAPI document disagree\n\(check.output)")
        rigd.signal(SIGTERM)
        let status = rigd.waitForExit(timeout: 20)
        let outcome = status.map { "exit \($0)" } ?? "still running after 20 s"
        #expect(status == 0, "rigd after SIGTERM: \(outcome)\n\(rigd.stderr.suffix(3000))")
    }

    /// The checker is not vacuous: against a document the server does not match, it fails and says where.
    @Test func theCheckerFailsOnADocumentTheServerDoesNotMatch() throws {
        var doc = try Self.document()
        // /api/health's `stations` is a number; documented as a string, the answer breaks its schema.
        doc = Self.edit(doc, at: ["components", "schemas", "Health", "properties", "stations"]) { $0["type"] = "string" }
        // An unknown station gets 404; without 404 documented, that status is a mismatch.
        doc = Self.edit(doc, at: ["paths", "/api/stations/{name}", "get", "responses"]) { $0["404"] = nil }
        // A looser time schema accepts what the server refuses (issue 18 item 16).
        doc = Self.edit(doc, at: ["components", "schemas", "TimeArgument"]) { $0 = ["type": "string"] }
        // A method the server takes but the document does not list: not a 405 with that Allow.
        doc = Self.edit(doc, at: ["paths", "/api/kinds"]) {
            $0["get"] = nil
            $0["post"] = ["responses": ["200": ["description": "x"]]]
        }
        let file = try temporaryFile(String(decoding: try JSONSerialization.data(withJSONObject: doc), as: UTF8.self),
                                     suffix: ".json")
        defer { unlink(file) }
        let (rigd, base, tokenFile) = try Self.startDemoPlant()
        defer { try? FileManager.default.removeItem(atPath: rigd.dataDirectory ?? "/nonexistent") }
        let check = try Self.runChecker([base, tokenFile, "--document", file])
        #expect(check.status == 1, "\(check.output)")
        #expect(check.output.contains("body does not match #/components/schemas/Health"), "\(check.output)")
        #expect(check.output.contains("status 404 is not documented for GET /api/stations/{name}"), "\(check.output)")
        #expect(check.output.contains("FAIL GET /api/stations/{name}/samples: the document refuses from='1e9'"),
                "\(check.output)")
        #expect(check.output.contains("FAIL GET /api/kinds [undocumented method] → 405, Allow POST"), "\(check.output)")
        rigd.signal(SIGTERM)
        _ = rigd.waitForExit(timeout: 20)
    }

    @Test func theDocumentParsesAndListsEveryRoute() throws {
        let doc = try Self.document()
        #expect((doc["openapi"] as? String)?.hasPrefix("3.1") == true, "openapi: \(String(describing: doc["openapi"]))")
        let paths = try #require(doc["paths"] as? [String: Any], "the document has no paths")
        let methods: Set<String> = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]
        var documented = Set<String>()
        for (path, item) in paths {
            for (method, operation) in item as? [String: Any] ?? [:] where methods.contains(method) {
                documented.insert("\(method.uppercased()) \(path)")
                let responses = (operation as? [String: Any])?["responses"] as? [String: Any] ?? [:]
                #expect(!responses.isEmpty, "\(method.uppercased()) \(path) documents no responses")
            }
        }
        let missing = Self.routes.subtracting(documented).sorted()
        let extra = documented.subtracting(Self.routes).sorted()
        #expect(missing.isEmpty, "routes rigd serves that the document does not list: \(missing)")
        #expect(extra.isEmpty, "operations the document lists that rigd does not serve: \(extra)")

        // Every local reference points at something.
        func refs(_ node: Any) -> [String] {
            if let object = node as? [String: Any] {
                let own = (object["$ref"] as? String).map { [$0] } ?? []
                return own + object.values.flatMap(refs)
            }
            return (node as? [Any])?.flatMap(refs) ?? []
        }
        for ref in Set(refs(doc)).sorted() {
            var node: Any? = doc
            for key in ref.split(separator: "/").dropFirst() {
                let key = key.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
                node = (node as? [String: Any])?[key]
            }
            #expect(ref.hasPrefix("#/") && node != nil, "$ref \(ref) points at nothing")
        }
    }

    /// The reload's answer (`ReloadOutcome`, also `rigd reload --json`) has exactly the keys the document's schema
    /// lists, all of them required: a key added to one and not the other fails here, before a client meets it.
    @Test func theReloadOutcomeSchemaHasEveryKeyOfTheAnswer() throws {
        let doc = try Self.document()
        let schema = try #require(
            ((doc["components"] as? [String: Any])?["schemas"] as? [String: Any])?["ReloadOutcome"] as? [String: Any],
            "the document has no ReloadOutcome schema")
        let properties = Set((schema["properties"] as? [String: Any] ?? [:]).keys)
        let required = Set(schema["required"] as? [String] ?? [])
        // An answer with the schema's keys (a value of each one's type) decodes, and encodes to the same keys.
        var sample: [String: Any] = [:]
        for (key, property) in schema["properties"] as? [String: Any] ?? [:] {
            switch (property as? [String: Any])?["type"] as? String {
            case "boolean": sample[key] = true
            case "array": sample[key] = ["pond-1"]
            default: sample[key] = "x"
            }
        }
        sample["needs_restart"] = ["daemon"]
        let outcome = try JSONDecoder().decode(ReloadOutcome.self,
                                               from: try JSONSerialization.data(withJSONObject: sample))
        let encoded = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(outcome))
        let keys = Set((try #require(encoded as? [String: Any])).keys)
        #expect(keys == properties, "answer keys \(keys.sorted()) vs schema properties \(properties.sorted())")
        #expect(required == properties, "not required: \(properties.subtracting(required).sorted())")
        let responses = ((doc["paths"] as? [String: Any])?["/api/reload"] as? [String: Any])
            .flatMap { ($0["post"] as? [String: Any])?["responses"] as? [String: Any] } ?? [:]
        #expect(Set(responses.keys) == ["200", "401", "403", "404", "409", "422"], "\(responses.keys.sorted())")
    }

    // MARK: The document as a file

    static let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources/Daemon/Resources/openapi.json")

    @Test func theOpenAPIFileIsJSON() throws {
        let object = try JSONSerialization.jsonObject(with: try Data(contentsOf: Self.file))
        let doc = try #require(object as? [String: Any], "\(Self.file.path) is not a JSON object")
        #expect((doc["openapi"] as? String)?.hasPrefix("3.1") == true)
    }

    /// What rigd serves is the file with the kinds it is given as `Station.kind`'s enum, and nothing else changed.
    @Test func theServedDocumentIsTheFileWithTheKindsGiven() throws {
        let kinds = ["heat-rig", "pump-rig"]
        let text = try OpenAPIDocument.render(kindNames: kinds)
        let served = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let schema = OpenAPIDocument.kindSchemaPath.reduce(served as Any?) { ($0 as? [String: Any])?[$1] }
        #expect((schema as? [String: Any])?["enum"] as? [String] == kinds)
        let file = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: Self.file)) as? [String: Any])
        let expected = Self.edit(file, at: OpenAPIDocument.kindSchemaPath[...]) { $0["enum"] = kinds }
        let canonical: (Any) throws -> Data = { try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]) }
        #expect(try canonical(served) == canonical(expected))
        #expect(OpenAPIDocument.json(kindNames: kinds) == (try OpenAPIDocument.render(kindNames: kinds)))
    }

    // MARK: Write bodies

    /// A body decoded as the routes decode it (after the JSON check): the value, or the 422 reason, or "shape" for
    /// a body the decoder refuses (the route then answers with the request's `shape`).
    static func decoded<T: WriteBody>(_ type: T.Type, _ json: String) -> Result<T, TestFailure> {
        do {
            return .success(try JSONDecoder().decode(T.self, from: Data(json.utf8)))
        } catch let refusal as APIError {
            return .failure(TestFailure(refusal.reason))
        } catch {
            return .failure(TestFailure("shape"))
        }
    }

    @Test func writeBodiesDecodeAsTheContractSays() throws {
        func setting(_ json: String) -> String {
            switch Self.decoded(SettingRequest.self, json) {
            case .success(let s): "\(s.name)=\(s.value)"
            case .failure(let e): e.description
            }
        }
        #expect(setting(#"{"name": "setpoint_c", "value": 55}"#) == "setpoint_c=55.0")
        #expect(setting(#"{"name": "fan_pct", "value": 1, "extra": true}"#) == "fan_pct=1.0")
        for json in [#"{"name": "a", "value": true}"#, #"{"name": "a", "value": "1"}"#, #"{"name": "a"}"#,
                     #"{"name": 5, "value": 1}"#, #"{"name": "a", "value": null}"#, "null", "[]", "5"] {
            #expect(setting(json) == "shape", "\(json)")
        }

        func run(_ json: String) -> String {
            switch Self.decoded(RunStartRequest.self, json) {
            case .success(let r):
                r.recipe.map { "\($0.name) " + $0.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
                    .joined(separator: ",") } ?? "default"
            case .failure(let e): e.description
            }
        }
        #expect(RunStartRequest.absent.recipe == nil)
        #expect(run("{}") == "default")
        #expect(run(#"{"other": 1}"#) == "default")
        #expect(run(#"{"recipe": {}}"#) == "api ")
        #expect(run(#"{"recipe": {"name": "r", "parameters": {"a": true, "b": false, "c": 2.5, "d": 1}}}"#)
                == "r a=1.0,b=0.0,c=2.5,d=1.0")
        let recipe = "recipe must be {\"name\": TEXT, \"parameters\": {KEY: NUMBER, …}}"
        #expect(run(#"{"recipe": null}"#) == recipe)
        #expect(run(#"{"recipe": 5}"#) == recipe)
        #expect(run(#"{"recipe": {"parameters": null}}"#) == "recipe.parameters must be an object of numbers")
        #expect(run(#"{"recipe": {"parameters": [1]}}"#) == "recipe.parameters must be an object of numbers")
        #expect(run(#"{"recipe": {"parameters": {"a": "x"}}}"#) == "recipe parameter a must be a number or a boolean")
        #expect(run(#"{"recipe": {"parameters": {"a": null}}}"#) == "recipe parameter a must be a number or a boolean")
        #expect(run(#"{"recipe": {"name": 5}}"#) == "recipe.name must be a string")
        #expect(run(#"{"recipe": {"name": null}}"#) == "recipe.name must be a string")
        for json in ["null", "[]", "5", #""text""#] {
            #expect(run(json) == "shape", "\(json)")
        }

        func acknowledge(_ json: String) -> String {
            switch Self.decoded(AcknowledgeRequest.self, json) {
            case .success(let a): a.by ?? "(none)"
            case .failure(let e): e.description
            }
        }
        let who = AcknowledgeRequest.shape(for: nil)
        #expect(acknowledge(#"{"by": "ops"}"#) == "ops")
        #expect(acknowledge(#"{"by": "\#(String(repeating: "x", count: 64))"}"#).count == 64)
        #expect(acknowledge(#"{"by": "\#(String(repeating: "x", count: 65))"}"#) == who)
        #expect(acknowledge(#"{"by": "  "}"#) == who)
        #expect(acknowledge(#"{"by": ""}"#) == who)
        #expect(AcknowledgeRequest.absent.by == nil)
        #expect((try? Self.decoded(AcknowledgeRequest.self, "{}").get())?.by == nil, "{} acknowledges")
        for json in [#"{"by": 5}"#, "null"] {
            #expect(acknowledge(json) == "shape", "\(json)")
        }
        #expect((try? Self.decoded(RunStopRequest.self, "[1, 2]").get()) != nil, "run/stop looks at no body")

        func start(_ json: String) -> String {
            switch Self.decoded(CalibrationStartBody.self, json) {
            case .success(let b):
                "\(b.channel) \(b.method.rawValue) \(b.points.map(String.init) ?? "-") \(b.why ?? "-")"
            case .failure(let e): e.description
            }
        }
        #expect(start(#"{"channel": "ph", "method": "ph"}"#) == "ph ph - -")
        #expect(start(#"{"channel": "ph", "method": "ph", "points": 3, "why": " weekly "}"#) == "ph ph 3 weekly")
        #expect(start(#"{"channel": "ph", "method": "two-point"}"#)
                == "method must be \"ph\", \"do\", \"conductivity\" or \"linear\", got \"two-point\"")
        #expect(start(#"{"channel": "ph", "method": "ph", "points": null}"#)
                == "points must be a number, not null; leave it out instead")
        #expect(start(#"{"channel": "ph", "method": "ph", "why": "  "}"#) == "why must be 1–200 characters, not only blanks")
        for json in [#"{"method": "ph"}"#, #"{"channel": "ph"}"#, #"{"channel": "ph", "method": "ph", "points": 1.5}"#,
                     "{}", "null", "[]"] {
            #expect(start(json) == "shape", "\(json)")
        }

        func point(_ json: String) -> String {
            switch Self.decoded(CalibrationPointBody.self, json) {
            case .success(let b):
                "\(b.value.map { "\($0)" } ?? "-") \(b.tempC.map { "\($0)" } ?? "-") \(b.lot ?? "-")"
            case .failure(let e): e.description
            }
        }
        #expect(point("{}") == "- - -", "a DO saturation point has no value")
        #expect(point(#"{"value": 7.01, "temp_c": 21.5, "lot": "B-17"}"#) == "7.01 21.5 B-17")
        #expect(point(#"{"value": null}"#) == "value must be a number, not null; leave it out instead")
        #expect(point(#"{"value": "7"}"#) == "shape")
        #expect(CalibrationPointBody.absent.value == nil)

        func finish(_ json: String) -> String {
            switch Self.decoded(CalibrationFinishBody.self, json) {
            case .success(let b): "\(b.apply)"
            case .failure(let e): e.description
            }
        }
        #expect(CalibrationFinishBody.absent.apply, "without a body an accepted calibration is applied")
        #expect(finish("{}") == "true")
        #expect(finish(#"{"apply": false}"#) == "false")
        for json in [#"{"apply": 0}"#, #"{"apply": "no"}"#, #"{"apply": null}"#] {
            #expect(finish(json) == "apply must be true or false", "\(json)")
        }

        #expect((try? Self.decoded(CalibrationCancelBody.self, #"{"any": 1}"#).get()) != nil, "cancel ignores keys")
        for json in ["5", "null", "[]", #""text""#] {
            if case .success = Self.decoded(CalibrationCancelBody.self, json) {
                Issue.record("cancel took \(json), which is not an object")
            }
        }
    }
}
