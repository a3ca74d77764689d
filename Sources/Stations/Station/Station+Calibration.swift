import Control
import Devices
import Foundation
import Sim

/// A calibration in progress on one channel: the points recorded so far and the one settling now.
struct CalibrationRun: Sendable {
    struct Pending: Sendable {
        /// The standard's true value; nil for a DO saturation point, computed when it is recorded.
        var standard: Double?
        var tempC: Double?
        var lot: String?
        var since: Double
        var window: StabilityWindow
        var latest: Double?
        /// Whether a simulated probe has been put in the standard.
        var immersed = false
    }

    let channel: String
    let index: Int
    let unit: String
    let method: CalibrationMethod
    let pointsWanted: Int
    var points: [CalibrationPoint] = []
    /// Station clock.
    let startedAt: Double
    let by: String?
    let why: String?
    var pending: Pending?
    var result: CalibrationRecord?
    /// The last thing that went wrong with a point (it did not settle, the reading failed), for the status.
    var note: String?
}

/// Probe calibration (issue 23 part 2, docs/operations.md "Calibration"). An operator starts a calibration of one
/// channel, puts the probe in each standard in turn and asks for a point; the station watches the raw reading until it
/// is stable (`[calibration] stable_window_s` and the method's band), records its mean, and after the last point fits
/// the correction, checks it against the acceptance limits and applies it on the host: every reading of the channel
/// is corrected from the next tick on, before the controller, the data log and the API see it. Each finished
/// calibration is a record in the data log; an applied one past its due date raises `calibration_due`.
///
/// A simulated station's probe is put in the standard by the simulator (`FaultInjectable.setStandard`): its reading
/// moves there with the probe's time constant, through the probe's seeded errors (`[station.sim] probe_errors`).
extension Station {
    /// The channels that may be calibrated, with the methods that fit each: the device's, less those the sonde derives
    /// from others and the one the stream loop reads from the sample ring (the ring's samples are not corrected).
    /// A mapped device's channels its map does not read are left out: they never read.
    var calibratableChannels: [CalibrationStatus.Channel] {
        let map = (client.base as? MappedClient)?.map
        return Profile.channels.prefix(channelCount).filter { spec in
            Self.isCalibratable(spec) && (map.map { $0.channel(named: spec.name) != nil } ?? true)
        }.map { spec in
            CalibrationStatus.Channel(name: spec.name, unit: spec.unit, methods: Self.methods(for: spec).map(\.rawValue))
        }
    }

    /// Channels a sonde computes from others (they follow their source's correction, `applyCorrections`).
    static var derivedChannels: Set<String> { ["do_sat_pct", "nh3_mgl"] }

    static func isCalibratable(_ spec: ChannelSpec) -> Bool {
        !derivedChannels.contains(spec.name) && Profile.sampleRing?.channel != spec.index
    }

    /// A probe's own method where it has one (its acceptance limits then always apply: a two-point line would pass
    /// a pH electrode past them), else a two-point linear calibration.
    static func methods(for spec: ChannelSpec) -> [CalibrationMethod] {
        if spec.unit == "pH" { return [.ph] }
        if spec.unit == "mg/L", spec.name.hasPrefix("do") { return [.dissolvedOxygen] }
        if spec.name.contains("salinity") || spec.name.contains("conductivity") { return [.conductivity] }
        return [.linear]
    }

