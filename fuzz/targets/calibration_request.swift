// libFuzzer target: probe calibration requests as the API takes them (issue 23 part 2). Each line of the input is a
// step: `start {JSON}`, `point {JSON}`, `finish {JSON}`, `cancel` or `wait`; the JSON is decoded into the API's body
// (`CalibrationStartBody`, `CalibrationPointBody`, `CalibrationFinishBody`) as `APIBodyDecoder` does, and what
// decodes goes to a simulated sonde's station (virtual clock, probe errors on), which validates and applies it at its
// next tick. Nothing may crash; what the station publishes must stay consistent: no more points than asked for, and
// an applied correction is finite with a positive slope.
import Control
import Daemon
import Foundation
import Logging
import Sim
import Stations

let clock = VirtualClock()
let station: any AnyStation = {
    var logger = Logger(label: "fuzz")
    logger.logLevel = .critical
    let config = try! ConfigLoader.parse("""
        [[station]]
        name = "tank"
        kind = "aqua-sonde"
        address = "sim://"
        [station.sim]
        preset = "nursery"
        probe_errors = true
        [station.control]
        sample_every_s = 1
        feed_times = []
        [calibration]
        stable_window_s = 5
        point_timeout_min = 1
        """, source: "fuzz.toml")
    let station = try! Wiring.virtualStations(config, clock: clock, seed: 1, logger: logger)[0]
    var outputs = StationOutputs(epoch: 0)
    outputs.calibration = config.calibration
    station.attach(outputs)
    station.start(now: 0)
    return station
}()
let runner = LoopRunner(clock: clock, loops: station.makeLoops())

func decode<T: Decodable>(_ type: T.Type, _ json: Substring) -> T? {
    guard let data = json.data(using: .utf8), !data.isEmpty,
          (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) != nil else { return nil }
    return try? JSONDecoder().decode(T.self, from: data)
}

func run(_ seconds: Double) { runner.run(until: clock.now() + Int64(seconds * 1e9)) }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    station.mailbox.post(CalibrationRequest.cancel) { _ in }
    run(1)
    for line in text.split(separator: "\n").prefix(32) {
        let word = line.prefix { $0 != " " }
        let json = line.dropFirst(word.count).drop { $0 == " " }
        var request: CalibrationRequest?
        switch word {
        case "start":
            request = decode(CalibrationStartBody.self, json).map {
                .start(channel: $0.channel, method: $0.method, points: $0.points, why: $0.why)
            }
        case "point":
            request = decode(CalibrationPointBody.self, json).map { .point(standard: $0.value, tempC: $0.tempC, lot: $0.lot) }
        case "finish": request = .finish(apply: decode(CalibrationFinishBody.self, json)?.apply ?? true)
        case "cancel": request = .cancel
        case "wait": run(30)
        default: break
        }
        if let request {
            _ = request.description
            station.mailbox.post(request, by: "fuzz") { _ in }
            run(1)
        }
        let calibration = station.status().calibration
        if let session = calibration.session {
            fuzzCheck(session.points.count <= session.pointsWanted,
                      "\(session.points.count) points recorded of \(session.pointsWanted)")
            fuzzCheck(!session.message.isEmpty, "a session without a message")
        }
        for applied in calibration.applied {
            fuzzCheck(applied.slope.isFinite && applied.slope > 0 && applied.offset.isFinite,
                      "an applied correction \(applied.slope) · raw + \(applied.offset)")
        }
    }
    return 0
}
