import Control
import Devices
import DeviceTransports
import Locking

/// Operator requests waiting for a station's next tick. Anyone may post; only the station's thread drains.
package final class Mailbox: Sendable {
    package struct Envelope: Sendable {
        package let request: OperatorRequest
        package let reply: @Sendable (Result<Void, CommandRejection>) -> Void

        package init(request: OperatorRequest, reply: @escaping @Sendable (Result<Void, CommandRejection>) -> Void) {
            self.request = request
            self.reply = reply
        }
    }

    private let queue = Locked<[Envelope]>([])

    /// Posts a request; `reply` runs on the station's thread once the request was applied or rejected.
    package func post(_ request: OperatorRequest, reply: @escaping @Sendable (Result<Void, CommandRejection>) -> Void) {
        queue.withLock { $0.append(Envelope(request: request, reply: reply)) }
    }

    package func drain() -> [Envelope] {
        queue.withLock { q in
            defer { q.removeAll() }
            return q
        }
    }
}
