import Devices
import Foundation
import Sim
import Stations
import DeviceTransports
import SimServe
import Locking

/// One fault to inject into a simulated device, or to take away: the common language of `rigd fault`, the control
/// interface of `rigd simulate`, HIL scenarios and `rigd run --virtual --faults`. JSON/TOML keys are snake_case.
///
/// Exactly one target per request:
/// - a channel: `channel` + `fault` = lost | stuck (`value`) | offset (`value`) | drift (`per_hour`) |
///   noise (`sigma`) | spikes (`size`, `per_hour`) | clear;
/// - the device: `device` = offline | online | delay (`ms`) | exception (`code`, 1–255) | never_ready (an
///   instrument served through a map with acquisition sequences never finishes a measurement) | units_changed (its
///   `[[map.expect]]` registers read other values) | layout_changed (its `[[map.locate]]` blocks move and its layout
///   version changes) | normal (no delay, no exceptions, online, ready, units and layout as mapped);
/// - `status_error` on a channel of an instrument served through a map: its status register says "sensor error"
///   while its value reads normally (`clear` ends it); `stale` on such a channel with a `fresh` register: its value
///   and its counter stand still, as a hung sensor board's (`clear` ends it);
/// - a plant disturbance: `disturbance` = a name of the kind's (`fan_failure`, `filter_clog`, `bad_night`, `storm`, …)
///   with `active` true or false;
/// - or `clear_all` = true: every fault and disturbance off.
package struct FaultRequest: Codable, Sendable, Equatable, CustomStringConvertible {
    /// Unit id on an RTU line (`rigd simulate --rtu`); nil for the only device.
    package var unit: Int?
    /// Station name (virtual runs, scenario timelines).
    package var station: String?
    package var channel: String?
    package var fault: String?
    package var value: Double?
    package var perHour: Double?
    package var sigma: Double?
    package var size: Double?
    package var device: String?
    package var ms: Double?
    package var code: Int?
    package var disturbance: String?
    package var active: Bool?
    package var clearAll: Bool?

    package enum CodingKeys: String, CodingKey {
        case unit, station, channel, fault, value, sigma, size, device, ms, code, disturbance, active
        case perHour = "per_hour"
        case clearAll = "clear_all"
    }

    package static let channelFaults = ["lost", "stuck", "offset", "drift", "noise", "spikes", "status_error", "stale",
                                        "clear"]
    package static let deviceFaults = ["offline", "online", "delay", "exception", "never_ready", "units_changed",
                                       "layout_changed", "normal"]

    package struct Invalid: Error, CustomStringConvertible {
        package let description: String
        package init(_ description: String) { self.description = description }
    }

    package var description: String {
        let target = station.map { "station \($0): " } ?? unit.map { "unit \($0): " } ?? ""
        if clearAll == true { return target + "clear all faults" }
        if let channel {
            var text = "\(channel) \(fault ?? "?")"
            for (name, v) in [("value", value), ("per_hour", perHour), ("sigma", sigma), ("size", size)] {
                if let v { text += " \(name)=\(v)" }
            }
            return target + text
        }
        if let device {
            return target + "device \(device)" + (ms.map { " \($0) ms" } ?? "") + (code.map { " code \($0)" } ?? "")
        }
        if let disturbance { return target + "\(disturbance) \(active == false ? "off" : "on")" }
        return target + "(nothing)"
    }

    private func number(_ v: Double?, _ name: String, for what: String) throws(Invalid) -> Double {
        guard let v, v.isFinite else { throw Invalid("\(what) needs a finite \(name)") }
        return v
    }

    /// The channel fault this request describes (nil: clear), with its channel index on `device`.
    package func channelFault(on device: any FaultInjectable) throws(Invalid) -> (index: Int, fault: ChannelFault?) {
        guard let channel else { throw Invalid("no channel named") }
        let specs = device.channelSpecs
        guard let index = specs.firstIndex(where: { $0.name == channel }) else {
            throw Invalid("\(device.kind) has no channel \"\(channel)\" (channels: "
                          + specs.map(\.name).joined(separator: ", ") + ")")
        }
        let what = "\(fault ?? "?") on \(channel)"
        switch fault {
        case "lost": return (index, .lost)
        case "stuck": return (index, .stuck(Float(try number(value, "value", for: what))))
        case "offset": return (index, .offset(Float(try number(value, "value", for: what))))
        case "drift": return (index, .drift(perHour: Float(try number(perHour, "per_hour", for: what))))
        case "noise":
            let sigma = try number(sigma, "sigma", for: what)
            guard sigma >= 0 else { throw Invalid("\(what): sigma must be 0 or more") }
            return (index, .noise(sigma: Float(sigma)))
        case "spikes":
            let size = try number(size, "size", for: what)
            let rate = try number(perHour, "per_hour", for: what)
            guard rate >= 0 else { throw Invalid("\(what): per_hour must be 0 or more") }
            return (index, .spikes(size: Float(size), perHour: rate))
        case "clear": return (index, nil)
        default:
            throw Invalid("fault must be one of " + Self.channelFaults.joined(separator: ", ")
                          + ", got \"\(fault ?? "")\"")
        }
    }

    /// Checks the request against `device` without changing anything.
    package func validate(for device: any FaultInjectable) throws(Invalid) {
        let targets = [channel != nil, self.device != nil, disturbance != nil, clearAll == true].filter { $0 }.count
        guard targets == 1 else {
            throw Invalid("name exactly one of channel, device, disturbance or clear_all (got \(targets))")
        }
        if let channel, fault == "status_error" {
            guard let instrument = device as? MappedDevice,
                  let c = instrument.map.channel(named: channel), c.quality != nil || c.qualityWord != nil else {
                throw Invalid("status_error needs a channel with a status register in the map it is served through "
                              + "(quality or quality_word); \(channel) has none here")
            }
        } else if let channel, fault == "stale" {
            guard let instrument = device as? MappedDevice,
                  instrument.map.channel(named: channel)?.freshness?.field != nil else {
                throw Invalid("stale needs a channel with a fresh register (a counter that must advance) in the map it "
                              + "is served through; \(channel) has none here")
            }
        } else if channel != nil {
            _ = try channelFault(on: device)
        }
        if let kind = self.device {
            switch kind {
            case "offline", "online", "normal": break
            case "units_changed":
                guard (device as? MappedDevice)?.expects == true else {
                    throw Invalid("units_changed needs an instrument served through a map with [[map.expect]] values; "
                                  + "\(device.kind) here has none")
                }
            case "layout_changed":
                guard (device as? MappedDevice)?.declared.locates == true else {
                    throw Invalid("layout_changed needs an instrument served through a map with values found at "
                                  + "start-up ([[map.locate]]); \(device.kind) here has none")
                }
            case "never_ready":
                guard (device as? MappedDevice)?.acquires == true else {
                    throw Invalid("never_ready needs an instrument served through a map with acquisition sequences "
                                  + "([[map.acquire]]); \(device.kind) here has none")
                }
            case "delay":
                let ms = try number(ms, "ms", for: "delay")
                guard (0...60_000).contains(ms) else { throw Invalid("delay ms must be 0–60000, got \(ms)") }
            case "exception":
                guard let code, (1...255).contains(code), ModbusException(rawValue: UInt8(code)) != nil else {
                    throw Invalid("exception code must be a Modbus exception code (1–4, 5, 6, 7, 8, 10, 11), "
                                  + "got \(code.map(String.init) ?? "none")")
                }
            default:
                throw Invalid("device must be one of " + Self.deviceFaults.joined(separator: ", ")
                              + ", got \"\(kind)\"")
            }
        }
        if let disturbance, !device.disturbanceNames.contains(disturbance) {
            throw Invalid("\(device.kind) has no disturbance \"\(disturbance)\" ("
                          + (device.disturbanceNames.isEmpty ? "it has none"
                             : "known: " + device.disturbanceNames.joined(separator: ", ")) + ")")
        }
    }

    /// Validates, then applies to `device`.
    package func apply(to device: any FaultInjectable) throws(Invalid) {
        try validate(for: device)
        if clearAll == true {
            for i in device.channelSpecs.indices { device.setChannelFault(nil, channel: i) }
            device.setOffline(false)
            device.setAnswerDelay(0)
            device.setExceptionReplies(nil)
            (device as? MappedDevice)?.clearInstrumentFaults()
            for name in device.injected.disturbances { try? device.setDisturbance(name, active: false) }
            return
        }
        if let channel, fault == "status_error" {
            (device as? MappedDevice)?.setStatusError(channel, true)
        } else if let channel, fault == "stale" {
            (device as? MappedDevice)?.setStale(channel, true)
        } else if let channel {
            let (index, fault) = try channelFault(on: device)
            device.setChannelFault(fault, channel: index)
            if fault == nil {
                (device as? MappedDevice)?.setStatusError(channel, false)
                (device as? MappedDevice)?.setStale(channel, false)
            }
        }
        switch self.device {
        case "offline"?: device.setOffline(true)
        case "online"?: device.setOffline(false)
        case "delay"?: device.setAnswerDelay((ms ?? 0) / 1000)
        case "exception"?: device.setExceptionReplies(code.flatMap { ModbusException(rawValue: UInt8($0)) })
        case "never_ready"?: (device as? MappedDevice)?.setNeverReady(true)
        case "units_changed"?: (device as? MappedDevice)?.setUnitsChanged(true)
        case "layout_changed"?: (device as? MappedDevice)?.setLayoutChanged(true)
        case "normal"?:
            device.setOffline(false)
            device.setAnswerDelay(0)
            device.setExceptionReplies(nil)
            (device as? MappedDevice)?.setNeverReady(false)
            (device as? MappedDevice)?.setUnitsChanged(false)
            (device as? MappedDevice)?.setLayoutChanged(false)
        default: break
        }
        if let disturbance {
            do {
                try device.setDisturbance(disturbance, active: active ?? true)
            } catch {
                throw Invalid("\(error)")
            }
        }
    }

    package init(unit: Int? = nil, station: String? = nil, channel: String? = nil, fault: String? = nil,
                 value: Double? = nil, perHour: Double? = nil, sigma: Double? = nil, size: Double? = nil,
                 device: String? = nil, ms: Double? = nil, code: Int? = nil, disturbance: String? = nil,
                 active: Bool? = nil, clearAll: Bool? = nil) {
        self.unit = unit
        self.station = station
        self.channel = channel
        self.fault = fault
        self.value = value
        self.perHour = perHour
        self.sigma = sigma
        self.size = size
        self.device = device
        self.ms = ms
        self.code = code
        self.disturbance = disturbance
        self.active = active
        self.clearAll = clearAll
    }
}

extension InjectedFaults {
    /// For listings: what is injected, in words.
    package func summary(channels: [ChannelSpec]) -> [String] {
        var out: [String] = []
        if offline { out.append("offline") }
        if answerDelay > 0 { out.append("answers \(Int(answerDelay * 1000)) ms late") }
        if let exceptionReplies { out.append("answers every request with \(exceptionReplies)") }
        out += disturbances.map { "disturbance \($0)" }
        for (index, fault) in self.channels.sorted(by: { $0.key < $1.key }) {
            let name = index < channels.count ? channels[index].name : "#\(index)"
            out.append("\(name): \(fault)")
        }
        return out
    }
}
