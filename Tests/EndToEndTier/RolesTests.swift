import Daemon
import Foundation
import Glibc
import RigdTestKit
import Stations
import SwiftCSV
import Testing

/// Issue 23 item 4: named tokens with roles, and the audit of every write. `rigd token` against a running rigd over
/// a real simulator on Modbus TCP, whose block sensor is lost on purpose (`rigd fault`) to raise an alarm to
/// acknowledge.
@Suite("Roles and audit: named tokens, who did what")
struct RolesTests {
    private func add(_ name: String, role: String, dataDir: String) throws -> String {
        let add = try runToCompletion(try rigdBinary(), ["token", "add", name, "--role", role, "--data-dir", dataDir])
        try #require(add.status == 0, "rigd token add \(name): \(add.stderr)")
        let token = add.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(token.count == 64 && token.allSatisfy(\.isHexDigit), "the new token: \(add.stdout)")
        #expect(add.stderr.contains("added token \"\(name)\" (\(role))"), "\(add.stderr)")
        return token
    }

    private func setpoint(_ base: String) async throws -> Double? {
        let station = try await http("GET", base + "/api/stations/rig").json
        return (station?["results"] as? [String: Any])?["setpoint_c"] as? Double
    }

    @Test func rolesDecideAndEveryWriteRecordsTheTokensName() async throws {
        let (sim, port) = try startSimulator(["--control", "127.0.0.1:0"])
        defer { sim.signal(SIGTERM); _ = sim.waitForExit(timeout: 5) }
        let control = try #require(controlAddress(sim), "no control address: \(sim.stdout)")
        let config = try temporaryFile("""
            [[station]]
            name = "rig"
            kind = "heat-rig"
            address = "tcp://127.0.0.1:\(port)"
            fallback = "fail"
            [station.control]
            setpoint_c = 40
            """)
        defer { unlink(config) }
        let rigd = try ChildProcess(try rigdBinary(), ["run", "--config", config, "--status-every", "0"])
        defer { try? FileManager.default.removeItem(atPath: rigd.dataDirectory ?? "/nonexistent") }
        let base = try rigd.apiBase()
        let dataDir = try #require(rigd.dataDirectory)
        let admin = try String(contentsOfFile: dataDir + "/api-token", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)

        // Added while rigd runs: it reads the tokens file again when it changes.
        let viewer = try add("vera", role: "viewer", dataDir: dataDir)
        let operatorToken = try add("otto", role: "operator", dataDir: dataDir)
        let file = dataDir + "/tokens.json"
        var info = stat()
        #expect(stat(file, &info) == 0 && info.st_mode & 0o777 == 0o600, "mode \(String(info.st_mode & 0o777, radix: 8))")
        let stored = try String(contentsOfFile: file, encoding: .utf8)
        #expect(!stored.contains(viewer) && !stored.contains(operatorToken), "the tokens file holds a token itself")
        #expect(stored.contains(TokensFile.hash(operatorToken)))

        for (token, name, role) in [(viewer, "vera", "viewer"), (operatorToken, "otto", "operator"), (admin, "admin", "admin")] {
            let who = try await http("GET", base + "/api/whoami", token: token)
            #expect(who.status == 200 && who.json?["name"] as? String == name && who.json?["role"] as? String == role,
                    "\(name): \(who.status) \(who.text)")
        }
        #expect(try await http("GET", base + "/api/whoami").status == 401)

