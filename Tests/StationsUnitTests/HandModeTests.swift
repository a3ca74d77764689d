import Control
import Devices
import Foundation
import Logging
import RigdTestKit
import Sim
import Stations
import Testing

/// Hand and auto (issue 23 item 3, `Station+Hand.swift`): an operator's value held over the controller's on a relay or
/// a device command, back to auto when its time is up, and safety (a lost link, an E-stop) ending it.
@Suite struct HandModeTests {
    /// Posts a request and runs the station's next tick (at most 10 s of plant time) so that it is taken.
    private static func post(_ request: HandRequest, to station: any AnyStation, runner: LoopRunner,
                             clock: VirtualClock) -> Result<Void, CommandRejection>? {
        let replies = ReplyLog()
        station.mailbox.post(request, by: "ops") { replies.add($0) }
        runner.run(until: clock.now() + 10_000_000_000)
        return replies.all.last
    }

    private static func rejection(_ r: Result<Void, CommandRejection>?) -> String? {
        if case .failure(let rejection)? = r { return rejection.reason }
        return nil
    }

    /// The pond whose instrument switches its aerators (DeviceRelayTests): a held aerator-1 is what the instrument's
    /// coil and the plant get, whatever the controller decides for both aerators; when its time is up it follows the
    /// controller again, like aerator-2.
    @Test func aHeldRelayOverridesTheControllerUntilItsTimeIsUp() throws {
        let (station, _, instrument, clock, runner) = try DeviceRelayTests.pond()
        runner.run(until: 600_000_000_000)
        let decided = try #require(instrument.relay("aerator_2"))
        let held = !decided
        let accepted = Self.post(.hand(output: "aerator-1", value: held ? 1 : 0, seconds: 1800, why: "diffuser check"),
                                 to: station, runner: runner, clock: clock)
        #expect(Self.rejection(accepted) == nil, "\(String(describing: accepted))")
        let holdStarted = clock.seconds()
        let hand = station.status().hand
        #expect(hand.count == 1 && hand.first?.output == "aerator-1" && hand.first?.by == "ops"
                && hand.first?.why == "diffuser check" && hand.first?.kind == "relay", "\(hand)")
        var differed = 0
        // 25 minutes in 1-minute steps: aerator-1 holds the operator's value at every one.
        for _ in 1...25 {
            runner.run(until: clock.now() + 60_000_000_000)
            #expect(instrument.relay("aerator-1") == held, "at \(clock.seconds() - holdStarted) s of the hold")
            #expect(station.status().relays["aerator-1"] == .some(held))
            if instrument.relay("aerator_2") != held { differed += 1 }
        }
        #expect(differed > 0, "the controller never decided otherwise during the hold: the test shows nothing")
        // Past the 30 minutes: back to auto, and aerator-1 does what aerator-2 does.
        runner.run(until: clock.now() + 600_000_000_000)
        #expect(station.status().hand.isEmpty)
        for _ in 1...10 {
            runner.run(until: clock.now() + 60_000_000_000)
            #expect(instrument.relay("aerator-1") == instrument.relay("aerator_2"))
        }
    }

    /// What a hand request must be: a known output, 0 or 1 for a relay, within the hold's limit.
    @Test func badHandRequestsAreRefusedAndChangeNothing() throws {
        let (station, _, _, clock, runner) = try DeviceRelayTests.pond()
        runner.run(until: 60_000_000_000)
        let cases: [(HandRequest, String)] = [
            (.hand(output: "aerator-9", value: 1, seconds: 60, why: nil), "has no output aerator-9 (outputs: aerator-1"),
            (.hand(output: "aerator-1", value: 0.5, seconds: 60, why: nil), "must be 0 (off) or 1 (on)"),
            (.hand(output: "aerator-1", value: 1, seconds: 1801, why: nil), "at most 30 min"),
            (.hand(output: "aerator-1", value: 1, seconds: 0, why: nil), "more than 0"),
            (.hand(output: "aerator-1", value: 1, seconds: .nan, why: nil), "more than 0"),
            (.auto(output: "aerator-1", why: nil), "aerator-1 is not in hand mode"),
            (.auto(output: nil, why: nil), "no output is in hand mode"),
        ]
        for (request, expected) in cases {
            let reason = Self.rejection(Self.post(request, to: station, runner: runner, clock: clock))
            #expect(reason?.contains(expected) == true, "\(request): \(reason ?? "accepted")")
        }
        #expect(station.status().hand.isEmpty)
    }

    /// A lost link returns every held output to auto at once, and for good: when the link is back, the controller
    /// decides; while it is down, hand mode is refused with the reason.
    @Test func aLostLinkEndsHandModeAndRefusesIt() throws {
        let (station, firmware, instrument, clock, runner) = try DeviceRelayTests.pond()
        runner.run(until: 600_000_000_000)
        let held = !(try #require(instrument.relay("aerator_2")))
        #expect(Self.rejection(Self.post(.hand(output: "aerator-1", value: held ? 1 : 0, seconds: 1800, why: nil),
                                         to: station, runner: runner, clock: clock)) == nil)
        #expect(station.status().hand.count == 1)
        firmware.setOffline(true)
        runner.run(until: clock.now() + 120_000_000_000)
        #expect(station.status().hand.isEmpty, "\(station.status().hand)")
        let refused = Self.rejection(Self.post(.hand(output: "aerator-1", value: 1, seconds: 60, why: nil),
                                               to: station, runner: runner, clock: clock))
        #expect(refused?.contains("the link to the device is down") == true, "\(refused ?? "accepted")")
        firmware.setOffline(false)
        runner.run(until: clock.now() + 300_000_000_000)
        #expect(station.status().hand.isEmpty)
        #expect(instrument.relay("aerator-1") == instrument.relay("aerator_2"), "aerator-1 follows the controller again")
    }

    /// The host's E-stop line (a simulated chip, active low): pressed, it returns the held aerator to auto and refuses
    /// hand mode; released, the aerator stays in auto (nothing switches on by itself).
    @Test func theHostEstopEndsHandModeAndReleasingItDoesNotBringItBack() throws {
        let config = try ConfigLoader.parse("""
            [[station]]
            name = "pond"
            kind = "aqua-sonde"
            address = "sim://"
            [station.estop]
            chip = "gpiochip0"
            line = 4
            active_low = true
            """, source: "test.toml")
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let clock = VirtualClock()
        let station = try Wiring.virtualStations(config, clock: clock, seed: 1, logger: logger)[0]
        let chip = try #require(station.simulation?.gpio["gpiochip0"])
        station.start(now: 0)
        let runner = LoopRunner(clock: clock, loops: station.makeLoops())
        runner.run(until: 60_000_000_000)
        #expect(Self.rejection(Self.post(.hand(output: "aerator-2", value: 1, seconds: 1800, why: nil), to: station,
                                         runner: runner, clock: clock)) == nil)
        #expect(station.status().hand.map(\.output) == ["aerator-2"])
        chip.setPhysicalLevel(4, high: false)  // pressed
        runner.run(until: clock.now() + 30_000_000_000)
        #expect(station.status().hand.isEmpty, "\(station.status().hand)")
        let refused = Self.rejection(Self.post(.hand(output: "aerator-2", value: 1, seconds: 60, why: nil),
                                               to: station, runner: runner, clock: clock))
        #expect(refused?.contains("the E-stop is pressed") == true, "\(refused ?? "accepted")")
        chip.setPhysicalLevel(4, high: true)  // released
        runner.run(until: clock.now() + 60_000_000_000)
        #expect(station.status().hand.isEmpty)
        #expect(Self.rejection(Self.post(.hand(output: "aerator-2", value: 1, seconds: 60, why: nil), to: station,
                                         runner: runner, clock: clock)) == nil, "asked again once released: held")
    }

    /// An extraction station on the register contract: a held set-point and coil are what the device holds while the
    /// controller runs its recipe; auto writes the controller's values again; the device's E-stop ends hand mode.
    @Test func heldCommandsReachTheDeviceAndTheEstopEndsThem() throws {
        let dir = NSTemporaryDirectory() + "rigd-hand-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try """
            [[station]]
            name = "ex"
            kind = "extraction"
            address = "sim://"
            """.write(toFile: dir + "/rigd.toml", atomically: true, encoding: .utf8)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let clock = VirtualClock()
        let station = try Wiring.virtualStations(try ConfigLoader.load(path: dir + "/rigd.toml"), clock: clock, seed: 1,
                                                 logger: logger)[0]
        let device = try #require(station.simulation?.device as? SimulatedDevice<ExtractionFirmware>)
        station.start(now: 0)
        let runner = LoopRunner(clock: clock, loops: station.makeLoops())
        station.mailbox.post(.startRun(nil)) { _ in }
        runner.run(until: 120_000_000_000)
        func pumpSpeed() -> Float? {
            guard case .registers(let words)? = device.handle(.readHoldingRegisters(address: 104, count: 2),
                                                              now: clock.seconds()) else { return nil }
            return RegisterCodec.float32(words, at: 0, order: .abcd)
        }
        func fanEnable() -> Bool? {
            guard case .bits(let bits)? = device.handle(.readCoils(address: 1, count: 1), now: clock.seconds())
            else { return nil }
            return bits.first
        }
        let auto = try #require(pumpSpeed())
        #expect(fanEnable() == true, "the recipe runs the fan")
        let held: Float = auto > 50 ? 20 : 80
        #expect(Self.rejection(Self.post(.hand(output: "pump_speed_pct", value: Double(held), seconds: 600, why: nil),
                                         to: station, runner: runner, clock: clock)) == nil)
        #expect(Self.rejection(Self.post(.hand(output: "fan_enable", value: 0, seconds: 600, why: nil),
                                         to: station, runner: runner, clock: clock)) == nil)
        runner.run(until: clock.now() + 60_000_000_000)
        #expect(pumpSpeed() == held)
        #expect(fanEnable() == false)
        #expect(Set(station.status().hand.map(\.kind)) == ["setpoint", "coil"])
        // Auto for the pump: the controller's speed goes to the device again; the fan stays held.
        #expect(Self.rejection(Self.post(.auto(output: "pump_speed_pct", why: "done"), to: station, runner: runner,
                                         clock: clock)) == nil)
        runner.run(until: clock.now() + 5_000_000_000)
        let speed = try #require(pumpSpeed())
        #expect(abs(speed - held) > 1, "the pump speed stayed at the held \(held)")
        #expect(fanEnable() == false)
        // The E-stop on the device: every held output returns to auto.
        device.setEstop(pressed: true)
        runner.run(until: clock.now() + 5_000_000_000)
        #expect(station.status().hand.isEmpty, "\(station.status().hand)")
        let refused = Self.rejection(Self.post(.hand(output: "fan_enable", value: 1, seconds: 60, why: nil),
                                               to: station, runner: runner, clock: clock))
        #expect(refused != nil, "hand mode accepted with the E-stop pressed")
    }
}
