import Foundation
import Glibc
import RigdTestKit
import Testing

/// Behaviour guard for refactors: the virtual run reports of the demo plant and of every `examples/*.toml`, for
/// seeds 1–3, must stay byte-identical apart from `wall_s`. Each checksum is the SHA-256 (Debian's `sha256sum`) of
/// the report as `rigd run --virtual --report FILE` writes it, with its `wall_s` line removed.
///
/// - Important: A mismatch means plant, firmware or controller behaviour changed. If that change is intended, say so
///   in the commit and replace the checksums with the ones the failure prints; never update them to make a
///   refactor pass.
@Suite("Virtual run reports stay the same", .serialized)
struct VirtualReportChecksumTests {
    /// A configuration (nil: the embedded demo plant), the plant time to run and extra arguments.
    struct Case: Sendable, CustomStringConvertible {
        let config: String?
        let duration: String
        var extra: [String] = []
        var description: String { "\(config ?? "demo plant") for \(duration)" }
    }

    static let cases: [Case] = [
        Case(config: nil, duration: "3m"),
        Case(config: "examples/extraction.toml", duration: "20m", extra: ["--start-run"]),
        Case(config: "examples/msd-experiment.toml", duration: "4m"),
        Case(config: "examples/pond-week.toml", duration: "2d"),
        Case(config: "examples/rigd.toml", duration: "3m"),
        Case(config: "examples/stream.toml", duration: "60d"),
        Case(config: "examples/mapped.toml", duration: "2h"),
    ]

    /// "config seed" → checksum, as measured before the kinds refactor (issue 17).
    static let expected: [String: String] = [
        // The demo plant's, examples/extraction.toml's and examples/rigd.toml's changed on purpose (issue 18 item 7):
        // each has an extraction station, whose report now lists channel 11, yield_true (the simulator's lab assay),
        // and counts one more transaction (the station asks the device once whether it serves that channel). Compared
        // with the reports before: every other station's entry and every other extraction channel are identical.
        // The demo plant's changed again for item 11: its nursery tank has a heater and a grow lamp.
        // All four changed again on purpose (issue 19, read plans): each loop reads only what it declares, and the
        // mill's and the mass-spring-damper's ring reads skip the second index read when the read was too quick for
        // the device to reach the slots. Compared field by field with the reports before (rigd of bbecc25): only the
        // transaction counts and the statistics (min, max, mean, percentiles) of the extraction channels that are
        // now read at 1 or 10 Hz instead of 100 Hz differ; every run, phase, alarm and result is identical.
        // The demo plant's, extraction.toml's, msd-experiment.toml's and rigd.toml's changed again (issue 19, the
        // transaction goals): the switch word (IR 99, and IR 199 below a ring), a positioner that leaves a valve at 0
        // inside its window (below the dead band either way), and the mill's status loop. Compared field by field
        // with the reports of rigd bc26ccd, seeds 1–3: the extraction, MSD, heat-rig and sonde stations differ only
        // in transaction counts; the mill also in its channel statistics (read at 10 Hz now) and its torque
        // statistics (the feed is released up to 100 ms later, once the status loop sees the spindle up to speed).
        // And a channel's statistics in the report are now over its readings only (the loops that read it), not over
        // every tick of every loop: their sample counts and means changed, nothing else.
        // All of them changed on purpose (issue 21, memory): a channel's p05 and p95 now come from histograms of two
        // significant digits around an origin of 0 (or the range's minimum when that is above 0), instead of three
        // digits above the range's minimum. Compared field by field with the reports of rigd 647bdf7, seeds 1–3: only
        // p05 and p95 differ (672 values), each by no more than the two resolutions together (before: 1/1024 of the
        // value above the range's minimum; now: 1/256 of the value, the middle of its bucket). Near 0 on a range
        // around 0 they are now finer: the MSD's accel_ms2 p05 was 0.0346 (its max) and is −0.016.
        // The demo plant's changed on purpose (issue 23 part 2): its nursery tank's simulated probes read with seeded
        // errors (`probe_errors = true`), to be calibrated. With `probe_errors = false` the demo's report for seed 1 is
        // byte-identical to before (18aa3f6f…); with it, only nursery-1's entry differs.
        "demo 3m seed 1": "ec37d047e89d79fbcefb050db2a2e40c11a251c6b597123cba1a2cdf5d31c405",
        "demo 3m seed 2": "325a4619f9579bf11f76e160adf88d2d15f080e7b024e59a032eb35c9faf85f6",
        "demo 3m seed 3": "17f2b84219cd17e3601a0dedae2ea3bb632de9d01da16dffb5fb20a279e792e8",
        "examples/extraction.toml 20m seed 1": "75c01165d621124553903cebe05afa11ee693e1560945434aa5f20dfa75767db",
        "examples/extraction.toml 20m seed 2": "d6faaa8fcbe1ad5d2dcab2263983d9f9efd5566cb6e5d514d9bb83a21385b7db",
        "examples/extraction.toml 20m seed 3": "1e1ed746ff041a9b551a410a1c156d0f33a2af0e751476b5f7bc33647a7983bf",
        "examples/msd-experiment.toml 4m seed 1": "536a3e69b6693205554fd294089f5fdf64c0eb53c7907b6c56771b77b0062c23",
        "examples/msd-experiment.toml 4m seed 2": "c48b514c4b0fed543ff950af7e29b2e53e52cce9da148766df8b6000b2233b3f",
        "examples/msd-experiment.toml 4m seed 3": "a8bb877adbaff859deadadf54447b2aff525597f412546657addeb4c786a73dd",
        "examples/pond-week.toml 2d seed 1": "60a6020034bc30a4f1c0a20abe904854f28578e6de0d5b67385ee1ae76447c7a",
        "examples/pond-week.toml 2d seed 2": "d31682bdafff54c155246fb7e9f86a770eb5fe219c0970c0e6377cbb8e32577e",
        "examples/pond-week.toml 2d seed 3": "17dc142694c1e504dad89db13ded4b0c83b78d8f2d716db56ec334000f8d153b",
        // Changed on purpose (issue 18 item 8): its extraction station stays idle with the axes disabled, and the lift
        // now holds on its holding valves instead of sinking 0.85 mm/min; again for item 7 (above) and for item 11
        // (its nursery tank has a heater and a grow lamp).
        "examples/rigd.toml 3m seed 1": "3501708bbe1a682b29e03fd5890fb9a24e3da4466eb09db1970b290aeb4737aa",
        "examples/rigd.toml 3m seed 2": "5d497d9e9fd61def1adf87d80ccb421f7d226153a7f1951dd2bf1deae8b0fc39",
        "examples/rigd.toml 3m seed 3": "f81cb69b8d10150dbc5d9c63f1838b0b6e393226d1328318af9bcc643c4e3a6a",
        "examples/stream.toml 60d seed 1": "f3efafadd5cbf29f50b6533823df4a64e962c90ee4487daec11d5e436d058bc8",
        "examples/stream.toml 60d seed 2": "0dee7d6885618d0d3b74e480b3b726164debdc925968859f651fd6e32a837525",
        "examples/stream.toml 60d seed 3": "77322d7a46057c0af3251ae7ea87ae04146ce569d60f880ff71c34fce30266bd",
        // Added with issue 19: three stations simulated through the example device maps.
        "examples/mapped.toml 2h seed 1": "c4cbf9094c9167461039e0c81bfbf88d167d6dbb3342fbaa5b47df426c0b0b87",
        "examples/mapped.toml 2h seed 2": "9e540f44db7e25bf5b08534e3833d468b9765dc4765d98e8266e3fb721a69c8a",
        "examples/mapped.toml 2h seed 3": "491092fc871cf88310c0b2e5eae23bcbd02999d3ae203c250cabafcd2e32be8d",
    ]

