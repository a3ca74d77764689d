import ArgumentParser

@main
struct Rigd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rigd",
        abstract: "Firmware host for lab rigs, aquaculture stations and the amino-acid extraction device.",
        discussion: """
        rigd talks Modbus TCP to its devices, runs fixed-rate control loops on them, and falls back to a built-in \
        simulator for any device that does not answer. With no --config it runs the embedded demo plant.

        Exit status: 0 done; 64 usage error; 69 a device with fallback = "fail" did not answer; \
        78 configuration error.
        """,
        version: "0.1.0",
        subcommands: [RunCommand.self, SimulateCommand.self, CheckCommand.self, PortsCommand.self],
        defaultSubcommand: nil
    )
}
