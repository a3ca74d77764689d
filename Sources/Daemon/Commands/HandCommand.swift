import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Stations

/// Where the running rigd's API is, and the token to use: for the commands that talk to it.
struct APIConnection: ParsableArguments {
    @Option(name: .long, help: "Base URL of the API, e.g. http://127.0.0.1:8080.")
    var url: String?

    @Option(name: .long, help: "Configuration file whose [daemon] http and token_file to use.")
    var config: String?

    @Option(name: .long, help: "Token file: the API token file, or a file holding a named token (rigd token add).")
    var tokenFile: String?

    /// The API's base URL and the token, from the options (default: http://127.0.0.1:8080, no token).
    func resolve() throws -> (base: String, token: String?) {
        var base = url ?? "http://127.0.0.1:8080"
        var token: String?
        if let config {
            let daemon: DaemonConfig
            do {
                daemon = try ConfigLoader.load(path: config).daemon
            } catch {
                throw failConfiguration(error)
            }
            if url == nil, let http = daemon.http { base = "http://\(http)" }
            token = try? String(contentsOfFile: daemon.resolvedTokenFile, encoding: .utf8)
        }
        if let tokenFile {
            do {
                token = try String(contentsOfFile: tokenFile, encoding: .utf8)
            } catch {
                throw ValidationError("cannot read --token-file \(tokenFile): \(ConfigLoader.reason(error))")
            }
        }
        return (base.trimmingCharacters(in: CharacterSet(charactersIn: "/")),
                token?.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Sends a request to the API; returns the status code and body, or exits 69 when no rigd answers.
    func send(_ method: String, _ path: String, body: [String: Any]? = nil, timeout: Double = 10,
              command: String) async throws -> (code: Int, data: Data, base: String) {
        let (base, token) = try resolve()
        guard let endpoint = URL(string: base + path) else { throw ValidationError("--url \(base) is not a URL") }
        var request = URLRequest(url: endpoint, timeoutInterval: timeout)
        request.httpMethod = method
        if let token { request.setValue("Bearer " + token, forHTTPHeaderField: "Authorization") }
        if let body {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = try JSONSerialization.data(withJSONObject: body)
        }
        do {
            let (data, response) = try await URLSession.shared.data(for: request)
            return ((response as? HTTPURLResponse)?.statusCode ?? 0, data, base)
        } catch {
            warn("\(command): no rigd answers at \(base): \(error.localizedDescription)")
            throw ExitCode(ExitStatus.unavailable)
        }
    }

    /// The API's reason in an error answer.
    static func reason(_ data: Data) -> String {
        (try? JSONDecoder().decode(API.ErrorBody.self, from: data))?.reason
            ?? String(decoding: data.prefix(200), as: UTF8.self)
    }
}

/// A station's name in an API path.
func pathComponent(_ name: String) -> String {
    name.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? name
}

/// The exit status for an API refusal: 77 without the right token, 64 for an unknown station or output, 65 for a
/// request the station refused.
func refused(_ code: Int, _ data: Data, base: String, command: String) -> ExitCode {
    warn("\(command): \(base) answered \(code): \(APIConnection.reason(data))")
    switch code {
    case 401, 403: return ExitCode(ExitStatus.noPermission)
    case 404: return ExitCode(ExitStatus.usage)
    case 422: return ExitCode(ExitStatus.dataError)
    default: return ExitCode(ExitStatus.unavailable)
    }
}

/// `rigd hand STATION OUTPUT VALUE`: holds an output of a running rigd's station at a value for a while.
struct HandCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hand",
        abstract: "Hold an output of a station (a relay, a coil or a set-point) at a value for a while (hand mode).",
        discussion: """
        Asks the running rigd (POST /api/stations/STATION/hand) to hold OUTPUT at VALUE, whatever the station's \
        controller decides, for --for (default and most: [daemon] hand_max_min, 30 min unless set); then it returns \
        to auto by itself, or earlier with `rigd auto`. VALUE is on or off (1 or 0) for a relay or coil, a number \
        within the limits for a set-point. Needs an operator's token (--token-file, or the API token of --config).

        Safety wins: hand mode is refused while the E-stop is pressed, the link is down, the device reports an \
        E-stop, a tripped watchdog, an interlock or its safe state, or a trip alarm is active, and any of these \
        returns every held output to auto. Every change is an event with the token's name and --why.

        `rigd status --json` lists each station's hand_outputs; `rigd status` marks stations with HAND.

        Exit status: 0 held; 64 no such station; 65 refused by the station (the reason is printed); 69 no rigd \
        answers; 77 the token may not write.
        """
    )

    @Argument(help: "The station.")
    var station: String

    @Argument(help: "The output: a relay (aerator-1), a coil (pump_enable) or a set-point (pump_speed).")
    var output: String

    @Argument(help: "on, off, 1, 0, or a set-point's value.")
    var value: String

    @Option(name: .customLong("for"), help: "How long to hold it (10m, 1h, 90s); at most [daemon] hand_max_min.")
    var duration: PlantDuration?

    @Option(name: .long, help: "Why (recorded with the event; 1–200 characters).")
    var why: String?

    @OptionGroup var api: APIConnection

    func validate() throws {
        if Self.number(value) == nil {
            throw ValidationError("VALUE must be on, off or a number, not \"\(value)\"")
        }
        if let why, why.trimmingCharacters(in: .whitespaces).isEmpty || why.count > 200 {
            throw ValidationError("--why must be 1–200 characters")
        }
    }

    static func number(_ text: String) -> Double? {
        switch text.lowercased() {
        case "on", "true": 1
        case "off", "false": 0
        default: Double(text).flatMap { $0.isFinite ? $0 : nil }
        }
    }

    func run() async throws {
        var body: [String: Any] = ["output": output, "value": Self.number(value)!]
        if let duration { body["minutes"] = duration.seconds / 60 }
        if let why { body["why"] = why }
        let (code, data, base) = try await api.send("POST", "/api/stations/\(pathComponent(station))/hand", body: body,
                                                    command: "hand")
        guard code == 200 else { throw refused(code, data, base: base, command: "hand") }
        let answer = try? JSONDecoder().decode(API.Accepted.self, from: data)
        say("\(station): \(answer?.accepted ?? "hand \(output)") (by \(answer?.by ?? "?"))")
    }
}

/// `rigd auto STATION [OUTPUT]`: returns held outputs to the controller.
struct AutoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "auto",
        abstract: "Return an output in hand mode (or every one of a station) to its controller.",
        discussion: """
        Asks the running rigd (POST /api/stations/STATION/auto). Without OUTPUT, every output of the station in \
        hand mode returns to auto. Needs an operator's token.

        Exit status: 0 returned; 64 no such station; 65 refused (e.g. the output is not in hand mode); 69 no rigd \
        answers; 77 the token may not write.
        """
    )

    @Argument(help: "The station.")
    var station: String

    @Argument(help: "The output (default: every output in hand mode).")
    var output: String?

    @Option(name: .long, help: "Why (recorded with the event; 1–200 characters).")
    var why: String?

    @OptionGroup var api: APIConnection

    func run() async throws {
        var body: [String: Any] = [:]
        if let output { body["output"] = output }
        if let why { body["why"] = why }
        let (code, data, base) = try await api.send("POST", "/api/stations/\(pathComponent(station))/auto", body: body,
                                                    command: "auto")
        guard code == 200 else { throw refused(code, data, base: base, command: "auto") }
        let answer = try? JSONDecoder().decode(API.Accepted.self, from: data)
        say("\(station): \(answer?.accepted ?? "auto") (by \(answer?.by ?? "?"))")
    }
}
