import Devices
import Testing
@testable import Control
import Locking

private func snapshot(block: ChannelReading = .ok(40), estopOK: Bool = true, thermostat: Bool = false,
                      status: StatusBits = []) -> HeatRigProfile.Snapshot {
    HeatRigProfile.Snapshot(
        header: DeviceHeader(deviceType: 0x0C02, profileVersion: 100, serialNumber: 1, status: status, heartbeat: 0),
        channels: [block, .ok(30), .ok(25), .ok(22), .ok(0), .ok(0)],
        heaterPercent: 0, fanPercent: 0, heaterEnabled: false, fanEnabled: false, estopOK: estopOK,
        thermostatTripped: thermostat)
}

private func tick(_ t: Double) -> LoopTick { LoopTick(now: t, dt: 0.5, deadline: t, index: UInt64(t * 2)) }

@Suite struct HeatRigControllerTests {
    @Test func heatsWhenColdAndEnablesTheHeater() {
        var c = HeatRigController()
        let out = c.step(loop: 0, tick: tick(0), input: .snapshot(snapshot(block: .ok(25))), host: HostSignals())
        #expect(out.commands.heaterEnable && out.commands.heaterPercent == 100)  // kp·35 K saturates
        #expect(!out.commands.fanEnable)
        #expect(c.alarms.active.isEmpty)
    }

    @Test func unavailableDeviceDrivesSafeStateAndAlarm() {
        var c = HeatRigController()
        _ = c.step(loop: 0, tick: tick(0), input: .snapshot(snapshot()), host: HostSignals())
        let out = c.step(loop: 0, tick: tick(0.5), input: .unavailable(reason: "link down"), host: HostSignals())
        #expect(out.commands == .safe)
        #expect(c.alarms.isActive("device_unavailable"))
        let back = c.step(loop: 0, tick: tick(1), input: .snapshot(snapshot()), host: HostSignals())
        #expect(!c.alarms.isActive("device_unavailable") && back.commands.heaterEnable)
    }

    @Test func lostSensorIsAFaultNotANumber() {
        var c = HeatRigController()
        let out = c.step(loop: 0, tick: tick(0), input: .snapshot(snapshot(block: .lost)), host: HostSignals())
        #expect(out.commands == .safe)
        #expect(c.alarms.isActive("block_sensor_fault"))
        // A finite value flagged 0x80 too.
        var d = HeatRigController()
        let flagged = snapshot(block: ChannelReading(raw: 25, quality: .sensorFailure))
        let out2 = d.step(loop: 0, tick: tick(0), input: .snapshot(flagged), host: HostSignals())
        #expect(out2.commands == .safe)
    }

    @Test func overTemperatureTripsWithHysteresis() {
        var config = HeatRigControlConfig()
        config.alarmHighC = 70
        config.setpointC = 60
        var c = HeatRigController(config: config)
        #expect(c.step(loop: 0, tick: tick(0), input: .snapshot(snapshot(block: .ok(70.2))), host: HostSignals()).commands == .safe)
        #expect(c.alarms.isActive("block_temp_high"))
        // Still tripped between the clear point and the limit.
        #expect(c.step(loop: 0, tick: tick(1), input: .snapshot(snapshot(block: .ok(66))), host: HostSignals()).commands == .safe)
        let out = c.step(loop: 0, tick: tick(2), input: .snapshot(snapshot(block: .ok(64.9))), host: HostSignals())
        #expect(!c.alarms.isActive("block_temp_high") && out.commands.heaterEnable)
    }

    @Test func hostEstopLineTrips() {
        var c = HeatRigController()
        let out = c.step(loop: 0, tick: tick(0), input: .snapshot(snapshot()), host: HostSignals(estopPressed: true))
        #expect(out.commands == .safe)
        #expect(c.alarms.active.first?.message == "host E-stop line asserted")
    }

    @Test func estopAndThermostatTrip() {
        var c = HeatRigController()
        #expect(c.step(loop: 0, tick: tick(0), input: .snapshot(snapshot(estopOK: false)), host: HostSignals()).commands == .safe)
        #expect(c.alarms.isActive("estop"))
        var d = HeatRigController()
        #expect(d.step(loop: 0, tick: tick(0), input: .snapshot(snapshot(thermostat: true)), host: HostSignals()).commands == .safe)
        #expect(d.alarms.isActive("thermostat_tripped"))
    }

    @Test func asksForDeviceResetAfterWatchdogTripUnlessEstop() {
        var c = HeatRigController()
        let out = c.step(loop: 0, tick: tick(0), input: .snapshot(snapshot(status: [.watchdogTripped, .safeState])), host: HostSignals())
        #expect(out.resetDeviceFaults)
        #expect(c.alarms.isActive("device_watchdog"))
        let pressed = snapshot(estopOK: false, status: [.watchdogTripped, .estopPressed])
        let held = c.step(loop: 0, tick: tick(1), input: .snapshot(pressed), host: HostSignals())
        #expect(!held.resetDeviceFaults && held.commands == .safe)
    }

    @Test func operatorRequestsAreValidated() throws {
        var c = HeatRigController()
        #expect(throws: CommandRejection.self) { try c.apply(.set(name: "setpoint_c", value: 700), now: 0) }
        #expect(throws: CommandRejection.self) { try c.apply(.set(name: "setpoint_c", value: 86), now: 0) }
        #expect(throws: CommandRejection.self) { try c.apply(.set(name: "setpoint_c", value: .nan), now: 0) }
        #expect(throws: CommandRejection.self) { try c.apply(.set(name: "power", value: 1), now: 0) }
        #expect(c.config.setpointC == 60)
        try c.apply(.set(name: "setpoint_c", value: 45), now: 10)
        try c.apply(.set(name: "fan_pct", value: 30), now: 10)
        #expect(c.config.setpointC == 45 && c.config.fanPercent == 30)
        let out = c.step(loop: 0, tick: tick(11), input: .snapshot(snapshot(block: .ok(45))), host: HostSignals())
        #expect(out.commands.fanEnable && out.commands.fanPercent == 30)
        do {
            try c.apply(.set(name: "setpoint_c", value: 90), now: 0)
        } catch {
            #expect(error.reason.contains("setpoint_c must be within 0.0…85.0"))
        }
    }

    @Test func settlingTracker() {
        var t = SettlingTracker(setpoint: 60, band: 0.5)
        for (time, value) in [(0.0, 30.0), (100, 59.6), (110, 60.8), (120, 60.3), (130, 59.8), (140, 60.1)] {
            t.observe(value, at: time)
        }
        let r = t.results()
        #expect(r["reached_s"] == .number(100))
        #expect(r["settled_s"] == .number(120))
        #expect(r["settled"] == .bool(true))
        #expect(abs((r["overshoot_c"]?.number ?? 0) - 0.8) < 1e-9)
        #expect(abs((r["max_abs_error_since_settled_c"]?.number ?? 0) - 0.3) < 1e-9)
    }
}
