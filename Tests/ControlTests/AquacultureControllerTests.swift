import Control
import Devices
import Testing
import Locking

/// Drives an `AquacultureController` with synthetic sonde readings, one sample tick at a time.
struct PondHarness {
    var controller: AquacultureController
    var now = 0.0
    var tickIndex: UInt64 = 0
    /// What the next sample reads, by channel index (DO and % saturation are made from `doMgL` at each sample).
    var readings: [ChannelReading]
    /// The true DO, mg/L; a healthy sensor adds a little noise unless frozen.
    var doMgL = 6.0
    var doFrozen = false
    /// Added to the mg/L output only (a drifting calibration).
    var doOffset = 0.0
    /// Replaces the mg/L reading altogether (a lost sensor).
    var doOverride: ChannelReading?
    var lastOutput: StepOutput<AquaSondeProfile.Commands>?

    init(_ config: AquacultureControlConfig = AquacultureControlConfig()) {
        controller = AquacultureController(config: config)
        // A healthy pond at 28 °C, 5 ppt.
        readings = [6, 0, 28, 7.8, 5, 0.4, 0.02, 60, 0.05, 0.02, 2, 1013, 0].map { ChannelReading.ok(Float($0)) }
    }

    var config: AquacultureControlConfig { controller.config }

    mutating func setDO(_ mgL: Double, noise: Bool = true) {
        doMgL = mgL
        doFrozen = !noise
    }

    /// One sample tick (loop 0) `sampleEvery` after the last. Every channel gets a little noise, as a live sonde's
    /// do, so that only what a test freezes on purpose can look stuck.
    @discardableResult
    mutating func sample(_ input: DeviceInput<AquaSondeProfile.Snapshot>? = nil) -> StepOutput<AquaSondeProfile.Commands> {
        var channels = readings
        let jitter = Double(Int(tickIndex % 3) - 1) * 1e-3
        let measured = doMgL + (doFrozen ? 0 : jitter)
        let saturation = AquaChemistry.oxygenSaturationMgL(tempC: 28, salinityPpt: 5)
        channels[0] = doOverride ?? .ok(Float(measured + doOffset))
        channels[1] = .ok(Float(100 * measured / saturation))
        for i in 2..<channels.count where !channels[i].isFault {
            channels[i] = ChannelReading(raw: channels[i].raw + Float(jitter / 10), quality: channels[i].quality)
        }
        let snapshot = AquaSondeProfile.Snapshot(
            header: DeviceHeader(registers: [0x0B01, 100, 0, 1, 0, 0, UInt16(tickIndex & 0xFFFF)]), channels: channels)
        let output = controller.step(loop: 0, tick: LoopTick(now: now, dt: config.sampleEvery, deadline: now,
                                                             index: tickIndex),
                                     input: input ?? .snapshot(snapshot), host: HostSignals())
        tickIndex += 1
        now += config.sampleEvery
        lastOutput = output
        return output
    }

    var aerators: Bool { lastOutput?.relays.first ?? false }
    var exchange: Bool { lastOutput.map { $0.relays[$0.relays.count - 2] } ?? false }
    var feeder: Bool { lastOutput?.relays.last ?? false }
    func active(_ code: String) -> Bool { controller.alarms.isActive(code) }
}

@Suite struct AquacultureControllerTests {
    @Test func aerationHysteresisWithMinimumRun() {
        var h = PondHarness()
        h.setDO(4.5)
        h.sample()
        #expect(!h.aerators, "4.5 mg/L is inside the band: no reason to start")
        h.setDO(3.9)
        h.sample()
        #expect(h.aerators && h.lastOutput?.relays.count == 4, "two aerators, exchange, feeder; both aerators on")
        #expect(h.lastOutput?.relays[1] == true)
        let started = h.now - h.config.sampleEvery
        // DO recovers at once, but the aerators keep running for their minimum run time.
        h.setDO(6.0)
        while h.now - started < h.config.aeratorMinRun - 1 {
            h.sample()
            #expect(h.aerators, "stopped after \(h.now - started) s, before the 15 min minimum")
        }
        h.sample()
        #expect(!h.aerators, "DO above 5.5 and 15 min run: off")
        // Between the thresholds nothing changes.
        h.setDO(5.0)
        for _ in 0..<10 { h.sample() }
        #expect(!h.aerators)
        #expect(h.controller.results()["aerator_starts"]?.number == 1)
        #expect(h.controller.results()["aerator_shortest_run_min"]?.number.map { $0 >= 15 } == true)
    }

