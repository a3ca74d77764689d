/// What the station does about one link event. The supervisor decides; the station does the I/O, the counting and
/// the logging.
package enum LinkAction: Sendable, Equatable {
    /// The link is lost: close it, count a link error, log it and record a `link_lost` event.
    case closeLink
    /// The published values must not pass for current: they are unknown until a read succeeds again.
    case markValuesUnknown
    /// Tell the controller the device is unavailable, for this reason.
    case reportUnavailable(reason: String)
    /// Skip the controller's step on this tick: a single failed read holds the outputs as they are.
    case holdOutputs
    /// The next reconnect attempt is due at this station-clock time.
    case scheduleReconnect(at: Double)
    /// Log a transaction error as a warning; `suppressed` errors were left out of the log since the last line.
    case warnTransactionError(suppressed: Int)
    /// The link is back after a loss: count a reconnect, log it and record a `link_restored` event.
    case linkRestored
}

/// Link supervision of one station as a pure state machine (docs/design.md, "Errors"): link errors close the link and
/// reconnect with backoff (0.5 s doubling to 30 s); transaction errors are counted and keep the link, one failed read
/// holds the outputs, and `failedReadLimit` in a row (or failures in a row over `failedReadSeconds`) make the device
/// unavailable.
///
/// - Important: No I/O and no clock: every event comes with the time it happened (`now`, station-clock seconds;
///   the log throttle takes monotonic nanoseconds), so a test drives it on a mock clock.
package struct LinkSupervisor: Sendable, Equatable {
    /// What failed: a read hands the controller a verdict, a write does not.
    package enum Operation: Sendable, Equatable {
        case read, write
    }

    package static var initialBackoff: Double { 0.5 }
    package static var maxBackoff: Double { 30 }
    /// Transaction failures in a row before the controller is told the device is unavailable: six, so a real
    /// instrument's occasional busy or refused answer (exception 06, a bad CRC on a noisy line) holds the outputs
    /// instead of tripping, while a device that keeps refusing is unavailable within six ticks.
    package static var failedReadLimit: Int { 6 }
    /// ... or sooner on a slow loop: failed reads in a row (two at least) spanning this long, station-clock seconds.
    /// Six ticks of a 1 s loop would leave a pond's controller blind for 5–6 s; the loss of a device must be known
    /// within a few seconds, whatever the loop's rate.
    package static var failedReadSeconds: Double { 2 }
    /// At most one transaction-error warning per this many nanoseconds: a device answering every request with an
    /// exception must not flood the log (the counters and the metrics have every one).
    package static var warningIntervalNanoseconds: Int64 { 5_000_000_000 }

    package private(set) var isUp = false
    /// The wait before the next reconnect attempt after the one scheduled now.
    package private(set) var backoff = LinkSupervisor.initialBackoff
    package private(set) var nextReconnectAt = 0.0
    /// Failed reads in a row (transaction errors); a successful read resets it.
    package private(set) var failedReads = 0
    /// When the first of the failed reads in a row failed (station clock).
    private var firstFailedReadAt = 0.0
    private var lastWarningAt: Int64 = .min / 2
    private var suppressedWarnings = 0

    package init() {}

    /// Whether to attempt a reconnect on this tick: the link is down and its backoff has passed.
    package func shouldReconnect(now: Double) -> Bool {
        !isUp && now >= nextReconnectAt
    }

    /// A connect (with its identity check) succeeded. `restored`: it was a reconnect, not the start.
    package mutating func connectSucceeded(now: Double, restored: Bool) -> [LinkAction] {
        isUp = true
        backoff = Self.initialBackoff
        return restored ? [.linkRestored] : []
    }

    /// A connect failed (no answer, a wrong device, …): try again after the backoff, which then doubles.
    package mutating func connectFailed(now: Double) -> [LinkAction] {
        isUp = false
        return [scheduleReconnect(now: now)]
    }

    /// The station closed the link itself (shutdown): no reconnect is scheduled.
    package mutating func closed() {
        isUp = false
    }

    package mutating func readSucceeded() {
        failedReads = 0
    }

    /// A link error (connection refused, lost or timed out) during a read or a write.
    package mutating func linkError(_ reason: String, during operation: Operation, now: Double) -> [LinkAction] {
        isUp = false
        var actions: [LinkAction] = [.closeLink, .markValuesUnknown]
        if operation == .read { actions.append(.reportUnavailable(reason: reason)) }
        actions.append(scheduleReconnect(now: now))
        return actions
    }

    /// A transaction error (an exception reply, a bad CRC, a malformed answer) at `now`: the link is kept.
    /// `monotonicNanoseconds` paces the warnings in the log.
    package mutating func transactionError(_ reason: String, during operation: Operation, now: Double,
                                           monotonicNanoseconds: Int64) -> [LinkAction] {
        var actions: [LinkAction] = []
        if monotonicNanoseconds - lastWarningAt >= Self.warningIntervalNanoseconds {
            actions.append(.warnTransactionError(suppressed: suppressedWarnings))
            lastWarningAt = monotonicNanoseconds
            suppressedWarnings = 0
        } else {
            suppressedWarnings += 1
        }
        guard operation == .read else { return actions }
        failedReads += 1
        if failedReads == 1 { firstFailedReadAt = now }
        let lasting = now - firstFailedReadAt
        if failedReads < Self.failedReadLimit, failedReads < 2 || lasting < Self.failedReadSeconds {
            actions.append(.holdOutputs)
        } else {
            let span = failedReads < Self.failedReadLimit ? String(format: " over %.1f s", lasting) : ""
            actions.append(.reportUnavailable(reason: "\(failedReads) reads failed in a row\(span): \(reason)"))
            actions.append(.markValuesUnknown)
        }
        return actions
    }

    private mutating func scheduleReconnect(now: Double) -> LinkAction {
        nextReconnectAt = now + backoff
        backoff = min(backoff * 2, Self.maxBackoff)
        return .scheduleReconnect(at: nextReconnectAt)
    }
}
