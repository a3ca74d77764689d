import Control
import Daemon
import Devices
import Foundation
import RigdTestKit
import Stations
import Testing

@Suite struct ConfigLoaderTests {
    let good = """
    [[station]]
    name = "rig-1"
    kind = "heat-rig"
    address = "tcp://127.0.0.1:15020"
    fallback = "fail"
    [station.control]
    setpoint_c = 55
    kp = 3.5
    [station.sim]
    preset = "fast"
    seed = 9
    """

    @Test func readsAGoodFile() throws {
        let c = try ConfigLoader.parse(good, source: "rigd.toml")
        #expect(c.stations.count == 1)
        let s = c.stations[0]
        #expect(s.name == "rig-1" && s.kind == .heatRig && s.fallback == .fail)
        #expect(s.address == .tcp(host: "127.0.0.1", port: 15020, unit: 1))
        #expect(s.simulator == SimulatorConfig(preset: "fast", seed: 9))
        guard let control = (s.control as? Configured<HeatRigKind>)?.control else {
            Issue.record("not a heat-rig control")
            return
        }
        #expect(control.setpointC == 55 && control.kp == 3.5 && control.ki == HeatRigControlConfig().ki)
    }

    @Test func embeddedDemoIsValid() throws {
        let demo = try DemoPlant.configuration()
        #expect(demo.stations.map(\.kind) == [.extraction, .heatRig, .cncMill, .msdRig, .streamStation, .aquaSonde,
                                              .aquaSonde])
        // The two sondes share one serial line.
        #expect(demo.stations.compactMap(\.bus) == ["/dev/ttyUSB0", "/dev/ttyUSB0"])
        #expect(demo.stations.allSatisfy { $0.fallback == .simulate })
    }

    private func issues(_ text: String) -> [ConfigIssue] {
        do {
            _ = try ConfigLoader.parse(text, source: "bad.toml")
            Issue.record("accepted:\n\(text)")
            return []
        } catch {
            return error.issues
        }
    }

    @Test func malformedTOMLNamesTheLine() {
        let found = issues("[[station]]\nname = \"a\"\nkind = = 3\n")
        #expect(found.count == 1)
        #expect(found[0].line == 3)
        #expect(found[0].description.hasPrefix("bad.toml:3: malformed TOML"))
    }

    @Test func unknownKeyNamesFileLineAndKey() {
        let text = good.replacingOccurrences(of: "kp = 3.5", with: "kp = 3.5\nsetpiont_c = 50")
        let found = issues(text)
        #expect(found.map(\.description) == ["bad.toml:9: station \"rig-1\": control.setpiont_c is not a known key here (a typo?)"])
    }

    @Test func outOfRangeValueNamesTheRange() {
        let found = issues(good.replacingOccurrences(of: "setpoint_c = 55", with: "setpoint_c = 700"))
        #expect(found.map(\.description) == ["bad.toml:7: station \"rig-1\": control.setpoint_c must be within 0…85, got 700"])
    }

    @Test func unknownKindListsTheKinds() {
        let found = issues(good.replacingOccurrences(of: "\"heat-rig\"", with: "\"heat-pump\""))
        #expect(found.count == 1)
        #expect(found[0].line == 3 && found[0].key == "kind")
        #expect(found[0].message.contains("unknown kind \"heat-pump\"") && found[0].message.contains("msd-rig"))
    }

    @Test(arguments: KindRegistry.builtIn.names)
    func everyKindOfTheSheetIsAccepted(kind: String) throws {
        let text = good.replacingOccurrences(of: "\"heat-rig\"", with: "\"\(kind)\"")
            .replacingOccurrences(of: "[station.control]\nsetpoint_c = 55\nkp = 3.5", with: "")
            .replacingOccurrences(of: "preset = \"fast\"", with: "")
        let config = try ConfigLoader.parse(text, source: "kinds.toml")
        #expect(config.stations.first?.kind.rawValue == kind)
    }

    @Test func aquacultureStationWithRelays() throws {
        let text = """
        [[station]]
        name = "pond-1"
        kind = "aqua-sonde"
        address = "rtu:///dev/ttyUSB1?baud=19200&parity=E&unit=4"
        [station.relays]
        aerators = [{ chip = "gpiochip0", line = 5 }, { chip = "gpiochip0", line = 6 }]
        feeder = { chip = "gpiochip0", line = 19, active_low = true }
        [station.control]
        aerators = 2
        feed_times = ["06:30", "18:00"]
        aerator_min_run_min = 20
        [station.control.sensors.ph]
        resolution = 0.01
        update_period_s = 30
        """
        let s = try ConfigLoader.parse(text, source: "pond.toml").stations[0]
        #expect(s.address == .rtu(SerialSettings(path: "/dev/ttyUSB1", baud: 19200, parity: .even), unit: 4))
        #expect(s.bus == "/dev/ttyUSB1")
        #expect(s.relays["aerator-2"] == GPIOLineAddress(chip: "gpiochip0", line: 6))
        #expect(s.relays["feeder"] == GPIOLineAddress(chip: "gpiochip0", line: 19, activeLow: true))
        #expect(s.relays["exchange"] == nil)
        guard let c = (s.control as? Configured<AquaSondeKind>)?.control else {
            Issue.record("not an aquaculture control")
            return
        }
        #expect(c.feedTimes == [6.5, 18] && c.aeratorMinRun == 1200)
        #expect(c.flatlines == [AquaSondeProfile.Channel.pH.rawValue: .init(resolution: 0.01, updatePeriod: 30)])
    }

    @Test func aquacultureMistakesAreNamed() {
        let base = """
        [[station]]
        name = "pond-1"
        kind = "aqua-sonde"
        address = "rtu:///dev/ttyUSB1?unit=4"
        [station.relays]
        aerators = [{ chip = "gpiochip0", line = 5 }]
        exchange = { chip = "gpiochip0", line = 5 }
        [station.control]
        aerators = 2
        feed_times = ["7h"]
        aerator_off_above_mgl = 3.5
        [station.control.sensors.chl_ugl]
        resolution = 0.1
        [station.control.sensors.ph]
        resolutoin = 0.01
        update_period_s = -1
        """
        let found = issues(base).map(\.description)
        #expect(found.contains { $0.contains("control.sensors.chl_ugl is not a checked channel; the stuck rule applies "
                                             + "to do_mgl, water_temp_c, ph, salinity_ppt, tan_mgl, nh3_mgl") },
                "\(found)")
        #expect(found.contains { $0.contains("control.sensors.ph.resolutoin is not a known key here") }, "\(found)")
        #expect(found.contains { $0.contains("control.sensors.ph.update_period_s") }, "\(found)")
        #expect(found.contains { $0.contains("relays.aerators lists 1 line(s) but control.aerators is 2") }, "\(found)")
        #expect(found.contains { $0.contains("uses line gpiochip0:5") || $0.contains("which another output") }, "\(found)")
        #expect(found.contains { $0.contains("control.feed_times \"7h\" is not a time of day HH:MM") }, "\(found)")
        #expect(found.contains { $0.contains("control.aerator_off_above_mgl must be above aerator_on_below_mgl") },
                "\(found)")
        let badUnit = issues(base.replacingOccurrences(of: "unit=4", with: "unit=250"))
        #expect(badUnit.contains { $0.message.contains("unit must be 1…247 on RTU") })
    }

    @Test func stationsOnOneLineMustAgree() throws {
        let text = """
        [[station]]
        name = "a"
        kind = "aqua-sonde"
        address = "rtu:///dev/ttyUSB1?unit=1"
        [[station]]
        name = "b"
        kind = "aqua-sonde"
        address = "rtu:///dev/ttyUSB1?baud=19200&unit=2"
        [[station]]
        name = "c"
        kind = "aqua-sonde"
        address = "rtu:///dev/ttyUSB1?unit=1"
        """
        let config = try ConfigLoader.parse(text, source: "line.toml")
        let conflicts = Wiring.lineConflicts(config.stations).map(\.description)
        #expect(conflicts.count == 2, "\(conflicts)")
        #expect(conflicts.contains { $0.contains("station \"b\"") && $0.contains("19200 8N1 vs 9600 8N1") })
        #expect(conflicts.contains { $0.contains("station \"c\"") && $0.contains("same unit id as station \"a\"") })
    }

    @Test func badAddress() {
        let found = issues(good.replacingOccurrences(of: "tcp://127.0.0.1:15020", with: "tcp://127.0.0.1:99999"))
        #expect(found.map(\.description) == ["bad.toml:4: station \"rig-1\": address bad address "
                                             + "\"tcp://127.0.0.1:99999\": port must be 1…65535"])
    }

    @Test func everyProblemIsReportedNotJustTheFirst() {
        let text = """
        colour = "blue"
        [[station]]
        name = "a"
        kind = "heat-rig"
        fallback = "maybe"
        [station.control]
        setpoint_c = "hot"
        [[station]]
        name = "a"
        kind = "heat-rig"
        address = "sim://"
        """
        let found = issues(text).map(\.description)
        #expect(found.contains("bad.toml:2: station \"a\": address is required"))
        #expect(found.contains("bad.toml:5: station \"a\": fallback must be \"simulate\" or \"fail\", got \"maybe\""))
        #expect(found.contains("bad.toml:7: station \"a\": control.setpoint_c must be a number, got string"))
        #expect(found.contains("bad.toml:1: colour is not a known key here (a typo?)"))
        #expect(found.contains("bad.toml:9: station \"a\": name is used by another station"))
    }

    @Test func crossFieldCheck() {
        let found = issues(good.replacingOccurrences(of: "setpoint_c = 55", with: "setpoint_c = 80\nalarm_high_c = 75"))
        #expect(found.first?.description.contains("setpoint_c must be below alarm_high_c (75.0), got 80.0") == true)
    }

    @Test func emptyFile() {
        #expect(issues("").first?.message
                == "no [[station]] tables: nothing to run (a file with only a [daemon] table runs the demo plant)")
    }

    @Test func durations() {
        #expect(PlantDuration(argument: "90s")?.seconds == 90)
        #expect(PlantDuration(argument: "2h")?.seconds == 7200)
        #expect(PlantDuration(argument: "1h30m")?.seconds == 5400)
        #expect(PlantDuration(argument: "7d")?.seconds == 604_800)
        #expect(PlantDuration(argument: "250ms")?.seconds == 0.25)
        #expect(PlantDuration(argument: "12")?.seconds == 12)
        #expect(PlantDuration(argument: "2x") == nil)
        #expect(PlantDuration(argument: "-3") == nil)
        #expect(PlantDuration(argument: "h") == nil)
        // Clocks count Int64 nanoseconds: a duration they cannot hold is refused, not a trap later.
        #expect(PlantDuration(argument: "1e9")?.seconds == 1e9)
        #expect(PlantDuration(argument: "1e10") == nil)
        #expect(PlantDuration(argument: "200000d") == nil)
        #expect(PlantDuration(argument: "inf") == nil)
    }
}