    /// Takes a calibration request; throws and changes nothing when it cannot be taken.
    func applyCalibration(_ request: CalibrationRequest, by: String?, now: Double) throws(CommandRejection) {
        switch request {
        case .start(let channel, let method, let points, let why):
            if let run = calibrationRun, run.result == nil {
                throw CommandRejection("a calibration of \(run.channel) is in progress"
                                       + (run.by.map { " (started by \($0))" } ?? "") + ": finish or cancel it first")
            }
            guard let spec = Profile.channels.prefix(channelCount).first(where: { $0.name == channel }),
                  calibratableChannels.contains(where: { $0.name == channel }) else {
                throw CommandRejection("no channel \"\(channel)\" to calibrate (channels: "
                                       + calibratableChannels.map(\.name).joined(separator: ", ") + ")")
            }
            let fitting = Self.methods(for: spec)
            guard fitting.contains(method) else {
                throw CommandRejection("\(channel) cannot be calibrated by \(method.rawValue) (methods for it: "
                                       + fitting.map(\.rawValue).joined(separator: ", ") + ")")
            }
            let wanted = points ?? (method == .ph ? 2 : method.pointRange.lowerBound)
            guard method.pointRange.contains(wanted) else {
                throw CommandRejection("\(method.title) takes \(method.pointRange.lowerBound)…"
                                       + "\(method.pointRange.upperBound) points, got \(wanted)")
            }
            calibrationRun = CalibrationRun(channel: channel, index: spec.index, unit: spec.unit, method: method,
                                            pointsWanted: wanted, startedAt: now, by: by, why: why)
            let reason = why.map { ": \($0)" } ?? ""
            let line = "station \(name): calibration of \(channel) started (\(method.title), \(wanted) point(s))"
                + (by.map { " by \($0)" } ?? "") + reason
            logger.notice("\(line)")
            journal.event("calibration_started", "\(channel) by \(method.rawValue), \(wanted) point(s)\(reason)",
                          actor: by, now: now)
        case .point(let standard, let tempC, let lot):
            guard var run = calibrationRun, run.result == nil else {
                throw CommandRejection("no calibration in progress: start one first")
            }
            guard run.pending == nil else {
                throw CommandRejection("a point is settling already: wait for it, or cancel the calibration")
            }
            guard run.points.count < run.pointsWanted else {
                throw CommandRejection("all \(run.pointsWanted) point(s) are recorded: finish the calibration")
            }
            let spec = Profile.channels[run.index]
            if let standard {
                guard standard.isFinite, spec.range.contains(standard) else {
                    throw CommandRejection("the standard \(RunRecord.format(standard)) \(spec.unit) is outside "
                                           + "\(spec.name)'s range \(RunRecord.format(spec.range.lowerBound))…"
                                           + "\(RunRecord.format(spec.range.upperBound))")
                }
                if run.points.contains(where: { abs($0.standard - standard) < 1e-9 }) {
                    throw CommandRejection("a point at \(RunRecord.format(standard)) is recorded already: use another "
                                           + "standard")
                }
            }
            if run.method == .dissolvedOxygen {
                let zeroFirst = run.pointsWanted == 2 && run.points.isEmpty
                if zeroFirst, standard != 0 {
                    throw CommandRejection("the first of two DO points is the zero: give value 0 (oxygen-free water)")
                }
                if !zeroFirst, let standard, standard == 0 {
                    throw CommandRejection("this DO point is the saturation point: leave the value out (rigd "
                                           + "computes it) or give the saturation in mg/L")
                }
            } else if standard == nil {
                throw CommandRejection("a \(run.method.rawValue) point needs the standard's value")
            }
            if let tempC, !(tempC.isFinite && (-5...60).contains(tempC)) {
                throw CommandRejection("temp_c must be within -5…60 °C, got \(RunRecord.format(tempC))")
            }
            if let lot, lot.isEmpty || lot.count > 60 {
                throw CommandRejection("lot must be 1 to 60 characters")
            }
            let band = calibrationBand(run: run, spec: spec, standard: standard)
            run.pending = CalibrationRun.Pending(
                standard: standard, tempC: tempC, lot: lot, since: now,
                window: StabilityWindow(window: calibrationSettings.stableWindow, band: band))
            run.note = nil
            calibrationRun = run
            let what = standard.map { "\(RunRecord.format($0)) \(spec.unit)" } ?? "100 % air saturation"
            let line = "station \(name): calibration of \(run.channel): point \(run.points.count + 1) of "
                + "\(run.pointsWanted) in \(what), waiting until the reading is stable (±\(RunRecord.format(band)) over "
                + "\(RunRecord.format(calibrationSettings.stableWindow)) s)"
            logger.info("\(line)")
        case .finish(let apply):
            guard var run = calibrationRun, run.result == nil else {
                throw CommandRejection("no calibration in progress: start one first")
            }
            guard run.pending == nil else {
                throw CommandRejection("a point is still settling: wait for it to be recorded")
            }
            guard run.method.pointRange.contains(run.points.count) else {
                throw CommandRejection("\(run.points.count) point(s) recorded; \(run.method.title) needs at least "
                                       + "\(run.method.pointRange.lowerBound)")
            }
            let fit: CalibrationFit
            do {
                fit = try CalibrationFit.fit(run.method, points: run.points, acceptance: calibrationSettings.acceptance)
            } catch {
                throw CommandRejection(error.description)
            }
            let applied = apply && fit.accepted
            // Into the device's own calibration registers where its map names them; a device that cannot take it
            // leaves the calibration open (throws), with nothing applied.
            let device = applied ? try writeCalibrationToDevice(run, fit.correction) : nil
            let at = journal.unix(now)
            let record = CalibrationRecord(
                station: name, channel: run.channel, method: run.method.rawValue, at: at, by: by ?? run.by,
                why: run.why, points: run.points, fit: fit, applied: applied,
                dueAt: applied ? at + calibrationSettings.dueDays * 86_400 : nil, device: device)
            run.result = record
            calibrationRun = run
            if applied { corrections[run.index] = record }
            let verdict = !fit.accepted ? "REJECTED (\(fit.failures.joined(separator: "; ")))"
                : device.map { "accepted and written to the device (\($0.registers))" }
                ?? (applied ? "accepted and applied" : "accepted, not applied")
            logger.notice("station \(name): calibration of \(run.channel) \(verdict): \(record.summary)")
            journal.event("calibration", "\(run.channel) by \(run.method.rawValue): \(verdict); \(record.summary)",
                          actor: by, now: now)
            journal.calibration(record)
            checkCalibrationDue(now: now, force: true)
        case .cancel:
            guard let run = calibrationRun else { throw CommandRejection("no calibration to cancel") }
            takeProbeOutOfStandard(run)
            calibrationRun = nil
            if run.result == nil {
                logger.notice("station \(name): calibration of \(run.channel) cancelled\(by.map { " by \($0)" } ?? "")")
                journal.event("calibration_cancelled", "\(run.channel) after \(run.points.count) point(s)",
                              actor: by, now: now)
            }
        }
        publishCalibration(now: now)
    }

