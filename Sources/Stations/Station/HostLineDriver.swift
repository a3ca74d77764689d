import Control
import Devices
import Logging

/// A station's host GPIO lines.
package struct HostLines {
    package var estop: (any GPIOLine)?
    package var beacon: (any GPIOLine)?
    /// Relay outputs in the controller's `relayNames` order; nil where none is wired (the decision is still made,
    /// logged and reported).
    package var relays: [(any GPIOLine)?] = []

    package init(estop: (any GPIOLine)? = nil, beacon: (any GPIOLine)? = nil, relays: [(any GPIOLine)?] = []) {
        self.estop = estop
        self.beacon = beacon
        self.relays = relays
    }
}

/// Reads and drives a station's host lines: the E-stop input, the beacon and the relays, remembering what each
/// output was last driven to so that only changes are written and logged.
///
/// - Important: Confined to the station's thread.
struct HostLineDriver {
    private let station: String
    private let lines: HostLines
    private let relayNames: [String]
    /// Relays (by index) that the device's map switches: the station writes them through the device; here they are
    /// decided, logged and reported like the others, with no line.
    private let throughDevice: Set<Int>
    private let logger: Logger
    private var estopLineError: String?
    private var beaconState: Bool?
    /// What each relay line was last driven to (nil: unknown, drive it next time).
    private(set) var relayStates: [Bool?]

    /// Relay lines are requested in the safe state (Wiring), so that is what they hold until the first decision.
    init(station: String, lines: HostLines, relayNames: [String], safeRelays: [Bool], throughDevice: Set<Int> = [],
         logger: Logger) {
        self.station = station
        self.lines = lines
        self.relayNames = relayNames
        self.throughDevice = throughDevice
        self.relayStates = safeRelays.map(Optional.some)
        self.logger = logger
    }

    /// The host's own lines. A line that cannot be read counts as a pressed E-stop: a broken E-stop circuit must stop
    /// the device, not be ignored.
    mutating func read() -> HostSignals {
        guard let line = lines.estop else { return HostSignals() }
        do {
            let pressed = try line.read()
            if estopLineError != nil {
                estopLineError = nil
                logger.notice("station \(station): E-stop line \(line.address) readable again")
            }
            return HostSignals(estopPressed: pressed)
        } catch {
            if estopLineError == nil { logger.error("station \(station): cannot read the E-stop line: \(error)") }
            estopLineError = "\(error)"
            return HostSignals(estopPressed: true)
        }
    }

    mutating func driveBeacon(_ on: Bool) {
        guard let line = lines.beacon, beaconState != on else { return }
        do {
            try line.write(on)
            beaconState = on
        } catch {
            logger.error("station \(station): cannot drive the beacon: \(error)")
            beaconState = nil
        }
    }

    /// Drives the relay lines that changed; logs every change, wired or not, since it is a decision about the plant.
    /// Returns the changes (name, on) for the data log. A relay starts in its safe state, so the first change of one
    /// says what it was before.
    @discardableResult
    mutating func driveRelays(_ wanted: [Bool]) -> [(name: String, on: Bool)] {
        let names = relayNames
        var changes: [(name: String, on: Bool)] = []
        for (i, on) in wanted.enumerated() where i < names.count {
            let line = i < lines.relays.count ? lines.relays[i] : nil
            guard relayStates.indices.contains(i), relayStates[i] != on else { continue }
            let previous = relayStates[i]
            if let line {
                do {
                    try line.write(on)
                } catch {
                    logger.error("station \(station): cannot drive relay \(names[i]) (\(line.address)): \(error)")
                    relayStates[i] = nil
                    continue
                }
            }
            relayStates[i] = on
            changes.append((names[i], on))
            if previous != nil || line == nil {
                let how = throughDevice.contains(i) ? " (through the device)" : line == nil ? " (no line wired)" : ""
                logger.info("station \(station): \(names[i]) \(on ? "ON" : "OFF")\(how)")
            }
        }
        return changes
    }

    /// Drives one relay now (a hand request between ticks), if the host switches it; false for one the device
    /// switches (written with the next tick's commands).
    mutating func driveRelay(at index: Int, on: Bool) -> Bool {
        guard relayStates.indices.contains(index), !throughDevice.contains(index) else { return false }
        var wanted = relayStates.map { $0 ?? false }
        wanted[index] = on
        // Only the changed line is written: the others are wanted as they are.
        let unknown = relayStates.enumerated().filter { $0.element == nil && $0.offset != index }.map(\.offset)
        guard unknown.isEmpty else { return false }
        driveRelays(wanted)
        return true
    }

    /// Beacon off and the relays in their safe state, logged (shutdown).
    /// The relays the device switches are the station's to write (and to log): only the host's are logged here.
    mutating func driveSafeState(safeRelays: [Bool]) {
        driveBeacon(false)
        guard !safeRelays.isEmpty else { return }
        driveRelays(safeRelays)
        let states: [String] = zip(relayNames, safeRelays).enumerated()
            .filter { !throughDevice.contains($0.offset) }
            .map { _, relay in relay.0 + (relay.1 ? " ON" : " OFF") }
        guard !states.isEmpty else { return }
        logger.notice("station \(station): relays in their safe state (\(states.joined(separator: ", ")))")
    }

    /// The relays by name, as last driven (nil: unknown).
    var relaysByName: [String: Bool?] {
        Dictionary(uniqueKeysWithValues: zip(relayNames, relayStates))
    }

    /// `; relays: a ON, b ?` for the status line, "" for a kind without relays.
    var relaysForStatusLine: String {
        guard !relayNames.isEmpty else { return "" }
        let states: [String] = zip(relayNames, relayStates).map { name, on in
            name + (on.map { $0 ? " ON" : " OFF" } ?? " ?")
        }
        return "; relays: " + states.joined(separator: ", ")
    }
}