@Suite struct ExampleConfigurationTests {
    /// Every file in `examples/` is a valid configuration (the README points people at them).
    @Test func everyExampleLoads() throws {
        var dir = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { dir.deleteLastPathComponent() }
        let examples = dir.appendingPathComponent("examples")
        let files = try FileManager.default.contentsOfDirectory(atPath: examples.path).filter { $0.hasSuffix(".toml") }
        #expect(files.count >= 4)
        for file in files {
            let config = try ConfigLoader.load(path: examples.appendingPathComponent(file).path)
            #expect(!config.stations.isEmpty, "\(file)")
        }
    }
}

@Suite("[daemon] settings")
struct DaemonSettingsTests {
    @Test func onlyADaemonTableRunsTheDemoPlantWithThoseSettings() throws {
        let c = try ConfigLoader.parse("""
        [daemon]
        http = "127.0.0.1:9090"
        data_dir = "/var/lib/rigd-test"
        token_file = "/etc/rigd/token"
        retention_days = 30
        record_interval_s = 0.5
        watchdog_stall_s = 20
        """, source: "daemon.toml")
        let demo = try DemoPlant.configuration()
        #expect(c.stations.map(\.name) == demo.stations.map(\.name))
        #expect(c.daemon.http == ListenAddress(host: "127.0.0.1", port: 9090))
        #expect(c.daemon.resolvedDataDirectory == "/var/lib/rigd-test")
        #expect(c.daemon.resolvedTokenFile == "/etc/rigd/token")
        #expect(c.daemon.retentionDays == 30)
        #expect(c.daemon.recordInterval == 0.5)
        #expect(c.daemon.watchdogStall == 20)
        #expect(c.source.contains("daemon.toml"))
    }