    /// Writes an accepted correction into the device's own calibration registers, when its map names them for the
    /// channel (`[[map.calibration]]`, docs/maps.md "Calibration registers"): the points were read through what the
    /// device held (value = slope × measured + offset), so the new slope and offset are the correction composed with
    /// those. Nil when the map names none, or when the device cannot hold this correction (it keeps only an offset and
    /// the correction changes the slope, or the other way round): then it is applied on the host, and the log says
    /// why. Throws, with nothing applied, when the device does not answer or does not take it.
    private func writeCalibrationToDevice(_ run: CalibrationRun,
                                          _ correction: ChannelCorrection) throws(CommandRejection)
        -> CalibrationRecord.DeviceCalibration? {
        guard let mapped = client.base as? MappedClient, let registers = mapped.map.calibration(of: run.channel) else {
            return nil
        }
        let held: (slope: Double, offset: Double)
        do {
            guard let h = try mapped.deviceCalibration(of: run.channel) else { return nil }
            held = h
        } catch {
            throw CommandRejection("the device's calibration of \(run.channel) (\(registers.description)) could not be "
                                   + "read: \(error); nothing was applied: finish again once the device answers, or "
                                   + "cancel")
        }
        let slope = correction.slope * held.slope
        let offset = correction.slope * held.offset + correction.offset
        var lacks: [String] = []
        if registers.slope == nil, abs(slope - 1) > 1e-9 { lacks.append("slope") }
        if registers.offset == nil, abs(offset) > 1e-9 { lacks.append("offset") }
        if !lacks.isEmpty {
            let line = "station \(name): calibration of \(run.channel) is applied on the host: it changes the "
                + lacks.joined(separator: " and ") + ", which the device does not keep (its map names "
                + registers.description + ")"
            logger.notice("\(line)")
            return nil
        }
        let written: (slope: Double, offset: Double)
        do {
            written = try mapped.writeDeviceCalibration(of: run.channel, slope: slope, offset: offset)
        } catch {
            // Put back what it held, as far as the device takes it: half a calibration is worse than the old one.
            _ = try? mapped.writeDeviceCalibration(of: run.channel, slope: held.slope, offset: held.offset)
            throw CommandRejection("the device did not take the calibration of \(run.channel) "
                                   + "(\(registers.description)): \(error); nothing was applied: finish again once "
                                   + "the device answers, or cancel")
        }
        // What the device holds now, as read back (an integer register rounds what was written).
        return CalibrationRecord.DeviceCalibration(registers: registers.description, slopeBefore: held.slope,
                                                   offsetBefore: held.offset, slope: written.slope,
                                                   offset: written.offset)
    }

