import CShims

/// Names the calling thread for `top -H`, `ps -L`, perf and gdb (at most 15 bytes; longer names are cut).
/// Foundation's `Thread.name` set before `start()` does not reach the kernel on Linux: such threads showed as
/// "root.default-qos".
public func nameCurrentThread(_ name: String) {
    rigd_set_thread_name(name)
}
