#if canImport(Glibc)
import Glibc
#endif

/// Process-wide real-time measures: locking memory (mlockall) and holding /dev/cpu_dma_latency at 0, which keeps
/// CPUs out of deep idle states while the file stays open. Each is optional and reports whether it took; a failure
/// is never fatal. Keep the value alive for as long as the measures should hold.
public final class ProcessRealTime: Sendable {
    /// One line per measure asked for, saying what happened.
    public let report: [String]
    /// Whether each measure asked for took.
    public let lockedMemory: Bool
    public let holdingCPUDMALatency: Bool
    private let dmaLatencyFD: Int32

    public init(mlockall lockMemory: Bool, cpuDMALatencyZero: Bool) {
        var report: [String] = []
        var locked = false
        if lockMemory {
            if Glibc.mlockall(MCL_CURRENT | MCL_FUTURE) == 0 {
                locked = true
                report.append("memory locked (mlockall)")
            } else {
                report.append("mlockall failed: \(String(cString: strerror(errno)))")
            }
        }
        var fd: Int32 = -1
        if cpuDMALatencyZero {
            fd = open("/dev/cpu_dma_latency", O_WRONLY | O_CLOEXEC)
            var zero: Int32 = 0
            if fd >= 0, write(fd, &zero, 4) == 4 {
                report.append("holding /dev/cpu_dma_latency at 0")
            } else {
                report.append("cannot hold /dev/cpu_dma_latency at 0: \(String(cString: strerror(errno))); continuing without it")
                if fd >= 0 { close(fd) }
                fd = -1
            }
        }
        self.report = report
        self.lockedMemory = locked
        self.holdingCPUDMALatency = fd >= 0
        self.dmaLatencyFD = fd
    }

    deinit {
        if dmaLatencyFD >= 0 { close(dmaLatencyFD) }
    }
}
