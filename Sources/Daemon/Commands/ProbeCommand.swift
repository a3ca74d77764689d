import ArgumentParser
import Devices
import DeviceTransports
import Foundation
import Stations

/// Opens a client for a `tcp://` or `rtu://` address (commissioning tools: probe, scan).
func commissioningClient(_ address: DeviceAddress, unit: Int, timeoutMs: Int) throws -> any ModbusClient {
    switch address {
    case .tcp(let host, let port, _):
        return ModbusTCPClient(host: host, port: port, unit: unit,
                               timeouts: ModbusTimeouts(connect: .milliseconds(max(timeoutMs, 200)),
                                                        response: .milliseconds(timeoutMs)))
    case .rtu(let settings, _):
        return ModbusRTUClient(line: SerialLine(settings: settings, responseTimeout: .milliseconds(timeoutMs)),
                               unit: unit)
    case .simulated:
        throw ValidationError("sim:// has no device to talk to: give a tcp:// or rtu:// address")
    }
}

/// Connects `client`, or says why not (naming the tool) and exits 69.
func connectOrExit(_ client: any ModbusClient, tool: String) throws {
    do {
        try client.connect()
    } catch {
        FileHandle.standardError.write(Data("rigd \(tool): \(error)\n".utf8))
        throw ExitCode(ExitStatus.unavailable)
    }
}

