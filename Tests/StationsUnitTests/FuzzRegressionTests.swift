import Daemon
import Foundation
import RigdTestKit
import Stations
import Testing

/// Bugs the fuzz targets found (fuzz/README.md), kept fixed. The inputs that crashed are also in fuzz/corpus, named
/// crash-…, and every one of them is loaded here.
@Suite struct FuzzRegressionTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// toml++ (inside TOMLKit) asserted — the process aborted, in release builds too — on a table header whose key
    /// does not start with a key character, and on an array element starting with `}`. Now each is a malformed-TOML
    /// error naming the file and line.
    @Test(arguments: [
        ("[.station]\nname = \"a\"\n", 1),
        ("[=]\n", 1),
        ("[ #]\n", 1),
        ("[é]\n", 1),
        ("[[,]]\n", 1),
        ("[ [a]]\n", 1),
        ("[\n", 1),
        ("# a comment\n\n[daemon]\nhttp = \"127.0.0.1:8080\"\n[.station]\n", 5),
        ("\u{FEFF}[\u{F6}station]]\nname = \"rig-1\"\n", 1),
        ("a = [}]\n", 1),
        ("[[station]]\nrelays = { aerators = [ }, { chip = \"gpiochip0\", line = 6 }] }\n", 2),
        ("a = [1,\n# c\n}]\n", 3),
        ("a = { b = [[ }] }\n", 1),
        // A date, a space and one digit: toml++ reads on for a time and asserts (fault_timeline target, 10-minute run).
        ("at = 2024-01-01 1\n", 1),
        ("[daemon]\na = [2024-01-01 7]\n", 2),
        ("a = { b = 1_999-01-01 2}\n", 1),
        ("[[l]]\nat= 0q\u{2}q-\u{2}q-[l 0]st", 2),
    ])
    func whatTOMLPlusPlusAssertsOnIsAnError(text: String, line: Int) {
        do {
            _ = try ConfigLoader.parse(text, source: "bad.toml")
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.issues.count == 1)
            #expect(error.description.hasPrefix("bad.toml:\(line): malformed TOML"), "\(error)")
        }
    }

    @Test func recipesAndFaultTimelinesGetTheSameCheck() throws {
        let recipe = try temporaryFile("[.recipe]\nname = \"x\"\n")
        do {
            _ = try RecipeLoader.load(path: recipe)
            Issue.record("accepted")
        } catch {
            #expect(error.description.hasPrefix("\(recipe):1: malformed TOML"), "\(error)")
        }
        do {
            _ = try FaultTimeline.parse("[[fault]]\nat = 1\n[ =]\n", source: "faults.toml")
            Issue.record("accepted")
        } catch {
            #expect(error.description.hasPrefix("faults.toml:3: malformed TOML"), "\(error)")
        }
    }

    /// The check must not refuse valid TOML: brackets inside values and multi-line strings are not headers.
    @Test func theHeaderCheckKeepsValidDocuments() throws {
        let valid = [
            "a = \"\"\"\n[=\n[ #\n\"\"\"\n[b]\n",
            "a = '''\n[.x]\n'''\n",
            "a = [\n[+1],\n[{ b = 1 }],\n]\n[ \"quoted key\" ]\n",
            "[ 'literal' . x ]\r\n[[arr]]\r\n[ _x ]\n[-y]\n[9]\n",
            "a = \"\\\"[=\"\nb = { c = [ 1, 2 ] } # [=\n[t]\n",
            "a = \"\"\"\n\\\"\"\"[=\n\"\"\"\n",
            "a = 1979-05-27 07:32:00\nb = 1979-05-27T07:32:00Z\nc = [1979-05-27, 1979-05-28] # 1979-05-27 1\n",
            "d = 1979-05-27 # 1\ne = \"1979-05-27 1\"\nf = 1979-05-27 07:32:00.5 \n",
        ]
        for text in valid {
            #expect(TOMLPreflight.firstProblem(in: text) == nil, "\(text)")
        }
        let examples = Self.repository.appendingPathComponent("examples")
        for name in try FileManager.default.contentsOfDirectory(atPath: examples.path) where name.hasSuffix(".toml") {
            let text = try String(contentsOf: examples.appendingPathComponent(name), encoding: .utf8)
            #expect(TOMLPreflight.firstProblem(in: text) == nil, "examples/\(name)")
            // Loaded from its path: a station's map is found relative to the configuration file.
            _ = try ConfigLoader.load(path: examples.appendingPathComponent(name).path)
        }
    }

    /// `SourceLines` (which finds the line of a key for messages) indexed an empty array for a header with an empty
    /// name: `[""]` is valid TOML, and `[]` may be a line of a multi-line string.
    @Test(arguments: ["[\"\"]\n", "['']\n", "[a]\n[\"\"]\nx = 1\n", "[daemon]\nx = \"\"\"\n[]\n[.]\n\"\"\"\n"])
    func headersWithAnEmptyNameDoNotCrashTheLineFinder(text: String) {
        _ = SourceLines(text)
        do {
            _ = try ConfigLoader.parse(text, source: "empty.toml")
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.issues.allSatisfy { $0.file == "empty.toml" }, "\(error)")
        }
    }

    /// toml++ reads the text as a C string: it stopped at a NUL and loaded what came before, so a station after it
    /// silently vanished. A NUL is never valid TOML; it is now an error at its line.
    @Test func aNULIsAnErrorNotTheEndOfTheFile() {
        let text = """
            [[station]]
            name = "a"
            kind = "heat-rig"
            address = "sim://"
            # \u{0}
            [[station]]
            name = "b"
            kind = "heat-rig"
            address = "sim://"
            """
        do {
            let configuration = try ConfigLoader.parse(text, source: "nul.toml")
            Issue.record("accepted, with \(configuration.stations.count) station(s)")
        } catch {
            #expect(error.description == "nul.toml:5: malformed TOML: a NUL character", "\(error)")
        }
    }

    /// A fault at 1e10 s loaded, and `rigd run --virtual --faults` then trapped converting it to Int64 nanoseconds.
    @Test(arguments: ["at = 1e10", "at = \"10000000000s\"", "at = 9223372036", "at = \"1e400\""])
    func faultTimesTheVirtualClockCannotScheduleAreErrors(at: String) {
        do {
            let timeline = try FaultTimeline.parse("[[fault]]\n\(at)\nstation = \"s\"\ndevice_fault = \"offline\"\n",
                                                   source: "faults.toml")
            Issue.record("accepted at \(timeline.entries.map(\.at))")
        } catch {
            #expect(error.description.hasPrefix("faults.toml:2: fault 1: at "), "\(error)")
        }
        let ok = try? FaultTimeline.parse("[[fault]]\nat = \"31d\"\nstation = \"s\"\ndevice_fault = \"offline\"\n",
                                          source: "faults.toml")
        #expect(ok?.entries.first?.at == 2_678_400.0)  // 31 days
    }

    /// Every input a fuzz target ever crashed on, kept in the corpus, now loads or fails cleanly.
    @Test func crashInputsInTheCorpusLoad() throws {
        let corpus = Self.repository.appendingPathComponent("fuzz/corpus")
        var count = 0
        for target in ["config", "recipe", "fault_timeline"] {
            let directory = corpus.appendingPathComponent(target)
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
            for name in names where name.hasPrefix("crash-") {
                count += 1
                let data = try Data(contentsOf: directory.appendingPathComponent(name))
                let text = String(decoding: data, as: UTF8.self)
                let path = try temporaryFile(text)
                do {
                    switch target {
                    case "config": _ = try ConfigLoader.parse(text, source: path)
                    case "recipe": _ = try RecipeLoader.load(path: path)
                    default: _ = try FaultTimeline.parse(text, source: path)
                    }
                } catch {
                    #expect(error.issues.allSatisfy { $0.file == path }, "\(target)/\(name): \(error)")
                }
            }
        }
        #expect(count > 0)
    }
}
