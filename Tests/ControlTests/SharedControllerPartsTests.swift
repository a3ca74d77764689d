import Devices
import Testing
@testable import Control

// The parts every controller shares (issue 17): the device prologue, setting lookup, run bookkeeping and the
// table-driven control keys. Each kind's own tests cover how it uses them; these pin the shared behaviour once.

private func heatRigSnapshot(estopOK: Bool = true, status: StatusBits = []) -> HeatRigProfile.Snapshot {
    HeatRigProfile.Snapshot(
        header: DeviceHeader(deviceType: 0x0C02, profileVersion: 100, serialNumber: 1, status: status, heartbeat: 0),
        channels: [.ok(40), .ok(30), .ok(25), .ok(22), .ok(0), .ok(0)],
        heaterPercent: 0, fanPercent: 0, heaterEnabled: false, fanEnabled: false, estopOK: estopOK,
        thermostatTripped: false)
}

@Suite struct DeviceChecksTests {
    let checks = DeviceChecks(noun: "rig")

    @Test func aSilentDeviceRaisesTheLossAlarmAndGivesNoSnapshot() {
        var alarms = AlarmBook()
        let input: DeviceInput<HeatRigProfile.Snapshot> = .unavailable(reason: "timeout")
        #expect(alarms.checkDevice(input, host: HostSignals(), checks, now: 1) == nil)
        #expect(alarms.active.map(\.message) == ["rig not answering: timeout"])
        _ = alarms.checkDevice(.snapshot(heatRigSnapshot()), host: HostSignals(), checks, now: 2,
                               deviceEstopOK: { $0.estopOK })
        #expect(alarms.active.isEmpty)
    }

    @Test func theDevicesOwnEstopIsNamedBeforeTheHostLine() {
        var alarms = AlarmBook()
        let both = alarms.checkDevice(.snapshot(heatRigSnapshot(estopOK: false)), host: HostSignals(estopPressed: true),
                                      checks, now: 0, deviceEstopOK: { $0.estopOK })
        #expect(both?.facts.estop == true && both?.facts.deviceEstop == true)
        #expect(alarms.active.map(\.message) == ["E-stop pressed on the rig"])
        var hostOnly = AlarmBook()
        _ = hostOnly.checkDevice(.snapshot(heatRigSnapshot()), host: HostSignals(estopPressed: true), checks, now: 0,
                                 deviceEstopOK: { $0.estopOK })
        #expect(hostOnly.active.map(\.message) == ["host E-stop line asserted"])
    }

    @Test func aTrippedWatchdogIsResetUnlessAnEstopHoldsIt() {
        let tripped = heatRigSnapshot(status: [.watchdogTripped, .safeState])
        var alarms = AlarmBook()
        let free = alarms.checkDevice(.snapshot(tripped), host: HostSignals(), checks, now: 0,
                                      deviceEstopOK: { $0.estopOK })
        #expect(free?.facts.resetDevice == true)
        #expect(alarms.isActive("device_watchdog"))
        let held = alarms.checkDevice(.snapshot(tripped), host: HostSignals(estopPressed: true), checks, now: 1,
                                      deviceEstopOK: { $0.estopOK })
        #expect(held?.facts.resetDevice == false)
    }

    @Test func aDeviceWithoutWatchdogOrEstopIgnoresThoseBits() {
        // A stream station: no E-stop line, no watchdog of its own; its status bits are not alarms.
        let quiet = DeviceChecks(noun: "station", lossSeverity: .alarm, hostEstop: false, deviceWatchdog: false)
        var alarms = AlarmBook()
        let found = alarms.checkDevice(.snapshot(heatRigSnapshot(status: [.watchdogTripped])),
                                       host: HostSignals(estopPressed: true), quiet, now: 0)
        #expect(found?.facts == DeviceFacts(deviceEstop: false, estop: false, watchdogTripped: false))
        #expect(alarms.active.isEmpty)
        _ = alarms.checkDevice(DeviceInput<HeatRigProfile.Snapshot>.unavailable(reason: "x"), host: HostSignals(),
                               quiet, now: 1)
        #expect(alarms.active.map(\.severity) == [.alarm])
    }
}

