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

    /// The issues of `text`, recording a test failure if it loads.
    static func issues(_ text: String) -> [ConfigIssue] {
        do {
            _ = try ConfigLoader.parse(text, source: "bad.toml")
            Issue.record("accepted:\n\(text)")
            return []
        } catch {
            return error.issues
        }
    }

    @Test func malformedTOMLNamesTheLine() {
        let found = Self.issues("[[station]]\nname = \"a\"\nkind = = 3\n")
        #expect(found.count == 1)
        #expect(found[0].line == 3)
        #expect(found[0].description.hasPrefix("bad.toml:3: malformed TOML"))
    }

    @Test func unknownKeyNamesFileLineAndKey() {
        let text = good.replacingOccurrences(of: "kp = 3.5", with: "kp = 3.5\nsetpiont_c = 50")
        let found = Self.issues(text)
        #expect(found.map(\.description) == ["bad.toml:9: station \"rig-1\": control.setpiont_c is not a known key here (a typo?)"])
    }

    @Test func outOfRangeValueNamesTheRange() {
        let found = Self.issues(good.replacingOccurrences(of: "setpoint_c = 55", with: "setpoint_c = 700"))
        #expect(found.map(\.description) == ["bad.toml:7: station \"rig-1\": control.setpoint_c must be within 0…85, got 700"])
    }

    @Test func unknownKindListsTheKinds() {
        let found = Self.issues(good.replacingOccurrences(of: "\"heat-rig\"", with: "\"heat-pump\""))
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
        let found = Self.issues(base).map(\.description)
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
        let badUnit = Self.issues(base.replacingOccurrences(of: "unit=4", with: "unit=250"))
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
        let found = Self.issues(good.replacingOccurrences(of: "tcp://127.0.0.1:15020", with: "tcp://127.0.0.1:99999"))
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
        let found = Self.issues(text).map(\.description)
        #expect(found.contains("bad.toml:2: station \"a\": address is required"))
        #expect(found.contains("bad.toml:5: station \"a\": fallback must be \"simulate\" or \"fail\", got \"maybe\""))
        #expect(found.contains("bad.toml:7: station \"a\": control.setpoint_c must be a number, got string"))
        #expect(found.contains("bad.toml:1: colour is not a known key here (a typo?)"))
        #expect(found.contains("bad.toml:9: station \"a\": name is used by another station"))
    }

    @Test func crossFieldCheck() {
        let found = Self.issues(good.replacingOccurrences(of: "setpoint_c = 55", with: "setpoint_c = 80\nalarm_high_c = 75"))
        #expect(found.first?.description.contains("setpoint_c must be below alarm_high_c (75.0), got 80.0") == true)
    }

    @Test func emptyFile() {
        #expect(Self.issues("").first?.message
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

/// Nested in `ConfigLoaderTests`, so that filtering on it runs these too.
extension ConfigLoaderTests {
    @Suite("[mqtt] settings")
    struct MQTTSettingsTests {
        /// One station to name in `[mqtt.deadband]`.
        static let pond = """
        [[station]]
        name = "pond-1"
        kind = "aqua-sonde"
        address = "sim://"

        """

        /// `pond` with an `[mqtt]` table of `mqtt` (its lines, without the header).
        private func file(_ mqtt: String) -> String { Self.pond + "[mqtt]\n" + mqtt }

        private func parse(_ mqtt: String) throws -> MQTTConfig? {
            try ConfigLoader.parse(file(mqtt), source: "mqtt.toml").mqtt
        }

        /// The issues of an `[mqtt]` table of `mqtt`, as `file:line: key message`.
        private func problems(_ mqtt: String) -> [String] { ConfigLoaderTests.issues(file(mqtt)).map(\.description) }

        @Test func everyKeyIsRead() throws {
            let c = try parse("""
            broker = "mqtts://broker.site.example:8884"
            group = "site-north"
            node = "rigd-host-1"
            protocol = "5"
            username = "rigd"
            password_file = "/etc/rigd/mqtt-password"
            ca_file = "/etc/rigd/ca.pem"
            cert_file = "/etc/rigd/client.pem"
            key_file = "/etc/rigd/client.key"
            primary_host = "scada-1"
            deadband_default = 0.01
            max_interval_s = 300
            forward_rate_per_s = 50
            keepalive_s = 45
            [mqtt.deadband]
            "pond-1.do_mgl" = 0.05
            "pond-1.water_temp_c" = 0.1
            """)
            var expected = MQTTConfig(host: "broker.site.example", port: 8884, tls: true, group: "site-north",
                                      node: "rigd-host-1")
            expected.protocolVersion5 = true
            expected.username = "rigd"
            expected.passwordFile = "/etc/rigd/mqtt-password"
            expected.caFile = "/etc/rigd/ca.pem"
            expected.certFile = "/etc/rigd/client.pem"
            expected.keyFile = "/etc/rigd/client.key"
            expected.primaryHost = "scada-1"
            expected.deadbandDefault = 0.01
            expected.deadbands = ["pond-1.do_mgl": 0.05, "pond-1.water_temp_c": 0.1]
            expected.maxInterval = 300
            expected.forwardRatePerS = 50
            expected.keepalive = 45
            #expect(c == expected)
        }

        @Test func defaults() throws {
            let c = try #require(try parse("broker = \"mqtt://10.0.0.5\"\ngroup = \"site\"\nnode = \"host\"\n"))
            #expect(c == MQTTConfig(host: "10.0.0.5", port: 1883, tls: false, group: "site", node: "host"))
            #expect(!c.protocolVersion5 && c.username == nil && c.passwordFile == nil && c.caFile == nil)
            #expect(c.primaryHost == nil && c.deadbands.isEmpty)
            #expect(c.deadbandDefault == 0.001 && c.maxInterval == 60 && c.forwardRatePerS == 500 && c.keepalive == 30)
            let slash = try parse("broker = \"mqtt://h/\"\ngroup = \"g\"\nnode = \"n\"\nprotocol = \"3.1.1\"\n")
            #expect(slash?.port == 1883 && slash?.protocolVersion5 == false)
        }

        @Test func mqttsDefaultsToPort8883AndIPv6HostsLoseTheirBrackets() throws {
            let tls = try #require(try parse("broker = \"mqtts://broker.local\"\ngroup = \"g\"\nnode = \"n\"\n"
                                             + "ca_file = \"/etc/ssl/ca.pem\"\n"))
            #expect(tls.host == "broker.local" && tls.port == 8883 && tls.tls)
            let v6 = try #require(try parse("broker = \"mqtt://[::1]:1884\"\ngroup = \"g\"\nnode = \"n\"\n"))
            #expect(v6.host == "::1" && v6.port == 1884 && !v6.tls)
        }

        @Test func noMQTTTableIsNoMQTTAndNoAbsentKey() throws {
            let (c, absent) = try ConfigLoader.parseReportingAbsent(Self.pond, source: "plain.toml")
            #expect(c.mqtt == nil)
            #expect(!absent.contains { $0.hasPrefix("mqtt") }, "\(absent.sorted())")
        }

        @Test func everyMistakeIsReportedWithItsKey() {
            let found = problems("""
            broker = "mqtt://user:secret@broker.local"
            group = "site/north"
            node = ""
            protocol = "4"
            password_file = "/etc/rigd/mqtt-password"
            ca_file = "/etc/rigd/ca.pem"
            keepalive_s = 2
            deadband_default = 0.9
            max_interval_s = 0
            forward_rate_per_s = "fast"
            colour = "blue"
            [mqtt.deadband]
            "pond-9.do_mgl" = 0.05
            """)
            let expected = [
                // A URL with a password is not repeated in the message (it goes to logs).
                "bad.toml:6: mqtt.broker must not hold a user or password: use username and password_file "
                    + "(mqtt://broker.local:1883 or mqtts://broker.local:8883)",
                "bad.toml:7: mqtt.group must not contain '/', '+' or '#' (Sparkplug ids are topic levels), "
                    + "got \"site/north\"",
                "bad.toml:8: mqtt.node must not be empty (a Sparkplug id)",
                "bad.toml:9: mqtt.protocol must be \"3.1.1\" or \"5\", got \"4\"",
                "bad.toml:10: mqtt.password_file needs username (the user the password is for)",
                "bad.toml:11: mqtt.ca_file is only for an mqtts:// broker (TLS), the broker is mqtt://",
                "bad.toml:12: mqtt.keepalive_s must be within 5…3600, got 2",
                "bad.toml:13: mqtt.deadband_default must be within 0…0.5, got 0.9",
                "bad.toml:14: mqtt.max_interval_s must be within 1…86400, got 0",
                "bad.toml:15: mqtt.forward_rate_per_s must be a number, got string",
                "bad.toml:16: mqtt.colour is not a known key here (a typo?)",
                "bad.toml:18: mqtt.deadband.\"pond-9.do_mgl\" names no station \"pond-9\" (stations: pond-1)",
            ]
            for line in expected { #expect(found.contains(line), "missing \(line)\nin \(found)") }
            #expect(found.count == expected.count, "\(found)")
        }

        @Test(arguments: [
            ("http://broker.local", "has scheme \"http\", must be mqtt:// or mqtts://"),
            ("broker.local:1883", "has scheme \"broker.local\", must be mqtt:// or mqtts://"),
            ("mqtt://:1883", "names no host"),
            ("mqtt:broker.local", "names no host"),
            ("mqtt://broker.local/rigd", "must not have a path, got \"/rigd\""),
            ("mqtt://admin@broker.local", "must not hold a user or password: use username and password_file"),
            ("mqtt://broker.local:0", "port must be 1…65535, got 0"),
            ("mqtts://broker.local:99999", "port must be 1…65535, got 99999"),
            ("mqtt://broker.local?x=1", "must not have a query"),
            ("mqtt://broker.local:port", "is not a URL"),
            ("", "must start with mqtt:// or mqtts://"),
        ])
        func badBrokers(broker: String, message: String) {
            let found = problems("broker = \"\(broker)\"\ngroup = \"g\"\nnode = \"n\"\nca_file = \"/ca.pem\"\n")
            #expect(found.contains { $0.contains("mqtt.broker ") && $0.contains(message) }, "\(found)")
        }

        @Test func requiredKeys() {
            let found = problems("keepalive_s = 30\n")
            for key in ["broker", "group", "node"] {
                #expect(found.contains("bad.toml:5: mqtt.\(key) is required"), "\(found)")
            }
        }

        @Test func unknownKeyIsATypo() {
            let found = problems("broker = \"mqtt://h\"\ngroup = \"g\"\nnode = \"n\"\nkeep_alive_s = 30\n")
            #expect(found == ["bad.toml:9: mqtt.keep_alive_s is not a known key here (a typo?)"])
        }

        @Test func sparkplugIDs() {
            let found = problems("broker = \"mqtt://h\"\ngroup = \"a+b\"\nnode = \"#\"\nprimary_host = \"scada/1\"\n")
            for key in ["group", "node", "primary_host"] {
                #expect(found.contains { $0.contains("mqtt.\(key) must not contain '/', '+' or '#'") }, "\(found)")
            }
            let empty = problems("broker = \"mqtt://h\"\ngroup = \"\"\nnode = \"n\"\nprimary_host = \"\"\n")
            #expect(empty.contains("bad.toml:7: mqtt.group must not be empty (a Sparkplug id)"), "\(empty)")
            #expect(empty.contains("bad.toml:9: mqtt.primary_host must not be empty (a Sparkplug id)"), "\(empty)")
        }

        @Test func protocolVersion() throws {
            let five = try parse("broker = \"mqtt://h\"\ngroup = \"g\"\nnode = \"n\"\nprotocol = \"5\"\n")
            #expect(five?.protocolVersion5 == true)
            let found = problems("broker = \"mqtt://h\"\ngroup = \"g\"\nnode = \"n\"\nprotocol = 5\n")
            #expect(found == ["bad.toml:9: mqtt.protocol must be \"3.1.1\" or \"5\", in quotes (a string)"])
        }

        @Test func tlsFiles() {
            let base = "group = \"g\"\nnode = \"n\"\n"
            #expect(problems("broker = \"mqtts://h\"\n" + base) == [
                "bad.toml:5: mqtt.ca_file is required for an mqtts:// broker "
                    + "(the CA that signs the broker's certificate)",
            ])
            #expect(problems("broker = \"mqtts://h\"\n" + base + "ca_file = \"ca.pem\"\ncert_file = \"c.pem\"\n")
                    == ["bad.toml:5: mqtt.key_file is required with cert_file"])
            #expect(problems("broker = \"mqtts://h\"\n" + base + "ca_file = \"ca.pem\"\nkey_file = \"c.key\"\n")
                    == ["bad.toml:5: mqtt.cert_file is required with key_file"])
            let plain = problems("broker = \"mqtt://h\"\n" + base + "ca_file = \"ca.pem\"\ncert_file = \"c.pem\"\n"
                                 + "key_file = \"c.key\"\n")
            for (line, key) in [(9, "ca_file"), (10, "cert_file"), (11, "key_file")] {
                #expect(plain.contains("bad.toml:\(line): mqtt.\(key) is only for an mqtts:// broker (TLS), "
                                       + "the broker is mqtt://"), "\(plain)")
            }
            #expect(plain.count == 3, "\(plain)")
        }

        @Test func credentialsAndEmptyFiles() {
            let found = problems("""
            broker = "mqtts://h"
            group = "g"
            node = "n"
            username = ""
            password_file = ""
            ca_file = ""
            cert_file = ""
            key_file = ""
            """)
            #expect(found.contains("bad.toml:9: mqtt.username must name the user (or be left out)"), "\(found)")
            for (line, key) in [(10, "password_file"), (11, "ca_file"), (12, "cert_file"), (13, "key_file")] {
                #expect(found.contains("bad.toml:\(line): mqtt.\(key) must name a file"), "\(found)")
            }
            #expect(found.count == 5, "\(found)")
            let noUser = problems("broker = \"mqtt://h\"\ngroup = \"g\"\nnode = \"n\"\npassword_file = \"pw\"\n")
            #expect(noUser == ["bad.toml:9: mqtt.password_file needs username (the user the password is for)"])
        }

        @Test func deadbandKeysNameAStationAndItsChannel() {
            let found = problems("""
            broker = "mqtt://h"
            group = "g"
            node = "n"
            [mqtt.deadband]
            "pond-1.do_mg_l" = 0.05
            "pond-1.ph" = -1
            "pond" = 0.1
            "pond-1.tan_mgl" = "small"
            pond-1.water_temp_c = 0.1
            "pond-2.ph" = 0.01
            """)
            let expected = [
                "bad.toml:10: mqtt.deadband.\"pond-1.do_mg_l\" names a channel \"do_mg_l\" that station \"pond-1\" "
                    + "(aqua-sonde) does not have (channels: do_mgl, do_sat_pct, water_temp_c, ph, salinity_ppt, "
                    + "tan_mgl, nh3_mgl, chl_ugl, current_mps, wave_m)",
                "bad.toml:11: mqtt.deadband.\"pond-1.ph\" must be within 0…1000000000, got -1",
                "bad.toml:12: mqtt.deadband.\"pond\" must be \"station.channel\" (\"pond-1.do_mgl\")",
                "bad.toml:13: mqtt.deadband.\"pond-1.tan_mgl\" must be a number, got string",
                "bad.toml:9: mqtt.deadband.\"pond-1\" is a table: quote the whole key, \"station.channel\" = 0.05 "
                    + "(unquoted, the dot makes a table)",
                "bad.toml:15: mqtt.deadband.\"pond-2.ph\" names no station \"pond-2\" (stations: pond-1)",
            ]
            // The channel list is the kind's: compare up to it, so that a new channel does not break the test.
            for line in expected {
                let head = line.components(separatedBy: " (channels:")[0]
                #expect(found.contains { $0.hasPrefix(head) }, "missing \(line)\nin \(found)")
            }
            #expect(found.count == expected.count, "\(found)")
        }

        @Test func aDaemonTableWithMQTTRunsTheDemoPlantWithMQTT() throws {
            let c = try ConfigLoader.parse("""
            [daemon]
            http = "off"
            [mqtt]
            broker = "mqtt://broker.local"
            group = "g"
            node = "n"
            [mqtt.deadband]
            "pond-1.do_mgl" = 0.05
            """, source: "demo-mqtt.toml")
            #expect(c.stations.map(\.name) == (try DemoPlant.configuration()).stations.map(\.name))
            #expect(c.mqtt?.deadbands == ["pond-1.do_mgl": 0.05])
            // The demo plant's stations are the ones deadband keys may name.
            let found = ConfigLoaderTests.issues("[daemon]\n[mqtt]\nbroker = \"mqtt://h\"\ngroup = \"g\"\nnode = \"n\"\n"
                               + "[mqtt.deadband]\n\"rig-1.temp_c\" = 1\n")
            let message = found.first?.message ?? ""
            #expect(found.count == 1 && message.hasPrefix("names no station \"rig-1\" (stations: "), "\(found)")
        }

        @Test func relativeFilesAreAnchoredNextToTheConfigurationFile() throws {
            let path = try temporaryFile(file("""
            broker = "mqtts://h"
            group = "g"
            node = "n"
            username = "rigd"
            password_file = "secrets/mqtt-password"
            ca_file = "ca.pem"
            cert_file = "/etc/rigd/client.pem"
            key_file = "./client.key"
            """))
            defer { try? FileManager.default.removeItem(atPath: path) }
            let dir = (path as NSString).deletingLastPathComponent
            let c = try #require(try ConfigLoader.load(path: path).mqtt)
            #expect(c.passwordFile == dir + "/secrets/mqtt-password")
            #expect(c.caFile == dir + "/ca.pem")
            #expect(c.certFile == "/etc/rigd/client.pem")
            #expect(c.keyFile == dir + "/./client.key" || c.keyFile == dir + "/client.key")
        }
    }
}
