import Control
import Devices
import Foundation

/// The station's side of link supervision: the I/O, counting and logging for what `LinkSupervisor` decides.
extension Station {
    package func start(now: Double) {
        if connect(now: now, restored: false) {
            // One read at once, so the API and the data log have values before the first tick of a slow loop
            // (a stream station samples every minute).
            if (try? client.refresh(snapshotSpans)) != nil,
               var snapshot = try? Profile.readSnapshot(from: client, order: order, channelCount: channelCount) {
                if !corrections.isEmpty { applyCorrections(&snapshot) }
                publisher.recordAndPublish(snapshot, now: now)
                publisher.markUpdated(now: now)
            }
        } else {
            let reason = counters.withLock { $0.lastError } ?? "no answer"
            logger.warning("station \(name): cannot reach \(endpoint) (\(reason)); retrying with backoff")
        }
    }

    /// Connects, checks the device is of this station's kind, and learns its word order and watchdog timeout; on
    /// failure the supervisor schedules the next attempt. `restored`: a reconnect after a loss (counted and logged).
    ///
    /// - Important: An attempt blocks the station's thread (and, on a serial line, the line's other stations) for at
    ///   most one probe timeout (`probe_timeout_ms`): the connect and the three identity reads after it share it
    ///   (`ModbusClient.withinProbeTimeout` cuts each read's response timeout to what is left), so a device that
    ///   accepts the connection and then answers slowly or not at all costs no more than one that does not answer.
    ///   There is one attempt per tick at most, and the next one waits for the backoff (0.5 s doubling to 30 s).
    func connect(now: Double, restored: Bool) -> Bool {
        do {
            try client.connect()
            try client.withinProbeTimeout {
                let header = try client.readHeader()
                guard header.deviceType == kind.deviceType else {
                    client.close()
                    let found = KindRegistry.builtIn.kind(deviceType: header.deviceType).map { $0.kind.rawValue }
                        ?? String(header.deviceType, radix: 16)
                    throw WrongDeviceError(expected: kind, found: found, endpoint: endpoint)
                }
                let switchWord = header.profileVersion >= CommonRegisters.switchWordVersion
                let replan = switchWord != client.switchWord || client.planGeneration != publishedPlanGeneration
                client.switchWord = switchWord
                order = try client.readWordOrder()
                watchdogMs = try client.readHoldingRegisters(at: CommonRegisters.watchdogTimeoutMs, count: 1)[0]
                let served = try Profile.servedChannelCount(from: client)
                if served < Profile.channels.count, served != channelCount {
                    let missing = Profile.channels[served...].map(\.name).joined(separator: ", ")
                    logger.info("station \(name): the device does not serve \(missing) (simulator only): not available")
                }
                if served != channelCount || loopSpans.isEmpty || replan {
                    snapshotSpans = ContractSpan.snapshot(of: Profile.self, channelCount: served)
                    planLoopSpans()
                    publishedPlanGeneration = client.planGeneration
                    // The API's plan as the loops now read (a real device lacks the simulator-only channels, a mapped
                    // one's values found at start-up are where discovery found them).
                    publisher.setReadPlan(Self.planLines(controller: controller, cache: client, snapshot: snapshotSpans))
                }
                channelCount = served
            }
            // A kind whose host feeds no heartbeat turns the device's watchdog off, so that it does not trip and
            // hold a safe state while the host polls it slowly.
            if !Profile.usesHostWatchdog, watchdogMs != 0 {
                try client.writeRegister(at: CommonRegisters.watchdogTimeoutMs, value: 0)
                watchdogMs = 0
                logger.info("station \(name): turned the device's watchdog off (HR 3 = 0): this kind sends no heartbeat")
            }
            lastCommands = nil
            ringReader?.reset()
            let actions = supervisor.connectSucceeded(now: now, restored: restored)
            counters.withLock { $0.linkUp = true }
            if actions.contains(.linkRestored) {
                counters.withLock { $0.reconnects += 1 }
                logger.notice("station \(name): link restored to \(endpoint)")
                journal.event("link_restored", "link restored to \(endpoint)", now: now)
            }
            return true
        } catch {
            counters.withLock {
                $0.linkErrors += 1
                $0.lastError = "\(error)"
                $0.count(error)
            }
            logger.debug("station \(name): connect failed: \(error)")
            _ = supervisor.connectFailed(now: now)
            return false
        }
    }

    /// A read or a write failed: a link error closes the link, a transaction error is counted and keeps it
    /// (docs/design.md, "Errors"). Returns the controller's input after a failed read, nil when the outputs hold.
    @discardableResult
    func failed(_ error: any Error, during operation: LinkSupervisor.Operation,
                now: Double) -> DeviceInput<Profile.Snapshot>? {
        let actions: [LinkAction]
        if error is ModbusLinkError {
            actions = supervisor.linkError("\(error)", during: operation, now: now)
        } else {
            counters.withLock {
                $0.transactionErrors += 1
                $0.lastError = "\(error)"
                $0.count(error)
            }
            actions = supervisor.transactionError("\(error)", during: operation, now: now,
                                                  monotonicNanoseconds: MonotonicClock.monotonicNanoseconds())
        }
        var input: DeviceInput<Profile.Snapshot>?
        for action in actions {
            switch action {
            case .closeLink:
                client.close()
                counters.withLock {
                    $0.linkUp = false
                    $0.linkErrors += 1
                    $0.lastError = "\(error)"
                    $0.count(error)
                }
                logger.error("station \(name): link lost: \(error); reconnecting with backoff")
                journal.event("link_lost", "link lost: \(error)", now: now)
            case .markValuesUnknown:
                publisher.markValuesUnknown()
            case .reportUnavailable(let reason):
                input = .unavailable(reason: reason)
            case .warnTransactionError(let suppressed):
                let more = suppressed > 0 ? " (and \(suppressed) more transaction errors since the last line)" : ""
                logger.warning("station \(name): \(error)\(more)")
            case .holdOutputs, .scheduleReconnect, .linkRestored:
                break
            }
        }
        return input
    }
}
