import Foundation
import Glibc
import Logging

/// Log lines for the systemd journal (issue 24): when `JOURNAL_STREAM` says standard error is connected to the journal
/// (systemd sets it to the stream's `device:inode`; a child that merely inherited the variable has another standard
/// error, and is not fooled), every line begins with its syslog priority — `<2>` critical, `<3>` error, `<4>` warning,
/// `<5>` notice, `<6>` info, `<7>` debug and trace — which journald takes as the entry's priority and strips
/// (sd-daemon(3)), so `journalctl -u rigd -p warning` shows warnings and worse only. The journal stamps each entry
/// with its time, so the line has none. Outside systemd, `bootstrap` keeps swift-log's `StreamLogHandler`.
package struct JournalLogHandler: LogHandler {
    package let label: String
    package var logLevel: Logger.Level = .info
    package var metadata: Logger.Metadata = [:]

    package init(label: String) {
        self.label = label
    }

    package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// The syslog priority of a swift-log level (syslog(3): LOG_CRIT 2 … LOG_DEBUG 7).
    package static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .critical: 2
        case .error: 3
        case .warning: 4
        case .notice: 5
        case .info: 6
        case .debug, .trace: 7
        }
    }

    /// `<4>warning rigd: [Stations] station "pond": …` (as swift-log's `StreamLogHandler` writes a line, without the
    /// time): each line of a message carries the priority (journald splits entries at newlines, and a continuation
    /// line without one would be taken as info).
    package static func format(level: Logger.Level, label: String, metadata: Logger.Metadata, source: String,
                               message: Logger.Message) -> String {
        let prefix = "<\(priority(level))>"
        let fields = metadata.isEmpty ? ""
            : " " + metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let lines = "\(message)".split(separator: "\n", omittingEmptySubsequences: false)
        var out = "\(prefix)\(level) \(label):\(fields) [\(source)] \(lines.first ?? "")\n"
        for line in lines.dropFirst() { out += "\(prefix)  \(line)\n" }
        return out
    }

    package func log(event: LogEvent) {
        var all = metadata
        if let explicit = event.metadata { all.merge(explicit) { $1 } }
        let text = Self.format(level: event.level, label: label, metadata: all, source: event.source,
                               message: event.message)
        // One write per message: lines of several threads never interleave inside one.
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress! + offset, $0.count - offset) }
            if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { break }
        }
        bytes.removeAll()
    }

    /// Whether standard error is the journal stream `JOURNAL_STREAM` names (`device:inode`, in decimal).
    package static func standardErrorIsJournal(_ environment: [String: String] = ProcessInfo.processInfo.environment)
        -> Bool {
        guard let value = environment["JOURNAL_STREAM"] else { return false }
        let parts = value.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var st = stat()
        guard fstat(2, &st) == 0 else { return false }
        return UInt64(st.st_dev) == device && UInt64(st.st_ino) == inode
    }
}
