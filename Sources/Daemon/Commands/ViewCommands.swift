import ArgumentParser
import Foundation
import GRDB
import Hummingbird
import Logging
import ServiceLifecycle
import Stations

/// Opens a recording (or any data log) read-only, saying which file on failure.
private func openRecording(_ path: String, command: String) throws -> DatabasePool {
    do {
        return try DataLog.openForReading(path: path, olderSchema: true)
    } catch let error as DataLogError {
        FileHandle.standardError.write(Data("rigd \(command): \(error)\n".utf8))
        throw ExitCode(ExitStatus.unavailable)
    } catch {
        FileHandle.standardError.write(Data("rigd \(command): \(path) is not a rigd recording or data log (\(error))\n".utf8))
        throw ExitCode(ExitStatus.dataError)
    }
}

private func buildDocument(_ pool: DatabasePool, path: String, points: Int, allChannels: Bool, exports: Bool,
                           command: String) throws -> RecordingDocument {
    do {
        return try pool.read { db in
            try RecordingDocument.build(db, source: path, points: points, allChannels: allChannels, exports: exports)
        }
    } catch let error as RecordingDocument.BuildError {
        FileHandle.standardError.write(Data("rigd \(command): \(error)\n".utf8))
        throw ExitCode(ExitStatus.dataError)
    } catch {
        FileHandle.standardError.write(Data("rigd \(command): cannot read \(path): \(error)\n".utf8))
        throw ExitCode(ExitStatus.dataError)
    }
}

/// `rigd report FILE -o run.html`: one self-contained HTML page of a recorded run, small enough to mail.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write one self-contained HTML page of a recorded run (rigd run --virtual --record FILE): its plots, runs and alarms.",
        discussion: """
        Per station, the plots its kind chooses (a pond's DO with the aerators' on-times shaded and the 3 mg/L \
        line, a mill's torque with its overloads marked, an extraction's lift, level, box temperature, flow and \
        filter ΔP, a stream's discharge and TP with storm events shaded, a heat rig's temperatures, an MSD's \
        displacement), each station's runs with their results and alarms, and the alarm timeline. Chart.js (from \
        Debian's libjs-chart.js) and the data are inside the file: it opens from a file or a mail with no network.

        Each series is downsampled to at most --points buckets, drawn as the bucket's mean with its min–max band \
        (no peak is lost); the page says so. A 7-day pond at 1-minute resolution makes about 0.5 MB. Also works on \
        a daemon's data log (rigd.sqlite) or one `hil/run` kept.
        """
    )

    @Argument(help: ArgumentHelp("The recording (or data log).", valueName: "file"))
    var recording: String

    @Option(name: [.short, .long], help: ArgumentHelp("The HTML file to write (written beside it, then renamed).", valueName: "file"))
    var output: String

    @Option(name: .long, help: "Buckets per plotted series, 50–5000.")
    var points = 1000

    func validate() throws {
        guard (50...5000).contains(points) else { throw ValidationError("--points must be 50–5000, got \(points)") }
    }

    func run() throws {
        let pool = try openRecording(recording, command: "report")
        let document = try buildDocument(pool, path: recording, points: points, allChannels: false, exports: false,
                                         command: "report")
        guard let chart = RecordingPage.chartJS() else {
            FileHandle.standardError.write(Data("rigd report: \(RecordingPage.ChartJSMissing())\n".utf8))
            throw ExitCode(ExitStatus.unavailable)
        }
        let html = try RecordingPage.html(document, chart: chart)
        let temporary = output + ".partial-\(getpid())"
        do {
            try Data(html.utf8).write(to: URL(fileURLWithPath: temporary))
            guard rename(temporary, output) == 0 else {
                throw DataLogError("cannot rename \(temporary) to \(output): \(String(cString: strerror(errno)))")
            }
        } catch {
            unlink(temporary)
            FileHandle.standardError.write(Data("rigd report: cannot write \(output): \(error)\n".utf8))
            throw ExitCode(ExitStatus.cannotCreate)
        }
        let plots = document.stations.reduce(0) { $0 + $1.plots.count }
        let megabytes = String(format: "%.2f", Double(html.utf8.count) / 1_000_000)
        FileHandle.standardError.write(Data("rigd report: wrote \(output) (\(megabytes) MB): \(document.stations.count) station(s), \(plots) plot(s), \(document.alarms.count) alarm(s)\n".utf8))
    }
}

