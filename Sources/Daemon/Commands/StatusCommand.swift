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
        http://127.0.0.1:8080). One line per station: name, kind, mode (SIMULATED and HAND stand out), link, active \
        alarms, run, and its first channels. Exit status 69 when no rigd answers.
        """
    )

    @OptionGroup var api: APIConnection

    @Flag(name: .long, help: "Print the API's JSON instead of the table.")
    var json = false

    func run() async throws {
        let (code, data, base) = try await api.send("GET", "/api/stations", command: "status")
        guard code == 200 else {
            FileHandle.standardError.write(Data("rigd status: \(base) answered \(code): \(APIConnection.reason(data))\n".utf8))
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
            // An output in hand mode stands out: the controller does not decide it now.
            let mode = (s.mode == "simulated" ? "SIMULATED" : s.mode) + (s.hand.isEmpty ? "" : " HAND")
            rows.append([s.name, s.kind, mode, link, alarms, run, values])
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
