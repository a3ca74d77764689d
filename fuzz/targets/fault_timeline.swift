// libFuzzer target: the virtual fault timeline (`FaultTimeline.parse`, `rigd run --virtual --faults FILE`, the
// `[[fault]]` tables HIL scenarios use too), then every entry validated and applied against a simulated device of
// each kind, as the virtual run does. Any bytes must give a timeline or a `ConfigError` naming the file; a timeline
// must be sorted, with plant times the virtual clock can schedule (nanoseconds in an Int64).
import Daemon
import Stations
import SimServe
import DeviceTransports
import Devices
import Foundation
import Sim

let source = "/nonexistent/fuzz/faults.toml"
let devices: [any FaultInjectable] = KindRegistry.builtIn.kinds.map {
    try! KindRegistry.builtIn.simulatedDevice($0.kind, seed: 1) as! any FaultInjectable
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var clear = FaultRequest()
    clear.clearAll = true
    for device in devices { try? clear.apply(to: device) }
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    do {
        let timeline = try FaultTimeline.parse(text, source: source)
        var previous = -Double.infinity
        for entry in timeline.entries {
            fuzzCheck(entry.at.isFinite && entry.at >= 0, "fault at \(entry.at)")
            fuzzCheck(entry.at >= previous, "timeline not sorted")
            previous = entry.at
            // RunCommand.runVirtual schedules each fault at Int64((at * 1e9).rounded()) ns.
            fuzzCheck(entry.at * 1e9 < 9.2e18, "fault at \(entry.at) s cannot be scheduled in Int64 nanoseconds")
            _ = entry.request.description
            for device in devices {
                if (try? entry.request.validate(for: device)) != nil {
                    try? entry.request.apply(to: device)
                }
                _ = device.injected.summary(channels: device.channelSpecs)
                if let simulated = device as? any ModbusDevice {
                    // What the faulted device then reads (a lost or stuck-at-huge channel is a fault, not a number).
                    _ = simulated.handle(.readInputRegisters(address: 0, count: 7), now: 0)
                    _ = simulated.handle(.readInputRegisters(address: 100, count: 4 * device.channelSpecs.count), now: 0)
                }
            }
        }
    } catch {
        fuzzCheck(!error.issues.isEmpty, "a ConfigError without issues")
        for issue in error.issues {
            fuzzCheck(issue.file == source, "an issue that does not name the file: \(issue)")
        }
    }
    return 0
}
