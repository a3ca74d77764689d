#if canImport(Glibc)
import Glibc
#endif

/// A value behind a pthread mutex: what rigd uses instead of `Synchronization.Mutex`.
///
/// On Linux, the standard library's `Mutex` locks with raw futex calls that ThreadSanitizer cannot see, so every
/// access it protects is reported as a race (a two-thread program with nothing else shows it). A pthread mutex is
/// intercepted by the sanitizer, which is what lets the suite run under `--sanitize=thread` and still mean something.
/// The cost is the same uncontended (pthread mutexes are futex-based too).
public final class Locked<Value> {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    public init(_ value: Value) {
        self.value = value
        mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let rc = pthread_mutex_init(mutex, nil)
        precondition(rc == 0, "pthread_mutex_init: \(rc)")
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with exclusive access to the value.
    @inline(__always)
    public func withLock<Result, Failure: Error>(_ body: (inout Value) throws(Failure) -> Result) throws(Failure) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}

// The lock makes every access exclusive, so the box may cross threads whenever its value may.
extension Locked: @unchecked Sendable where Value: Sendable {}
