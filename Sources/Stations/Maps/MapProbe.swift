import Devices
import DeviceTransports
import Foundation

/// One read of every value a device map names, value by value (a commissioning probe, not a read plan): what
/// `rigd probe` prints. Decodes through the register codec; every failure is kept with the value it hit.
package enum MapProbe {
    /// What one mapped value read.
    package struct Reading: Sendable {
        package var name: String
        package var field: DeviceMap.Field
        package var unit: String
        /// The words read (registers), or the bits (coils, discrete inputs) as 0/1.
        package var raw: [UInt16] = []
        /// Engineering value (after scale and offset); nil when the read failed or the value is "no reading".
        package var value: Double?
        /// For a string identity.
        package var text: String?
        /// "good", "not available (nan_if)", "bad (status bit …)", "failure (quality word 0x…)", or the error.
        package var quality: String = "good"
        /// The read failed (exception, timeout, short answer).
        package var error: String?
    }

    /// How each function code answered during the probe.
    package struct FunctionCodes: Sendable {
        package var results: [Int: String] = [:]

        mutating func note(_ code: Int, _ result: String) {
            if results[code] == nil || results[code] == "ok" { results[code] = result }
        }

        package var summary: String {
            results.keys.sorted().map { String(format: "%02d ", $0) + (results[$0] ?? "?") }.joined(separator: ", ")
        }
    }

    package struct Result: Sendable {
        package var identity: Reading?
        package var identityOK: Bool?
        /// What the probe did before reading (the map's setup writes, its acquisition sequences) and what the map's
        /// expectations found, one line each.
        package var steps: [String] = []
        /// A setup write, an acquisition or an expectation failed: the probe's exit status is 1.
        package var stepsFailed = false
        package var channels: [Reading]
        package var functionCodes: FunctionCodes
        /// Channels that did not read (error) — the probe's exit status is 1 when any did not.
        package var failures: [String] { channels.filter { $0.error != nil }.map(\.name) }
    }

    static func functionCode(_ table: DeviceMap.Table) -> Int {
        switch table {
        case .coil: 1
        case .discrete: 2
        case .holding: 3
        case .input: 4
        }
    }

    /// Reads `field`'s registers or bits.
    static func read(_ field: DeviceMap.Field, from client: any ModbusClient, codes: inout FunctionCodes) throws
        -> [UInt16] {
        let code = functionCode(field.table)
        do {
            let raw = try client.addressing(unit: field.unit) {
                try client.readWords(field.table, at: field.register, count: field.length)
            }
            guard raw.count == field.length else {
                codes.note(code, "short answer")
                throw ShortAnswer(expected: field.length, got: raw.count)
            }
            codes.note(code, "ok")
            return raw
        } catch let error as ModbusTransactionError {
            codes.note(code, error.exception.map { "exception \(String(format: "%02X", $0.rawValue))" } ?? error.message)
            throw error
        } catch let error as ShortAnswer {
            throw error
        } catch {
            codes.note(code, "no answer")
            throw error
        }
    }

    struct ShortAnswer: Error, CustomStringConvertible {
        var expected: Int
        var got: Int
        var description: String { "answered \(got) of \(expected) registers" }
    }

    /// The engineering value of `raw` read through `field` (nil for a string).
    package static func decode(_ raw: [UInt16], _ field: DeviceMap.Field) -> Double? { field.value(raw) }

    /// Reads every channel (and the identity) of `map` once.
    package static func run(_ declared: DeviceMap, client: any ModbusClient, units: [String: String] = [:]) -> Result {
        var map = declared
        var codes = FunctionCodes()
        var (steps, stepsFailed) = wake(map, client: client)
        var identity: Reading?
        var identityOK: Bool?
        if let id = map.identity {
            var reading = Reading(name: "identity", field: id.field, unit: "")
            do {
                reading.raw = try read(id.field, from: client, codes: &codes)
                if id.field.type == .string {
                    reading.text = RegisterCodec.decodeString(reading.raw, order: id.field.order)
                } else {
                    reading.value = decode(reading.raw, id.field)
                }
                identityOK = reading.value == id.equals
            } catch {
                reading.error = "\(error)"
                reading.quality = "read failed"
                identityOK = false
            }
            identity = reading
        }
        var vouched: [String: String] = [:]
        if identityOK != false, !stepsFailed {
            let prepared = prepare(map, client: client, codes: &codes)
            steps += prepared.lines
            stepsFailed = prepared.failed
            vouched = prepared.vouched
            map = prepared.map
        }
        var channels: [Reading] = []
        for declaredChannel in declared.channels {
            guard let channel = map.channel(named: declaredChannel.name), channel.field.place == nil else {
                // A located value whose block was not found (or not looked for: the setup failed).
                var reading = Reading(name: declaredChannel.name, field: declaredChannel.field,
                                      unit: units[declaredChannel.name] ?? "")
                reading.error = "\(declaredChannel.field.place.map { "\($0)" } ?? "its block") was not found"
                reading.quality = "not found"
                channels.append(reading)
                continue
            }
            var reading = Reading(name: channel.name, field: channel.field, unit: units[channel.name] ?? "")
            do {
                reading.raw = try read(channel.field, from: client, codes: &codes)
                reading.value = decode(reading.raw, channel.field)
                let fallbackWords = try channel.fallback.map { try read($0, from: client, codes: &codes) }
                if let why = channel.noReading(reading.raw, fallback: fallbackWords) {
                    reading.value = nil
                    reading.quality = "not available (\(why))"
                } else if let value = reading.value, !value.isFinite {
                    reading.value = nil
                    reading.quality = "not available (NaN)"
                }
                if let q = channel.quality {
                    let statusField = DeviceMap.Field(table: q.table, register: q.register,
                                                      type: q.table.holdsBits ? .bool : .uint16, unit: q.unit)
                    let word = try read(statusField, from: client, codes: &codes)[0]
                    let quality = q.quality(word)
                    let at = q.good == nil ? "\(statusField.name) bit \(q.bit) = \(q.value(word))"
                        : "\(statusField.name) \(q.width == 16 ? "" : "bits \(q.bit)…\(q.bit + q.width - 1) ")= \(q.value(word))"
                    if quality.contains(.sensorFailure) {
                        reading.quality = "bad (\(at))"
                        reading.value = nil
                    } else if quality.contains(.notAvailable) {
                        reading.quality = "not available (\(at))"
                        reading.value = nil
                    }
                }
                if let w = channel.qualityWord {
                    let word = try read(w, from: client, codes: &codes)[0]
                    let quality = ChannelQuality(rawValue: word)
                    if quality.contains(.sensorFailure) {
                        reading.quality = String(format: "failure (quality 0x%04X)", word)
                        reading.value = nil
                    } else if quality.contains(.notAvailable) {
                        reading.quality = String(format: "not available (quality 0x%04X)", word)
                        reading.value = nil
                    } else if word != 0 {
                        reading.quality = String(format: "flagged (quality 0x%04X)", word)
                    }
                }
            } catch {
                reading.error = "\(error)"
                reading.quality = "read failed"
                reading.value = nil
            }
            if let why = vouched[channel.name], reading.error == nil {
                reading.quality = "bad (\(why))"
                reading.value = nil
            }
            channels.append(reading)
        }
        return Result(identity: identity, identityOK: identityOK, steps: steps, stepsFailed: stepsFailed,
                      channels: channels, functionCodes: codes)
    }

    /// Wakes each unit of a device that sleeps (`[map.wake]`), as a station's first request does: one read of its
    /// first mapped value with the map's first timeout and retries, then its settle time. An exception is an answer
    /// (the unit is awake). Returns a line for each unit, and whether one never answered.
    static func wake(_ map: DeviceMap, client: any ModbusClient) -> (lines: [String], failed: Bool) {
        guard let wake = map.wake else { return ([], false) }
        var fields = map.channels.flatMap { [$0.field, $0.qualityWord, $0.fallback].compactMap { $0 } }
        fields += map.commands.map(\.field) + [map.identity?.field].compactMap { $0 }
        var lines: [String] = []
        for unit in [nil] + map.otherUnits.map(Optional.some) {
            guard let field = fields.first(where: { $0.unit == unit }) else { continue }
            let name = unit.map { "unit \($0)" } ?? "the device"
            do {
                _ = try client.addressing(unit: unit) {
                    try client.waking(retries: wake.retries, timeout: wake.firstTimeoutMs.map { .milliseconds(Int64($0)) }) {
                        try client.readWords(field.table, at: field.register, count: field.length)
                    }
                }
                lines.append("wake \(name): read \(field.name): answered")
            } catch let error as ModbusTransactionError {
                lines.append("wake \(name): read \(field.name): answered (\(error.message))")
            } catch {
                return (lines + ["wake \(name): FAILED: \(error)"], true)
            }
            if wake.settleMs > 0 { usleep(UInt32(min(wake.settleMs, 600_000) * 1000)) }
        }
        return (lines, false)
    }

    /// Runs what the host runs before reading (docs/maps.md), through the same `MappedClient` a station uses: the
    /// `[[map.setup]]` writes, every acquisition sequence to its end (a probe may block: it waits and polls for
    /// real), and the expectations. Returns a line for each, whether any failed, and the channels a failed
    /// expectation marks bad (with why).
    /// With `[[map.locate]]`, it finds the blocks after the setup, as a station's connect does, and returns the map
    /// with its located values where they were found (without those not found).
    static func prepare(_ declared: DeviceMap, client: any ModbusClient, codes: inout FunctionCodes)
        -> (lines: [String], failed: Bool, vouched: [String: String], map: DeviceMap) {
        var map = declared
        guard !map.setup.isEmpty || !map.acquisitions.isEmpty || !map.expectations.isEmpty || map.locates,
              let kind = KindRegistry.builtIn.kind(named: map.kind.rawValue) else { return ([], false, [:], map) }
        let mapped = MappedClient(base: client, map: map, layout: kind.contractLayout)
        var lines: [String] = []
        var failed = false
        do {
            try mapped.setUp()
            lines += map.setup.enumerated().map { "setup \($0 + 1): \($1.description): ok" }
        } catch {
            lines.append("setup FAILED: \(error)")
            failed = true
        }
        if map.locates, !failed {
            do {
                try mapped.discover()
                lines += mapped.layoutLines.map { "locate \($0)" }
                map = mapped.map
            } catch {
                lines.append("locate FAILED: \(error)")
                failed = true
            }
        }
        for (i, acquisition) in map.acquisitions.enumerated() where !failed {
            let name = "acquire " + acquisition.channels.joined(separator: ", ")
            let start = DispatchTime.now().uptimeNanoseconds
            do {
                while try !mapped.advanceAcquisition(i) { usleep(100_000) }
                let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
                lines.append("\(name): " + acquisition.steps.map(\.description).joined(separator: ", ")
                             + String(format: ": done in %.0f ms", ms))
            } catch {
                lines.append("\(name): FAILED: \(error)")
                failed = true
            }
        }
        var vouched: [String: String] = [:]
        for e in map.expectations where !e.isLayoutCheck {  // discovery has just read the block IDs
            do {
                let raw = try read(e.field, from: client, codes: &codes)
                if let problem = e.problem(raw) {
                    lines.append("expect \(problem): MISMATCH")
                    failed = true
                    for name in e.channels.isEmpty ? map.channels.map(\.name) : e.channels { vouched[name] = problem }
                } else {
                    lines.append("expect \(e.what) = \(e.equals): ok")
                }
            } catch {
                lines.append("expect \(e.what): FAILED: \(error)")
                failed = true
            }
        }
        return (lines, failed, vouched, map)
    }
}