    /// The band a point's readings must stay within: the method's, in the channel's unit.
    private func calibrationBand(run: CalibrationRun, spec: ChannelSpec, standard: Double?) -> Double {
        let s = calibrationSettings
        switch run.method {
        case .ph: return s.phBand
        case .dissolvedOxygen: return s.doBandMgL
        case .conductivity: return max(1e-6, abs(standard ?? 0) * s.conductivityBandPct / 100)
        case .linear: return max(1e-6, (spec.range.upperBound - spec.range.lowerBound) * s.linearBandPct / 100)
        }
    }

    /// Per read: the settling point takes the raw reading (on the loop that reads the channel); while a calibration
    /// is open its channel (and what the sonde derives from it) is not available to the rest; then the applied
    /// corrections go over the snapshot.
    func calibrate(_ snapshot: inout Profile.Snapshot, loop: Int, now: Double) {
        if calibrationRun?.pending != nil { settle(snapshot, loop: loop, now: now) }
        if let run = calibrationRun, run.result == nil { takeOutOfService(run.index, &snapshot) }
        if !corrections.isEmpty {
            applyCorrections(&snapshot)
            checkCalibrationDue(now: now, force: false)
        }
    }

    private func settle(_ snapshot: Profile.Snapshot, loop: Int, now: Double) {
        guard var run = calibrationRun, var pending = run.pending, run.index < snapshot.channels.count else { return }
        // Only the loop that reads the channel adds its reading: another loop's snapshot holds the same value again.
        let reads = loopNeeds.firstIndex { $0.channels?.contains(run.index) ?? true } ?? 0
        guard loop == reads else { return }
        if !pending.immersed, let simulated = simulatedProbes {
            // The probe goes in now; this snapshot was read in the water and is not the standard's.
            let standard = pending.standard ?? saturationStandard(snapshot) ?? 0
            simulated.setStandard(standard, channel: run.index)
            pending.immersed = true
            run.pending = pending
            calibrationRun = run
            publishCalibration(now: now)
            return
        }
        let reading = snapshot.channels[run.index]
        if let value = reading.value {
            pending.window.add(value, at: now)
            pending.latest = value
        } else {
            pending.window.reset()
            pending.latest = nil
        }
        if pending.window.isStable, let mean = pending.window.mean {
            let standard = pending.standard ?? saturationStandard(snapshot)
            guard let standard else {
                run.note = "the saturation cannot be computed: water_temp_c does not read"
                run.pending = nil
                calibrationRun = run
                takeProbeOutOfStandard(run)
                publishCalibration(now: now)
                return
            }
            let point = CalibrationPoint(standard: standard, raw: mean, tempC: pending.tempC, lot: pending.lot)
            run.points.append(point)
            run.pending = nil
            calibrationRun = run
            takeProbeOutOfStandard(run)
            let spread = RunRecord.format(((pending.window.spread ?? 0) * 1000).rounded() / 1000)
            let line = "station \(name): calibration of \(run.channel): point \(run.points.count) of "
                + "\(run.pointsWanted) recorded: standard \(Self.format(standard)), reads \(Self.format(mean)) "
                + "(±\(spread) over \(RunRecord.format(calibrationSettings.stableWindow)) s)"
            logger.info("\(line)")
        } else if now - pending.since > calibrationSettings.pointTimeout {
            run.note = "the point at \(pending.standard.map(Self.format) ?? "saturation") did not settle within "
                + "\(RunRecord.format(calibrationSettings.pointTimeout / 60)) min (last spread ±"
                + "\(Self.format(pending.window.spread ?? .nan))): check the probe and ask for the point again"
            logger.warning("station \(name): calibration of \(run.channel): \(run.note!)")
            run.pending = nil
            calibrationRun = run
            takeProbeOutOfStandard(run)
        } else {
            run.pending = pending
            calibrationRun = run
        }
        publishCalibration(now: now)
    }

