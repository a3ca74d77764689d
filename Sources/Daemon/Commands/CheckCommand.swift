import ArgumentParser

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate a configuration file without starting anything.",
        discussion: "Exits 0 and summarises the stations, or prints every problem (file:line: station: key …) "
            + "and exits 78."
    )

    @Option(name: .long, help: "The configuration file (TOML).")
    var config: String

    func run() throws {
        do {
            let configuration = try ConfigLoader.load(path: config)
            say("\(config): ok, \(configuration.stations.count) station(s)")
            for s in configuration.stations {
                say("  \(s.name): \(s.kind) at \(s.address), fallback \(s.fallback.rawValue)")
            }
        } catch {
            throw failConfiguration(error)
        }
    }
}
