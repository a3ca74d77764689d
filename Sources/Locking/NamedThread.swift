import CShims
import Foundation

/// Starts a thread whose name the kernel knows (`top -H`, `ps -L`, perf, gdb; at most 15 bytes, longer names are
/// cut). Foundation's `Thread.name` set before `start()` never reaches the kernel on Linux: such threads showed as
/// "root.default-qos". A nonisolated function, so the closure never inherits top-level isolation.
public nonisolated func startThread(name: String, _ body: @escaping @Sendable () -> Void) {
    let thread = Thread {
        rigd_set_thread_name(name)
        body()
    }
    thread.name = name
    thread.start()
}
