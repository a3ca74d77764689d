import Control
import Foundation

/// The replies to requests posted to a station's mailbox, in the order they came (locked: a reply may come from
/// another thread).
public final class ReplyLog: @unchecked Sendable {
    private let lock = NSLock()
    private var replies: [Result<Void, CommandRejection>] = []
    public init() {}
    public func add(_ r: Result<Void, CommandRejection>) { lock.withLock { replies.append(r) } }
    public var all: [Result<Void, CommandRejection>] { lock.withLock { replies } }
}