/// `rigd probe`: one read of every value a map names, as a table — the first thing to run against a new instrument.
struct ProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Read every mapped channel of one device once and print what came back.",
        discussion: """
        ADDRESS is tcp://HOST[:PORT][?unit=N] or rtu:///dev/ttyUSB0?baud=9600&parity=N&unit=N (as in a \
        configuration). The map is --map FILE (docs/maps.md), or the built-in map of --kind K; without either, rigd \
        reads IR 0 and uses the built-in map of the kind that answers.

        Prints, for a map with [map.wake], how it woke each unit (the map's first timeout and retries); the \
        identity check; then, for a map that has them, the setup writes it made, the acquisition sequences it ran (it waits and polls as the device asks) and the expectations it checked; one row per \
        channel (name; table and register, 0-based and one-based; the raw registers in hex; the decoded value and \
        unit; its quality) and how each function code answered. --watch repeats every second until Ctrl-C. A probe \
        with a map that has setup writes or acquisition sequences writes to the device: those writes, nothing else.

        Exit status: 0 every mapped channel read (and the identity matched, the setup, acquisitions and expectations \
        passed); 1 otherwise, naming the failures; 64 bad \
        arguments; 69 no answer at all; 78 the map has problems.
        """
    )

    @Argument(help: "The device: tcp://HOST[:PORT][?unit=N] or rtu:///dev/PATH?baud=…&unit=N.")
    var address: String

    @Option(name: .long, help: "The device map (TOML).")
    var map: String?

    @Option(name: .long, help: "Use this kind's built-in map.")
    var kind: String?

    @Option(name: .long, help: "Unit id (default: the address's, else the map's).")
    var unit: Int?

    @Option(name: .long, help: "Response timeout, ms.")
    var timeoutMs: Int = 500

    @Flag(name: .long, help: "Repeat every second until Ctrl-C.")
    var watch = false

    func validate() throws {
        if map != nil && kind != nil { throw ValidationError("give --map or --kind, not both") }
        if let unit, !(0...247).contains(unit) { throw ValidationError("--unit must be 0…247, got \(unit)") }
        if !(10...10_000).contains(timeoutMs) { throw ValidationError("--timeout-ms must be 10…10000") }
    }

    func run() throws {
        let parsed: DeviceAddress
        do { parsed = try DeviceAddress(parsing: address) } catch { throw ValidationError("\(error)") }
        var deviceMap: DeviceMap?
        do {
            if let map { deviceMap = try MapLoader.load(path: map) }
            if let kind {
                guard let k = KindRegistry.builtIn.kind(named: kind) else {
                    throw ValidationError("--kind: unknown kind \"\(kind)\" (kinds: "
                                          + KindRegistry.builtIn.names.joined(separator: ", ") + ")")
                }
                deviceMap = try MapLoader.parse(k.builtInMapText, source: "maps/builtin/\(kind).toml")
            }
        } catch let error as ConfigError {
            throw failConfiguration(error)
        }
        let unitId = unit ?? (address.contains("unit=") ? parsed.unit : nil) ?? deviceMap?.unit ?? parsed.unit ?? 1
        let client = try commissioningClient(parsed, unit: unitId, timeoutMs: timeoutMs)
        defer { client.close() }
        try connectOrExit(client, tool: "probe")
        if deviceMap == nil {
            do {
                let header = try client.readHeader()
                guard let k = KindRegistry.builtIn.kind(deviceType: header.deviceType) else {
                    FileHandle.standardError.write(Data("""
                        rigd probe: IR 0 reads 0x\(String(header.deviceType, radix: 16)), no built-in kind: give --map \
                        FILE (docs/maps.md) or --kind K

                        """.utf8))
                    throw ExitCode(1)
                }
                say("IR 0 reads \(header.deviceType): \(k.kind), probing with its built-in map")
                deviceMap = try MapLoader.parse(k.builtInMapText, source: "maps/builtin/\(k.kind).toml")
            } catch let error as ExitCode {
                throw error
            } catch {
                FileHandle.standardError.write(Data("""
                    rigd probe: \(address) unit \(unitId) does not answer the register contract's header (IR 0): \
                    \(error); give --map FILE or --kind K

                    """.utf8))
                throw ExitCode(error is ModbusTransactionError ? 1 : ExitStatus.unavailable)
            }
        }
        guard let deviceMap else { return }
        let units = Dictionary(KindRegistry.builtIn.kind(named: deviceMap.kind.rawValue)?.channelSpecs
            .map { ($0.name, $0.unit) } ?? [], uniquingKeysWith: { a, _ in a })
        var failed = false
        repeat {
            let result = MapProbe.run(deviceMap, client: client, units: units)
            say(Self.render(result, map: deviceMap, address: address, unit: unitId))
            failed = !result.failures.isEmpty || result.identityOK == false || result.stepsFailed
            if watch { Thread.sleep(forTimeInterval: 1) }
        } while watch
        if failed { throw ExitCode(1) }
    }

    static func render(_ result: MapProbe.Result, map: DeviceMap, address: String, unit: Int) -> String {
        func location(_ f: DeviceMap.Field) -> String {
            let span = f.length > 1 ? "\(f.register)–\(f.register + f.length - 1)" : "\(f.register)"
            if let place = f.place { return "\(place) + \(span)" }  // not found: its offset in the block
            return (f.unit.map { "unit \($0) " } ?? "") + "\(f.table) \(span) (#\(f.register + 1))"
                + (f.bit.map { " bit \($0)" } ?? "")
        }
        func hex(_ raw: [UInt16], _ f: DeviceMap.Field) -> String {
            f.table.holdsBits ? raw.map(String.init).joined(separator: " ")
                : raw.map { String(format: "%04X", $0) }.joined(separator: " ")
        }
        func value(_ r: MapProbe.Reading) -> String {
            if let text = r.text { return "\"\(text)\"" }
            guard let v = r.value else { return "—" }
            return v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(format: "%.6g", v)
        }
        let others = map.otherUnits.isEmpty ? "" : " (and units " + map.otherUnits.map(String.init).joined(separator: ", ")
            + ")"
        var lines = ["\(address) unit \(unit)\(others), map \"\(map.name)\" (\(map.kind))"]
        if let id = result.identity, let expected = map.identity {
            let verdict = result.identityOK == true ? "ok" : "MISMATCH"
            lines.append("identity: \(location(id.field)) = \(id.error ?? value(id)) (expected "
                         + "\(TableReader.format(expected.equals))): \(verdict)")
        }
        lines += result.steps
        var rows = [["CHANNEL", "REGISTER", "RAW", "VALUE", "UNIT", "QUALITY"]]
        for r in result.channels {
            rows.append([r.name, location(r.field), r.error == nil ? hex(r.raw, r.field) : "-", value(r), r.unit,
                         r.error.map { "FAILED: \($0)" } ?? r.quality])
        }
        let widths = (0..<rows[0].count - 1).map { i in rows.map { $0[i].count }.max() ?? 0 }
        lines += rows.map { row in
            zip(row.dropLast(), widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }
                .joined(separator: "  ") + "  " + (row.last ?? "")
        }
        lines.append("function codes: " + result.functionCodes.summary)
        let failures = result.failures
        lines.append(failures.isEmpty ? "all \(result.channels.count) mapped channels read"
                     : "\(failures.count) of \(result.channels.count) channels did not read: "
                        + failures.joined(separator: ", "))
        if result.identityOK == false {
            lines.append("the identity does not match: this is not the device the map describes (or not that unit)")
        }
        return lines.joined(separator: "\n")
    }
}

