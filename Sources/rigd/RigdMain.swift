import ArgumentParser
import Daemon
import Historian

/// The rigd executable: the Daemon library's command line (`rigd --help`) and `rigd historian`, nothing else.
/// The historian's command lives apart from Daemon's (its own module, with postgres-nio), so it joins the command
/// line here.
@main
struct RigdMain: AsyncParsableCommand {
    static let configuration: CommandConfiguration = {
        var configuration = Rigd.configuration
        configuration.subcommands.append(HistorianCommand.self)
        return configuration
    }()
}
