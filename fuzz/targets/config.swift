// libFuzzer target: the TOML configuration loader (`ConfigLoader.parse`: toml++ through TOMLKit, then the strict
// reader of every station kind, addresses, GPIO lines, relays, [daemon]) and what `rigd check` does with a
// configuration that loads. Any bytes must give a `Configuration` or a `ConfigError` whose every issue names the
// file — never a crash.
import Daemon
import Stations
import SimServe
import DeviceTransports
import Foundation

let source = "/nonexistent/fuzz/plant.toml"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    do {
        let (configuration, absent) = try ConfigLoader.parseReportingAbsent(text, source: source)
        _ = absent.count
        let daemon = configuration.daemon
        _ = daemon.http?.isLoopback
        _ = daemon.http?.description
        _ = daemon.resolvedTokenFile
        _ = Wiring.lineConflicts(configuration.stations).map(\.reason)
        for station in configuration.stations {
            fuzzCheck(!station.name.isEmpty || true, "")
            _ = station.bus
            _ = station.timeouts
            _ = "\(station.name) \(station.kind) \(station.address) \(station.fallback.rawValue)"
        }
    } catch {
        fuzzCheck(!error.issues.isEmpty, "a ConfigError without issues")
        for issue in error.issues {
            fuzzCheck(issue.file == source, "an issue that does not name the file: \(issue)")
            if let line = issue.line { fuzzCheck(line >= 1, "issue at line \(line)") }
        }
        fuzzCheck(error.description.hasPrefix(source), "error text does not start with the file: \(error)")
    }
    return 0
}
