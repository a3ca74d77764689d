import Foundation

/// The example sonde map (examples/maps/sonde-cdab.toml) as a sonde-and-controller unit that also switches the pond's
/// two aerators on its coils 0 and 1 (docs/maps.md, "Relays"). The second is named the other way (`aerator-2`): a map
/// may write a relay either way.
public func sondeMapWithAerators() throws -> String {
    let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    return try String(contentsOf: repository.appendingPathComponent("examples/maps/sonde-cdab.toml"), encoding: .utf8)
        + """

        [[map.command]]
        name = "aerator_1"
        table = "coil"
        register = 0
        type = "bool"

        [[map.command]]
        name = "aerator-2"
        table = "coil"
        register = 1
        type = "bool"
        """
}