@Suite struct SharedRequestTests {
    @Test func anUnknownSettingNamesTheSettingsThereAre() {
        var heat = HeatRigController()
        #expect(throws: CommandRejection("unknown setting speed; heat-rig settings are setpoint_c, fan_pct")) {
            try heat.apply(.set(name: "speed", value: 1), now: 0)
        }
        var stream = StreamStationController()
        #expect(throws: CommandRejection("unknown setting speed: a stream-station station has no run-time settings; "
                                         + "its [station.control] keys are set in the configuration file")) {
            try stream.apply(.set(name: "speed", value: 1), now: 0)
        }
    }

    @Test func aSettingOutsideItsLimitsChangesNothing() throws {
        var heat = HeatRigController()
        #expect(throws: CommandRejection.self) { try heat.apply(.set(name: "fan_pct", value: 101), now: 0) }
        #expect(heat.config.fanPercent == 0)
        try heat.apply(.set(name: "fan_pct", value: 40), now: 0)
        #expect(heat.config.fanPercent == 40)
    }

    @Test func thePondsSettingsChangeLiveAndKeepTheirOrder() throws {
        var pond = AquacultureController()
        try pond.apply(.set(name: "aerator_on_below_mgl", value: 4.5), now: 0)
        try pond.apply(.set(name: "nh3_max_mgl", value: 0.08), now: 0)
        #expect(pond.config.aeratorOnBelowMgL == 4.5 && pond.config.nh3MaxMgL == 0.08)
        #expect(pond.settings.map(\.value) == [4.5, 5.5, 0.08])
        // Off at or below on would make the aerators flap: refused, nothing changed.
        #expect(throws: CommandRejection.self) { try pond.apply(.set(name: "aerator_off_above_mgl", value: 4.0), now: 0) }
        #expect(pond.config.aeratorOffAboveMgL == 5.5)
    }

    @Test func runsAreBegunAddedToAndFinished() {
        var runs: [RunRecord] = []
        runs.finish(.completed, at: 1)  // nothing running: nothing happens
        #expect(runs.isEmpty)
        runs.begin("experiment", at: 2)
        runs.addResults(["fn_hz": .number(3.2)])
        runs.finish(.aborted, reason: "E-stop", at: 5, results: ["ring_samples_lost": .number(0)])
        #expect(runs.count == 1)
        #expect(runs[0].outcome == .aborted && runs[0].reason == "E-stop" && runs[0].endedAt == 5)
        #expect(runs[0].results == ["fn_hz": .number(3.2), "ring_samples_lost": .number(0)])
    }
}

@Suite struct ControlKeyTests {
    @Test func scaledKeysReadBackBitForBit() {
        // Minutes in the file, seconds in the setting; milliseconds likewise. The default a key shows is the setting
        // converted back, with the operations the loader always used.
        var mill = MillControlConfig()
        let delay = MillControlConfig.keys.first { $0.name == "spindle_stop_delay_ms" }!
        #expect(delay.fileValue(of: mill) == 50)
        delay.set(delay.fileValue(of: mill), in: &mill)
        #expect(mill.spindleStopDelay == MillControlConfig().spindleStopDelay)
        delay.set(250, in: &mill)
        #expect(mill.spindleStopDelay == 0.25)
        var pond = AquacultureControlConfig()
        let drift = AquacultureControlConfig.keys.first { $0.name == "drift_window_min" }!
        drift.set(45, in: &pond)
        #expect(pond.driftWindow == 2700)
    }

    @Test func everyKeyOfAKindIsNamedOnceAndItsDefaultIsWithinItsLimits() {
        func check<S: ControlSettings>(_: S.Type) {
            let names = S.keys.map(\.name)
            #expect(Set(names).count == names.count, "\(S.self) names a key twice")
            let defaults = S()
            for key in S.keys {
                switch key.value {
                case .number(_, let limits, _):
                    #expect(limits.contains(key.fileValue(of: defaults)), "\(key.name) default outside \(limits)")
                case .integer(_, let limits):
                    #expect(limits.contains(Int(key.fileValue(of: defaults))), "\(key.name) default outside \(limits)")
                case .flag:
                    break
                }
            }
            #expect(defaults.problems().isEmpty, "\(S.self)'s defaults have problems")
        }
        check(HeatRigControlConfig.self)
        check(MassSpringDamperControlConfig.self)
        check(MillControlConfig.self)
        check(StreamControlConfig.self)
        check(AquacultureControlConfig.self)
    }

    @Test func crossKeyProblemsNameTheKey() {
        var heat = HeatRigControlConfig()
        heat.setpointC = 90
        #expect(heat.problems() == [ControlProblem("setpoint_c", "must be below alarm_high_c (85.0), got 90.0")])
        var msd = MassSpringDamperControlConfig()
        msd.sweepToHz = 1
        #expect(msd.problems().map(\.key) == ["sweep_to_hz"])
    }
}

/// Issue 18 item 9: a nozzle height the lift cannot reach from the current liquid level is refused with the reason.
@Suite struct ExtractionReachTests {
    private func snapshot(level: Float) -> ExtractionProfile.Snapshot {
        var channels = [ChannelReading](repeating: .ok(0), count: ExtractionProfile.channels.count)
        channels[ExtractionProfile.Channel.lift.rawValue] = .ok(700)
        channels[ExtractionProfile.Channel.level.rawValue] = .ok(level)
        channels[ExtractionProfile.Channel.boxTemp.rawValue] = .ok(25)
        return ExtractionProfile.Snapshot(
            header: DeviceHeader(deviceType: 0x0A01, profileVersion: 100, serialNumber: 1, status: [], heartbeat: 0),
            channels: channels, holding: [0, 0, 0, 0], coils: [false, false, false, false, false],
            inputs: [true, false, false, true, false, false, false])
    }

    @Test func aHeightAboveTheLiftsTravelIsRefused() throws {
        var c = ExtractionController()
        _ = c.step(loop: 0, tick: LoopTick(now: 0, dt: 0.01, deadline: 0, index: 0),
                   input: .snapshot(snapshot(level: 500)), host: HostSignals())
        #expect(throws: CommandRejection("height_mm 500.0 cannot be reached: the liquid is at 500.0 mm, so the lift "
                                         + "would have to reach 1000.0 mm, outside its travel 0…800 mm")) {
            try c.apply(.startRun(RunRecipe(name: "high", parameters: ["height_mm": 500])), now: 0)
        }
        #expect(c.runs.isEmpty)
        try c.apply(.startRun(RunRecipe(name: "ok", parameters: ["height_mm": 250])), now: 0)
        #expect(c.runs.count == 1)
    }
}
