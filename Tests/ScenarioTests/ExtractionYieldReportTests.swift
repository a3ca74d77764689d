import Control
import Devices
import RigdTestKit
@testable import Sim
import Testing

/// Issue 18 item 7: a run's report gives the plant's yield (`yield_true`, the simulator's lab assay, channel 11) beside
/// the host's soft-sensor estimate (`yield_estimate`), and no decision of the controller reads the assay.
@Suite struct ExtractionYieldReportTests {
    /// A 120 s run (homing, positioning, stopping and parking take under a minute more), with `assay` injected into
    /// channel 11 from the start.
    private func finishedRun(assay: ChannelFault? = nil) throws -> VirtualRig<ExtractionFirmware> {
        let rig = try VirtualRig<ExtractionFirmware>(kind: .extraction,
                                                     toml: "[station.control]\nstart_run = true\ncirculation_s = 120")
        if let assay { rig.device.setChannelFault(assay, channel: ExtractionProfile.Channel.yieldTrue.rawValue) }
        rig.run(until: 240)
        #expect(rig.run0["outcome"] == .string("completed"), "\(rig.run0)")
        return rig
    }

    private func results(_ rig: VirtualRig<ExtractionFirmware>) -> [String: ReportValue] {
        if case .object(let r)? = rig.run0["results"] { return r }
        Issue.record("no results in \(rig.run0)")
        return [:]
    }

    @Test func theReportGivesThePlantsYieldBesideTheHostsEstimate() throws {
        let rig = try finishedRun()
        let r = results(rig)
        let truth = try #require(r["yield_true"]?.number)
        // The device's first run: the batch's extracted fraction is the run's.
        #expect(abs(truth - rig.device.withModel { $0.plant.extractedFraction }) < 1e-4)
        #expect(truth > 0.02)
        #expect(r["yield_estimate"]?.number != nil)
        #expect(r["yield_estimate_max"]?.number != nil)
        #expect(r["yield_estimate_placement_error_mm"]?.number != nil)
        #expect(r["yield"] == nil)
    }

    @Test(arguments: [ChannelFault.lost, .stuck(0.99)])
    func noDecisionReadsTheAssay(_ fault: ChannelFault) throws {
        let plain = try finishedRun()
        let faulted = try finishedRun(assay: fault)
        var a = results(plain), b = results(faulted)
        #expect(a["yield_true"] != b["yield_true"])
        a["yield_true"] = nil
        b["yield_true"] = nil
        #expect(a == b)
        #expect(plain.report["alarms"] == faulted.report["alarms"])
        // The same commands drove the same plant: its true state is bit-identical.
        let state = { (rig: VirtualRig<ExtractionFirmware>) in
            rig.device.withModel { m in
                [m.plant.liftMM, m.plant.pushMM, m.plant.levelMM, m.plant.flowLPM, m.plant.boxTempC,
                 m.plant.extractedFraction].map(\.bitPattern)
            }
        }
        #expect(state(plain) == state(faulted))
    }

    @Test func theCompletionLineGivesBoth() {
        var run = RunRecord(recipe: "default", startedAt: 0)
        run.results = ["yield_true": .number(0.8567), "yield_estimate": .number(0.8549), "energy_kwh": .number(1.22),
                       "in_position_fraction": .number(1), "backflushes": .number(1)]
        #expect(ExtractionController().runSummary(run)
                == "yield_true 0.8567, yield_estimate 0.8549, energy_kwh 1.22, in_position_fraction 1, backflushes 1")
    }
}
