import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Stations
import DeviceTransports
import SimServe
import Locking

/// `rigd status`: the running daemon's stations, from its HTTP API.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the running rigd's stations (from its HTTP API).",
        discussion: """
        Asks GET /api/stations of the rigd listening at --url (default: [daemon] http of --config, else \
        http://127.0.0.1:8080). One line per station: name, kind, mode (SIMULATED stands out), link, active \
        alarms, run, and its first channels. Exit status 69 when no rigd answers.
        """
    )

    @Option(name: .long, help: "Base URL of the API, e.g. http://127.0.0.1:8080.")
    var url: String?

    @Option(name: .long, help: "Configuration file whose [daemon] http and token_file to use.")
    var config: String?

    @Option(name: .long, help: "Token file, for a rigd that listens on a non-loopback address.")
    var tokenFile: String?

    @Flag(name: .long, help: "Print the API's JSON instead of the table.")
    var json = false

    func run() async throws {
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
        guard let endpoint = URL(string: base.trimmingCharacters(in: CharacterSet(charactersIn: "/")) + "/api/stations")
        else { throw ValidationError("--url \(base) is not a URL") }
        var request = URLRequest(url: endpoint, timeoutInterval: 5)
        if let token { request.setValue("Bearer " + token.trimmingCharacters(in: .whitespacesAndNewlines),
                                        forHTTPHeaderField: "Authorization") }
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await URLSession.shared.data(for: request)
        } catch {
            FileHandle.standardError.write(Data("rigd status: no rigd answers at \(base): \(error.localizedDescription)\n".utf8))
            throw ExitCode(ExitStatus.unavailable)
        }
        let code = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard code == 200 else {
            let reason = (try? JSONDecoder().decode(API.ErrorBody.self, from: data))?.reason
                ?? String(decoding: data.prefix(200), as: UTF8.self)
            FileHandle.standardError.write(Data("rigd status: \(base) answered \(code): \(reason)\n".utf8))
            throw ExitCode(ExitStatus.unavailable)
        }
        if json {
            FileHandle.standardOutput.write(data)
            FileHandle.standardOutput.write(Data("\n".utf8))
            return
        }
        let list = try StationStatus.decoder().decode(API.StationList.self, from: data)
        print(Self.table(list.stations, base: base))
    }

    /// The table `rigd status` prints.
    static func table(_ stations: [StationStatus], base: String) -> String {
        var rows = [["STATION", "KIND", "MODE", "LINK", "ALARMS", "RUN", "VALUES"]]
        for s in stations {
            let link = s.link.up ? "up" : "DOWN"
            let alarms = s.alarms.isEmpty ? "-" : s.alarms.map(\.code).joined(separator: ",")
            var run = "-"
            if let r = s.run { run = "#\(r.number) \(r.outcome)" + (s.phase.map { " (\($0))" } ?? "") }
            if let reason = s.refusedReason {
                rows.append([s.name, s.kind, "REFUSED", "-", "-", "-", "not started: device \(reason)"])
                continue
            }
            let values = s.channels.prefix(3).map { c in
                // Quality 0x01 alone: not available (not read yet, or the device has no value), not a fault.
                "\(c.name)=" + (c.value.map { String(format: "%.2f", $0) } ?? (c.quality == 0x01 ? "n/a" : "FAULT"))
            }.joined(separator: " ")
            rows.append([s.name, s.kind, s.mode == "simulated" ? "SIMULATED" : s.mode, link, alarms, run, values])
        }
        let widths = (0..<rows[0].count - 1).map { i in rows.map { $0[i].count }.max() ?? 0 }
        var lines = rows.map { row in
            zip(row.dropLast(), widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }
                .joined(separator: "  ") + "  " + (row.last ?? "")
        }
        lines.append("\(stations.count) station(s) at \(base)")
        return lines.joined(separator: "\n")
    }
}
