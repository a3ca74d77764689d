import Devices
import Foundation
import RigdTestKit
import Sim
import Testing

@Suite(.serialized) struct MillVirtualTests {
    /// A mill cutting steadily (aluminium by default): spindle up, feed released, a second of cutting behind it.
    static func cutting(_ preset: String = "aluminium") throws -> VirtualRig<MillFirmware> {
        let rig = try VirtualRig<MillFirmware>(kind: .cncMill, toml: """
            [station.sim]
            preset = "\(preset)"
            [station.control]
            start_run = true
            cut_duration_s = 30
            """)
        rig.run(until: 3)
        #expect(rig.coils(2) == [true, false], "spindle on, feed released after 3 s")
        #expect(rig.device.withModel { $0.plant.isCutting })
        return rig
    }

    @Test func overloadHoldsTheFeedWithin10msThenStopsTheSpindle() throws {
        // Steel cuts at ≈ 0.7 N·m; a hard spot that quadruples it passes the 1.5 N·m overload limit.
        let rig = try Self.cutting("steel")
        rig.device.mutateModel { $0.inject(.overload(factor: 4)) }
        let injected = rig.now
        let held = rig.runUntil(limit: 0.1) { rig.coils(2)[1] }
        let holdAt = try #require(held, "no feed hold within 100 ms of the overload")
        print("mill: feed hold \(Int(((holdAt - injected) * 1000).rounded())) ms after the overload")
        #expect(holdAt - injected <= 0.010 + 1e-9, "feed hold \(Int((holdAt - injected) * 1000)) ms after the overload")
        let stopped = rig.runUntil(limit: 0.5) { !rig.coils(2)[0] }
        #expect(stopped != nil, "the spindle did not stop after the overload")
        #expect(rig.alarm("torque_overload") != nil)
        #expect(rig.run0["outcome"] == .string("aborted"))
    }

    @Test func toolBreakageIsDetectedWithin50ms() throws {
        let rig = try Self.cutting()
        rig.device.mutateModel { $0.inject(.toolBreakage) }
        let injected = rig.now
        let detected = rig.runUntil(limit: 0.2) { rig.alarm("tool_broken") != nil }
        let at = try #require(detected, "tool breakage not detected within 200 ms")
        print("mill: tool breakage detected \(Int(((at - injected) * 1000).rounded())) ms after the break")
        #expect(at - injected <= 0.050 + 1e-9, "detected \(Int((at - injected) * 1000)) ms after the break")
        #expect(rig.coils(2) == [false, true], "feed held and spindle stopped")
    }

    @Test func openingTheGuardDoorStopsTheSpindle() throws {
        let rig = try Self.cutting()
        rig.device.mutateModel { $0.guardClosed = false }
        let opened = rig.now
        let stopped = rig.runUntil(limit: 0.1) { !rig.coils(2)[0] }
        let at = try #require(stopped, "spindle still enabled 100 ms after the door opened")
        // The 200 Hz supervision reads the guard door with the ring (the switch word below it): one tick.
        #expect(at - opened <= 0.005 + 1e-9, "spindle stopped \(Int((at - opened) * 1000)) ms after the door opened")
        #expect(rig.alarm("guard_open") != nil)
        #expect(rig.run0["reason"] == .string("guard door opened"))
    }

    @Test func steadyCutPublishesTorqueStatisticsWithoutFalseTrips() throws {
        let rig = try Self.cutting()
        rig.run(until: 10)
        let mean = rig.results["torque_mean_nm"]?.number ?? .nan
        let std = rig.results["torque_std_nm"]?.number ?? .nan
        #expect((0.1...0.3).contains(mean), "aluminium at 8000 rpm cuts at ≈ 0.17 N·m, mean \(mean)")
        #expect(std > 0 && std < mean, "std \(std)")
        #expect(rig.alarm("torque_overload") == nil && rig.alarm("tool_broken") == nil)
        if case .object(let ring)? = rig.report["ring"] {
            #expect(ring["lost"] == .number(0), "the 200 Hz supervision keeps up with the 1 kHz ring")
            #expect((ring["received"]?.number ?? 0) >= 9_900)
        } else {
            Issue.record("no ring in the report")
        }
    }
}