    @Test func defaultsAndOff() throws {
        let c = try ConfigLoader.parse("[daemon]\nhttp = \"off\"\n", source: "x.toml")
        #expect(c.daemon.http == nil)
        #expect(c.daemon.retentionDays == 90)
        #expect(c.daemon.resolvedTokenFile == c.daemon.resolvedDataDirectory + "/api-token")
        #expect(DaemonConfig.defaultDataDirectory(environment: ["STATE_DIRECTORY": "/var/lib/rigd:/x"]) == "/var/lib/rigd")
        #expect(DaemonConfig.defaultDataDirectory(environment: ["HOME": "/home/ann"]) == "/home/ann/.local/state/rigd")
        #expect(try ListenAddress(parsing: "[::1]:8080") == ListenAddress(host: "::1", port: 8080))
        #expect(try ListenAddress(parsing: "[::1]:8080").isLoopback)
        #expect(try !ListenAddress(parsing: "0.0.0.0:80").isLoopback)
    }

    @Test func badValuesAreReportedWithTheirKeys() {
        do {
            _ = try ConfigLoader.parse("""
            [daemon]
            http = "localhost"
            retention_days = -1
            record_interval_s = 0
            colour = "blue"
            """, source: "bad.toml")
            Issue.record("accepted a bad [daemon] table")
        } catch {
            let text = "\(error)"
            for key in ["daemon.http", "daemon.retention_days", "daemon.record_interval_s", "daemon.colour"] {
                #expect(text.contains(key), "\(key) not named in: \(text)")
            }
            #expect(text.contains("bad.toml"))
        }
    }
}