/// `rigd view FILE`: the recording's page served on loopback, read-only, with every channel and CSV downloads.
struct ViewCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "view",
        abstract: "Serve a recorded run (or any data log) read-only in the browser: plots over the whole run, runs, alarms, CSV.",
        discussion: """
        Serves one page at the address it logs: per station its kind's plots first, then every other recorded \
        channel, over the whole run (each series downsampled to --points buckets that keep the min and max), the \
        runs with their results, the alarms, the events, the alarm timeline, and CSV downloads of the samples, alarms, runs and \
        events (as `rigd export --log FILE`). Nothing can be written, so no token is asked for. Ctrl-C stops it.
        """
    )

    @Argument(help: ArgumentHelp("The recording (or data log).", valueName: "file"))
    var recording: String

    @Option(name: .long, help: "Listen address host:port (port 0: any free port).")
    var http = "127.0.0.1:8090"

    @Option(name: .long, help: "Buckets per plotted series, 50–5000.")
    var points = 2000

    @OptionGroup var log: LogOptions

    func validate() throws {
        guard (50...5000).contains(points) else { throw ValidationError("--points must be 50–5000, got \(points)") }
        do throws(ConfigMessage) { _ = try ListenAddress(parsing: http) } catch {
            throw ValidationError("--http \(error)")
        }
    }

    func run() async throws {
        let logger = try log.bootstrap()
        let address = try ListenAddress(parsing: http)
        let pool = try openRecording(recording, command: "view")
        // Built once, before listening: a file that cannot be shown fails here, not in the browser.
        _ = try buildDocument(pool, path: recording, points: points, allChannels: true, exports: true, command: "view")
        let chart = RecordingPage.chartJS()
        if chart == nil { logger.warning("\(RecordingPage.ChartJSMissing()); the page shows tables only") }
        let router = Router()
        let (path, points) = (recording, points)
        router.get("/") { _, _ in
            let document = try await pool.read { db in
                try RecordingDocument.build(db, source: path, points: points, allChannels: true, exports: true)
            }
            return API.page(try RecordingPage.html(document, chart: chart))
        }
        router.get("/export/{file}") { request, context in
            let file = try context.parameters.require("file")
            guard file.hasSuffix(".csv") else { throw HTTPError(.notFound) }
            let station = String(file.dropLast(4))
            let whatText = request.uri.queryParameters["what"].map(String.init) ?? "samples"
            guard let what = API.ExportTable(rawValue: whatText) else {
                throw HTTPError(.badRequest, message: "what must be samples, alarms, runs, events or calibrations")
            }
            let data = try await pool.read { db -> Data? in
                guard try LogQueries.knownStations(db).contains(station) else { return nil }
                return try API.exportData(db, station: station, from: -.greatestFiniteMagnitude,
                                          to: .greatestFiniteMagnitude, what: what, layout: .wide, series: .regular)
            }
            guard let data else { throw HTTPError(.notFound, message: "no station \"\(station)\" in \(path)") }
            return Response(status: .ok,
                            headers: [.contentType: "text/csv; charset=utf-8; header=present",
                                      .contentDisposition: "attachment; filename=\"\(API.fileSafe(station))-\(what.rawValue).csv\"",
                                      .cacheControl: "no-store"],
                            body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        router.get("/favicon.ico") { _, _ in API.asset(DashboardPages.favicon, type: "image/svg+xml") }
        let app = Application(
            router: router,
            configuration: ApplicationConfiguration(address: .hostname(address.host, port: address.port),
                                                    serverName: "rigd"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? address.port
                logger.notice("rigd view: \(path) at http://\(ListenAddress(host: address.host, port: port))/ (read-only; Ctrl-C stops)")
            },
            logger: logger)
        let signals = ShutdownSignal()
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: app),
                       .init(service: SignalService(signals: signals), successTerminationBehavior: .gracefullyShutdownGroup)],
            logger: logger))
        do {
            try await group.run()
        } catch {
            logger.critical("rigd view: \(error)")
            throw ExitCode(ExitStatus.unavailable)
        }
    }
}
