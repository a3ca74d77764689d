// libFuzzer target: the device-map loader (`MapLoader.parse`: toml++ through TOMLKit, then the strict map reader:
// kinds, channels, commands, register notations, types, layout) and `rigd check --map`'s summary of a map that
// loads. Any bytes must give a `DeviceMap` or a `ConfigError` whose every issue names the file — never a crash.
import Daemon
import Devices
import Stations
import SimServe
import DeviceTransports
import Foundation

let source = "/nonexistent/fuzz/map.toml"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    do {
        let map = try MapLoader.parse(text, source: source)
        for channel in map.channels {
            fuzzCheck(channel.field.length >= 1 && channel.field.register >= 0, "a channel field \(channel.field)")
            fuzzCheck(channel.field.scale != 0, "scale 0 accepted")
        }
        for command in map.commands {
            fuzzCheck(command.field.table.isWritable, "a command in \(command.field.table)")
        }
        _ = MapSummary.lines(map, file: source)
    } catch {
        fuzzCheck(!error.issues.isEmpty, "a ConfigError without issues")
        for issue in error.issues {
            fuzzCheck(issue.file == source, "an issue that does not name the file: \(issue)")
            if let line = issue.line { fuzzCheck(line >= 1, "issue at line \(line)") }
        }
    }
    return 0
}
