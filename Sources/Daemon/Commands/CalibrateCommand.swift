import ArgumentParser
import Control
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Stations

/// `rigd calibrate STATION CHANNEL --method M --point V …`: a guided probe calibration through the running rigd's API
/// (docs/operations.md "Calibration").
struct CalibrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Calibrate a station's probe against standards (pH buffers, air-saturated water, a solution).",
        discussion: """
        Guides a calibration on the running rigd: starts it (POST /api/stations/STATION/calibration/start), then for \
        each --point asks you to put the probe in that standard and press Enter, records the point (rigd waits until \
        the reading is stable: [calibration] stable_window_s and the method's band, showing the reading as it \
        settles), and at the end computes the correction, checks it against the acceptance limits of \
        [calibration], and applies it when accepted (not with --no-apply). Needs an operator's token.

        Methods and their points (--point, in the order you use the standards):
        - ph: 1 to 3 buffers at their value at their temperature, e.g. --point 7.00 --point 4.01.
        - do: 100 % air-saturated water, no --point (rigd computes the saturation from the temperature, salinity \
        and air pressure it reads); or a zero first: --point 0 --point sat.
        - conductivity: one standard in the channel's unit, e.g. --point 35.
        - linear: two standards, e.g. --point 0 --point 100.

        Without a terminal (a script), --yes records each point without waiting for Enter. --list shows what is \
        applied; --cancel ends a calibration in progress (also one a dashboard started).

        Exit status: 0 accepted (and applied unless --no-apply); 1 rejected (the reasons are printed; nothing \
        applied) or a point did not settle; 64 no such station, or bad options; 65 the station refused a step (the \
        reason is printed); 69 no rigd answers; 77 the token may not write.
        """
    )

    @Argument(help: "The station.")
    var station: String

    @Argument(help: "The channel to calibrate (ph, do_mgl, salinity_ppt, …; --list shows them).")
    var channel: String?

    @Option(name: .long, help: "ph, do, conductivity or linear (default: ph for a pH channel, do for DO, conductivity for salinity or conductivity).")
    var method: CalibrationMethod?

    @Option(name: .customLong("point"), help: "A standard's value, in the order you will use them (do: sat for the saturation point). Repeat for each point.")
    var points: [String] = []

    @Option(name: .customLong("temp"), help: "The standards' temperature, °C (recorded).")
    var tempC: Double?

    @Option(name: .long, help: "The standards' lot (recorded).")
    var lot: String?

    @Option(name: .long, help: "Why (recorded with the calibration; 1–200 characters).")
    var why: String?

    @Flag(name: .long, help: "Record each point without waiting for Enter.")
    var yes = false

    @Flag(name: .customLong("no-apply"), help: "Compute and record the calibration, but do not apply it.")
    var noApply = false

    @Flag(name: .long, help: "List the station's calibratable channels and the calibrations applied now.")
    var list = false

    @Flag(name: .long, help: "Cancel the calibration in progress on the station.")
    var cancel = false

    @OptionGroup var api: APIConnection

    func validate() throws {
        if list || cancel {
            if list && cancel { throw ValidationError("--list and --cancel do not go together") }
            return
        }
        guard channel != nil else { throw ValidationError("name the CHANNEL to calibrate (--list shows them)") }
        for point in points where point != "sat" && Double(point).map({ !$0.isFinite }) ?? true {
            throw ValidationError("--point \(point): a number (or sat, for a DO saturation point)")
        }
        if let why, why.trimmingCharacters(in: .whitespaces).isEmpty || why.count > 200 {
            throw ValidationError("--why must be 1–200 characters")
        }
        if let tempC, !(-5...60).contains(tempC) { throw ValidationError("--temp must be within -5…60 °C") }
        if let lot, lot.isEmpty || lot.count > 60 { throw ValidationError("--lot must be 1 to 60 characters") }
    }

    private var path: String { "/api/stations/\(pathComponent(station))" }

    func run() async throws {
        if cancel {
            let answer = try await post("calibration/cancel", [:])
            say("\(station): \(answer.accepted) (by \(answer.by))")
            return
        }
        let status = try await stationStatus()
        if list {
            printList(status)
            return
        }
        let channel = channel!
        guard let spec = status.calibration.channels.first(where: { $0.name == channel }) else {
            warn("calibrate: \(station) has no channel \"\(channel)\" to calibrate (channels: "
                 + status.calibration.channels.map(\.name).joined(separator: ", ") + ")")
            throw ExitCode(ExitStatus.usage)
        }
        let method = try method ?? Self.defaultMethod(spec)
        let standards = try plannedPoints(method)
        let terminal = isatty(0) == 1
        if !yes && !terminal {
            warn("calibrate: standard input is not a terminal: pass --yes to record each point without waiting for Enter")
            throw ExitCode(ExitStatus.usage)
        }
        var start: [String: Any] = ["channel": channel, "method": method.rawValue, "points": standards.count]
        if let why { start["why"] = why }
        _ = try await post("calibration/start", start)
        say("\(station): calibrating \(channel) (\(method.title)), \(standards.count) point(s)")
        for (i, standard) in standards.enumerated() {
            let what = standard.map { "the \(RunRecord.format($0)) \(spec.unit) standard" }
                ?? (method == .dissolvedOxygen ? "100 % air-saturated water" : "the standard")
            if !yes {
                let prompt = "Point \(i + 1) of \(standards.count): put the probe in \(what), then press Enter "
                    + "(rigd calibrate \(station) --cancel ends it) "
                FileHandle.standardError.write(Data(prompt.utf8))
                _ = readLine()
            }
            var body: [String: Any] = [:]
            if let standard { body["value"] = standard }
            if let tempC { body["temp_c"] = tempC }
            if let lot { body["lot"] = lot }
            _ = try await post("calibration/point", body)
            switch try await settle(point: i + 1, of: standards.count, unit: spec.unit, terminal: terminal) {
            case .recorded: continue
            case .failed:
                _ = try? await post("calibration/cancel", [:])
                throw ExitCode.failure
            case .gone: throw ExitCode.failure
            }
        }
        let finished = try await post("calibration/finish", ["apply": !noApply])
        guard let result = finished.calibration.session?.result else {
            warn("calibrate: rigd answered without a result")
            throw ExitCode(ExitStatus.unavailable)
        }
        if result.accepted {
            let applied = result.device.map { " and written to the device (\($0.registers))" }
                ?? (result.applied ? " and applied" : ", not applied (--no-apply)")
            say("ACCEPTED\(applied): \(result.summary)"
                + (result.dueAt.map { "; due again \(Self.date($0))" } ?? ""))
        } else {
            say("REJECTED: " + result.failures.joined(separator: "; ") + " (\(result.summary)); nothing was applied")
            throw ExitCode.failure
        }
    }

    /// The channel's method when it has one only.
    static func defaultMethod(_ spec: CalibrationStatus.Channel) throws -> CalibrationMethod {
        guard spec.methods.count == 1, let method = CalibrationMethod(rawValue: spec.methods[0]) else {
            warn("calibrate: give --method for \(spec.name) (one of " + spec.methods.joined(separator: ", ") + ")")
            throw ExitCode(ExitStatus.usage)
        }
        return method
    }

    /// The standards in order; nil for a DO saturation point (rigd computes it).
    private func plannedPoints(_ method: CalibrationMethod) throws -> [Double?] {
        var planned: [Double?] = points.map { $0 == "sat" ? nil : Double($0) }
        if method == .dissolvedOxygen {
            if planned.isEmpty { planned = [nil] }
        } else if planned.contains(where: { $0 == nil }) {
            warn("calibrate: --point sat is for a DO saturation point only")
            throw ExitCode(ExitStatus.usage)
        }
        guard method.pointRange.contains(planned.count) else {
            warn("calibrate: \(method.title) takes \(method.pointRange.lowerBound)…\(method.pointRange.upperBound) "
                 + "--point(s), got \(planned.count)")
            throw ExitCode(ExitStatus.usage)
        }
        return planned
    }

    private enum Settled { case recorded, failed, gone }

    /// Shows the reading while the point settles, until it is recorded, fails, or the calibration is gone.
    private func settle(point: Int, of count: Int, unit: String, terminal: Bool) async throws -> Settled {
        var lastLine = Date.distantPast
        while true {
            try await Task.sleep(for: .seconds(1))
            let status = try await stationStatus()
            guard let session = status.calibration.session else {
                if terminal { print() }
                warn("calibrate: the calibration was cancelled (by someone else?)")
                return .gone
            }
            if session.state != "settling" {
                if terminal { print() }
                guard session.points.count >= point, let recorded = session.points.last else {
                    warn("calibrate: \(session.message)")
                    return .failed
                }
                say("  point \(point) of \(count) recorded: standard \(Self.number(recorded.standard)) \(unit), "
                    + "reads \(Self.number(recorded.raw)) \(unit)")
                return .recorded
            }
            guard let c = session.current else { continue }
            let line = "  settling: " + (c.reading.map { "\(Self.number($0)) \(unit)" } ?? "no reading")
                + ", ±\(Self.number(c.spread ?? 0)) (band ±\(Self.number(c.band))) over "
                + "\(Int(c.coveredS.rounded())) of \(Int(c.windowS)) s, \(Int(c.elapsedS)) s elapsed"
            if terminal {
                FileHandle.standardOutput.write(Data(("\r" + line + "   ").utf8))
            } else if Date().timeIntervalSince(lastLine) >= 10 {
                say(line)
                lastLine = Date()
            }
        }
    }

    private func printList(_ status: StationStatus) {
        let c = status.calibration
        say("\(station): channels that may be calibrated:")
        for channel in c.channels {
            say("  \(channel.name) (\(channel.unit)): \(channel.methods.joined(separator: ", "))")
        }
        if c.applied.isEmpty { say("no calibration applied") }
        for a in c.applied {
            say("  \(a.channel): \(a.method), \(a.summary)" + (a.device.map { " (in the device: \($0.registers))" } ?? "")
                + "; \(Self.date(a.at))" + (a.by.map { " by \($0)" } ?? "")
                + (a.dueAt.map { "; due \(Self.date($0))" } ?? "") + (a.overdue ? " — OVERDUE" : ""))
        }
        if let s = c.session {
            say("in progress: \(s.channel) (\(s.method)), \(s.state): \(s.message)")
        }
    }

    private func stationStatus() async throws -> StationStatus {
        let (code, data, base) = try await api.send("GET", path, command: "calibrate")
        guard code == 200 else { throw refused(code, data, base: base, command: "calibrate") }
        do {
            return try StationStatus.decoder().decode(StationStatus.self, from: data)
        } catch {
            warn("calibrate: \(base) answered with a station document this rigd cannot read: \(error)")
            throw ExitCode(ExitStatus.unavailable)
        }
    }

    private func post(_ step: String, _ body: [String: Any]) async throws -> API.CalibrationAccepted {
        let (code, data, base) = try await api.send("POST", "\(path)/\(step)", body: body, command: "calibrate")
        guard code == 200 else { throw refused(code, data, base: base, command: "calibrate") }
        guard let answer = try? StationStatus.decoder().decode(API.CalibrationAccepted.self, from: data) else {
            warn("calibrate: \(base) answered 200 with a body this rigd cannot read")
            throw ExitCode(ExitStatus.unavailable)
        }
        return answer
    }

    static func number(_ v: Double) -> String { RunRecord.format((v * 1000).rounded() / 1000) }

    static func date(_ unix: Double) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: Date(timeIntervalSince1970: unix))
    }
}

extension CalibrationMethod: ExpressibleByArgument {}
