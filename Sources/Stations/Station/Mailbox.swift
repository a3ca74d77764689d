import Control
import Devices
import DeviceTransports
import Locking
import Synchronization

/// Operator requests waiting for a station's next tick. Anyone may post; only the station's thread drains.
package final class Mailbox: Sendable {
    package struct Envelope: Sendable {
        package let request: OperatorRequest
        /// Who asked (a token's name, `sparkplug:HOST`, `rigd`), for the event the station records.
        package let by: String?
        package let reply: @Sendable (Result<Void, CommandRejection>) -> Void

        package init(request: OperatorRequest, by: String? = nil,
                     reply: @escaping @Sendable (Result<Void, CommandRejection>) -> Void) {
            self.request = request
            self.by = by
            self.reply = reply
        }
    }

    private let queue = Locked<[Envelope]>([])
    /// How many requests wait: changed only under the queue's lock, read without it by `drain`, so that a tick with
    /// nothing waiting (nearly every tick) takes no lock.
    private let waiting = Atomic<Int>(0)

    /// Posts a request; `reply` runs on the station's thread once the request was applied or rejected.
    package func post(_ request: OperatorRequest, by: String? = nil,
                      reply: @escaping @Sendable (Result<Void, CommandRejection>) -> Void) {
        queue.withLock { q in
            q.append(Envelope(request: request, by: by, reply: reply))
            waiting.store(q.count, ordering: .releasing)
        }
    }

    /// The waiting requests, oldest first, taken out of the mailbox. A request posted while this runs is taken now
    /// or at the next drain.
    package func drain() -> [Envelope] {
        guard waiting.load(ordering: .acquiring) > 0 else { return [] }
        return queue.withLock { q in
            defer {
                q.removeAll()
                waiting.store(0, ordering: .releasing)
            }
            return q
        }
    }
}
