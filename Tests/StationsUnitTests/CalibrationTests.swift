import Control
import Devices
import Foundation
import Logging
import RigdTestKit
@testable import Sim
import Stations
import Testing

/// Probe calibration on a station (issue 23 part 2, `Station+Calibration.swift`), on the virtual clock: a simulated
/// sonde whose probes read with seeded slope and offset errors is calibrated through the station's requests, and its
/// readings afterwards match the water's true values; records, rejections, the due alarm and a restart's restore.
@Suite struct CalibrationTests {
    struct Rig {
        let station: any AnyStation
        let firmware: SimulatedDevice<AquaSondeFirmware>
        let journal: CapturingJournal
        let clock: VirtualClock
        let runner: LoopRunner

        var errors: AquaSondeFirmware.ProbeErrors { firmware.withModel { $0.probeErrors! } }
        var calibration: CalibrationStatus { station.status().calibration }

        func value(_ channel: String) -> Double? {
            station.status().channels.first { $0.name == channel }?.value
        }

        /// Runs `seconds` of plant time.
        func run(_ seconds: Double) { runner.run(until: clock.now() + Int64(seconds * 1e9)) }

        /// Posts a request and runs the next tick (10 s of plant time at most).
        @discardableResult
        func post(_ request: CalibrationRequest) -> String? {
            let replies = ReplyLog()
            station.mailbox.post(request, by: "ops") { replies.add($0) }
            run(10)
            if case .failure(let rejection)? = replies.all.last { return rejection.reason }
            return replies.all.isEmpty ? "no reply" : nil
        }

        /// Asks for a point and runs until it is recorded (or `limit` seconds pass); returns the recorded point.
        func point(_ standard: Double?, tempC: Double? = nil, limit: Double = 900) throws -> CalibrationPoint? {
            let before = calibration.session?.points.count ?? 0
            if let reason = post(.point(standard: standard, tempC: tempC, lot: "L-42")) {
                Issue.record("point \(String(describing: standard)): \(reason)")
                return nil
            }
            var waited = 0.0
            while calibration.session?.state == "settling", waited < limit {
                run(10)
                waited += 10
            }
            let points = try #require(calibration.session?.points)
            return points.count > before ? points.last : nil
        }

        /// The mean of the station's reading minus the water's true value over `minutes` of 1-minute samples.
        func meanError(_ channel: String, minutes: Int, truth: (AquaSondeFirmware) -> Double) -> Double {
            var sum = 0.0
            for _ in 0..<minutes {
                run(60)
                sum += (value(channel) ?? .nan) - firmware.withModel(truth)
            }
            return sum / Double(minutes)
        }
    }

    /// `map`: the path of a map file the station talks to its simulated sonde through.
    static func rig(calibration: String = "", records: [CalibrationRecord] = [], epoch: Double = 0,
                    map: String? = nil) throws -> Rig {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let config = try ConfigLoader.parse("""
            [[station]]
            name = "tank"
            kind = "aqua-sonde"
            address = "sim://"
            \(map.map { "map = \"\($0)\"" } ?? "")
            [station.sim]
            preset = "nursery"
            seed = 7
            probe_errors = true
            [station.control]
            feed_times = []
            [calibration]
            \(calibration)
            """, source: "test.toml")
        let clock = VirtualClock()
        let station = try Wiring.virtualStations(config, clock: clock, seed: 1, logger: logger)[0]
        let firmware = try #require(station.simulation?.device as? SimulatedDevice<AquaSondeFirmware>)
        let journal = CapturingJournal()
        var outputs = StationOutputs(recorder: journal, epoch: epoch, recordInterval: 60)
        outputs.calibration = config.calibration
        outputs.calibrations = records
        station.attach(outputs)
        station.start(now: 0)
        return Rig(station: station, firmware: firmware, journal: journal, clock: clock,
                   runner: LoopRunner(clock: clock, loops: station.makeLoops()))
    }