        var before: Double?
        for _ in 0..<50 where before == nil {
            before = try await setpoint(base)
            if before == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(before == 40)

        // A viewer reads but may not write: 403 with the reason, and nothing reaches the station.
        let refused = try await http("POST", base + "/api/stations/rig/setpoints",
                                     body: #"{"name": "setpoint_c", "value": 50}"#, token: viewer)
        #expect(refused.status == 403, "\(refused.text)")
        #expect(refused.json?["error"] as? String == "forbidden")
        let reason = refused.json?["reason"] as? String ?? ""
        #expect(reason.contains("\"vera\" has the role viewer"), "\(refused.text)")
        #expect(try await http("GET", base + "/api/stations/rig", token: viewer).status == 200)

        // The operator writes; the answer and the data log name the operator.
        let set = try await http("POST", base + "/api/stations/rig/setpoints",
                                 body: #"{"name": "setpoint_c", "value": 55}"#, token: operatorToken)
        #expect(set.status == 200 && set.json?["by"] as? String == "otto", "\(set.text)")
        #expect(try await setpoint(base) == 55)
        let legacy = try await http("POST", base + "/api/stations/rig/setpoints",
                                    body: #"{"name": "setpoint_c", "value": 45}"#, token: admin)
        #expect(legacy.status == 200 && legacy.json?["by"] as? String == "admin", "\(legacy.text)")

        // An alarm, acknowledged by the operator: "by" comes from the token, not from the body's free text.
        let fault = try runToCompletion(try rigdBinary(), ["fault", "--control", control, "channel", "block_temp_c", "lost"])
        #expect(fault.status == 0, "\(fault.stderr)")
        var raised = false
        for _ in 0..<50 where !raised {
            let station = try await http("GET", base + "/api/stations/rig").json
            raised = (station?["alarms"] as? [[String: Any]] ?? []).contains { $0["code"] as? String == "block_sensor_fault" }
            if !raised { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(raised, "block_sensor_fault was not raised")
        let byViewer = try await http("POST", base + "/api/stations/rig/alarms/block_sensor_fault/acknowledge",
                                      body: "{}", token: viewer)
        #expect(byViewer.status == 403)
        let ack = try await http("POST", base + "/api/stations/rig/alarms/block_sensor_fault/acknowledge",
                                 body: #"{"by": "somebody else"}"#, token: operatorToken)
        #expect(ack.status == 200 && ack.json?["by"] as? String == "otto", "\(ack.text)")
        let alarm = (try await http("GET", base + "/api/stations/rig").json?["alarms"] as? [[String: Any]] ?? [])
            .first { $0["code"] as? String == "block_sensor_fault" }
        #expect(alarm?["acknowledged_by"] as? String == "otto", "\(alarm ?? [:])")

        // Revoked while rigd runs: refused from the next request on.
        let revoke = try runToCompletion(try rigdBinary(), ["token", "revoke", "otto", "--data-dir", dataDir])
        #expect(revoke.status == 0, "\(revoke.stderr)")
        let afterRevoke = try await http("POST", base + "/api/stations/rig/setpoints",
                                         body: #"{"name": "setpoint_c", "value": 60}"#, token: operatorToken)
        #expect(afterRevoke.status == 401, "\(afterRevoke.text)")
        #expect(try await setpoint(base) == 45)
        let list = try runToCompletion(try rigdBinary(), ["token", "list", "--data-dir", dataDir, "--json"])
        let names = ((try? JSONSerialization.jsonObject(with: Data(list.stdout.utf8))) as? [String: Any])?["tokens"]
            as? [[String: Any]] ?? []
        #expect(names.compactMap { $0["name"] as? String } == ["vera"], "\(list.stdout)")

        try await Task.sleep(for: .milliseconds(600))  // the data log commits every 0.25 s
        rigd.signal(SIGTERM)
        #expect(rigd.waitForExit(timeout: 15) == 0, "\(rigd.stderr.suffix(2000))")
        #expect(rigd.stderr.contains("read again: 2 token(s); added otto"), "\(rigd.stderr.suffix(3000))")
        #expect(rigd.stderr.contains("revoked otto"))

        // The data log: each accepted write with its token's name; the 403s and the 401 never reached the station.
        let events = try runToCompletion(try rigdBinary(), ["export", "--station", "rig", "--what", "events",
                                                            "--data-dir", dataDir])
        #expect(events.status == 0, "\(events.stderr)")
        let rows = try CSV<Named>(string: events.stdout).rows.filter { $0["kind"]?.hasPrefix("request_") == true }
        #expect(rows.map { $0["actor"] ?? "?" } == ["otto", "admin", "otto"], "\(rows)")
        #expect(rows.map { $0["kind"] ?? "?" } == ["request_accepted", "request_accepted", "request_accepted"])
        let alarms = try runToCompletion(try rigdBinary(), ["export", "--station", "rig", "--what", "alarms",
                                                            "--data-dir", dataDir])
        let acknowledged = try CSV<Named>(string: alarms.stdout).rows.first { $0["code"] == "block_sensor_fault" }
        #expect(acknowledged?["acknowledged_by"] == "otto", "\(alarms.stdout)")
    }

    /// `rigd token` with bad input: each refusal names what is wrong, and nothing is written.
    @Test func badInputIsRefusedWithItsReason() throws {
        let dir = NSTemporaryDirectory() + "rigd-tokens-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let rigd = try rigdBinary()
        let badName = try runToCompletion(rigd, ["token", "add", "two words", "--role", "operator", "--data-dir", dir])
        #expect(badName.status == 64 && badName.stderr.contains("a token name is letters, digits"), "\(badName.stderr)")
        let badRole = try runToCompletion(rigd, ["token", "add", "ana", "--role", "root", "--data-dir", dir])
        #expect(badRole.status == 64 && badRole.stderr.contains("'viewer', 'operator' or 'admin'"), "\(badRole.stderr)")
        let reserved = try runToCompletion(rigd, ["token", "add", "admin", "--role", "admin", "--data-dir", dir])
        #expect(reserved.status == 64 && reserved.stderr.contains("the API token file's token"), "\(reserved.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/tokens.json"), "a refused add wrote the file")

        _ = try runToCompletion(rigd, ["token", "add", "ana", "--role", "operator", "--data-dir", dir])
        let again = try runToCompletion(rigd, ["token", "add", "ana", "--role", "admin", "--data-dir", dir])
        #expect(again.status == 64 && again.stderr.contains("a token named \"ana\" exists"), "\(again.stderr)")
        let missing = try runToCompletion(rigd, ["token", "revoke", "bob", "--data-dir", dir])
        #expect(missing.status == 64 && missing.stderr.contains("no token named \"bob\""), "\(missing.stderr)")

        let broken = dir + "/broken.json"
        try #"{"rigd_tokens": 1, "tokens": [{"name": "x", "role": "boss", "sha256": "00", "created_at": ""}]}"#
            .write(toFile: broken, atomically: true, encoding: .utf8)
        let list = try runToCompletion(rigd, ["token", "list", "--tokens-file", broken])
        #expect(list.status == 78, "\(list.stderr)")
        #expect(list.stderr.contains("tokens file \(broken): tokens[0].role: must be one of viewer, operator, admin (got \"boss\")"),
                "\(list.stderr)")
        // rigd does not start on a tokens file it cannot read, and says which.
        try "not json".write(toFile: dir + "/tokens.json", atomically: true, encoding: .utf8)
        let config = try temporaryFile(OperationsTests.heatRigConfig)
        defer { unlink(config) }
        let refused = try runToCompletion(rigd, ["run", "--config", config, "--data-dir", dir, "--http", "127.0.0.1:0",
                                                 "--for", "5s"], timeout: 30)
        #expect(refused.status == 78, "\(refused.stderr.suffix(2000))")
        #expect(refused.stderr.contains("tokens file \(dir)/tokens.json: not JSON"), "\(refused.stderr.suffix(2000))")
    }
}

/// The tokens file and the access rules without a daemon.
@Suite("Tokens file")
struct TokensFileTests {
    static let hash = String(repeating: "ab", count: 32)

    private func problem(_ json: String) -> String? {
        do {
            _ = try TokensFile.parse(Data(json.utf8), file: "t.json")
            return nil
        } catch {
            return error.message
        }
    }

    @Test func everyProblemNamesItsKey() {
        let entry = #"{"name": "ana", "role": "operator", "sha256": "\#(Self.hash)", "created_at": "x"}"#
        #expect(problem(#"{"rigd_tokens": 1, "tokens": [\#(entry)]}"#) == nil)
        #expect(problem("[]") == "must be a JSON object")
        #expect(problem(#"{"rigd_tokens": 1, "tokens": [], "extra": 1}"#) == #"unknown key "extra" (rigd_tokens, tokens)"#)
        #expect(problem(#"{"rigd_tokens": 2, "tokens": []}"#) == "rigd_tokens = 2 is a newer format than this rigd reads (1)")
        #expect(problem(#"{"rigd_tokens": "1", "tokens": []}"#) == "rigd_tokens: must be the format number 1")
        #expect(problem(#"{"rigd_tokens": 1}"#) == "tokens: must be an array")
        #expect(problem(#"{"rigd_tokens": 1, "tokens": [5]}"#) == "tokens[0]: must be an object")
        #expect(problem(#"{"rigd_tokens": 1, "tokens": [\#(entry), \#(entry)]}"#) == #"tokens[1].name: "ana" appears twice"#)
        let other = entry.replacingOccurrences(of: "\"ana\"", with: "\"bo\"")
        #expect(problem(#"{"rigd_tokens": 1, "tokens": [\#(entry), \#(other)]}"#) == "tokens[1].sha256: the same token as another entry")
        #expect(problem(#"{"rigd_tokens": 1, "tokens": [\#(entry.replacingOccurrences(of: "operator", with: "boss"))]}"#)
                == #"tokens[0].role: must be one of viewer, operator, admin (got "boss")"#)
        #expect(problem(#"{"rigd_tokens": 1, "tokens": [\#(entry.replacingOccurrences(of: Self.hash, with: "AB"))]}"#)
                == "tokens[0].sha256: must be 64 lowercase hex digits")
        #expect(problem(#"{"rigd_tokens": 1, "tokens": [\#(entry.replacingOccurrences(of: "\"ana\"", with: "\"a b\""))]}"#)?
                .hasPrefix("tokens[0].name: a token name is letters") == true)
        #expect(problem(#"{"rigd_tokens": 1, "tokens": [{"name": "x", "role": "viewer", "sha256": "\#(Self.hash)", "created_at": "", "token": "t"}]}"#)
                == #"tokens[0]: unknown key "token" (name, role, sha256, created_at)"#)
        #expect(problem("{")?.hasPrefix("not JSON") == true)
        #expect(problem(String(repeating: " ", count: TokensFile.maximumBytes + 1))?.hasPrefix("larger than") == true)
    }

    @Test func accessFollowsTheFileAndKeepsTheLastGoodOne() throws {
        let dir = NSTemporaryDirectory() + "rigd-access-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/tokens.json"
        let legacy = APIToken(value: String(repeating: "7", count: 64), file: dir + "/api-token")
        let access = try AccessControl(tokenFile: legacy, tokensFile: file, logger: .init(label: "test"))
        #expect(access.identity(authorization: "Bearer " + legacy.value) == Identity(name: "admin", role: .admin))
        #expect(access.identity(authorization: legacy.value) == nil, "no Bearer scheme")
        let token = TokensFile.newToken()
        #expect(access.identity(authorization: "Bearer " + token) == nil)

        try TokensFile.update(file: file) { (t: inout TokensFile) throws(TokensFile.Problem) in
            t.tokens.append(NamedToken(name: "ana", role: .viewer, sha256: TokensFile.hash(token), createdAt: "now"))
        }
        #expect(access.identity(authorization: "Bearer " + token) == Identity(name: "ana", role: .viewer))
        #expect(access.identity(authorization: "bearer " + token) != nil, "the scheme is case-insensitive")
        #expect(access.identity(authorization: "Bearer " + token.dropLast() + (token.last == "0" ? "1" : "0")) == nil,
                "one character off")
        // A file that turns invalid leaves the tokens read before in force.
        try "{ broken".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(access.identity(authorization: "Bearer " + token) == Identity(name: "ana", role: .viewer))
        // Removed: no named token any more.
        try FileManager.default.removeItem(atPath: file)
        #expect(access.identity(authorization: "Bearer " + token) == nil)
        #expect(access.identity(authorization: "Bearer " + legacy.value)?.role == .admin)
        #expect(Role.viewer < .operator && Role.operator < .admin)
    }
}
