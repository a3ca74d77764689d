import AsyncHTTPClient
import Foundation
import Locking
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Stations

/// Alarm notifications (`[[notify]]`): takes the stations' journal records (as the data log does), turns alarm raises,
/// clears, unacknowledged reminders, lost links and refused stations into notices, passes each target's through its
/// caps (`NotifyPolicy`) and delivers them — webhooks through AsyncHTTPClient, e-mail through `sendmail -t -oi` —
/// retrying failures with backoff. Nothing here runs on a station's thread but `record`, which only appends to a
/// queue: a slow or dead target never holds up a loop.
package final class Notifier: StationJournal, Service, Sendable {
    package let targets: [NotifyTarget]
    private let logger: Logger
    private let deliver: @Sendable (NotifyTarget, Outgoing) async -> String?
    /// Waits between attempts of one delivery, s: five retries, then it counts as failed.
    package static let backoff: [Double] = [2, 4, 8, 16, 32]

    private struct Unacknowledged {
        var raisedAt: Double
        var notice: Notice
        var reminded: Set<String> = []
    }

    private struct State {
        var inbox: [JournalRecord] = []
        var policies: [String: NotifyPolicy] = [:]
        var unacknowledged: [String: Unacknowledged] = [:]
        var severities: [String: String] = [:]
        var counters: [String: TargetStatus] = [:]
    }

    /// A target's counters, as `GET /api/notify` shows them and `/metrics` counts them.
    package struct TargetStatus: Codable, Sendable, Equatable {
        package var name: String
        package var kind: String
        package var sent = 0
        package var failed = 0
        package var retried = 0
        package var held = 0
        package var lastSentAt: Double?
        package var lastError: String?
    }

    private let state: Locked<State>

    package init(targets: [NotifyTarget], logger: Logger,
                 deliver: (@Sendable (NotifyTarget, Outgoing) async -> String?)? = nil) {
        self.targets = targets
        self.logger = logger
        self.deliver = deliver ?? { target, outgoing in await NotifyDelivery.send(outgoing, to: target) }
        var state = State()
        for target in targets {
            state.policies[target.name] = NotifyPolicy(maxPerHour: target.maxPerHour, minInterval: target.minInterval)
            state.counters[target.name] = TargetStatus(name: target.name, kind: target.kind)
        }
        self.state = Locked(state)
    }

    /// Called on the stations' threads: only queues.
    package func record(_ record: JournalRecord) {
        switch record {
        case .alarmRaised, .alarmCleared, .alarmAcknowledged, .stationStopped: break
        case .event(_, _, let kind, _, _) where kind == "link_lost" || kind == "station_refused": break
        default: return
        }
        state.withLock { $0.inbox.append(record) }
    }

    package var status: [TargetStatus] {
        state.withLock { s in targets.compactMap { s.counters[$0.name] } }
    }

    package func run() async throws {
        logger.notice("notifications: \(targets.map { "\($0.name) (\($0.kind))" }.joined(separator: ", "))")
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            pass(now: Date().timeIntervalSince1970)
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// Takes the queued records, applies each target's caps and starts what is due.
    package func pass(now: Double) {
        let due: [(NotifyTarget, Outgoing)] = state.withLock { s in
            let records = s.inbox
            s.inbox.removeAll()
            var notices: [Notice] = []
            for record in records {
                switch record {
                case .alarmRaised(let station, let alarm, let t):
                    let notice = Notice(event: .raised, station: station, code: alarm.code,
                                        severity: alarm.severity.rawValue, message: alarm.message, t: t)
                    s.severities["\(station)/\(alarm.code)"] = alarm.severity.rawValue
                    s.unacknowledged["\(station)/\(alarm.code)"] = Unacknowledged(raisedAt: t, notice: notice)
                    notices.append(notice)
                case .alarmCleared(let station, let code, let t):
                    s.unacknowledged["\(station)/\(code)"] = nil
                    notices.append(Notice(event: .cleared, station: station, code: code,
                                          severity: s.severities["\(station)/\(code)"], message: "cleared", t: t))
                case .alarmAcknowledged(let station, let code, _, _):
                    s.unacknowledged["\(station)/\(code)"] = nil
                case .stationStopped(let station, _, _):
                    // Stopped by a reload: its alarms are cleared in the data log, so no reminder is due for them.
                    s.unacknowledged = s.unacknowledged.filter { !$0.key.hasPrefix(station + "/") }
                case .event(let station, let t, let kind, let message, _):
                    notices.append(Notice(event: kind == "link_lost" ? .linkLost : .stationRefused,
                                          station: station ?? "rigd", message: message, t: t))
                default:
                    break
                }
            }
            var out: [(NotifyTarget, Outgoing)] = []
            for target in targets {
                var policy = s.policies[target.name]!
                let heldBefore = policy.heldTotal
                for notice in notices where notice.wanted(by: target) {
                    out += policy.offer(notice, now: now).map { (target, $0) }
                }
                for key in s.unacknowledged.keys.sorted() {
                    guard var entry = s.unacknowledged[key], !entry.reminded.contains(target.name),
                          now - entry.raisedAt >= target.unacknowledgedAfter else { continue }
                    entry.reminded.insert(target.name)
                    s.unacknowledged[key] = entry
                    var reminder = entry.notice
                    reminder.event = .unacknowledged
                    reminder.t = now
                    if reminder.wanted(by: target) { out += policy.offer(reminder, now: now).map { (target, $0) } }
                }
                out += policy.tick(now: now).map { (target, $0) }
                s.counters[target.name]?.held += policy.heldTotal - heldBefore
                s.policies[target.name] = policy
            }
            return out
        }
        for (target, outgoing) in due {
            Task { await self.attempt(outgoing, to: target) }
        }
    }

    /// Delivers with retries; counts the outcome.
    package func attempt(_ outgoing: Outgoing, to target: NotifyTarget, retries: [Double] = Notifier.backoff) async {
        var waits = retries[...]
        while true {
            let failure = await deliver(target, outgoing)
            if failure == nil {
                state.withLock { s in
                    s.counters[target.name]?.sent += 1
                    s.counters[target.name]?.lastSentAt = Date().timeIntervalSince1970
                }
                return
            }
            let reason = failure ?? ""
            guard let wait = waits.popFirst() else {
                state.withLock { s in
                    s.counters[target.name]?.failed += 1
                    s.counters[target.name]?.lastError = reason
                }
                logger.error("notify \(target.name): gave up after \(retries.count + 1) attempts: \(reason) (\(outgoing.subject))")
                return
            }
            state.withLock { s in
                s.counters[target.name]?.retried += 1
                s.counters[target.name]?.lastError = reason
            }
            logger.warning("notify \(target.name): \(reason); retrying in \(Int(wait)) s")
            try? await Task.sleep(for: .seconds(wait))
        }
    }

    /// A test message to one target, past its caps and without retries: nil when delivered, else why not.
    package func test(_ name: String) async -> String?? {
        guard let target = targets.first(where: { $0.name == name }) else { return .none }
        let notice = Notice(event: .raised, station: "rigd", code: "test", severity: "warning",
                            message: "a test notification from rigd on \(ProcessInfo.processInfo.hostName)",
                            t: Date().timeIntervalSince1970)
        let failure = await deliver(target, .notice(notice))
        state.withLock { s in
            if failure == nil { s.counters[name]?.sent += 1 } else { s.counters[name]?.lastError = failure }
        }
        return .some(failure)
    }
}

/// Hands records to two journals: the data log and the notifier.
package struct JournalTee: StationJournal {
    package let first: any StationJournal
    package let second: any StationJournal

    package func record(_ record: JournalRecord) {
        first.record(record)
        second.record(record)
    }

    package init(_ first: any StationJournal, _ second: any StationJournal) {
        self.first = first
        self.second = second
    }
}

/// How a message reaches a target. Each returns nil when delivered, else why not.
package enum NotifyDelivery {
    package static func send(_ outgoing: Outgoing, to target: NotifyTarget) async -> String? {
        switch target.delivery {
        case .webhook(let url, let format): await webhook(outgoing, url: url, format: format, timeout: target.timeout)
        case .email(let to, let sendmail): await email(outgoing, to: to, sendmail: sendmail, timeout: target.timeout)
        }
    }

    /// The body and headers of a webhook's POST.
    package static func webhookBody(_ outgoing: Outgoing, format: NotifyTarget.WebhookFormat)
        -> (body: Data, headers: [(String, String)]) {
        let host = ProcessInfo.processInfo.hostName
        switch format {
        case .slack:
            let object = ["text": "*rigd on \(host)*: " + outgoing.text]
            return ((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data(),
                    [("Content-Type", "application/json")])
        case .ntfy:
            var priority = "default"
            if case .notice(let n) = outgoing {
                priority = n.severity == "trip" ? "urgent" : n.severity == "alarm" || n.event == .linkLost ? "high" : "default"
            }
            return (Data(outgoing.text.utf8),
                    [("Content-Type", "text/plain; charset=utf-8"), ("Title", String(outgoing.subject.prefix(200))),
                     ("Priority", priority), ("Tags", "rigd")])
        case .generic:
            var object: [String: Any] = ["source": "rigd", "host": host, "subject": outgoing.subject,
                                         "text": outgoing.text]
            switch outgoing {
            case .notice(let n):
                object["event"] = n.event.rawValue
                object["station"] = n.station
                object["code"] = n.code ?? NSNull()
                object["severity"] = n.severity ?? NSNull()
                object["message"] = n.message
                object["t"] = n.t
            case .digest(let held, let at):
                object["event"] = "digest"
                object["count"] = held.count
                object["t"] = at
            }
            return ((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data(),
                    [("Content-Type", "application/json")])
        }
    }

    static func webhook(_ outgoing: Outgoing, url: String, format: NotifyTarget.WebhookFormat,
                        timeout: Double) async -> String? {
        let (body, headers) = webhookBody(outgoing, format: format)
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.headers.add(name: "User-Agent", value: "rigd")
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .milliseconds(Int64(timeout * 1000)))
            let text = try await response.body.collect(upTo: 4096)
            guard (200..<300).contains(Int(response.status.code)) else {
                return "\(url) answered \(response.status.code) \(response.status.reasonPhrase)"
                    + (text.readableBytes > 0 ? ": \(String(buffer: text).prefix(200))" : "")
            }
            return nil
        } catch {
            return "\(url): \(error)"
        }
    }

    /// The message `sendmail -t -oi` reads: headers, a blank line, the text.
    package static func emailMessage(_ outgoing: Outgoing, to: [String]) -> String {
        // Header values are one line each: no newline from a station's message may start a header of its own.
        let subject = outgoing.subject.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")
        return "To: \(to.joined(separator: ", "))\nSubject: \(subject)\nContent-Type: text/plain; charset=utf-8\n"
            + "X-Mailer: rigd\n\n\(outgoing.text)\n"
    }

    static func email(_ outgoing: Outgoing, to: [String], sendmail: String, timeout: Double) async -> String? {
        let message = emailMessage(outgoing, to: to)
        return await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: sendmail)
                process.arguments = ["-t", "-oi"]
                let input = Pipe()
                let errors = Pipe()
                process.standardInput = input
                process.standardOutput = FileHandle.nullDevice
                process.standardError = errors
                do {
                    try process.run()
                } catch {
                    continuation.resume(returning: "cannot run \(sendmail): \(ConfigLoader.reason(error)) "
                                        + "(install an MTA's sendmail, e.g. Debian's msmtp-mta)")
                    return
                }
                input.fileHandleForWriting.write(Data(message.utf8))
                try? input.fileHandleForWriting.close()
                let deadline = Date().addingTimeInterval(timeout)
                while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
                if process.isRunning {
                    process.terminate()
                    process.waitUntilExit()
                    continuation.resume(returning: "\(sendmail) took longer than \(Int(timeout)) s")
                    return
                }
                let said = String(decoding: errors.fileHandleForReading.availableData, as: UTF8.self)
                    .trimmingCharacters(in: .whitespacesAndNewlines)
                continuation.resume(returning: process.terminationStatus == 0 ? nil
                                    : "\(sendmail) exited \(process.terminationStatus)" + (said.isEmpty ? "" : ": \(said.prefix(200))"))
            }
        }
    }
}
