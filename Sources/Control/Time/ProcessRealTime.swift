#if canImport(Glibc)
import Glibc
#endif

/// Process-wide real-time measures: locking memory (mlockall) and holding /dev/cpu_dma_latency at 0, which keeps
/// CPUs out of deep idle states while the file stays open. Each is optional and reports whether it took; a failure
/// is never fatal. Keep the value alive for as long as the measures should hold.
public final class ProcessRealTime: Sendable {
    /// What happened to one measure asked for: a line saying so, and whether it took (a measure that did not is
    /// worth a warning, never an error).
    public struct Outcome: Sendable, Equatable {
        public let message: String
        public let took: Bool
    }

    /// One outcome per measure asked for.
    public let outcomes: [Outcome]
    /// The outcomes' lines.
    public var report: [String] { outcomes.map(\.message) }
    /// Whether each measure asked for took.
    public let lockedMemory: Bool
    public let holdingCPUDMALatency: Bool
    private let dmaLatencyFD: Int32

    public init(mlockall lockMemory: Bool, cpuDMALatencyZero: Bool) {
        var outcomes: [Outcome] = []
        var locked = false
        if lockMemory {
            if Glibc.mlockall(MCL_CURRENT | MCL_FUTURE) == 0 {
                locked = true
                outcomes.append(Outcome(message: "memory locked (mlockall)", took: true))
            } else {
                outcomes.append(Outcome(message: "mlockall failed: \(String(cString: strerror(errno))); continuing without it",
                                        took: false))
            }
        }
        var fd: Int32 = -1
        if cpuDMALatencyZero {
            fd = open("/dev/cpu_dma_latency", O_WRONLY | O_CLOEXEC)
            var zero: Int32 = 0
            if fd >= 0, write(fd, &zero, 4) == 4 {
                outcomes.append(Outcome(message: "holding /dev/cpu_dma_latency at 0", took: true))
            } else {
                outcomes.append(Outcome(message: "cannot hold /dev/cpu_dma_latency at 0: \(String(cString: strerror(errno))); "
                                        + "continuing without it", took: false))
                if fd >= 0 { close(fd) }
                fd = -1
            }
        }
        self.outcomes = outcomes
        self.lockedMemory = locked
        self.holdingCPUDMALatency = fd >= 0
        self.dmaLatencyFD = fd
    }

    deinit {
        if dmaLatencyFD >= 0 { close(dmaLatencyFD) }
    }
}