/// `rigd scan`: which unit ids answer on a line.
struct ScanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Find which Modbus unit ids answer on a serial line (or behind a TCP gateway).",
        discussion: """
        Asks each unit id for one holding register (FC 03) and one input register (FC 04) with a short timeout. A \
        unit that answers — with data or with an exception — is present; one that is silent is not. A present unit \
        whose IR 0 reads the device type of a built-in kind is named as that kind. A gateway's exceptions 0A and 0B \
        (nothing behind it at that unit) count as silence. Units are tried one after \
        another: 247 silent units at 100 ms take about 50 s (narrow --units to go faster).

        Exit status: 0 at least one unit answered; 1 none did; 64 bad arguments; 69 the line cannot be opened.
        """
    )

    @Argument(help: "The line: rtu:///dev/PATH?baud=…&parity=…, or tcp://HOST[:PORT] for a gateway.")
    var address: String

    @Option(name: .long, help: "Unit ids to try: 1-247, 1,2,5 or 3-10,20.")
    var units: String = "1-247"

    @Option(name: .long, help: "Response timeout per unit, ms.")
    var timeoutMs: Int = 100

    static func parseUnits(_ text: String) throws -> [Int] {
        var out: [Int] = []
        for part in text.split(separator: ",") {
            let ends = part.split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
            guard (1...2).contains(ends.count), let low = ends.first ?? nil, let high = ends.last ?? nil,
                  low <= high, (0...247).contains(low), (0...247).contains(high) else {
                throw ValidationError("--units: \"\(part)\" is not a unit id or range within 0…247 (e.g. 1-247, 1,2,5)")
            }
            out += Array(low...high)
        }
        guard !out.isEmpty else { throw ValidationError("--units names no unit") }
        return Array(Set(out)).sorted()
    }

    func validate() throws {
        _ = try Self.parseUnits(units)
        if !(10...5000).contains(timeoutMs) { throw ValidationError("--timeout-ms must be 10…5000") }
    }

    func run() throws {
        let parsed: DeviceAddress
        do { parsed = try DeviceAddress(parsing: address) } catch { throw ValidationError("\(error)") }
        let ids = try Self.parseUnits(units)
        say("scanning \(ids.count) unit id(s) on \(address), \(timeoutMs) ms each …")
        var found = 0
        for (i, id) in ids.enumerated() {
            let client = try commissioningClient(parsed, unit: id, timeoutMs: timeoutMs)
            defer { client.close() }
            try connectOrExit(client, tool: "scan")
            var answers: [String] = []
            var identity = ""
            for (code, read) in [(3, { _ = try client.readHoldingRegisters(at: 0, count: 1) }),
                                 (4, { _ = try client.readInputRegisters(at: 0, count: 1) })] as [(Int, () throws -> Void)] {
                do {
                    try read()
                    answers.append(String(format: "FC %02d ok", code))
                } catch let error as ModbusTransactionError {
                    // A gateway's 0A/0B say that nothing answers behind it at this unit: silence, not a device.
                    if let e = error.exception, e == .gatewayPathUnavailable || e == .gatewayTargetFailed { continue }
                    answers.append(String(format: "FC %02d ", code)
                                   + (error.exception.map { String(format: "exception %02X", $0.rawValue) } ?? error.message))
                } catch {
                    continue  // silence
                }
            }
            if answers.contains("FC 04 ok"), let header = try? client.readHeader(),
               let kind = KindRegistry.builtIn.kind(deviceType: header.deviceType) {
                identity = String(format: ": %@ (IR 0 = 0x%04X, serial %u)", kind.kind.rawValue, header.deviceType,
                                  header.serialNumber)
            }
            if !answers.isEmpty {
                found += 1
                say("unit \(id): answers (\(answers.joined(separator: ", ")))\(identity)")
            }
            if ids.count > 20, (i + 1) % 50 == 0 {
                FileHandle.standardError.write(Data("rigd scan: \(i + 1) of \(ids.count) tried, \(found) found\n".utf8))
            }
        }
        say(found == 0 ? "no unit answered" : "\(found) unit(s) answered")
        if found == 0 { throw ExitCode(1) }
    }
}
