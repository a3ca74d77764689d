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
        "demo 3m seed 1": "3fe00117cdab524b47cdaaa98da0f2cd1c0380c98d1315db2263f427bf9939a1",
        "demo 3m seed 2": "3fe4d7ce73f0faf798cb105dc6b12dba56f6899b4858aab03697c561a8a1b02b",
        "demo 3m seed 3": "27c624630e74e05c3197dbaeefc98ef29f4d630038b16ca58c3045adc8ae0f22",
        "examples/extraction.toml 20m seed 1": "bd2912e962df600fdf62132bbc53327e75d43de8ea8ac9456d5d952f787d41fb",
        "examples/extraction.toml 20m seed 2": "14a11d014fcf156e01040e64a38ac07b07df4c02edbb5f179e11fc27e7327a8d",
        "examples/extraction.toml 20m seed 3": "20c954b5d767f26754422a5814d3afcff04498c77fd11f5fa3e5f6bf18894b92",
        "examples/msd-experiment.toml 4m seed 1": "317ec4d0b97478e41265fc63d1b7c2fc867e0861aa46d4a7d6c63d7b4947255e",
        "examples/msd-experiment.toml 4m seed 2": "9c7f074eebbe00313d2bc00466f616675cc6a436fd73ef531b2bbeaca76e7565",
        "examples/msd-experiment.toml 4m seed 3": "49e7bf635bf1384bbc2dbca73cc50b55a5d056bde7b475ed993b8027cd9828d6",
        "examples/pond-week.toml 2d seed 1": "83bf529773d8c4ab495a5c2e087462139b12e044d55204086f2b7a9dd9ff4dce",
        "examples/pond-week.toml 2d seed 2": "b9b2515da5c72597e6df35a776d4504b635491329ac9d61ece89d9eb667a186d",
        "examples/pond-week.toml 2d seed 3": "b8a6a0e83b1e3f5a7a6fb0822c561676f55a10f9cc7cc12782b2d61e7c754166",
        // Changed on purpose (issue 18 item 8): its extraction station stays idle with the axes disabled, and the lift
        // now holds on its holding valves instead of sinking 0.85 mm/min; again for item 7 (above) and for item 11
        // (its nursery tank has a heater and a grow lamp).
        "examples/rigd.toml 3m seed 1": "56c1fb52f34d6464940b13e81635c09236955312b11befebc41a57fa285c3fa3",
        "examples/rigd.toml 3m seed 2": "c659b247c5d677014cc78af29ec9e4e0464a3807e3976bb53df3d346590a2bcf",
        "examples/rigd.toml 3m seed 3": "29aba922dd24c7f06dbc5b3fe6fa6ff5f366ee1f7a16872b7b097d29b22da489",
        "examples/stream.toml 60d seed 1": "fe329832ba8a27fc826c01d73b04a5c97c2551253e9a05436f79ed52ae745d5b",
        "examples/stream.toml 60d seed 2": "47a8e8f10866be0c36ea6a53ca692cb41787afda7cb465c13b93247644d79b0c",
        "examples/stream.toml 60d seed 3": "d5ed0c47ddced54aa6044e8015ece1bbb22d931993ce29c3b7e223991a74d374",
        // Added with issue 19: three stations simulated through the example device maps.
        "examples/mapped.toml 2h seed 1": "59f48363a212e8a621055eab98abde7b7dfb1da7b796e9bfbf5ddee35d36c1c8",
        "examples/mapped.toml 2h seed 2": "e85fe550bfe61d1d19c44a33e55cff0db81c6f54aef3f0de7583bf97e5c76ffa",
        "examples/mapped.toml 2h seed 3": "8ba85008998069a4eb883c267d11ad25eaa92c2366595c39a0f2669d4a81f876",
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