    static func key(_ c: Case, seed: Int) -> String { "\(c.config ?? "demo") \(c.duration) seed \(seed)" }

    @Test("the same seed gives the same report as before", arguments: cases)
    func reportsMatch(_ c: Case) throws {
        let rigd = try rigdReleaseBinary()
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        var mismatches: [String] = []
        for seed in 1...3 {
            // The report goes to a file (written atomically by rigd), not through a pipe the harness reads.
            let path = NSTemporaryDirectory() + "rigd-report-\(UUID().uuidString).json"
            defer { unlink(path) }
            var arguments = ["run", "--virtual", "--for", c.duration, "--seed", "\(seed)", "--report", path,
                             "--log-level", "error"] + c.extra
            if let config = c.config { arguments += ["--config", root.appendingPathComponent(config).path] }
            let run = try runToCompletion(rigd, arguments, timeout: 240)
            #expect(run.status == 0, "rigd \(arguments.joined(separator: " ")) exited \(run.status): \(run.stderr)")
            guard run.status == 0 else { return }
            let text = try String(contentsOfFile: path, encoding: .utf8)
            let report = text.split(separator: "\n", omittingEmptySubsequences: false)
                .filter { !$0.contains("\"wall_s\"") }.joined(separator: "\n")
            #expect(report.contains("\"stations\""), "no report in \(path): \(text.prefix(200))")
            let sum = try sha256(report)
            let key = Self.key(c, seed: seed)
            if Self.expected[key] != sum { mismatches.append("\"\(key)\": \"\(sum)\",") }
        }
        #expect(mismatches.isEmpty, "reports changed; the new checksums:\n\(mismatches.joined(separator: "\n"))")
    }

    private func sha256(_ text: String) throws -> String {
        let file = NSTemporaryDirectory() + "rigd-report-\(UUID().uuidString).json"
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let run = try runToCompletion("/usr/bin/sha256sum", [file], timeout: 30)
        guard run.status == 0, let sum = run.stdout.split(separator: " ").first else {
            throw TestFailure("sha256sum failed: \(run.stderr)")
        }
        return String(sum)
    }
}
