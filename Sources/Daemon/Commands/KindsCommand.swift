import ArgumentParser
import Foundation
import Stations
import DeviceTransports
import SimServe
import Locking

/// `rigd kinds`: the device kinds this build knows, from the kinds registry.
struct KindsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kinds",
        abstract: "List the device kinds this rigd knows: channels, settings, relays, simulator presets, recipes.",
        discussion: """
        One line per kind by default; --json prints {"kinds": [...]} with each kind's name, device type (IR 0), \
        simulator presets, whether it has runs and its recipe keys, the alarm it raises when its device stops \
        answering, its channels, operator settings (with limits) and host relays. Scripts (hil/soak, bench/run) \
        read the JSON instead of keeping their own list of kinds.

        --map KIND prints the kind's built-in device map (its register contract in the map format of \
        docs/maps.md; the same text as maps/builtin/KIND.toml): a start for the map of a real instrument.
        """
    )

    @Flag(name: .long, help: "Print JSON ({\"kinds\": [...]}) instead of a table.")
    var json = false

    @Option(name: .long, help: "Print this kind's built-in device map (TOML).")
    var map: String?

    func run() throws {
        if let map {
            guard let kind = KindRegistry.builtIn.kind(named: map) else {
                throw ValidationError("--map: unknown kind \"\(map)\" (kinds: "
                                      + KindRegistry.builtIn.names.joined(separator: ", ") + ")")
            }
            print(kind.builtInMapText, terminator: "")
            return
        }
        let kinds = KindRegistry.builtIn.descriptions
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            var data = try encoder.encode(KindList(kinds: kinds))
            data.append(0x0A)
            FileHandle.standardOutput.write(data)
            return
        }
        for k in kinds {
            let code = String(k.deviceType, radix: 16, uppercase: true)
            print("\(k.name) (device type 0x\(String(repeating: "0", count: max(0, 4 - code.count)) + code)): \(k.summary)")
            print("  channels: " + k.channels.map { $0.unit.isEmpty ? $0.name : "\($0.name) [\($0.unit)]" }
                .joined(separator: ", "))
            if !k.settings.isEmpty {
                print("  settings: " + k.settings.map { "\($0.name) \(fmt($0.min))…\(fmt($0.max)) \($0.unit)" }
                    .joined(separator: ", "))
            }
            if !k.relays.isEmpty { print("  relays: " + k.relays.joined(separator: ", ")) }
            if let map = k.map {
                var needs = map.channels.map { "\($0.channel) for \($0.function)" }
                if !map.commands.isEmpty { needs.append("the commands " + map.commands.joined(separator: ", ")) }
                print("  a device map must have: " + (needs.isEmpty ? "no channel or command in particular" : needs.joined(separator: "; "))
                      + (map.optionalCommands.isEmpty ? "" : "; it may leave out " + map.optionalCommands.joined(separator: ", ")))
            } else {
                print("  device maps: no (its stream loop reads the device's sample ring; it speaks rigd's contract only)")
            }
            print("  runs: " + (k.recipeKeys.map { "yes; recipe keys \($0)" } ?? "no"))
            print("  simulator presets: " + k.presets.joined(separator: ", ") + " (default \(k.defaultPreset))")
        }
    }

    private func fmt(_ d: Double) -> String { TableReader.format(d) }
}
