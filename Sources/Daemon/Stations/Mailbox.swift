import Control
import Devices

/// Operator requests waiting for a station's next tick. Anyone may post; only the station's thread drains.
final class Mailbox: Sendable {
    struct Envelope: Sendable {
        let request: OperatorRequest
        let reply: @Sendable (Result<Void, CommandRejection>) -> Void
    }

    private let queue = Locked<[Envelope]>([])

    /// Posts a request; `reply` runs on the station's thread once the request was applied or rejected.
    func post(_ request: OperatorRequest, reply: @escaping @Sendable (Result<Void, CommandRejection>) -> Void) {
        queue.withLock { $0.append(Envelope(request: request, reply: reply)) }
    }

    func drain() -> [Envelope] {
        queue.withLock { q in
            defer { q.removeAll() }
            return q
        }
    }
}