    @Test func criticalLowDOAlarmWithHysteresis() {
        var h = PondHarness()
        h.setDO(2.9)
        h.sample()
        #expect(h.active("do_critical"))
        h.setDO(3.2)
        h.sample()
        #expect(h.active("do_critical"), "clears only 0.5 mg/L above the limit")
        h.setDO(3.6)
        h.sample()
        #expect(!h.active("do_critical"))
    }

    @Test func lostSondeDrivesTheSafeState() {
        var h = PondHarness()
        h.setDO(7)
        h.sample()
        #expect(!h.aerators)
        h.sample(.unavailable(reason: "timeout"))
        #expect(h.active("sonde_lost"))
        #expect(h.lastOutput?.relays == [true, true, false, false], "aerators ON, exchange held (off), feeder OFF")
        #expect(h.controller.results()["safe_state"] == .bool(true))
        h.sample()
        #expect(!h.active("sonde_lost"))
        #expect(h.controller.results()["safe_state"] == .bool(false))
    }

    /// Issue 18 item 11: the nursery tank's heater holds a hysteresis band around its setpoint, never runs longer
    /// than its maximum on-time (then rests, with an alarm), is OFF on a bad temperature sensor and in the safe
    /// state; the grow lamp follows its photoperiod, also in the safe state.
    @Test func nurseryHeaterHoldsItsBandAndTheLampFollowsItsPhotoperiod() {
        var config = AquacultureControlConfig()
        config.heaterSetpointC = 27.5
        config.heaterBandC = 0.3
        config.heaterMaxOn = 1800
        config.heaterRest = 600
        config.photoperiod = .init(7, 19)
        config.startHourOfDay = 6.5
        var h = PondHarness(config)
        #expect(h.controller.relayNames == ["aerator-1", "aerator-2", "exchange", "feeder", "heater", "light"])
        func heater() -> Bool { h.lastOutput?.relays[4] ?? false }
        func lamp() -> Bool { h.lastOutput?.relays[5] ?? false }
        func water(_ c: Double) { h.readings[2] = .ok(Float(c)) }
        water(28)
        h.sample()
        #expect(!heater() && !lamp(), "28 °C is above the band; 06:30 is before the photoperiod")
        for (temperature, on) in [(27.1, true), (27.5, true), (27.9, false), (27.4, false), (27.15, true)] {
            water(temperature)
            h.sample()
            #expect(heater() == on, "at \(temperature) °C")
        }
        // A tank that never warms: the heater stops after 30 min with an alarm, rests 10 min, then tries again.
        let since = h.now - config.sampleEvery
        water(26)
        while heater() { h.sample() }
        let stoppedAfter = h.now - config.sampleEvery - since
        #expect(stoppedAfter >= 1800 && stoppedAfter < 1800 + config.sampleEvery, "stopped after \(stoppedAfter) s")
        #expect(h.active("heater_max_on"))
        let rested = h.now - config.sampleEvery
        while !heater() { h.sample() }
        let rest = h.now - config.sampleEvery - rested
        #expect(rest >= 600 && rest < 600 + config.sampleEvery, "rested \(rest) s")
        #expect(h.lastOutput?.relays[5] == true, "07:10: the lamp is on")
        // A bad temperature sensor, or the safe state, turns the heater off; the lamp keeps its schedule.
        h.readings[2] = .lost
        h.sample()
        #expect(!heater() && lamp())
        water(26)
        h.sample()
        #expect(heater())
        h.sample(.unavailable(reason: "timeout"))
        #expect(!heater() && lamp(), "safe state: heater OFF, lamp on schedule")
        #expect(h.controller.safeRelays[4] == false)
        // At 19:00 the lamp goes off.
        water(28)
        while h.controller.hourOfDay(h.now) < 19 { h.sample() }
        h.sample()
        #expect(!lamp())
        let results = h.controller.results()
        #expect(results["heater_timeouts"] == .number(1))
        #expect(results["heater_cycles"] == .number(4), "\(String(describing: results["heater_cycles"]))")
    }

    @Test func hostEStopDrivesTheSafeState() {
        var h = PondHarness()
        h.setDO(7)
        h.sample()
        _ = h.controller.step(loop: 0, tick: LoopTick(now: h.now, dt: 10, deadline: h.now, index: 99),
                              input: .snapshot(AquaSondeProfile.Snapshot(
                                  header: DeviceHeader(registers: [0x0B01, 100, 0, 1, 0, 0, 0]), channels: h.readings)),
                              host: HostSignals(estopPressed: true))
        #expect(h.active("estop"))
        #expect(h.controller.aeratorsOn && !h.controller.feederOn)
        #expect(h.controller.results()["safe_state"] == .bool(true))
    }