    @Test func aTwoBufferPHCalibrationCorrectsTheProbesErrors() throws {
        let rig = try Self.rig()
        rig.run(600)
        let errors = rig.errors
        let before = rig.meanError("ph", minutes: 10) { $0.plant.pH }
        // The probe's error at the water's pH: what calibrating must take away (seeded: at least 0.05 pH).
        #expect(abs(before) > 0.04, "the uncalibrated probe reads \(before) pH off: nothing to correct")

        #expect(rig.post(.start(channel: "ph", method: .ph, points: 2, why: "monthly")) == nil)
        // The probe is out of the water: pH, and the NH₃ the sonde derives from it, are not available to the
        // controller, the log and the API (the controller applies its safe rule), the rest is.
        #expect(rig.value("ph") == nil && rig.value("nh3_mgl") == nil && rig.value("do_mgl") != nil)
        let quality = rig.station.status().channels.first { $0.name == "ph" }?.quality
        #expect(quality == ChannelQuality.notAvailable.rawValue)
        let seven = try #require(try rig.point(7.00, tempC: 25))
        let four = try #require(try rig.point(4.01, tempC: 25))
        // What the probe read in each buffer, once stable, is the buffer through its errors.
        #expect(abs(seven.raw - errors.pH(7.00)) < 0.02, "\(seven.raw) against \(errors.pH(7.00))")
        #expect(abs(four.raw - errors.pH(4.01)) < 0.02, "\(four.raw) against \(errors.pH(4.01))")
        #expect(seven.lot == "L-42" && seven.tempC == 25)
        #expect(rig.calibration.session?.state == "ready")
        #expect(rig.post(.finish(apply: true)) == nil)

        let result = try #require(rig.calibration.session?.result)
        #expect(result.accepted && result.applied, "\(result.failures)")
        #expect(abs((result.slopePct ?? 0) - 100 * errors.phSlope) < 1, "slope \(String(describing: result.slopePct)) % against \(100 * errors.phSlope) %")
        #expect(result.by == "ops" && result.why == "monthly")
        #expect(rig.calibration.applied.map(\.channel) == ["ph"])
        rig.run(20)
        #expect(rig.value("ph") != nil && rig.value("nh3_mgl") != nil)
        // The water reads true now, within the probe's noise.
        let after = rig.meanError("ph", minutes: 10) { $0.plant.pH }
        #expect(abs(after) < 0.02, "after calibration the probe reads \(after) pH off (before: \(before))")
        // The record went to the data log's journal, and the events with who did it.
        let recorded = rig.journal.records.withLock { $0 }.compactMap { r -> CalibrationRecord? in
            if case .calibration(let c) = r { c } else { nil }
        }
        #expect(recorded.count == 1 && recorded.first?.points.count == 2 && recorded.first?.applied == true)
        let events = rig.journal.records.withLock { $0 }.compactMap { r -> (String, String?)? in
            if case .event(_, _, let kind, _, let actor) = r { (kind, actor) } else { nil }
        }
        #expect(events.contains { $0 == ("calibration_started", "ops") } && events.contains { $0 == ("calibration", "ops") })
    }

    /// A DO calibration at 100 % air saturation: rigd computes the standard from the temperature, salinity and
    /// pressure it reads; afterwards DO, and the % saturation the sonde derives from it, read true.
    @Test func aDOSaturationPointCorrectsTheGainAndTheSaturationFollows() throws {
        let rig = try Self.rig()
        rig.run(600)
        let before = rig.meanError("do_mgl", minutes: 5) { $0.plant.doMgL }
        #expect(rig.post(.start(channel: "do_mgl", method: .dissolvedOxygen, points: nil, why: nil)) == nil)
        let point = try #require(try rig.point(nil))
        // The standard is the saturation where the probe hangs, as the station's own readings give it.
        let saturation = rig.firmware.withModel { $0.plant.localSaturationMgL }
        #expect(abs(point.standard - saturation) < 0.15, "standard \(point.standard) against \(saturation) mg/L")
        #expect(rig.post(.finish(apply: true)) == nil)
        #expect(rig.calibration.session?.result?.applied == true)
        let after = rig.meanError("do_mgl", minutes: 5) { $0.plant.doMgL }
        #expect(abs(after) < abs(before) / 3, "DO error \(before) mg/L before, \(after) after")
        let satError = rig.meanError("do_sat_pct", minutes: 5) { $0.plant.doSatPct }
        #expect(abs(satError) < 3, "% saturation reads \(satError) % off after the DO calibration")
    }

    /// Acceptance decides: an electrode whose slope is below the configured minimum is rejected and nothing changes.
    @Test func aRejectedCalibrationIsRecordedButNotApplied() throws {
        let rig = try Self.rig(calibration: "ph_slope_min_pct = 99.5")
        rig.run(300)
        #expect(rig.post(.start(channel: "ph", method: .ph, points: 2, why: nil)) == nil)
        _ = try #require(try rig.point(7.00))
        _ = try #require(try rig.point(10.01))
        #expect(rig.post(.finish(apply: true)) == nil)
        let result = try #require(rig.calibration.session?.result)
        #expect(!result.accepted && !result.applied)
        #expect(result.failures.first?.contains("of Nernstian is outside 99.5…105 %") == true, "\(result.failures)")
        #expect(rig.calibration.applied.isEmpty)
        #expect(rig.calibration.session?.message.hasPrefix("Rejected") == true)
        // A rejected calibration is a record too.
        let kept = rig.journal.records.withLock { $0 }.contains { if case .calibration(let c) = $0 { !c.accepted } else { false } }
        #expect(kept)
    }

