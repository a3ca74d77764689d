import Daemon
import Foundation
import Glibc
import RigdTestKit
import Testing

@Suite("sd_notify over NOTIFY_SOCKET")
struct SystemdNotifierTests {
    @Test("no notifier without NOTIFY_SOCKET (unset or empty)")
    func absentSocket() {
        #expect(SystemdNotifier(environment: [:]) == nil)
        #expect(SystemdNotifier(environment: ["NOTIFY_SOCKET": ""]) == nil)
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "2000000"]) == nil)
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": "/run/systemd/notify"])
        #expect(notifier?.socketPath == "/run/systemd/notify")
        #expect(notifier?.watchdogTimeout == nil)
    }

    @Test("watchdogTimeout is WATCHDOG_USEC in seconds, for this pid or any when WATCHDOG_PID is absent")
    func watchdogTimeout() {
        let plain = SystemdNotifier(environment: ["NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "2000000"])
        #expect(plain?.watchdogTimeout == 2.0)
        let ours = SystemdNotifier(environment: ["NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "2500000",
                                                 "WATCHDOG_PID": String(getpid())])
        #expect(ours?.watchdogTimeout == 2.5)
    }

    @Test("watchdogTimeout is nil for another pid's watchdog or an invalid WATCHDOG_USEC")
    func watchdogOff() {
        let other = SystemdNotifier(environment: ["NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "2000000",
                                                  "WATCHDOG_PID": String(getpid() + 1)])
        #expect(other != nil)
        #expect(other?.watchdogTimeout == nil)
        for bad in ["", "0", "-5", "2s", "abc"] {
            let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": bad])
            #expect(notifier?.watchdogTimeout == nil, "WATCHDOG_USEC=\(bad)")
        }
        let badPID = SystemdNotifier(environment: ["NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "2000000",
                                                   "WATCHDOG_PID": "self"])
        #expect(badPID?.watchdogTimeout == nil)
    }

    @Test("READY and STATUS arrive as one datagram with both lines", arguments: [false, true])
    func readyAndStatus(abstract: Bool) throws {
        let socket = try FakeNotifySocket(abstract: abstract)
        defer { socket.close() }
        #expect(socket.path.hasPrefix("@") == abstract)
        let notifier = try #require(SystemdNotifier(environment: ["NOTIFY_SOCKET": socket.path]))
        let before = FakeNotifySocket.monotonicNow()
        try notifier.send(["READY=1", "STATUS=3 stations running"])
        #expect(socket.waitFor(prefix: "STATUS=", timeout: 5))
        let messages = socket.messages
        #expect(messages.count == 1)
        #expect(messages.first?.lines == ["READY=1", "STATUS=3 stations running"])
        let at = try #require(messages.first?.receivedAt)
        #expect(at >= before && at <= FakeNotifySocket.monotonicNow())

        try notifier.send("WATCHDOG=1")
        #expect(socket.waitFor(prefix: "WATCHDOG=1", timeout: 5))
        #expect(socket.messages.count == 2)
        #expect(socket.lines(withPrefix: "WATCHDOG=").map(\.line) == ["WATCHDOG=1"])
    }

    @Test("a newline inside STATUS is flattened to a space")
    func newlineFlattened() throws {
        let socket = try FakeNotifySocket()
        defer { socket.close() }
        let notifier = try #require(SystemdNotifier(environment: ["NOTIFY_SOCKET": socket.path]))
        try notifier.send(["STATUS=heat-rig: running\nmill: stopped", "WATCHDOG=1"])
        #expect(socket.waitFor(prefix: "WATCHDOG=1", timeout: 5))
        #expect(socket.messages.map(\.lines) == [["STATUS=heat-rig: running mill: stopped", "WATCHDOG=1"]])
    }

    @Test("sends from many threads each arrive whole")
    func concurrentSends() async throws {
        let socket = try FakeNotifySocket()
        defer { socket.close() }
        let notifier = try #require(SystemdNotifier(environment: ["NOTIFY_SOCKET": socket.path]))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<40 {
                group.addTask { try notifier.send(["WATCHDOG=1", "STATUS=pet \(index)"]) }
            }
            try await group.waitForAll()
        }
        #expect(socket.waitFor(prefix: "STATUS=pet", count: 40, timeout: 5))
        let messages = socket.messages
        #expect(messages.count == 40)
        #expect(messages.allSatisfy { $0.lines.count == 2 && $0.lines[0] == "WATCHDOG=1" })
        #expect(Set(socket.lines(withPrefix: "STATUS=").map(\.line)) == Set((0..<40).map { "STATUS=pet \($0)" }))
    }

    @Test("sending to a missing socket throws a NotifyError naming the path")
    func missingSocket() throws {
        let path = NSTemporaryDirectory() + "rigd-no-such-notify-\(UUID().uuidString.prefix(8))"
        let notifier = try #require(SystemdNotifier(environment: ["NOTIFY_SOCKET": path]))
        let error = #expect(throws: NotifyError.self) { try notifier.send("READY=1") }
        #expect(error?.description.contains(path) == true)
        #expect(error?.code == ENOENT)
        #expect(error?.description.contains(String(cString: strerror(ENOENT))) == true)

        let abstract = try #require(SystemdNotifier(environment: ["NOTIFY_SOCKET": "@rigd-nobody-\(UUID())"]))
        let refused = #expect(throws: NotifyError.self) { try abstract.send("READY=1") }
        #expect(refused?.description.contains(abstract.socketPath) == true)
    }

    @Test("a path longer than sun_path is rejected with a NotifyError")
    func tooLong() throws {
        let path = "/tmp/" + String(repeating: "n", count: 200)
        let notifier = try #require(SystemdNotifier(environment: ["NOTIFY_SOCKET": path]))
        let error = #expect(throws: NotifyError.self) { try notifier.send("READY=1") }
        #expect(error?.code == ENAMETOOLONG)
        #expect(error?.description.contains(path) == true)
    }

    @Test("address lengths: abstract counts the leading NUL and the name, a path its terminator")
    func addressLengths() throws {
        let offset = try #require(MemoryLayout<sockaddr_un>.offset(of: \.sun_path))
        let (abstract, abstractLength) = try SystemdNotifier.address("@foo")
        #expect(Int(abstractLength) == offset + 1 + 3)
        var abstractCopy = abstract
        let abstractBytes = withUnsafeBytes(of: &abstractCopy.sun_path) { Array($0.prefix(5)) }
        #expect(abstractBytes == [0, UInt8(ascii: "f"), UInt8(ascii: "o"), UInt8(ascii: "o"), 0])

        let (path, pathLength) = try SystemdNotifier.address("/run/x")
        #expect(Int(pathLength) == offset + 6 + 1)
        var pathCopy = path
        let pathBytes = withUnsafeBytes(of: &pathCopy.sun_path) { Array($0.prefix(7)) }
        #expect(pathBytes == Array("/run/x".utf8) + [0])
        #expect(path.sun_family == sa_family_t(AF_UNIX))

        // The longest that fit: 107 name bytes (plus the leading NUL or the terminator).
        let capacity = MemoryLayout.size(ofValue: sockaddr_un().sun_path)
        #expect(throws: Never.self) { try SystemdNotifier.address("@" + String(repeating: "a", count: capacity - 1)) }
        #expect(throws: NotifyError.self) { try SystemdNotifier.address("@" + String(repeating: "a", count: capacity)) }
        #expect(throws: Never.self) { try SystemdNotifier.address("/" + String(repeating: "a", count: capacity - 2)) }
        #expect(throws: NotifyError.self) { try SystemdNotifier.address("/" + String(repeating: "a", count: capacity - 1)) }
    }

    static let systemdNotify = ["/usr/bin/systemd-notify", "/bin/systemd-notify"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Cross-checks the fake socket (and so the address conventions the notifier shares with it) against systemd's
    /// own sender.
    @Test("the fake socket receives what systemd-notify sends",
          .enabled(if: systemdNotify != nil, "systemd-notify is not installed (Debian package systemd)"),
          arguments: [false, true])
    func systemdNotifyInterop(abstract: Bool) throws {
        let tool = try #require(Self.systemdNotify)
        let socket = try FakeNotifySocket(abstract: abstract)
        defer { socket.close() }
        let child = try ChildProcess("/usr/bin/env", ["NOTIFY_SOCKET=" + socket.path, tool, "--ready",
                                                      "--status=2 stations running"])
        #expect(child.waitForExit(timeout: 30) == 0, "systemd-notify: \(child.stderr)")
        #expect(socket.waitFor(prefix: "STATUS=", timeout: 5))
        // systemd-notify then sends BARRIER=1 (with a descriptor, dropped here) to wait for it being read.
        #expect(socket.messages.first?.lines == ["READY=1", "STATUS=2 stations running"])
    }

    @Test("the fake socket stops within its receive timeout and removes its file")
    func fakeSocketClose() throws {
        let socket = try FakeNotifySocket()
        let path = socket.path
        #expect(FileManager.default.fileExists(atPath: path))
        let notifier = try #require(SystemdNotifier(environment: ["NOTIFY_SOCKET": path]))
        try notifier.send("READY=1")
        #expect(socket.waitFor(prefix: "READY=1", timeout: 5))
        #expect(!socket.waitFor(prefix: "STOPPING=1", timeout: 0.2))
        let start = FakeNotifySocket.monotonicNow()
        socket.close()
        #expect(FakeNotifySocket.monotonicNow() - start < 1)
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(socket.messages.count == 1)
        #expect(throws: NotifyError.self) { try notifier.send("STOPPING=1") }
        socket.close()
    }
}
