import ArgumentParser

/// The command line. The `rigd` executable only calls `Rigd.main()`.
package struct Rigd: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "rigd",
        abstract: "Firmware host for lab rigs, aquaculture stations and the amino-acid extraction device.",
        discussion: """
        rigd talks Modbus TCP and RTU to its devices, runs fixed-rate control loops on them, and falls back to a built-in \
        simulator for any device that does not answer. With no --config it runs the embedded demo plant.

        While it runs it serves an HTTP API (stations, data log, live values, Prometheus metrics, operator writes \
        with a bearer token) and records samples, events, alarms and runs in a SQLite data log; `rigd status` and \
        `rigd export` read them.

        Exit status: 0 done; 64 usage error; 69 a device with fallback = "fail" did not answer, or the data \
        directory is in use; 70 internal error; 73 cannot create the data log, token or report; \
        78 configuration error.
        """,
        version: BuildInfo.text,
        subcommands: [RunCommand.self, SimulateCommand.self, CheckCommand.self, StatusCommand.self, ExportCommand.self, FaultCommand.self,
                      PortsCommand.self, KindsCommand.self, ProbeCommand.self, ScanCommand.self, TokenCommand.self,
                      BackupCommand.self, RestoreCommand.self, NotifyCommand.self, HandCommand.self, AutoCommand.self, CalibrateCommand.self,
                      ReloadCommand.self, ViewCommand.self, ReportCommand.self],
        defaultSubcommand: nil
    )
}