    @Test func badRequestsAreRefusedWithTheirReason() throws {
        let rig = try Self.rig()
        rig.run(60)
        let refused: [(CalibrationRequest, String)] = [
            (.point(standard: 7, tempC: nil, lot: nil), "no calibration in progress"),
            (.finish(apply: true), "no calibration in progress"),
            (.cancel, "no calibration to cancel"),
            (.start(channel: "orp_mv", method: .linear, points: nil, why: nil), "no channel \"orp_mv\" to calibrate"),
            (.start(channel: "do_sat_pct", method: .linear, points: nil, why: nil), "no channel \"do_sat_pct\""),
            (.start(channel: "do_mgl", method: .ph, points: nil, why: nil), "cannot be calibrated by ph (methods for it: do)"),
            (.start(channel: "ph", method: .linear, points: nil, why: nil), "cannot be calibrated by linear (methods for it: ph)"),
            (.start(channel: "ph", method: .ph, points: 4, why: nil), "takes 1…3 points, got 4"),
        ]
        for (request, expected) in refused {
            let reason = rig.post(request)
            #expect(reason?.contains(expected) == true, "\(request): \(reason ?? "accepted")")
        }
        #expect(rig.post(.start(channel: "do_mgl", method: .dissolvedOxygen, points: 2, why: nil)) == nil)
        let inSession: [(CalibrationRequest, String)] = [
            (.start(channel: "ph", method: .ph, points: nil, why: nil), "a calibration of do_mgl is in progress (started by ops)"),
            (.point(standard: nil, tempC: nil, lot: nil), "the first of two DO points is the zero"),
            (.point(standard: 0, tempC: 80, lot: nil), "temp_c must be within -5…60 °C"),
            (.point(standard: 8, tempC: nil, lot: nil), "the first of two DO points is the zero"),
            (.point(standard: 30, tempC: nil, lot: nil), "the standard 30 mg/L is outside do_mgl's range 0…25"),
            (.point(standard: 0, tempC: nil, lot: String(repeating: "x", count: 61)), "lot must be 1 to 60 characters"),
            (.finish(apply: true), "needs at least 1"),
        ]
        for (request, expected) in inSession {
            let reason = rig.post(request)
            #expect(reason?.contains(expected) == true, "\(request): \(reason ?? "accepted")")
        }
        #expect(rig.post(.point(standard: 0, tempC: nil, lot: nil)) == nil)
        #expect(rig.post(.point(standard: 0, tempC: nil, lot: nil))?.contains("a point is settling already") == true)
        #expect(rig.post(.cancel) == nil)
        #expect(rig.calibration.session == nil)
        // Cancelled: the probe is back in the water (the simulator's standard is gone), and nothing was recorded.
        #expect(!rig.journal.records.withLock { $0 }.contains { if case .calibration = $0 { true } else { false } })
        rig.run(60)
        let water = rig.firmware.withModel { $0.plant.doMgL * $0.probeErrors!.doGain }
        #expect(abs((rig.value("do_mgl") ?? .nan) - water) < 0.3)
    }

    /// An applied calibration past its due date raises `calibration_due`; one restored from the data log at start
    /// is applied from the first reading.
    @Test func aRestoredCalibrationAppliesAndFallsDue() throws {
        let rig = try Self.rig(calibration: "due_days = 1")
        rig.run(300)
        #expect(rig.post(.start(channel: "salinity_ppt", method: .conductivity, points: nil, why: nil)) == nil)
        let point = try #require(try rig.point(35))
        #expect(abs(point.raw - 35 * rig.errors.salinityGain) < 0.2)
        #expect(rig.post(.finish(apply: true)) == nil)
        let record = try #require(rig.calibration.session?.result)
        #expect(record.dueAt == record.at + 86_400)
        #expect(!rig.station.status().alarms.contains { $0.code == "calibration_due" })
        // Due a day after it was made; looked at once a minute.
        rig.run(86_400 - 120)
        #expect(!rig.station.status().alarms.contains { $0.code == "calibration_due" })
        rig.run(240)
        let due = rig.station.status().alarms.first { $0.code == "calibration_due" }
        #expect(due?.severity == "warning" && due?.message.contains("salinity_ppt") == true, "\(String(describing: due))")
        #expect(rig.calibration.applied.first?.overdue == true)

        // A restart: the same water, the record from the data log. Already due: the alarm comes with the first reading.
        let restarted = try Self.rig(records: [record], epoch: record.at + 86_400 + 3600)
        restarted.run(15)
        #expect(restarted.station.status().alarms.contains { $0.code == "calibration_due" })
        #expect(restarted.calibration.applied.first?.overdue == true)
        restarted.run(105)
        #expect(restarted.calibration.applied.map(\.channel) == ["salinity_ppt"])
        let error = restarted.meanError("salinity_ppt", minutes: 3) { $0.plant.salinityPpt }
        #expect(abs(error) < 0.15, "restored calibration: salinity reads \(error) ppt off")
    }

