import Foundation
import Glibc
import RigdTestKit
import Testing

/// The paper's figures, reproduced on the virtual clock: 6 h of circulation with the default recipe, seeds 1–5,
/// with the dynamic nozzle and with the fixed one, and what a drifting level sensor does. Runs the release build
/// (a 6 h run takes ≈ 20 s there); the seeds of a test run side by side, as many at once as the machine has cores
/// (more would starve the real-clock tests running beside them).
///
/// `yield_true` is the plant's yield (the simulator's lab assay), `yield_estimate` the host's soft sensor. Issue 18
/// item 7: the dynamic nozzle gives 0.85–0.87, not the same to four digits for every seed; the fixed nozzle
/// 0.62–0.65; a level sensor drifting +20 mm/h costs the true yield and not the estimate.
@Suite(.serialized) struct ExtractionAcceptanceTests {
    static let config = """
    [[station]]
    name = "extractor"
    kind = "extraction"
    address = "sim://"
    [station.control]
    start_run = true
    """

    /// The level sensor reads 20 mm/h high from the start: the host places the nozzle over a surface that is not there.
    static let levelDrift = """
    [[fault]]
    at = "1s"
    station = "extractor"
    channel = "level_mm"
    fault = "drift"
    per_hour = 20
    """

    /// One 6 h run (plus homing, positioning and parking) of each seed, up to one per core at a time; for each, the
    /// run and the station of the report.
    private func runs(seeds: [Int], fixed: Bool = false,
                      faults: String? = nil) throws -> [(seed: Int, run: [String: Any], station: [String: Any])] {
        let config = try temporaryFile(Self.config)
        let recipe = fixed ? try temporaryFile("[recipe]\nname = \"fixed\"\nfixed_nozzle = true\n") : nil
        let timeline = try faults.map { try temporaryFile($0) }
        let reports = seeds.map { _ in NSTemporaryDirectory() + "rigd-extraction-\(UUID().uuidString).json" }
        defer {
            unlink(config)
            for path in [recipe, timeline].compactMap({ $0 }) + reports { unlink(path) }
        }
        let rigd = try rigdReleaseBinary()
        func start(_ i: Int) throws -> ChildProcess {
            var args = ["run", "--virtual", "--for", "6h5m", "--seed", "\(seeds[i])", "--config", config,
                        "--report", reports[i], "--log-level", "error"]
            if let recipe { args += ["--recipe", recipe] }
            if let timeline { args += ["--faults", timeline] }
            return try ChildProcess(rigd, args)
        }
        let window = max(1, ProcessInfo.processInfo.activeProcessorCount)
        var running = try (0..<min(window, seeds.count)).map(start)
        for i in seeds.indices {
            let status = running[i].waitForExit(timeout: 300)
            #expect(status == 0, "seed \(seeds[i]): \(running[i].stderr)")
            if i + window < seeds.count { running.append(try start(i + window)) }
        }
        return try zip(seeds, reports).map { seed, report in
            let station = try #require((try readReport(report)["stations"] as? [[String: Any]])?.first)
            let run = try #require((station["runs"] as? [[String: Any]])?.first)
            #expect(run["outcome"] as? String == "completed", "seed \(seed): \(run)")
            return (seed, run, station)
        }
    }

    private func results(_ run: [String: Any]) throws -> [String: Any] {
        try #require(run["results"] as? [String: Any])
    }

    @Test func dynamicNozzleReproducesThePaper() throws {
        var yields: [Double] = []
        for (seed, run, station) in try runs(seeds: [1, 2, 3, 4, 5]) {
            let results = try results(run)
            let box = try #require(results["box_temp_after_warm_up_c"] as? [String: Any])
            let flow = try #require(results["flow_outside_backflush_lpm"] as? [String: Any])
            let truth = try #require(results["yield_true"] as? Double)
            let estimate = results["yield_estimate"] as? Double ?? 0
            let inPosition = results["in_position_fraction"] as? Double ?? 0
            print("seed \(seed): yield_true \(truth), yield_estimate \(estimate), in position \(inPosition), height "
                  + "error p95 \(results["height_error_p95_mm"] ?? "?") mm, box \(box["min"] ?? "?")…"
                  + "\(box["max"] ?? "?") °C, flow \(flow["min"] ?? "?")…\(flow["max"] ?? "?") L/min, backflushes "
                  + "\(results["backflushes"] ?? "?")")
            #expect((31.0...34.0).contains(box["min"] as? Double ?? 0))
            #expect((31.0...34.0).contains(box["max"] as? Double ?? 99))
            let alarms = (station["alarms"] as? [[String: Any]] ?? []).compactMap { $0["code"] as? String }
            #expect(!alarms.contains("box_temp_high"), "box reached 35 °C: \(alarms)")
            #expect(inPosition >= 0.95)
            #expect((9.5...10.5).contains(flow["min"] as? Double ?? 0))
            #expect((9.5...10.5).contains(flow["max"] as? Double ?? 99))
            #expect((results["backflushes"] as? Double ?? 0) >= 1)
            #expect((0.85...0.87).contains(truth), "seed \(seed): yield_true \(truth)")
            #expect(estimate >= 0.85)
            #expect((results["circulation_s"] as? Double ?? 0) >= 21_600)
            yields.append(truth)
        }
        // The report rounds to four digits: the seeds' batches and tracking must show there.
        #expect(Set(yields).count > 1, "every seed gave yield_true \(yields)")
    }

    @Test func fixedNozzleReproducesThePapersBaseline() throws {
        for (seed, run, _) in try runs(seeds: [1, 2, 3, 4, 5], fixed: true) {
            let results = try results(run)
            let truth = try #require(results["yield_true"] as? Double)
            let estimate = results["yield_estimate"] as? Double ?? 0
            print("seed \(seed) fixed nozzle: yield_true \(truth), yield_estimate \(estimate), its placement error "
                  + "\(results["yield_estimate_placement_error_mm"] ?? "?") mm")
            #expect(results["fixed_nozzle"] as? Bool == true)
            #expect((0.62...0.65).contains(truth), "seed \(seed): yield_true \(truth)")
            #expect(abs(estimate - 0.635) <= 0.02)
        }
    }

    /// Seed 1 without the drift is `dynamicNozzleReproducesThePaper`'s first run: yield_true 0.85–0.87 and
    /// yield_estimate ≥ 0.85 there.
    @Test func aDriftingLevelSensorCostsTheTrueYieldNotTheEstimate() throws {
        let drifting = try results(try #require(try runs(seeds: [1], faults: Self.levelDrift).first).run)
        let truth = try #require(drifting["yield_true"] as? Double)
        let estimate = try #require(drifting["yield_estimate"] as? Double)
        print("level drifting +20 mm/h: yield_true \(truth), yield_estimate \(estimate)")
        // The host sees its nozzle exactly where it wants it, so its estimate stays where a clean run's is...
        #expect(estimate >= 0.85)
        #expect((drifting["in_position_fraction"] as? Double ?? 0) >= 0.95)
        // ...while the nozzle ends up ≈ 120 mm too high over the real surface: well below the clean runs' 0.85.
        #expect(truth < 0.80)
        #expect(truth < estimate - 0.05)
    }
}
