import Control
import Devices
import Foundation
import RigdTestKit
@testable import Sim
import Testing

@Suite(.serialized) struct MassSpringDamperVirtualTests {
    /// docs/register-contract.md §C3 acceptance: the students' experiment on the virtual clock, with the sensors'
    /// noise, estimates
    /// f_n within 2 % and ζ within 20 % of the plant's own, and the run report carries them.
    @Test(arguments: [1, 2] as [UInt64])
    func freeDecayEstimatesNaturalFrequencyAndDamping(seed: UInt64) throws {
        let rig = try VirtualRig<MassSpringDamperFirmware>(kind: .msdRig, toml: """
            [station.control]
            start_run = true
            sweep_steps = 7
            sweep_dwell_s = 6
            sweep_measure_s = 1.5
            sweep_from_hz = 2.9
            sweep_to_hz = 3.5
            """, seed: seed)
        rig.run(until: 8 + 12 + 7 * 6 + 2)
        let truth = rig.device.withModel { $0.plant.parameters }
        let run = rig.run0
        #expect(run["outcome"] == .string("completed"), "\(run)")
        guard case .object(let results)? = run["results"] else {
            Issue.record("no results in \(run)")
            return
        }
        let fn = results["fn_hz"]?.number ?? .nan
        let zeta = results["zeta"]?.number ?? .nan
        print("MSD seed \(seed): f_n \(fn) Hz (true \(truth.naturalFrequencyHz)), ζ \(zeta) (true \(truth.dampingRatio)), "
              + "± \(results["fn_uncertainty_hz"]?.number ?? .nan) Hz / \(results["zeta_uncertainty"]?.number ?? .nan); "
              + "sweep f_n \(results["sweep_fn_hz"]?.number ?? .nan), ζ \(results["sweep_zeta"]?.number ?? .nan)")
        #expect(abs(fn - truth.naturalFrequencyHz) <= 0.02 * truth.naturalFrequencyHz)
        #expect(abs(zeta - truth.dampingRatio) <= 0.2 * truth.dampingRatio)
        #expect((results["fn_uncertainty_hz"]?.number ?? 0) > 0)
        #expect(results["sweep"] != nil, "the sweep's points are in the results")
        #expect(rig.coils(1) == [false], "shaker off at the end")
    }
}

/// docs/register-contract.md §D acceptance: two years of the stream station on the virtual clock (release build).
@Suite(.serialized) struct StreamStationAcceptanceTests {
    @Test func twoYearsOfStormsLoadsAndFlowWeightedMeans() throws {
        let config = try temporaryFile("""
            [[station]]
            name = "stream"
            kind = "stream-station"
            address = "sim://"
            [station.control]
            area_ha = 8900
            """)
        let reportPath = NSTemporaryDirectory() + "rigd-stream-\(UUID().uuidString).json"
        let run = try runToCompletion(try rigdReleaseBinary(), ["run", "--virtual", "--for", "730d", "--seed", "3",
                                                                "--config", config, "--report", reportPath],
                                      timeout: 300)
        #expect(run.status == 0, "\(run.stderr)")
        let report = try readReport(reportPath)
        let station = try #require((report["stations"] as? [[String: Any]])?.first)
        let results = try #require(station["results"] as? [String: Any])
        let events = try #require(results["storm_events"] as? [[String: Any]])
        print("stream: \(events.count) storm events in 2 years, wall \(report["wall_s"] ?? "?") s")
        #expect(events.count >= 10, "a wet watershed has storms every year")
        for event in events.dropLast() {
            let start = event["start_s"] as? Double ?? .nan
            let end = event["end_s"] as? Double ?? .nan
            #expect(end > start, "\(event)")
            #expect((event["flow_m3"] as? Double ?? 0) > 0 && (event["rain_mm"] as? Double ?? 0) > 0, "\(event)")
        }
        let loads = try #require(results["loads"] as? [String: [String: [String: Double]]])
        for year in ["year 1", "year 2"] {
            let tp = try #require(loads[year]?["tp"], "no TP account for \(year)")
            let fwmc = tp["fwmc_mgl"] ?? .nan
            let mean = tp["mean_mgl"] ?? .nan
            print("stream \(year) TP: FWMC \(fwmc), mean \(mean), load \(tp["load_kg"] ?? .nan) kg, "
                  + "yield \(tp["yield_kg_ha"] ?? .nan) kg/ha")
            #expect(fwmc > mean, "the paper finds TP's FWMC above its arithmetic mean")
            let load = tp["load_kg"] ?? 0
            #expect(load > 0)
            #expect(abs((tp["yield_kg_ha"] ?? 0) - load / 8900) <= 1e-9 * max(1, load))
            for nutrient in ["no3", "srp"] { #expect(loads[year]?[nutrient] != nil, "\(year) \(nutrient)") }
        }
        #expect(loads.keys.contains { $0.hasPrefix("year 1 ") }, "seasonal accounts: \(loads.keys.sorted())")
        #expect((results["autosamples"] as? Double ?? 0) >= Double(events.count))
    }
}

@Suite struct HeatRigProfileRunTests {
    @Test func rampSoakRecipeRunsToCompletionAndTracksItsSetpoint() throws {
        let rig = try VirtualRig<HeatRigFirmware>(kind: .heatRig, toml: """
            [station.sim]
            preset = "fast"
            [station.control]
            setpoint_c = 25
            ki = 0.4
            """)
        rig.run(until: 60)
        rig.station.mailbox.post(.startRun(RunRecipe(name: "anneal", parameters: [
            "ramp1_c_per_min": 30, "target1_c": 55, "soak1_s": 60,
            "ramp2_c_per_min": 20, "target2_c": 40, "soak2_s": 60,
        ]))) { result in
            if case .failure(let rejection) = result { Issue.record("run refused: \(rejection.reason)") }
        }
        rig.run(until: 60 + 60 + 60 + 45 + 60 + 30)
        let run = rig.run0
        #expect(run["recipe"] == .string("anneal"))
        #expect(run["outcome"] == .string("completed"), "\(run)")
        guard case .object(let results)? = run["results"] else { Issue.record("no results"); return }
        print("heat rig ramp/soak: \(results)")
        #expect(results["final_setpoint_c"] == .number(40))
        #expect((results["max_abs_soak_error_c"]?.number ?? 99) < 3, "the block follows the soaks")
    }
}