    // MARK: Calibration registers in the device (docs/maps.md, "Calibration registers")

    static var exampleSonde: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("examples/maps/sonde-cdab.toml").path
    }

    /// The slope and offset the simulated sonde holds in its calibration registers for `channel`, read over Modbus as
    /// any client would (holding `register`, float32 CDAB, FC 03).
    static func held(_ rig: Rig, at register: Int, count: Int) throws -> [Double] {
        let instrument = try #require(rig.station.simulation?.instrument)
        let answer = instrument.handle(.readHoldingRegisters(address: register, count: 2 * count),
                                       now: Double(rig.clock.now()) / 1e9)
        guard case .registers(let words)? = answer else {
            Issue.record("holding \(register): \(String(describing: answer))")
            return []
        }
        return (0..<count).map { Double(RegisterCodec.float32(words, at: 2 * $0, order: .cdab)) }
    }

    /// A sonde whose map names its own pH calibration registers (the example sonde): the calibration goes into them,
    /// composed with what they held, and is read back; the host applies nothing, the sonde's readings come true from
    /// the device. A second calibration starts from what the first wrote and corrects (almost) nothing more.
    @Test func aPHCalibrationIsWrittenIntoTheSondesOwnRegisters() throws {
        let rig = try Self.rig(map: Self.exampleSonde)
        rig.run(600)
        let before = rig.meanError("ph", minutes: 10) { $0.plant.pH }
        #expect(abs(before) > 0.04, "the uncalibrated probe reads \(before) pH off: nothing to correct")
        #expect(try Self.held(rig, at: 400, count: 2) == [1, 0])

        #expect(rig.post(.start(channel: "ph", method: .ph, points: 2, why: "monthly")) == nil)
        _ = try #require(try rig.point(7.00, tempC: 25))
        _ = try #require(try rig.point(4.01, tempC: 25))
        #expect(rig.post(.finish(apply: true)) == nil)
        let first = try #require(rig.calibration.session?.result)
        let device = try #require(first.device, "the calibration was not written to the device")
        #expect(first.accepted && first.applied)
        #expect(device.registers == "holding 400 (slope, float32), holding 402 (offset, float32)")
        #expect(device.slopeBefore == 1 && device.offsetBefore == 0)
        #expect(abs(device.slope - first.correctionSlope) < 1e-6 && abs(device.offset - first.correctionOffset) < 1e-5)
        // The sonde holds it (to float32's precision), and says so in the status and the session's message.
        let held = try Self.held(rig, at: 400, count: 2)
        #expect(held.count == 2 && abs(held[0] - device.slope) < 1e-6 && abs(held[1] - device.offset) < 1e-5, "\(held)")
        #expect(rig.calibration.applied.first?.device == device)
        #expect(rig.calibration.session?.message.hasPrefix("Accepted and written to the device") == true)

        rig.run(20)
        // True within the probe's noise and the register's 0.01 pH: were the host to correct again, it would be off by
        // about the error it had before.
        let after = rig.meanError("ph", minutes: 10) { $0.plant.pH }
        #expect(abs(after) < 0.02, "after calibration the sonde reads \(after) pH off (before: \(before))")

        // Again: the points are read through the sonde's calibration, so the fit is close to no change, and what is
        // written is composed with what the sonde held.
        #expect(rig.post(.start(channel: "ph", method: .ph, points: 2, why: nil)) == nil)
        _ = try #require(try rig.point(7.00, tempC: 25))
        _ = try #require(try rig.point(10.01, tempC: 25))
        #expect(rig.post(.finish(apply: true)) == nil)
        let second = try #require(rig.calibration.session?.result?.device)
        #expect(abs(second.slopeBefore - held[0]) < 1e-12 && abs(second.offsetBefore - held[1]) < 1e-12)
        #expect(abs(second.slope - device.slope) < 0.01 * abs(device.slope), "\(second) after \(device)")
        rig.run(20)
        let again = rig.meanError("ph", minutes: 10) { $0.plant.pH }
        #expect(abs(again) < 0.02, "after the second calibration the sonde reads \(again) pH off")

        // A restart takes the record from the data log as the device's: shown applied, in the device, and never
        // applied again on the host. (The simulated sonde is a new one, holding 1 and 0: it reads with its errors.)
        let record = try #require(rig.calibration.session?.result)
        let restarted = try Self.rig(records: [record], epoch: record.at + 60, map: Self.exampleSonde)
        restarted.run(600)
        #expect(restarted.calibration.applied.first?.device == record.device)
        let fresh = restarted.meanError("ph", minutes: 10) { $0.plant.pH }
        #expect(abs(fresh - before) < 0.02, "a fresh sonde read \(before) pH off, the restarted one \(fresh)")
    }

    /// The example sonde keeps a DO gain but no DO offset: a one-point (saturation) calibration goes into its gain; a
    /// calibration with a zero point changes the offset, which it cannot hold, so that one is applied on the host.
    @Test func aCorrectionTheSondeCannotHoldIsAppliedOnTheHost() throws {
        let rig = try Self.rig(map: Self.exampleSonde)
        rig.run(600)
        // The channels the sonde's map does not read (current, wave, weather) are not offered: they never read.
        let channels = rig.calibration.channels.map(\.name)
        #expect(channels.contains("ph") && channels.contains("do_mgl") && !channels.contains("wave_m"), "\(channels)")
        #expect(rig.post(.start(channel: "wave_m", method: .linear, points: nil, why: nil))?
            .contains("no channel \"wave_m\" to calibrate") == true)
        #expect(rig.post(.start(channel: "do_mgl", method: .dissolvedOxygen, points: nil, why: nil)) == nil)
        _ = try #require(try rig.point(nil))
        #expect(rig.post(.finish(apply: true)) == nil)
        let gain = try #require(rig.calibration.session?.result?.device)
        #expect(gain.registers == "holding 404 (slope, float32)" && gain.offset == 0)
        #expect(abs((try Self.held(rig, at: 404, count: 1).first ?? 0) - gain.slope) < 1e-6)
        let afterGain = rig.meanError("do_mgl", minutes: 5) { $0.plant.doMgL }
        #expect(abs(afterGain) < 0.15, "DO reads \(afterGain) mg/L off after its gain went into the sonde")

        #expect(rig.post(.start(channel: "do_mgl", method: .dissolvedOxygen, points: 2, why: nil)) == nil)
        _ = try #require(try rig.point(0))
        _ = try #require(try rig.point(nil))
        #expect(rig.post(.finish(apply: true)) == nil)
        let result = try #require(rig.calibration.session?.result)
        #expect(result.applied && result.device == nil, "\(result)")
        // The sonde's gain stays what the first calibration wrote; the host corrects on top of it.
        #expect(abs((try Self.held(rig, at: 404, count: 1).first ?? 0) - gain.slope) < 1e-6)
        #expect(rig.calibration.applied.first?.device == nil)
        let afterHost = rig.meanError("do_mgl", minutes: 5) { $0.plant.doMgL }
        #expect(abs(afterHost) < 0.15, "DO reads \(afterHost) mg/L off after the host's correction")
    }

    /// A sonde that does not answer when the calibration is to be written: the finish is refused with the reason,
    /// nothing is applied or recorded, and the calibration stays open; once the sonde answers again, it goes in.
    @Test func aSondeThatDoesNotAnswerLeavesTheCalibrationOpen() throws {
        let rig = try Self.rig(map: Self.exampleSonde)
        rig.run(600)
        #expect(rig.post(.start(channel: "ph", method: .ph, points: 2, why: nil)) == nil)
        _ = try #require(try rig.point(7.00, tempC: 25))
        _ = try #require(try rig.point(4.01, tempC: 25))
        let instrument = try #require(rig.station.simulation?.instrument)
        instrument.setOffline(true)
        let reason = try #require(rig.post(.finish(apply: true)), "\(String(describing: rig.calibration.session?.result))")
        #expect(reason.contains("the device's calibration of ph (holding 400 (slope, float32), holding 402 (offset, "
                                + "float32)) could not be read") && reason.contains("nothing was applied"), "\(reason)")
        #expect(rig.calibration.session?.state == "ready" && rig.calibration.applied.isEmpty)
        #expect(!rig.journal.records.withLock { $0 }.contains { if case .calibration = $0 { true } else { false } })
        instrument.setOffline(false)
        rig.run(60)
        #expect(rig.post(.finish(apply: true)) == nil)
        #expect(rig.calibration.session?.result?.device != nil)
        #expect(try Self.held(rig, at: 400, count: 1).first != 1)
    }
}
