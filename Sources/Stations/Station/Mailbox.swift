import Control
import Devices
import DeviceTransports
import Locking
import Synchronization

/// Operator requests waiting for a station's next tick. Anyone may post; only the station's thread drains.
package final class Mailbox: Sendable {
    /// What an envelope asks: the controller (settings, runs, acknowledgements) or the station itself (hand and auto).
    package enum Request: Sendable, Equatable, CustomStringConvertible {
        case controller(OperatorRequest)
        case station(HandRequest)
        case calibration(CalibrationRequest)

        package var description: String {
            switch self {
            case .controller(let request): "\(request)"
            case .station(let request): request.description
            case .calibration(let request): request.description
            }
        }
    }

    package struct Envelope: Sendable {
        package let request: Request
        /// Who asked (a token's name, `sparkplug:HOST`, `rigd`), for the event the station records.
        package let by: String?
        package let reply: @Sendable (Result<Void, CommandRejection>) -> Void

        package init(request: Request, by: String? = nil,
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
        post(.controller(request), by: by, reply: reply)
    }

    /// Posts a hand or auto request (the station's own).
    package func post(_ request: HandRequest, by: String? = nil,
                      reply: @escaping @Sendable (Result<Void, CommandRejection>) -> Void) {
        post(.station(request), by: by, reply: reply)
    }

    /// Posts a calibration request (the station's own).
    package func post(_ request: CalibrationRequest, by: String? = nil,
                      reply: @escaping @Sendable (Result<Void, CommandRejection>) -> Void) {
        post(.calibration(request), by: by, reply: reply)
    }

    package func post(_ request: Request, by: String? = nil,
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

/// A request the station takes itself, not its controller (`Station+Hand.swift`).
package enum HandRequest: Sendable, Equatable, CustomStringConvertible {
    /// Holds one output the controller drives (a relay, a device coil or set-point, by name) at `value` for `seconds`,
    /// whatever the controller decides meanwhile.
    case hand(output: String, value: Double, seconds: Double, why: String?)
    /// Returns an output (nil: every output in hand mode) to the controller.
    case auto(output: String?, why: String?)

    /// `hand aerator-1 = 1 for 10 min: why`, `auto every output`.
    package var description: String {
        switch self {
        case .hand(let output, let value, let seconds, let why):
            "hand \(output) = \(RunRecord.format(value)) for \(RunRecord.format(seconds / 60)) min" + (why.map { ": \($0)" } ?? "")
        case .auto(let output, let why):
            "auto \(output ?? "every output")" + (why.map { ": \($0)" } ?? "")
        }
    }
}
