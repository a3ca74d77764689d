import Control
import Devices

/// Operator requests, taken at a tick or between ticks, and the reminder that a station stands in for a missing device.
extension Station {
    /// A station simulated in place of a real device that did not answer says so in the log once a minute, so that a
    /// log read later does not pass simulated values for measured ones.
    func remindOfMissingDevice(now: Double) {
        guard let missing = simulation?.standsInFor, now - lastMissingReminderAt >= 60 else { return }
        if lastMissingReminderAt > -.infinity {
            logger.warning("""
                station \(name): still SIMULATED — no device answered at \(missing) at start-up (fallback = \
                "simulate"); rigd does not probe it again until it restarts
                """)
        }
        lastMissingReminderAt = now
    }

    /// Applies (or rejects) the operator's requests waiting in the mailbox and replies to each; returns them.
    func applyRequests(now: Double) -> [Mailbox.Envelope] {
        let envelopes = mailbox.drain()
        for envelope in envelopes {
            do {
                switch envelope.request {
                case .controller(let request): try controller.apply(request, now: now)
                case .station(let request): try applyHand(request, by: envelope.by, now: now)
                case .calibration(let request): try applyCalibration(request, by: envelope.by, now: now)
                }
                if case .controller = envelope.request {
                    // A hand request logs and records itself, with what it held.
                    logger.info("station \(name): accepted \(envelope.request)\(envelope.by.map { " from \($0)" } ?? "")")
                    journal.event("request_accepted", "\(envelope.request)", actor: envelope.by, now: now)
                }
                envelope.reply(.success(()))
            } catch {
                logger.info("station \(name): rejected \(envelope.request)\(envelope.by.map { " from \($0)" } ?? ""): \(error.reason)")
                journal.event("request_rejected", "\(envelope.request): \(error.reason)", actor: envelope.by, now: now)
                envelope.reply(.failure(error))
            }
        }
        return envelopes
    }

    /// Between the ticks of a slow station (the runner calls it every 100 ms while it sleeps): requests are taken
    /// at once, not at the next tick a minute away. Their effect on the device comes with the next tick.
    package func serveRequests(now: Double) {
        guard !applyRequests(now: now).isEmpty else { return }
        _ = journal.alarmChanges(controller.alarms.drainChanges(), now: now)
        _ = journal.runChanges(controller.runs, now: now) { controller.runSummary($0) }
        publishState(now: now, withResults: true)
    }
}