    @Test func lostSondeHoldsARunningExchange() {
        var h = PondHarness()
        h.readings[AquaSondeProfile.Channel.nh3.rawValue] = .ok(0.08)
        h.sample()
        #expect(h.exchange && h.active("nh3_high"))
        h.sample(.unavailable(reason: "timeout"))
        #expect(h.exchange, "exchange is held as it was")
        #expect(!h.feeder)
    }

    @Test func stuckDOSensorIsDetectedAfterItsWindowAndForcesAeration() {
        var config = AquacultureControlConfig()
        config.stuckSamples = 12
        var h = PondHarness(config)
        h.setDO(7, noise: false)
        for i in 1...11 {
            h.sample()
            #expect(!h.active("do_mgl_stuck"), "stuck after only \(i) identical samples")
            #expect(!h.aerators)
        }
        h.sample()
        #expect(h.active("do_mgl_stuck"), "12 identical samples")
        #expect(h.aerators, "a stuck DO sensor is not trusted: aerators on")
        h.setDO(7.2)
        h.sample()
        #expect(!h.active("do_mgl_stuck"), "a changing value clears the stuck verdict")
    }

    @Test func nanOrFailedQualityIsAFault() {
        var h = PondHarness()
        h.setDO(7)
        h.sample()
        h.doOverride = .lost
        h.sample()
        #expect(h.active("do_mgl_fault"))
        #expect(h.aerators)
        #expect(h.controller.results()["bad_channels"] == .array([.string("do_mgl")]))
        h.doOverride = ChannelReading(raw: 7, quality: .notAvailable)
        h.sample()
        #expect(h.active("do_mgl_fault"), "quality ≠ 0 that says not available is a fault too")
    }

    @Test func implausibleReadingsAreBad() {
        var h = PondHarness()
        // 1.5 × saturation at 28 °C, 5 ppt is about 11.5 mg/L.
        h.setDO(12.5)
        h.sample()
        #expect(h.active("do_mgl_implausible"))
        #expect(h.aerators)
        h.setDO(7)
        h.readings[AquaSondeProfile.Channel.pH.rawValue] = .ok(11.5)
        h.sample()
        #expect(!h.active("do_mgl_implausible"))
        #expect(h.active("ph_implausible"))
    }

    @Test func driftingDOIsDetectedAfterItsWindow() {
        var config = AquacultureControlConfig()
        config.driftWindow = 600
        var h = PondHarness(config)
        h.setDO(7)
        h.sample()
        // The mg/L output drifts away from what its % saturation says: 0.12 mg/L per sample up to 1 mg/L (steps that
        // stay clear of the 0.5 mg/L tolerance, so float rounding cannot decide the first sample outside it).
        var firstOutside: Double?
        for i in 1...200 {
            let offset = min(1.0, Double(i) * 0.12)
            h.doOffset = offset
            h.sample()
            if offset > config.driftToleranceMgL, firstOutside == nil { firstOutside = h.now - config.sampleEvery }
            if h.active("do_mgl_drift") { break }
        }
        let raised = h.controller.alarms.history.first { $0.code == "do_mgl_drift" }?.raisedAt
        #expect(raised != nil)
        if let raised, let firstOutside {
            #expect(raised - firstOutside >= config.driftWindow - 1e-9, "raised before the window was over")
            #expect(raised - firstOutside <= config.driftWindow + config.sampleEvery + 1e-9, "raised late")
        }
        #expect(h.aerators)
    }

    @Test func feedingFollowsTheScheduleAndIsInhibitedOnLowDO() {
        var config = AquacultureControlConfig()
        config.feedTimes = [7]
        config.feedDuration = 600
        config.startHourOfDay = 6.9  // six minutes before feeding time
        var h = PondHarness(config)
        h.setDO(6.0)
        h.sample()
        #expect(!h.feeder)
        while h.now < 7 * 60 { h.sample() }
        #expect(h.feeder, "07:00: feeding")
        h.setDO(3.8)
        h.sample()
        #expect(!h.feeder && h.active("feeding_inhibited"))
        while h.now < 6 * 60 + 600 + 60 { h.sample() }
        #expect(!h.feeder && !h.active("feeding_inhibited"), "window over")
        #expect(h.controller.results()["feedings_inhibited"]?.number == 1)
    }

