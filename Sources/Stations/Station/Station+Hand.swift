import Control
import Devices

/// One output held in hand mode: an operator's value instead of the controller's, until a time.
struct HandHold: Sendable, Equatable {
    enum Target: Equatable {
        /// An index into the controller's `relayNames` (a host relay, or one the device's map switches).
        case relay(Int)
        /// A coil of the register contract (the built-in map's address; a device map translates it).
        case coil(Int)
        /// A float32 set-point of the register contract.
        case setpoint(FloatRegister)
    }

    let output: String
    let target: Target
    let value: Double
    let since: Double
    let until: Double
    let by: String?
    let why: String?

    var kind: String {
        switch target {
        case .relay: "relay"
        case .coil: "coil"
        case .setpoint: "setpoint"
        }
    }

    /// `aerator-1 ON`, `pump_speed 40 %`.
    var valueText: String {
        switch target {
        case .relay, .coil: "\(output) \(value != 0 ? "ON" : "OFF")"
        case .setpoint(let register): "\(output) \(RunRecord.format(value)) \(register.unit)"
        }
    }
}

/// Hand and auto (issue 23 item 3): an operator holds an output the controller drives (a relay, a device coil or
/// set-point) at a value for a while; it returns to auto by itself when the time is up. The controller keeps running
/// and deciding; the station puts the held values over its decisions, on the host lines and in the writes.
///
/// Safety wins over hand: while the E-stop is pressed, the link is down, the device reports an E-stop, a tripped
/// watchdog, an interlock or its safe state, or the controller has a trip alarm, no output can be put in hand mode,
/// and every output already in it returns to auto at that tick (for good: the operator must ask again once the cause
/// is gone, so that nothing switches on by itself when an E-stop is released). Shutdown drives the safe state.
extension Station {
    /// The outputs that may be put in hand mode: the controller's relays, then the device's coils and set-points.
    var handOutputs: [StationStatus.HandOutput] {
        controller.relayNames.map { StationStatus.HandOutput(name: $0, kind: "relay", unit: "", min: 0, max: 1) }
            + Profile.coilNames.map { StationStatus.HandOutput(name: $0, kind: "coil", unit: "", min: 0, max: 1) }
            + Profile.holdingSetpoints.map {
                StationStatus.HandOutput(name: $0.name, kind: "setpoint", unit: $0.unit,
                                         min: Double($0.limits.lowerBound), max: Double($0.limits.upperBound))
            }
    }

    /// Takes a hand or auto request: validated against the outputs, the limits and what holds back hand mode now;
    /// throws and changes nothing when it cannot be taken.
    func applyHand(_ request: HandRequest, by: String?, now: Double) throws(CommandRejection) {
        switch request {
        case .hand(let output, let value, let seconds, let why):
            let target = try handTarget(output, value: value)
            let maximum = handMaxSeconds
            guard seconds.isFinite, seconds > 0, seconds <= maximum + 1e-9 else {
                throw CommandRejection("a hold lasts more than 0 and at most \(RunRecord.format(maximum / 60)) min "
                                       + "([daemon] hand_max_min), got \(RunRecord.format(seconds / 60)) min")
            }
            if let blocker = handBlocker {
                throw CommandRejection("\(output) cannot be put in hand mode: \(blocker)")
            }
            let hold = HandHold(output: output, target: target, value: value, since: now, until: now + seconds,
                                by: by, why: why)
            hand.removeAll { $0.output == output }
            hand.append(hold)
            let reason = why.map { ": \($0)" } ?? ""
            let minutes = RunRecord.format(seconds / 60)
            logger.notice("station \(name): HAND \(hold.valueText) for \(minutes) min\(by.map { " by \($0)" } ?? "")\(reason)")
            journal.event("hand", "\(hold.valueText) in hand mode for \(minutes) min\(reason)", actor: by, now: now)
            if case .relay(let index) = target {
                // A host relay switches at once, not at the next tick (a pond's is up to 10 s away); the status shows it.
                if hostLines.driveRelay(at: index, on: value != 0) {
                    journal.event("relay", "\(output) \(value != 0 ? "ON" : "OFF")", now: now)
                    publishState(now: now, withResults: false)
                }
            } else {
                handWritten.remove(output)
            }
        case .auto(let output, let why):
            let ending = output.map { o in hand.filter { $0.output == o } } ?? hand
            if ending.isEmpty {
                throw CommandRejection(output.map { "\($0) is not in hand mode" } ?? "no output is in hand mode")
            }
            endHand(ending.map(\.output), reason: why.map { "returned to auto: \($0)" } ?? "returned to auto",
                    by: by, now: now)
        }
        publishHand()
    }

    /// What the name and value say to hold, or why not.
    private func handTarget(_ output: String, value: Double) throws(CommandRejection) -> HandHold.Target {
        let onOff = { () throws(CommandRejection) in
            guard value == 0 || value == 1 else {
                throw CommandRejection("\(output) is switched: its value must be 0 (off) or 1 (on), got \(value)")
            }
        }
        if let index = controller.relayNames.firstIndex(of: output) {
            try onOff()
            return .relay(index)
        }
        if let coil = Profile.coilNames.firstIndex(of: output) {
            try onOff()
            return .coil(coil)
        }
        if let register = Profile.holdingSetpoints.first(where: { $0.name == output }) {
            guard register.accepts(Float(value)), value.isFinite else {
                throw CommandRejection("\(output) must be within \(register.limits.lowerBound)…"
                                       + "\(register.limits.upperBound) \(register.unit), got \(value)")
            }
            return .setpoint(register)
        }
        let known = handOutputs.map(\.name)
        throw CommandRejection("\(name) has no output \(output)"
                               + (known.isEmpty ? "" : " (outputs: \(known.joined(separator: ", ")))"))
    }

