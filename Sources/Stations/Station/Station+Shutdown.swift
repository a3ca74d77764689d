import Control
import Devices

extension Station {
    package func driveSafeState(now: Double) {
        endHandAtShutdown(now: now)
        hostLines.driveSafeState(safeRelays: controller.safeRelays)
        guard supervisor.isUp else {
            if Profile.usesHostWatchdog {
                logger.warning("station \(name): link down at shutdown; the device's own watchdog drives its safe state")
            }
            if let deviceRelays {
                let names = deviceRelays.relays.map(\.name).joined(separator: ", ")
                logger.warning("station \(name): link down at shutdown: \(names) (switched through the device) could not be put in their safe state")
            }
            logLinkCounters()
            return
        }
        do {
            for write in Profile.writes(for: controller.safeCommands, previous: nil, order: order) {
                try write.apply(to: client)
            }
            try writeDeviceRelays(controller.safeRelays)
            if let deviceRelays {
                let states = deviceRelays.relays.filter { $0.index < controller.safeRelays.count }
                    .map { $0.name + (controller.safeRelays[$0.index] ? " ON" : " OFF") }.joined(separator: ", ")
                logger.notice("station \(name): relays switched through the device in their safe state (\(states))")
            }
            logger.notice("station \(name): safe state driven")
            journal.event("safe_state", "safe state driven at shutdown", now: now)
        } catch {
            logger.error("station \(name): could not drive the safe state: \(error)")
        }
        client.close()
        supervisor.closed()
        counters.withLock { $0.linkUp = false }
        logLinkCounters()
    }

    /// The link's counters, once at the end: a unit on a shared line shows here what it cost the bus.
    private func logLinkCounters() {
        let link = counters.withLock { $0 }
        let summary = "\(transactions.count) transactions, \(link.linkErrors) link errors, "
            + "\(link.transactionErrors) transaction errors, \(link.reconnects) reconnects"
        logger.info("station \(name): \(summary)")
    }
}