    @Test func exchangeRunsOnAmmoniaOrSalinityWithMinimumRun() {
        var config = AquacultureControlConfig()
        config.salinityPpt = 2...10
        var h = PondHarness(config)
        h.sample()
        #expect(!h.exchange)
        h.readings[AquaSondeProfile.Channel.salinity.rawValue] = .ok(11)
        h.sample()
        #expect(h.exchange, "salinity above its band")
        let started = h.now - config.sampleEvery
        h.readings[AquaSondeProfile.Channel.salinity.rawValue] = .ok(9)
        while h.now - started < config.exchangeMinRun - 1 {
            h.sample()
            #expect(h.exchange)
        }
        h.sample()
        #expect(!h.exchange)
    }

    @Test func nightsAreCountedFromTheEvening() {
        var config = AquacultureControlConfig()
        config.startHourOfDay = 0
        let c = AquacultureController(config: config)
        #expect(c.night(3 * 3600) == -1, "03:00 on day 0 belongs to the night before the run")
        #expect(c.night(12 * 3600) == nil)
        #expect(c.night(20 * 3600) == 0)
        #expect(c.night(29 * 3600) == 0, "05:00 next morning")
        #expect(c.night(31 * 3600) == nil)
    }
}

@Suite struct SensorCheckTests {
    @Test func verdictsInOrderOfPrecedence() {
        var check = SensorCheck(stuckSamples: 3, driftTolerance: 0.5, driftWindow: 100)
        #expect(check.judge(.ok(5), plausible: 0...10, now: 0) == .ok)
        #expect(check.judge(.lost, plausible: 0...10, now: 1) == .fault)
        #expect(check.judge(.ok(11), plausible: 0...10, now: 2) == .implausible)
        #expect(check.judge(.ok(4), now: 3) == .ok)
        #expect(check.judge(.ok(4), now: 4) == .ok)
        #expect(check.judge(.ok(4), now: 5) == .stuck)
        #expect(check.judge(.ok(4.1), residual: 0.6, now: 10) == .ok)
        #expect(check.judge(.ok(4.2), residual: nil, now: 60) == .ok, "no residual: the timer is held")
        #expect(check.judge(.ok(4.3), residual: 0.7, now: 110) == .drift)
        #expect(check.judge(.ok(4.4), residual: 0.1, now: 111) == .ok)
    }

    /// Issue 18 item 12: a pH probe quantised to 0.1 that refreshes its registers once a minute, polled every 10 s,
    /// on water whose pH rises 0.1 every 8 minutes. Its value repeats 48 times in a row between steps: the bare count
    /// of identical samples calls it stuck; the rule that knows its resolution and update period does not, and still
    /// catches the probe when it freezes, after 30 of its updates.
    @Test func aQuantisedSlowlyUpdatingChannelIsNotStuckUntilItStopsUpdating() {
        func reading(at t: Double, frozenAt: Double = .infinity) -> ChannelReading {
            let held = (min(t, frozenAt) / 60).rounded(.down) * 60          // the sonde's last refresh
            let truth = 7.0 + held / 480 * 0.1                               // +0.1 pH per 8 min
            return .ok(Float((truth * 10).rounded(.down) / 10))             // its 0.1 resolution
        }
        var bare = SensorCheck(stuckSamples: 30)
        var aware = SensorCheck(stuckSamples: 30, flatline: .init(resolution: 0.1, updatePeriod: 60))
        var bareStuck = 0
        var awareStuck = 0
        for t in stride(from: 0.0, through: 4 * 3600, by: 10) {
            if bare.judge(reading(at: t), now: t) == .stuck { bareStuck += 1 }
            if aware.judge(reading(at: t), now: t) == .stuck { awareStuck += 1 }
        }
        #expect(bareStuck > 0, "the counting rule was expected to false-alarm here")
        #expect(awareStuck == 0, "a live quantised channel was called stuck \(awareStuck) times")

        // The probe freezes at 5 h: stuck once 30 updates (30 min) and 30 samples of a flat value have passed.
        var frozen = SensorCheck(stuckSamples: 30, flatline: .init(resolution: 0.1, updatePeriod: 60))
        var firstStuck: Double?
        for t in stride(from: 0.0, through: 8 * 3600, by: 10) {
            if frozen.judge(reading(at: t, frozenAt: 5 * 3600), now: t) == .stuck, firstStuck == nil { firstStuck = t }
        }
        let caught = try! #require(firstStuck)
        // 30 min after the value last changed: its last step before the freeze, at most 8 min before it.
        #expect(caught >= 5 * 3600 + 1800 - 480 && caught <= 5 * 3600 + 1800, "stuck at \(caught) s")
    }
}
