import ArgumentParser
import Foundation
import Stations

/// `rigd reload`: asks the running rigd to read its configuration again (POST /api/reload).
struct ReloadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload",
        abstract: "Make the running rigd read its configuration file again (hot reload).",
        discussion: """
        Asks the running rigd (POST /api/reload) to reload the configuration file it was started with; SIGHUP \
        (systemctl reload rigd) does the same. Needs an admin token (--token-file, or the API token of --config). \
        Check the file first with `rigd check FILE`.

        An invalid file is refused whole: rigd answers with its problems and nothing changes (exit 65). Otherwise \
        stations whose [[station]] table and map file did not change keep running (same loops, no gap in their \
        samples, no reconnect); changed stations drive their safe state and start again, probed as at start; \
        removed stations drive their safe state and stop; added ones start. The stations of one serial line \
        restart together when any of them changes. [daemon], [mqtt], [[notify]] and [calibration] are read at \
        start only: a change to them is reported and applies when rigd is restarted.

        Exit status: 0 reloaded, 65 the file was refused, 77 the token may not reload, 69 no rigd answers or \
        another reload is in progress.
        """
    )

    @OptionGroup var api: APIConnection

    @Flag(name: .long, help: "Print the API's answer (JSON) instead of the summary.")
    var json = false

    func run() async throws {
        // A reload probes changed devices (their probe timeouts) and waits for stopped stations' safe state.
        let (code, data, base) = try await api.send("POST", "/api/reload", timeout: 60, command: "rigd reload")
        if json, code == 200 || code == 422 {
            print(String(decoding: data, as: UTF8.self))
            if code == 422 { throw ExitCode(ExitStatus.dataError) }
            return
        }
        switch code {
        case 200, 422:
            guard let outcome = try? JSONDecoder().decode(ReloadOutcome.self, from: data) else {
                warn("rigd reload: \(base) answered \(code) with a body that is not a reload outcome")
                throw ExitCode(ExitStatus.software)
            }
            if !outcome.applied {
                warn("rigd reload: \(outcome.source) refused; nothing changed:")
                for line in outcome.errors { warn("  \(line)") }
                throw ExitCode(ExitStatus.dataError)
            }
            print("reloaded \(outcome.source): \(outcome.summary)")
        default:
            throw refused(code, data, base: base, command: "rigd reload")
        }
    }
}
