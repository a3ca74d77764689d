import Stations
import Testing

/// The link supervisor on a mock clock: every event carries an explicit `now`; nothing sleeps.
@Suite struct LinkSupervisorTests {
    /// A supervisor whose link came up at `now`.
    private func up(at now: Double = 0) -> LinkSupervisor {
        var s = LinkSupervisor()
        #expect(s.connectSucceeded(now: now, restored: false) == [])
        return s
    }

    @Test func startsDownAndAttemptsAtOnce() {
        let s = LinkSupervisor()
        #expect(!s.isUp)
        #expect(s.shouldReconnect(now: 0))
        #expect(s.backoff == 0.5)
    }

    @Test func backoffDoublesFromHalfASecondAndCapsAtThirtySeconds() {
        var s = LinkSupervisor()
        var now = 0.0
        var waits: [Double] = []
        for _ in 0..<10 {
            #expect(s.shouldReconnect(now: now))
            let actions = s.connectFailed(now: now)
            guard case .scheduleReconnect(let at)? = actions.first, actions.count == 1 else {
                Issue.record("expected one scheduleReconnect, got \(actions)")
                return
            }
            #expect(at == s.nextReconnectAt)
            waits.append(at - now)
            now = at
        }
        #expect(waits == [0.5, 1, 2, 4, 8, 16, 30, 30, 30, 30])
        #expect(s.backoff == 30)
    }

    @Test func reconnectIsNotAttemptedBeforeItsTime() {
        var s = up(at: 0)
        let actions = s.linkError("connection reset", during: .read, now: 10)
        #expect(actions == [.closeLink, .markValuesUnknown, .reportUnavailable(reason: "connection reset"),
                            .scheduleReconnect(at: 10.5)])
        #expect(!s.isUp)
        #expect(!s.shouldReconnect(now: 10))
        #expect(!s.shouldReconnect(now: 10.49))
        #expect(s.shouldReconnect(now: 10.5))
        // The attempt fails: the next one waits twice as long.
        #expect(s.connectFailed(now: 10.5) == [.scheduleReconnect(at: 11.5)])
        #expect(!s.shouldReconnect(now: 11.4))
        #expect(s.shouldReconnect(now: 11.5))
        // It succeeds: the link is restored and the backoff starts over for the next loss.
        #expect(s.connectSucceeded(now: 11.5, restored: true) == [.linkRestored])
        #expect(s.isUp)
        #expect(!s.shouldReconnect(now: 100))
        #expect(s.backoff == 0.5)
        #expect(s.linkError("timed out", during: .write, now: 20)
                == [.closeLink, .markValuesUnknown, .scheduleReconnect(at: 20.5)])
    }

    @Test func aLinkErrorDuringAWriteDoesNotReportTheDeviceUnavailable() {
        var s = up()
        let actions = s.linkError("broken pipe", during: .write, now: 1)
        #expect(!actions.contains(.reportUnavailable(reason: "broken pipe")))
        #expect(actions.contains(.closeLink))
    }

    @Test func fiveFailedReadsHoldTheOutputsAndTheSixthReportsUnavailable() {
        var s = up()
        let first = s.transactionError("exception 02", during: .read, now: 0, monotonicNanoseconds: 0)
        #expect(first == [.warnTransactionError(suppressed: 0), .holdOutputs])
        for i in 2...5 {
            let next = s.transactionError("exception 06", during: .read, now: Double(i) * 0.01,
                                           monotonicNanoseconds: Int64(i) * 1_000_000)
            #expect(next == [.holdOutputs], "read \(i)")
        }
        #expect(s.failedReads == 5)
        let sixth = s.transactionError("bad CRC", during: .read, now: 0.06, monotonicNanoseconds: 6_000_000)
        #expect(sixth == [.reportUnavailable(reason: "6 reads failed in a row: bad CRC"), .markValuesUnknown])
        // A transaction error keeps the link.
        #expect(s.isUp)
        #expect(!sixth.contains(.closeLink))
        let seventh = s.transactionError("bad CRC", during: .read, now: 0.07, monotonicNanoseconds: 7_000_000)
        #expect(seventh == [.reportUnavailable(reason: "7 reads failed in a row: bad CRC"), .markValuesUnknown])
    }

    @Test func aSuccessfulReadResetsTheFailedReadCount() {
        var s = up()
        for _ in 1...5 { _ = s.transactionError("exception 02", during: .read, now: 0, monotonicNanoseconds: 0) }
        s.readSucceeded()
        #expect(s.failedReads == 0)
        for _ in 1...5 {
            #expect(s.transactionError("exception 02", during: .read, now: 0, monotonicNanoseconds: 0) == [.holdOutputs])
        }
        #expect(s.transactionError("exception 02", during: .read, now: 0, monotonicNanoseconds: 0)
                == [.reportUnavailable(reason: "6 reads failed in a row: exception 02"), .markValuesUnknown])
    }

    /// On a slow loop, failures in a row that span 2 s make the device unavailable before the sixth.
    @Test func failedReadsOverTwoSecondsReportUnavailableOnASlowLoop() {
        var s = up()
        #expect(s.transactionError("exception 06", during: .read, now: 10, monotonicNanoseconds: 0).last == .holdOutputs)
        #expect(s.transactionError("exception 06", during: .read, now: 11, monotonicNanoseconds: 0) == [.holdOutputs])
        #expect(s.transactionError("exception 06", during: .read, now: 12, monotonicNanoseconds: 0)
                == [.reportUnavailable(reason: "3 reads failed in a row over 2.0 s: exception 06"), .markValuesUnknown])
        // A success starts the span again.
        s.readSucceeded()
        #expect(s.transactionError("exception 06", during: .read, now: 20, monotonicNanoseconds: 0) == [.holdOutputs])
        #expect(s.transactionError("exception 06", during: .read, now: 21.9, monotonicNanoseconds: 0) == [.holdOutputs])
    }

    @Test func failedWritesAreCountedButNeverHoldOrReportUnavailable() {
        var s = up()
        for i in 0..<5 {
            let actions = s.transactionError("exception 04", during: .write, now: 0, monotonicNanoseconds: Int64(i))
            #expect(!actions.contains(.holdOutputs))
            #expect(actions.allSatisfy { if case .warnTransactionError = $0 { true } else { false } })
        }
        #expect(s.failedReads == 0)
        #expect(s.isUp)
    }

    @Test func transactionWarningsAreLoggedAtMostEveryFiveSeconds() {
        var s = up()
        let second: Int64 = 1_000_000_000
        #expect(s.transactionError("e", during: .write, now: 0, monotonicNanoseconds: 0) == [.warnTransactionError(suppressed: 0)])
        #expect(s.transactionError("e", during: .write, now: 0, monotonicNanoseconds: 1 * second) == [])
        #expect(s.transactionError("e", during: .write, now: 0, monotonicNanoseconds: 4 * second) == [])
        #expect(s.transactionError("e", during: .write, now: 0, monotonicNanoseconds: 5 * second)
                == [.warnTransactionError(suppressed: 2)])
        #expect(s.transactionError("e", during: .write, now: 0, monotonicNanoseconds: 11 * second)
                == [.warnTransactionError(suppressed: 0)])
    }

    @Test func shutdownClosesWithoutSchedulingAReconnect() {
        var s = up(at: 0)
        s.closed()
        #expect(!s.isUp)
        #expect(s.nextReconnectAt == 0)
    }
}