    /// Why no output may be in hand mode now (nil: nothing holds it back), from the last tick's E-stop line and device
    /// status (`handSignals`) and the controller's alarms.
    var handBlocker: String? {
        guard supervisor.isUp else { return "the link to the device is down" }
        if handSignals.estop { return "the E-stop is pressed" }
        // No snapshot with the link up: no tick since the station connected. The first tick decides (and ends a hold
        // that safety forbids).
        let bits = (handSignals.device ?? []).intersection([.estopPressed, .watchdogTripped, .interlockActive, .safeState])
        if !bits.isEmpty { return "the device reports \(bits)" }
        if let trip = controller.alarms.active.first(where: { $0.severity == .trip }) {
            return "trip alarm \(trip.code) is active"
        }
        return nil
    }

    /// At each tick, after the controller's step: notes what safety looks at (cheap: no hold, nothing more), then ends
    /// the holds that expired or that safety ends, and puts the remaining holds over the controller's relays (the
    /// commands are held in `handWrites`).
    func enforceHand(_ output: inout StepOutput<Profile.Commands>, input: DeviceInput<Profile.Snapshot>,
                     host: HostSignals, now: Double) {
        if case .snapshot(let snapshot) = input {
            handSignals = (host.estopPressed, snapshot.header.status)
        } else {
            handSignals = (host.estopPressed, nil)
        }
        guard !hand.isEmpty else { return }
        if let blocker = handBlocker {
            endHand(hand.map(\.output), reason: "returned to auto: \(blocker)", by: nil, now: now)
            publishHand()
            return
        }
        let expired = hand.filter { now >= $0.until - 1e-9 }
        if !expired.isEmpty {
            for hold in expired {
                endHand([hold.output], reason: "returned to auto: its \(RunRecord.format((hold.until - hold.since) / 60)) min ended",
                        by: nil, now: now)
            }
            publishHand()
        }
        for hold in hand {
            if case .relay(let index) = hold.target, index < output.relays.count { output.relays[index] = hold.value != 0 }
        }
    }

    /// The controller's writes with the held commands' values in place of its own, and a write for each held command
    /// not yet written on this connection.
    func handWrites(_ writes: [RegisterWrite], fullImage: Bool) -> [RegisterWrite] {
        let held = hand.filter { if case .relay = $0.target { false } else { true } }
        guard !held.isEmpty else { return writes }
        if fullImage { handWritten.removeAll() }
        var out = writes.map { write -> RegisterWrite in
            switch write {
            case .coils(let address, var values):
                for hold in held {
                    guard case .coil(let coil) = hold.target, coil >= address, coil < address + values.count else { continue }
                    values[coil - address] = hold.value != 0
                    handWritten.insert(hold.output)
                }
                return .coils(address: address, values: values)
            case .registers(let address, var values):
                for hold in held {
                    guard case .setpoint(let register) = hold.target, register.address >= address,
                          register.address + 1 < address + values.count else { continue }
                    let words = RegisterCodec.encode(Float(hold.value), order: order)
                    values[register.address - address] = words[0]
                    values[register.address - address + 1] = words[1]
                    handWritten.insert(hold.output)
                }
                return .registers(address: address, values: values)
            }
        }
        for hold in held where !handWritten.contains(hold.output) {
            switch hold.target {
            case .coil(let coil): out.append(.coils(address: coil, values: [hold.value != 0]))
            case .setpoint(let register):
                out.append(.registers(address: register.address,
                                      values: RegisterCodec.encode(Float(hold.value), order: order)))
            case .relay: break
            }
            handWritten.insert(hold.output)
        }
        return out
    }

    /// Ends holds: logged, recorded as events, and the controller's whole command image written again at the next
    /// write so that what it decides now reaches the device.
    func endHand(_ outputs: [String], reason: String, by: String?, now: Double) {
        for hold in hand where outputs.contains(hold.output) {
            logger.notice("station \(name): \(hold.output) \(reason)\(by.map { " (by \($0))" } ?? "")")
            journal.event("auto", "\(hold.output) \(reason) (held at \(hold.valueText.dropFirst(hold.output.count + 1)) "
                          + "for \(RunRecord.format((now - hold.since) / 60)) min)", actor: by, now: now)
            if case .relay = hold.target {} else { lastCommands = nil }
            handWritten.remove(hold.output)
        }
        hand.removeAll { outputs.contains($0.output) }
    }

    /// The holds at shutdown: the safe state is driven whatever they were.
    func endHandAtShutdown(now: Double) {
        guard !hand.isEmpty else { return }
        endHand(hand.map(\.output), reason: "returned to auto: rigd is stopping (safe state)", by: nil, now: now)
        publishHand()
    }

    func publishHand() {
        publisher.setHand(hand.map { h in
            let unit: String = if case .setpoint(let register) = h.target { register.unit } else { "" }
            return StationStatus.Hand(output: h.output, kind: h.kind, value: h.value, unit: unit, since: h.since,
                                      until: h.until, by: h.by, why: h.why)
        })
    }
}
