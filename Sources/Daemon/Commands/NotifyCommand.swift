import ArgumentParser
import Foundation
import Logging
import Stations

/// `rigd notify list|test`: the `[[notify]]` targets of a configuration, and a test message to one of them.
struct NotifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notify",
        abstract: "List a configuration's [[notify]] targets, or send one a test message.",
        discussion: """
        [[notify]] tables send alarm notifications: a webhook (JSON: generic, slack or ntfy) or e-mail through the \
        system's sendmail (Debian's msmtp-mta, or any MTA). `rigd notify test NAME --config FILE` sends one test \
        message straight from this command (no running rigd needed), past the target's caps and without retries, \
        and says whether it was delivered: the way to check a URL, a token in it, or the mail setup. A running rigd \
        does the same with POST /api/notify/NAME/test (admin token).

        Exit status: 0 delivered (or listed); 64 no such target; 69 not delivered (the reason is printed); \
        78 configuration error.
        """,
        subcommands: [List.self, Test.self]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The targets: name, delivery, what they are sent, caps.")

        @Option(name: .long, help: "The configuration file.")
        var config: String

        func run() throws {
            let targets: [NotifyTarget]
            do throws(ConfigError) {
                targets = try ConfigLoader.load(path: config).notify
            } catch {
                throw failConfiguration(error)
            }
            guard !targets.isEmpty else {
                say("\(config): no [[notify]] tables")
                return
            }
            for t in targets {
                say("\(t.name): \(t.kind) → \(NotifyCommand.destination(t)); events \(t.events.map(\.rawValue).sorted().joined(separator: ", ")); "
                    + "severities \(t.severities.sorted().joined(separator: ", ")); stations \(t.stations?.joined(separator: ", ") ?? "all"); "
                    + "at most \(t.maxPerHour)/h, the same alarm once per \(Int(t.minInterval)) s, unacknowledged after \(Int(t.unacknowledgedAfter / 60)) min")
            }
        }
    }

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Send one test message to a target and say whether it was delivered.")

        @Argument(help: "The target's name ([[notify]] name).")
        var name: String

        @Option(name: .long, help: "The configuration file.")
        var config: String

        func run() async throws {
            let targets: [NotifyTarget]
            do throws(ConfigError) {
                targets = try ConfigLoader.load(path: config).notify
            } catch {
                throw failConfiguration(error)
            }
            let notifier = Notifier(targets: targets, logger: Logger(label: "rigd"))
            guard let result = await notifier.test(name) else {
                warn("no [[notify]] target named \"\(name)\" in \(config) (\(targets.isEmpty ? "none" : targets.map(\.name).joined(separator: ", ")))")
                throw ExitCode(ExitStatus.usage)
            }
            if let failure = result {
                warn("not delivered to \(name): \(failure)")
                throw ExitCode(ExitStatus.unavailable)
            }
            let target = targets.first { $0.name == name }!
            say("delivered a test message to \(name) (\(target.kind) → \(NotifyCommand.destination(target)))")
        }
    }

    /// Where a target sends, without what may be a secret in a webhook URL's path or query.
    static func destination(_ target: NotifyTarget) -> String {
        switch target.delivery {
        case .webhook(let url, _):
            let c = URLComponents(string: url)
            return "\(c?.scheme ?? "http")://\(c?.host ?? "?")\(c?.port.map { ":\($0)" } ?? "")/…"
        case .email(let to, let sendmail): return "\(to.joined(separator: ", ")) via \(sendmail)"
        }
    }
}
