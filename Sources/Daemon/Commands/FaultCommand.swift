import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Stations
import DeviceTransports
import SimServe
import Locking

/// `rigd fault`: inject or clear faults in a running `rigd simulate --control …`.
struct FaultCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fault",
        abstract: "Inject or clear a fault in a running simulator (rigd simulate --control HOST:PORT).",
        discussion: """
        What to do, after the options:
          list                                   devices, their channels and disturbances, what is injected
          channel NAME lost | stuck V | offset V | drift V_PER_HOUR | noise SIGMA | spikes SIZE PER_HOUR
                       | status_error | stale | clear
          device offline | online | normal | delay MS | exception CODE | never_ready | units_changed
                 | layout_changed
          disturb NAME on | off                  a plant disturbance (fan_failure, filter_clog, bad_night, storm, …)
          clear                                  every fault and disturbance off
        For a device served through a map (rigd simulate --map): never_ready keeps its acquisition sequences from \
        finishing; units_changed makes its [[map.expect]] registers read other values; layout_changed moves its \
        [[map.locate]] blocks and changes its layout version (device normal ends all three); \
        status_error makes a channel's status register say "sensor error" while its value still reads as a \
        measurement; stale makes a channel with a fresh register (a counter that must advance) stand still, value \
        and counter, as a hung sensor board does (channel NAME clear ends both).
        Name the device with --device (its name: the station of --config, KIND-N, or unit-N on RTU) or --unit \
        when the simulator serves several. Examples:
          rigd fault --control 127.0.0.1:9100 --unit 2 channel do_mgl stuck 7.5
          rigd fault --control 127.0.0.1:9100 device delay 800
          rigd fault --control 127.0.0.1:9100 --device extractor-1 disturb filter_clog on
        Exit status: 0 applied; 64 a malformed command; 69 no simulator answers; 65 the simulator refused it \
        (its reason is printed; nothing changed).
        """
    )

    @Option(name: .long, help: "The simulator's control address, HOST:PORT.")
    var control: String

    @Option(name: .long, help: "The device's name.")
    var device: String?

    @Option(name: .long, help: "The device's unit id.")
    var unit: Int?

    @Argument(help: "What to do (see above).")
    var words: [String] = []

    func validate() throws {
        if words.first != "list" { _ = try Self.request(words) }
    }

    /// The words after the options, as a fault request (device selection added by the caller).
    static func request(_ words: [String]) throws -> FaultRequest {
        var r = FaultRequest()
        func number(_ i: Int, _ what: String) throws -> Double {
            guard i < words.count, let v = Double(words[i]), v.isFinite else {
                throw ValidationError("\(words.prefix(i).joined(separator: " ")) needs a number: \(what)")
            }
            return v
        }
        switch words.first {
        case "channel"?:
            guard words.count >= 3 else { throw ValidationError("channel NAME FAULT [VALUES]") }
            r.channel = words[1]
            r.fault = words[2]
            switch words[2] {
            case "stuck", "offset": r.value = try number(3, "the value")
            case "drift": r.perHour = try number(3, "the drift per hour")
            case "noise": r.sigma = try number(3, "the standard deviation")
            case "spikes":
                r.size = try number(3, "the spike size")
                r.perHour = try number(4, "spikes per hour")
            case "lost", "clear", "status_error", "stale": break
            default:
                throw ValidationError("channel fault must be one of " + FaultRequest.channelFaults.joined(separator: ", "))
            }
        case "device"?:
            guard words.count >= 2 else {
                throw ValidationError("device offline|online|normal|delay MS|exception CODE|never_ready|units_changed"
                                      + "|layout_changed")
            }
            r.device = words[1]
            switch words[1] {
            case "delay": r.ms = try number(2, "milliseconds")
            case "exception": r.code = Int(try number(2, "the exception code"))
            case "offline", "online", "normal", "never_ready", "units_changed", "layout_changed": break
            default:
                throw ValidationError("device fault must be one of " + FaultRequest.deviceFaults.joined(separator: ", "))
            }
        case "disturb"?:
            guard words.count == 3, ["on", "off"].contains(words[2]) else { throw ValidationError("disturb NAME on|off") }
            r.disturbance = words[1]
            r.active = words[2] == "on"
        case "clear"?:
            r.clearAll = true
        default:
            throw ValidationError("say what to do: list, channel …, device …, disturb …, or clear (see --help)")
        }
        return r
    }

    func run() async throws {
        guard let base = URL(string: "http://\(control)") else { throw ValidationError("--control \(control) is not HOST:PORT") }
        var request: URLRequest
        if words.first == "list" {
            request = URLRequest(url: base.appendingPathComponent("devices"), timeoutInterval: 5)
        } else {
            var fault = try Self.request(words)
            fault.station = device
            fault.unit = unit
            request = URLRequest(url: base.appendingPathComponent("faults"), timeoutInterval: 5)
            request.httpMethod = "POST"
            request.httpBody = try JSONEncoder().encode(fault)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await URLSession.shared.data(for: request)
        } catch {
            FileHandle.standardError.write(Data("rigd fault: no simulator answers at \(control): \(error.localizedDescription)\n".utf8))
            throw ExitCode(ExitStatus.unavailable)
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard status == 200 else {
            let reason = (try? JSONDecoder().decode(API.ErrorBody.self, from: data))?.reason
                ?? String(decoding: data.prefix(300), as: UTF8.self)
            FileHandle.standardError.write(Data("rigd fault: refused (\(status)): \(reason)\n".utf8))
            throw ExitCode(ExitStatus.dataError)
        }
        if words.first == "list" {
            let listing = try JSONDecoder().decode(FaultControl.Listing.self, from: data)
            for d in listing.devices {
                print("\(d.name) (unit \(d.unit), \(d.kind))")
                print("  channels: \(d.channels.joined(separator: ", "))")
                print("  disturbances: \(d.disturbances.isEmpty ? "none" : d.disturbances.joined(separator: ", "))")
                print("  injected: \(d.injected.isEmpty ? "nothing" : d.injected.joined(separator: "; "))")
            }
        } else {
            let applied = try JSONDecoder().decode(FaultControl.Applied.self, from: data)
            print("applied: \(applied.applied)")
        }
    }
}
