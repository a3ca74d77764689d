import Devices

/// The checks every controller makes first on a tick, the same way and in the same words for every kind: is the
/// device answering, is an E-stop pressed (on the device or on the host's line), and did the device's own watchdog
/// trip while the host was away (its latched safe state, to be reset once the host is back unless an E-stop holds
/// it). A controller calls `AlarmBook.checkDevice` and goes on with the kind's own interlocks; it decides its safe
/// output itself.
public struct DeviceChecks: Sendable {
    /// The alarm raised while the device does not answer, and its severity.
    public var lossCode = "device_unavailable"
    public var lossSeverity = AlarmSeverity.trip
    /// What the device is called in messages: "\(noun) not answering: …".
    public var noun = "device"
    /// What the station's safe state does, added to the loss and host E-stop messages (e.g. "aerators ON").
    public var safeStateNote: String?
    /// Whether the station watches the host's E-stop line (a station with nothing to stop does not).
    public var hostEstop = true
    /// Whether the device has a watchdog of its own, fed by the host (docs/register-contract.md §0).
    public var deviceWatchdog = true

    public init(noun: String = "device", lossCode: String = "device_unavailable",
                lossSeverity: AlarmSeverity = .trip, safeStateNote: String? = nil, hostEstop: Bool = true,
                deviceWatchdog: Bool = true) {
        self.noun = noun
        self.lossCode = lossCode
        self.lossSeverity = lossSeverity
        self.safeStateNote = safeStateNote
        self.hostEstop = hostEstop
        self.deviceWatchdog = deviceWatchdog
    }
}

/// What the checks found on a tick with a snapshot.
public struct DeviceFacts: Sendable, Equatable {
    /// The device's own E-stop input says pressed.
    public let deviceEstop: Bool
    /// An E-stop is pressed: the device's or the host's.
    public let estop: Bool
    /// The device's watchdog latch is set (status bit 1).
    public let watchdogTripped: Bool

    /// Reset the device's latched faults (HR 5): its watchdog tripped while the host was away, and no E-stop holds it.
    public var resetDevice: Bool { watchdogTripped && !estop }
}

extension AlarmBook {
    /// The shared prologue of a controller's step. Returns nil when the device did not answer (the loss alarm is
    /// raised and the caller returns its safe output); otherwise clears the loss alarm, sets `estop` and
    /// `device_watchdog`, and returns the snapshot with what was found.
    ///
    /// - Parameter deviceEstopOK: the device's E-stop input (true: released), nil for a device without one.
    public mutating func checkDevice<Snapshot: DeviceSnapshot>(
        _ input: DeviceInput<Snapshot>, host: HostSignals, _ checks: DeviceChecks, now: Double,
        deviceEstopOK: (Snapshot) -> Bool? = { _ in nil }
    ) -> (snapshot: Snapshot, facts: DeviceFacts)? {
        guard case .snapshot(let s) = input else {
            if case .unavailable(let reason) = input {
                raise(checks.lossCode, checks.lossSeverity,
                      "\(checks.noun) not answering: \(reason)" + (checks.safeStateNote.map { "; \($0)" } ?? ""),
                      now: now)
            }
            return nil
        }
        clear(checks.lossCode, now: now)
        let deviceEstop = deviceEstopOK(s) == false
        let hostEstop = checks.hostEstop && host.estopPressed
        let estop = deviceEstop || hostEstop
        if deviceEstopOK(s) != nil || checks.hostEstop {
            set("estop", estop, .trip,
                deviceEstop ? "E-stop pressed on the \(checks.noun)"
                    : "host E-stop line asserted" + (checks.safeStateNote.map { ": \($0)" } ?? ""),
                now: now)
        }
        let watchdogTripped = checks.deviceWatchdog && s.header.status.contains(.watchdogTripped)
        if checks.deviceWatchdog {
            set("device_watchdog", watchdogTripped, .warning,
                "the \(checks.noun)'s watchdog tripped: host heartbeats were missed", now: now)
        }
        return (s, DeviceFacts(deviceEstop: deviceEstop, estop: estop, watchdogTripped: watchdogTripped))
    }
}