    /// The DO saturation (mg/L) at the water's temperature and salinity and the air pressure, as read now (corrected):
    /// the standard of a 100 % air-saturation point. nil without a temperature.
    private func saturationStandard(_ snapshot: Profile.Snapshot) -> Double? {
        func value(_ channel: String) -> Double? {
            guard let i = Profile.channels.firstIndex(where: { $0.name == channel }), i < snapshot.channels.count,
                  let raw = snapshot.channels[i].value else { return nil }
            return hostCorrection(i)?.apply(raw) ?? raw
        }
        guard let temp = value("water_temp_c") else { return nil }
        let salinity = value("salinity_ppt") ?? 0
        let pressure = value("pressure_hpa") ?? 1013.25
        return AquaChemistry.oxygenSaturationMgL(tempC: temp, salinityPpt: salinity) * pressure / 1013.25
    }

    /// The simulated device's probes, when the station runs on the simulator.
    private var simulatedProbes: (any FaultInjectable)? {
        (simulation?.instrument as (any FaultInjectable)?) ?? (simulation?.device as? any FaultInjectable)
    }

    private func takeProbeOutOfStandard(_ run: CalibrationRun) {
        simulatedProbes?.setStandard(nil, channel: run.index)
    }

    /// A channel under calibration is in a standard, not in the water: the controller, the data log and the API get
    /// it as not available (quality 0x01), so that control applies its safe rule for it (a pond's aerators run while
    /// its DO probe is out) instead of acting on a buffer's reading, and no buffer reading is logged as the water's.
    /// The calibration's status shows the raw reading.
    private func takeOutOfService(_ index: Int, _ snapshot: inout Profile.Snapshot) {
        let derived = ["do_mgl": ["do_sat_pct"], "ph": ["nh3_mgl"]][Profile.channels[index].name] ?? []
        for i in [index] + derived.compactMap({ name in channelIndex(name, in: snapshot) }) where i < snapshot.channels.count {
            snapshot.channels[i] = .notAvailable
        }
    }

    /// corrected = slope · raw + offset on every calibrated channel; what a sonde derives from a corrected channel
    /// (% saturation from DO, un-ionised ammonia from pH) is derived again from the corrected value.
    /// A calibration the device took (`CalibrationRecord.device`) is the device's to apply: its readings arrive
    /// corrected.
    func applyCorrections(_ snapshot: inout Profile.Snapshot) {
        for index in corrections.keys where index < snapshot.channels.count {
            let reading = snapshot.channels[index]
            guard let raw = reading.value, let correction = hostCorrection(index) else { continue }
            let corrected = correction.apply(raw)
            snapshot.channels[index] = ChannelReading(raw: Float(corrected), quality: reading.quality)
            switch Profile.channels[index].name {
            case "do_mgl":
                if raw > 0, let sat = channelIndex("do_sat_pct", in: snapshot), let value = snapshot.channels[sat].value {
                    snapshot.channels[sat] = ChannelReading(raw: Float(value * corrected / raw),
                                                            quality: snapshot.channels[sat].quality)
                }
            case "ph":
                if let nh3 = channelIndex("nh3_mgl", in: snapshot), let tan = channelIndex("tan_mgl", in: snapshot),
                   let temp = channelIndex("water_temp_c", in: snapshot), let tanValue = snapshot.channels[tan].value,
                   let tempValue = snapshot.channels[temp].value, snapshot.channels[nh3].value != nil {
                    let fraction = AquaChemistry.unionisedAmmoniaFraction(pH: corrected, tempC: tempValue)
                    snapshot.channels[nh3] = ChannelReading(raw: Float(tanValue * fraction),
                                                            quality: snapshot.channels[nh3].quality)
                }
            default: break
            }
        }
    }

    /// The correction the host applies to channel `index`: none when uncalibrated or when the device holds it.
    private func hostCorrection(_ index: Int) -> ChannelCorrection? {
        guard let record = corrections[index], record.device == nil else { return nil }
        return record.correction
    }

    private func channelIndex(_ name: String, in snapshot: Profile.Snapshot) -> Int? {
        Profile.channels.firstIndex { $0.name == name }.flatMap { $0 < snapshot.channels.count ? $0 : nil }
    }

