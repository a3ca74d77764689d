import ArgumentParser
import Foundation
import Stations

/// `rigd token add|list|revoke`: the API's named tokens with roles (`TokensFile`).
struct TokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Add, list and revoke the API's named tokens (roles viewer, operator, admin).",
        discussion: """
        Each person or program that uses the API gets a token of its own, with a role:
          viewer    reads (needed only where rigd listens on a network address; on loopback reads are open)
          operator  also changes setpoints, starts and stops runs, acknowledges alarms
          admin     everything
        Every write is recorded in the data log with the token's name (events' actor, alarms' acknowledged_by). \
        The API token file's single token (api-token in the data directory) keeps working as an admin token named \
        "admin".

        The tokens file (--tokens-file, else [daemon] tokens_file of --config, else tokens.json in the data \
        directory: --data-dir, [daemon] data_dir, $STATE_DIRECTORY or ~/.local/state/rigd) keeps only each \
        token's SHA-256, with mode 0600. `rigd token add` prints the new token once: keep it, it cannot be shown \
        again. A running rigd reads the file again when it changes: an added token works and a revoked one stops \
        working at once, without a restart.

        Exit status: 0 done; 64 usage error (a bad name or role, a name taken, a name not found); 73 cannot write \
        the tokens file; 78 the tokens file or configuration is invalid.
        """,
        subcommands: [Add.self, List.self, Revoke.self]
    )

    /// Where the tokens file is.
    struct Location: ParsableArguments {
        @Option(name: .long, help: "The tokens file (overrides --config and --data-dir).")
        var tokensFile: String?

        @Option(name: .long, help: "Configuration file whose [daemon] tokens_file and data_dir to use.")
        var config: String?

        @Option(name: .long, help: "Data directory whose tokens.json to use.")
        var dataDir: String?

        func file() throws -> String {
            if let tokensFile {
                guard !tokensFile.isEmpty else { throw ValidationError("--tokens-file must name a file") }
                return tokensFile
            }
            var daemon = DaemonConfig()
            if let config {
                do {
                    daemon = try ConfigLoader.load(path: config).daemon
                } catch {
                    throw failConfiguration(error)
                }
            }
            if let dataDir { daemon.dataDirectory = dataDir }
            return daemon.resolvedTokensFile
        }
    }

    /// Says what is wrong with the tokens file; exit 73 where it cannot be written, 78 where it is unreadable or invalid.
    static func fail(_ problem: TokensFile.Problem, changing: Bool = true) -> ExitCode {
        warn(problem.description + (changing && !problem.cannotWrite ? "; nothing changed" : ""))
        return ExitCode(problem.cannotWrite ? ExitStatus.cannotCreate : ExitStatus.config)
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a named token with a role; print it once.",
            discussion: """
            Prints the new token (64 hex digits) alone on standard output, so that `rigd token add ana --role \
            operator > ana.token` keeps it in a file; what it did goes to standard error.
            """
        )

        @Argument(help: "The token's name, recorded with every write made with it: 1–64 letters, digits, '.', '_', '-'.")
        var name: String

        @Option(name: .long, help: "viewer, operator or admin.")
        var role: Role

        @OptionGroup var location: Location

        func validate() throws {
            if let problem = TokensFile.nameProblem(name) { throw ValidationError(problem) }
        }

        func run() throws {
            let file = try location.file()
            let token = TokensFile.newToken()
            let created = ISO8601DateFormatter().string(from: Date())
            let taken: Bool
            do {
                taken = try TokensFile.update(file: file) { (tokens: inout TokensFile) throws(TokensFile.Problem) -> Bool in
                    guard !tokens.tokens.contains(where: { $0.name == name }) else { return true }
                    tokens.tokens.append(NamedToken(name: name, role: role, sha256: TokensFile.hash(token),
                                                    createdAt: created))
                    return false
                }
            } catch {
                throw TokenCommand.fail(error)
            }
            if taken {
                warn("a token named \"\(name)\" exists in \(file); revoke it first (rigd token revoke \(name)) or choose another name")
                throw ExitCode(ExitStatus.usage)
            }
            say(token)
            warn("added token \"\(name)\" (\(role.rawValue)) to \(file); it is printed above once and stored only as its SHA-256")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the named tokens: name, role, created.")

        @OptionGroup var location: Location

        @Flag(name: .long, help: "Print JSON (name, role, created_at) instead of the table.")
        var json = false

        func run() throws {
            let file = try location.file()
            let tokens: [NamedToken]
            do {
                tokens = try TokensFile.load(file: file).tokens
            } catch {
                throw TokenCommand.fail(error, changing: false)
            }
            if json {
                let entries = tokens.map { ["name": $0.name, "role": $0.role.rawValue, "created_at": $0.createdAt] }
                let data = try JSONSerialization.data(withJSONObject: ["tokens": entries], options: [.sortedKeys])
                say(String(decoding: data, as: UTF8.self))
                return
            }
            guard !tokens.isEmpty else {
                say("no named tokens in \(file) (rigd token add NAME --role ROLE makes one); the API token file's token is \"admin\"")
                return
            }
            let width = max(4, tokens.map(\.name.count).max() ?? 0)
            say("NAME".padding(toLength: width, withPad: " ", startingAt: 0) + "  ROLE      CREATED")
            for t in tokens {
                say(t.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  "
                    + t.role.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0) + "  " + t.createdAt)
            }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a named token; a running rigd refuses it from its next request on.")

        @Argument(help: "The token's name.")
        var name: String

        @OptionGroup var location: Location

        func run() throws {
            let file = try location.file()
            let found: Bool
            do {
                found = try TokensFile.update(file: file) { (tokens: inout TokensFile) throws(TokensFile.Problem) -> Bool in
                    let before = tokens.tokens.count
                    tokens.tokens.removeAll { $0.name == name }
                    return tokens.tokens.count < before
                }
            } catch {
                throw TokenCommand.fail(error)
            }
            guard found else {
                warn("no token named \"\(name)\" in \(file) (rigd token list shows them)")
                throw ExitCode(ExitStatus.usage)
            }
            warn("revoked token \"\(name)\" in \(file)")
        }
    }
}

extension Role: ExpressibleByArgument {
    package static var allValueStrings: [String] { allCases.map(\.rawValue) }
}
