import ArgumentParser
import Daemon
import Foundation
import Hummingbird
import Logging
import MQTT
import PostgresNIO
import ServiceLifecycle
import Sparkplug
import Stations

/// `rigd historian`: the fleet's central store.
package struct HistorianCommand: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "historian",
        abstract: "Subscribe to the fleet's Sparkplug B broker and keep what every edge node publishes in PostgreSQL.",
        discussion: """
        The historian is a Sparkplug B host application. It subscribes to spBv1.0/GROUP/# (every group unless \
        --group names one) and writes each edge node's births and deaths, its devices (rigd stations) with their \
        kind, mode, link and state, every metric with its datatype and unit, every value (samples keyed by \
        device, metric and time, so a value forwarded twice is kept once), the alarm changes and the runs. It \
        follows Sparkplug's birth and death rules and asks a node for a rebirth (NCMD Node Control/Rebirth) when a \
        message is missing (a seq gap), when data comes without a birth, or when a metric was not in the birth.

        The schema is created and migrated on start (table historian_schema keeps its version). \
        While it runs, the historian serves a read-only fleet overview page (every site, node and device with its \
        mode, link, active alarms and last values) and /api/status (its counters, JSON) on --http.

        With --host-id it is the fleet's primary host application: it publishes spBv1.0/STATE/ID online (retained, \
        with an offline will), so edge nodes whose [mqtt] primary_host names it take commands only while it runs.

        Examples:
          rigd historian --mqtt mqtt://127.0.0.1:1883 \\
              --postgres postgres://rigd@127.0.0.1:5432/fleet
          rigd historian --mqtt mqtts://broker.lab:8883 --ca-file /etc/rigd/ca.pem \\
              --username historian --password-file /etc/rigd/mqtt-password \\
              --postgres postgres://rigd@db.lab/fleet \\
              --postgres-password-file /etc/rigd/pg-password \\
              --host-id scada --http 0.0.0.0:8090

        Exit status: 0 stopped by SIGINT/SIGTERM; 64 usage error; 69 PostgreSQL cannot be reached or refuses; \
        70 internal error; 78 a password, CA, certificate or key file cannot be read.
        """
    )

    @Option(name: .long, help: ArgumentHelp("The broker: mqtt://HOST[:PORT] (1883) or mqtts://HOST[:PORT] (8883, TLS).",
                                            valueName: "url"))
    var mqtt: String

    @Option(name: .long, help: ArgumentHelp("""
        The database: postgres://USER@HOST[:PORT]/DATABASE (5432; DATABASE defaults to USER), or \
        postgres://USER@/DATABASE?host=/run/postgresql for the local socket. The database must exist.
        """, valueName: "url"))
    var postgres: String

    @Option(name: .long, help: "Only this Sparkplug group (a site); default: every group.")
    var group: String?

    @Option(name: .long, help: "Be the fleet's primary host application under this id (publishes spBv1.0/STATE/ID).")
    var hostID: String?

    @Option(name: .long, help: ArgumentHelp("Serve the fleet overview page and /api/status here.", valueName: "host:port"))
    var http: String = "127.0.0.1:8090"

    @Option(name: .long, help: "MQTT username.")
    var username: String?

    @Option(name: .long, help: ArgumentHelp("MQTT password: the first line of this file (keep it mode 0600).", valueName: "file"))
    var passwordFile: String?

    @Option(name: .long, help: ArgumentHelp("PostgreSQL password: the first line of this file (mode 0600); a password in --postgres works too but shows in ps.", valueName: "file"))
    var postgresPasswordFile: String?

    @Option(name: .long, help: ArgumentHelp("CA certificate that signed the broker's (mqtts).", valueName: "file"))
    var caFile: String?

    @Option(name: .long, help: ArgumentHelp("Client certificate for the broker (mqtts, optional).", valueName: "file"))
    var certFile: String?

    @Option(name: .long, help: ArgumentHelp("Client certificate's key (mqtts, with --cert-file).", valueName: "file"))
    var keyFile: String?

    @Option(name: .long, help: "Messages larger than this many bytes are counted and dropped.")
    var maxMessageBytes: Int = 1 << 20

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    /// A broker URL taken apart.
    package struct Broker: Equatable {
        package var host: String
        package var port: Int
        package var tls: Bool
    }

    /// A database URL taken apart.
    package struct Database: Equatable {
        package var user: String
        package var password: String?
        package var host: String?
        package var socketDirectory: String?
        package var port: Int
        package var database: String

        package var description: String {
            if let socketDirectory {
                return "postgres://\(user)@\(port == 5432 ? "" : ":\(port)")/\(database)?host=\(socketDirectory)"
            }
            return "postgres://\(user)@\(host ?? "localhost"):\(port)/\(database)"
        }
    }

    package static func broker(_ text: String) throws(ValidationError) -> Broker {
        guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased(),
              scheme == "mqtt" || scheme == "mqtts" else {
            throw ValidationError("--mqtt must be mqtt://HOST[:PORT] or mqtts://HOST[:PORT], got \"\(text)\"")
        }
        guard let host = url.host, !host.isEmpty else { throw ValidationError("--mqtt names no host: \"\(text)\"") }
        guard url.path.isEmpty || url.path == "/", url.query == nil, url.user == nil else {
            throw ValidationError("--mqtt takes only scheme, host and port (credentials go in --username and --password-file), got \"\(text)\"")
        }
        let port = url.port ?? (scheme == "mqtts" ? 8883 : 1883)
        guard (1...65_535).contains(port) else { throw ValidationError("--mqtt port must be 1–65535, got \(port)") }
        return Broker(host: host, port: port, tls: scheme == "mqtts")
    }

    package static func database(_ text: String) throws(ValidationError) -> Database {
        guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased(),
              scheme == "postgres" || scheme == "postgresql" else {
            throw ValidationError("--postgres must be postgres://USER@HOST[:PORT]/DATABASE, got \"\(Self.redacted(text))\"")
        }
        guard let user = url.user, !user.isEmpty else {
            throw ValidationError("--postgres names no user (postgres://USER@HOST/DATABASE): \"\(Self.redacted(text))\"")
        }
        var socketDirectory: String?
        for item in url.queryItems ?? [] {
            switch (item.name, item.value) {
            case ("host", let dir?) where dir.hasPrefix("/"): socketDirectory = dir
            case ("sslmode", "disable"?): break
            case ("sslmode", let mode):
                throw ValidationError("--postgres: sslmode=\(mode ?? "") is not supported: this historian talks to PostgreSQL without TLS (keep it on loopback or a private network)")
            default:
                throw ValidationError("--postgres: unknown parameter \"\(item.name)\" (known: host=/socket/dir, sslmode=disable)")
            }
        }
        let host = url.host.flatMap { $0.isEmpty ? nil : $0 }
        guard host != nil || socketDirectory != nil else {
            throw ValidationError("--postgres names no host (postgres://USER@HOST/DATABASE, or ?host=/run/postgresql for the socket)")
        }
        let port = url.port ?? 5432
        guard (1...65_535).contains(port) else { throw ValidationError("--postgres port must be 1–65535, got \(port)") }
        let name = url.path.hasPrefix("/") ? String(url.path.dropFirst()) : url.path
        guard !name.contains("/") else { throw ValidationError("--postgres: \"\(name)\" is not a database name") }
        return Database(user: user, password: url.password, host: host, socketDirectory: socketDirectory, port: port,
                        database: name.isEmpty ? user : name)
    }

    /// The URL with its password replaced, for messages.
    static func redacted(_ text: String) -> String {
        guard var url = URLComponents(string: text), url.password != nil else { return text }
        url.password = "***"
        return url.string ?? text
    }

    package func validate() throws {
        _ = try Self.broker(mqtt)
        _ = try Self.database(postgres)
        _ = try address()
        for (flag, id) in [("--group", group), ("--host-id", hostID)] {
            if let id, let problem = SparkplugTopic.problem(withID: id) {
                throw ValidationError("\(flag) \"\(id)\" \(problem)")
            }
        }
        let tls = try Self.broker(mqtt).tls
        if !tls, caFile != nil || certFile != nil || keyFile != nil {
            throw ValidationError("--ca-file, --cert-file and --key-file are for mqtts:// (TLS); --mqtt is \(mqtt)")
        }
        if tls, caFile == nil { throw ValidationError("mqtts:// needs --ca-file (the CA that signed the broker's certificate)") }
        if (certFile == nil) != (keyFile == nil) { throw ValidationError("--cert-file and --key-file go together") }
        if passwordFile != nil, username == nil { throw ValidationError("--password-file needs --username") }
        guard maxMessageBytes >= 1024 else { throw ValidationError("--max-message-bytes must be at least 1024") }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
    }

    func address() throws -> ListenAddress {
        do {
            return try ListenAddress(parsing: http)
        } catch {
            throw ValidationError("--http \(error)")
        }
    }

    /// The first line of a secret file; warns when others may read it.
    static func secret(_ file: String, what: String, logger: Logger) throws -> String {
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw SecretProblem(description: "\(what) \(file): cannot read: \(ConfigLoader.reason(error))")
        }
        let line = String(text.split(separator: "\n", omittingEmptySubsequences: false).first ?? "")
        guard !line.isEmpty else { throw SecretProblem(description: "\(what) \(file): its first line is empty (the password goes there)") }
        if let warning = FilePermissions.secretTooOpen(file, what: what, risk: "anyone who can read it can use it") {
            logger.warning("\(warning)")
        }
        return line
    }

    struct SecretProblem: Error, CustomStringConvertible { let description: String }

    package func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        let journal = JournalLogHandler.standardErrorIsJournal()
        LoggingSystem.bootstrap { label in
            if journal {
                var handler = JournalLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = { var l = Logger(label: "rigd"); l.logLevel = level; return l }()
        // postgres-nio and Hummingbird log their internals at debug and trace; at info the historian speaks alone.
        let quiet = { var l = logger; l.logLevel = max(level, .warning); return l }()

        let broker = try Self.broker(mqtt)
        var database = try Self.database(postgres)
        let address = try address()
        var mqttSettings = MQTTSettings(host: broker.host, port: broker.port,
                                        clientID: "rigd-historian-\(hostID ?? String(getpid()))")
        mqttSettings.keepalive = 30
        mqttSettings.reconnectMax = 15
        do {
            if let passwordFile {
                mqttSettings.username = username
                mqttSettings.password = try Self.secret(passwordFile, what: "MQTT password file", logger: logger)
            } else if let username {
                mqttSettings.username = username
            }
            if let postgresPasswordFile {
                database.password = try Self.secret(postgresPasswordFile, what: "PostgreSQL password file", logger: logger)
            }
            for (flag, file) in [("--ca-file", caFile), ("--cert-file", certFile), ("--key-file", keyFile)] {
                if let file, !FileManager.default.isReadableFile(atPath: file) {
                    throw SecretProblem(description: "\(flag) \(file): cannot read it")
                }
            }
        } catch {
            logger.critical("\(error)")
            throw ExitCode(78)
        }
        if broker.tls, let caFile {
            mqttSettings.tls = MQTTSettings.TLS(caFile: caFile, certFile: certFile, keyFile: keyFile)
        }

        let configuration: PostgresClient.Configuration
        let probe: PostgresConnection.Configuration
        if let dir = database.socketDirectory {
            configuration = .init(unixSocketPath: "\(dir)/.s.PGSQL.\(database.port)", username: database.user,
                                  password: database.password, database: database.database)
            probe = .init(unixSocketPath: "\(dir)/.s.PGSQL.\(database.port)", username: database.user,
                          password: database.password, database: database.database)
        } else {
            configuration = .init(host: database.host ?? "localhost", port: database.port, username: database.user,
                                  password: database.password, database: database.database, tls: .disable)
            probe = .init(host: database.host ?? "localhost", port: database.port, username: database.user,
                          password: database.password, database: database.database, tls: .disable)
        }
        // One connection first, outside the pool: the pool retries a refused connection quietly, and the user should
        // hear PostgreSQL's own reason (refused, no such database, password) at once.
        do {
            let connection = try await Self.withTimeout(seconds: 20) {
                try await PostgresConnection.connect(configuration: probe, id: 0, logger: quiet)
            }
            try? await connection.close()
        } catch {
            let reason = error is TimedOut ? "no answer within 20 s" : HistorianError.describe(error)
            logger.critical("cannot use PostgreSQL at \(database.description): \(reason)")
            throw ExitCode(69)
        }
        let client = PostgresClient(configuration: configuration, backgroundLogger: quiet)
        let options = Historian.Options(
            mqtt: mqttSettings, brokerDescription: "\(broker.tls ? "mqtts" : "mqtt")://\(broker.host):\(broker.port)",
            databaseDescription: database.description, group: group, hostID: hostID, maxPayloadBytes: maxMessageBytes)

        try await withThrowingDiscardingTaskGroup { tasks in
            tasks.addTask { await client.run() }
            defer { tasks.cancelAll() }
            do {
                let applied = try await Self.withTimeout(seconds: 20) {
                    try await HistorianSchema.migrate(client, logger: quiet)
                }
                logger.notice(applied.isEmpty
                    ? "\(database.description): schema version \(HistorianSchema.latest), up to date"
                    : "\(database.description): schema migrated to version \(HistorianSchema.latest) (applied \(applied.map(String.init).joined(separator: ", ")))")
            } catch {
                let reason = error is TimedOut ? "no answer within 20 s" : HistorianError.describe(error)
                logger.critical("cannot use PostgreSQL at \(database.description): \(reason)")
                throw ExitCode(69)
            }
            let historian = Historian(options: options, database: client, logger: logger)
            let app = Application(
                router: FleetOverview.router(database: client, historian: historian, logger: quiet),
                configuration: ApplicationConfiguration(address: .hostname(address.host, port: address.port),
                                                        serverName: "rigd-historian"),
                onServerRunning: { channel in
                    let port = channel.localAddress?.port ?? address.port
                    logger.notice("fleet overview on http://\(ListenAddress(host: address.host, port: port))/")
                },
                logger: quiet)
            let group = ServiceGroup(configuration: .init(
                services: [.init(service: historian), .init(service: app)],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: quiet))
            do {
                try await group.run()
            } catch {
                logger.critical("historian stopping: \(error)")
                throw ExitCode(70)
            }
        }
    }

    struct TimedOut: Error {}

    static func withTimeout<T: Sendable>(seconds: Double, _ work: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await work() }
            group.addTask {
                try await Task.sleep(for: .seconds(seconds))
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else { throw TimedOut() }
            return value
        }
    }
}