    /// Raises `calibration_due` (a warning) while an applied calibration is past its due date; looked at once a
    /// minute.
    func checkCalibrationDue(now: Double, force: Bool) {
        guard force || now - calibrationDueCheckedAt >= 60 else { return }
        calibrationDueCheckedAt = now
        let unixNow = journal.unix(now)
        let overdue = corrections.values.filter { ($0.dueAt ?? .infinity) < unixNow }.map(\.channel).sorted()
        let wasActive = controller.alarms.isActive("calibration_due")
        controller.alarms.set("calibration_due", !overdue.isEmpty, .warning,
                              "calibration due: " + overdue.joined(separator: ", "), now: now)
        if wasActive != !overdue.isEmpty { publishCalibration(now: now) }
    }

    /// Takes the applied calibrations the data log kept (at start), the latest per channel.
    func restoreCalibrations(_ records: [CalibrationRecord], now: Double) {
        for record in records.sorted(by: { $0.at < $1.at }) where record.station == name && record.applied {
            guard let spec = Profile.channels.first(where: { $0.name == record.channel }) else { continue }
            corrections[spec.index] = record
        }
        if !corrections.isEmpty {
            let list = corrections.values.sorted { $0.channel < $1.channel }
                .map { "\($0.channel) (\($0.summary))" }.joined(separator: "; ")
            logger.info("station \(name): calibrations applied from the data log: \(list)")
        }
        publishCalibration(now: now)
    }

    /// Publishes the calibration status (the session, the applied corrections, the channels).
    func publishCalibration(now: Double) {
        let unixNow = journal.unix(now)
        let applied = corrections.values.sorted { $0.channel < $1.channel }.map { r in
            CalibrationStatus.Applied(channel: r.channel, method: r.method, slope: r.correctionSlope,
                                      offset: r.correctionOffset, at: r.at, by: r.by, dueAt: r.dueAt,
                                      overdue: (r.dueAt ?? .infinity) < unixNow, summary: r.summary,
                                      device: r.device)
        }
        var status = CalibrationStatus(session: nil, applied: applied, channels: calibratableChannels)
        if let run = calibrationRun {
            var current: CalibrationStatus.Current?
            if let p = run.pending {
                current = CalibrationStatus.Current(
                    standard: p.standard, tempC: p.tempC, lot: p.lot, reading: p.latest, spread: p.window.spread,
                    coveredS: p.window.covered, windowS: p.window.window, band: p.window.band,
                    stable: p.window.isStable, elapsedS: now - p.since, timeoutS: calibrationSettings.pointTimeout)
            }
            let state = run.result != nil ? "finished" : run.pending != nil ? "settling"
                : run.points.count >= run.pointsWanted ? "ready" : "waiting"
            status.session = CalibrationStatus.Session(
                channel: run.channel, unit: run.unit, method: run.method.rawValue, pointsWanted: run.pointsWanted,
                points: run.points, startedAt: journal.unix(run.startedAt), by: run.by, why: run.why, state: state,
                current: current, result: run.result, message: Self.message(run, state: state))
        }
        publisher.setCalibration(status)
    }

    private static func message(_ run: CalibrationRun, state: String) -> String {
        let next = run.points.count + 1
        switch state {
        case "finished":
            guard let r = run.result else { return "" }
            return !r.accepted ? "Rejected: " + r.failures.joined(separator: "; ") + ". Nothing was applied."
                : r.device != nil ? "Accepted and written to the device's calibration registers: \(r.summary)."
                : r.applied ? "Accepted and applied: \(r.summary)." : "Accepted, not applied: \(r.summary)."
        case "settling":
            return "Point \(next) of \(run.pointsWanted): waiting until the reading is stable."
        case "ready":
            return "All \(run.pointsWanted) point(s) recorded: finish to compute the calibration."
        default:
            let what: String
            switch run.method {
            case .ph: what = "the next pH buffer and record a point with its value at its temperature"
            case .dissolvedOxygen:
                what = run.pointsWanted == 2 && run.points.isEmpty
                    ? "oxygen-free water (zero) and record a point with value 0"
                    : "100 % air-saturated water and record a point (rigd computes the saturation)"
            case .conductivity: what = "the conductivity/salinity standard and record a point with its value"
            case .linear: what = "the next standard and record a point with its value"
            }
            return (run.note.map { $0 + ". " } ?? "") + "Point \(next) of \(run.pointsWanted): put the probe in \(what)."
        }
    }

    static func format(_ value: Double) -> String { RunRecord.format((value * 1000).rounded() / 1000) }
}
