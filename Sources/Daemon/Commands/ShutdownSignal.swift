@preconcurrency import Dispatch
import Foundation
import ServiceLifecycle
import Stations
import DeviceTransports
import SimServe
import Locking

/// SIGINT and SIGTERM, caught from the moment it is created: a signal that arrives while rigd is still probing its
/// devices is remembered, not lost, and never kills rigd before its stations have driven their safe state.
final class ShutdownSignal: @unchecked Sendable {
    private let lock = NSLock()
    private var received: Int32?
    private var callbacks: [@Sendable (Int32) -> Void] = []
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private var sources: [any DispatchSourceSignal] = []

    init() {
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [weak self] in self?.fire(number) }
            source.resume()
            sources.append(source)
        }
    }

    deinit {
        for source in sources { source.cancel() }
    }

    /// The signal received so far, if any.
    var signalReceived: Int32? { lock.withLock { received } }

    private func fire(_ number: Int32) {
        lock.lock()
        if received == nil { received = number }
        let callbacks = self.callbacks
        let waiters = self.waiters
        self.waiters.removeAll()
        lock.unlock()
        for callback in callbacks { callback(number) }
        for waiter in waiters { waiter.resume() }
    }

    /// Runs `action` on every signal from now on, and at once if one already arrived.
    func onSignal(_ action: @escaping @Sendable (Int32) -> Void) {
        let already = lock.withLock { () -> Int32? in
            callbacks.append(action)
            return received
        }
        if let already { action(already) }
    }

    /// Returns when a signal has arrived (at once if one already did) or the task is cancelled.
    func wait() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = lock.withLock { () -> Bool in
                    if received != nil || Task.isCancelled { return true }
                    waiters.append(continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let pending = lock.withLock { () -> [CheckedContinuation<Void, Never>] in
                defer { waiters.removeAll() }
                return waiters
            }
            for waiter in pending { waiter.resume() }
        }
    }
}

/// Ends (and so shuts the group down gracefully) when SIGINT or SIGTERM arrives; ends quietly when the group is
/// shutting down for another reason.
struct SignalService: Service {
    let signals: ShutdownSignal

    func run() async throws {
        _ = await cancelWhenGracefulShutdown { await signals.wait() }
    }
}
