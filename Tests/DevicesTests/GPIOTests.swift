import Glibc
import Testing
@testable import Devices
import Sim
@testable import DeviceTransports
import SimServe
import Locking

/// True when this machine has a first GPIO chip (a Raspberry Pi), where the no-chip path cannot be exercised.
private let hasGPIOChip0 = access("/dev/gpiochip0", F_OK) == 0

@Suite struct LibGPIODProviderTests {
    @Test(.disabled(if: hasGPIOChip0, "/dev/gpiochip0 exists here, so requesting it cannot fail with chipNotFound"))
    func missingChipIsChipNotFound() {
        let provider = LibGPIODProvider()
        let address = GPIOLineAddress(chip: "gpiochip0", line: 17, activeLow: true)
        let error = #expect(throws: GPIOError.self) {
            _ = try provider.request(address, direction: .input, consumer: "rigd:test:estop")
        }
        #expect(error?.kind == .chipNotFound)
        #expect(error?.errno == ENOENT)
        #expect(error?.address == address)
        #expect(error?.operation == "open chip")
        #expect(error?.description.hasPrefix(
            "gpiochip0 line 17 (active low): open chip: no such GPIO chip gpiochip0 (ENOENT) — ") == true)
        #expect(error?.description.contains("gpiodetect") == true)
        // Failure is not cached: asking again fails the same way, without crashing.
        let again = #expect(throws: GPIOError.self) {
            _ = try provider.request(address, direction: .output(initial: false), consumer: "rigd:test:estop")
        }
        #expect(again?.kind == .chipNotFound)
    }

    @Test func unknownChipNameIsChipNotFoundEverywhere() {
        let provider = LibGPIODProvider()
        let address = GPIOLineAddress(chip: "rigd-no-such-chip", line: 0)
        let error = #expect(throws: GPIOError.self) {
            _ = try provider.request(address, direction: .input, consumer: "rigd:test")
        }
        #expect(error?.kind == .chipNotFound)
        #expect(error?.description.contains("no such GPIO chip rigd-no-such-chip") == true)
    }
}

@Suite struct GPIOAddressTests {
    @Test func describesItself() {
        #expect(GPIOLineAddress(chip: "gpiochip0", line: 17, activeLow: true).description
            == "gpiochip0 line 17 (active low)")
        #expect(GPIOLineAddress(chip: "gpiochip1", line: 4).description == "gpiochip1 line 4")
    }
}

@Suite struct SimulatedGPIOChipTests {
    let chip = SimulatedGPIOChip()

    @Test func activeLowInputIsAssertedWhenTheWireIsLow() throws {
        let estop = try chip.request(GPIOLineAddress(chip: "gpiochip0", line: 17, activeLow: true),
                                     direction: .input, consumer: "rigd:extractor-1:estop")
        #expect(try estop.read() == false)   // pull-up: high, not pressed
        chip.setPhysicalLevel(17, high: false)
        #expect(try estop.read() == true)
        chip.setPhysicalLevel(17, high: true)
        #expect(try estop.read() == false)
        #expect(chip.consumer(of: 17) == "rigd:extractor-1:estop")
    }

    @Test func activeHighInputReadsTheWire() throws {
        let input = try chip.request(GPIOLineAddress(chip: "gpiochip0", line: 3), direction: .input, consumer: "t")
        chip.setPhysicalLevel(3, high: false)
        #expect(try input.read() == false)
        chip.setPhysicalLevel(3, high: true)
        #expect(try input.read() == true)
    }

    @Test func outputDrivesTheWire() throws {
        let relay = try chip.request(GPIOLineAddress(chip: "gpiochip0", line: 5),
                                     direction: .output(initial: false), consumer: "rigd:heat:relay")
        #expect(chip.physicalLevel(5) == false)
        try relay.write(true)
        #expect(chip.physicalLevel(5) == true)
        #expect(try relay.read() == true)
        try relay.write(false)
        #expect(chip.physicalLevel(5) == false)
    }

    @Test func activeLowOutputDrivesTheWireInverted() throws {
        let lamp = try chip.request(GPIOLineAddress(chip: "gpiochip0", line: 6, activeLow: true),
                                    direction: .output(initial: false), consumer: "rigd:heat:lamp")
        #expect(chip.physicalLevel(6) == true)   // deasserted active-low output: wire high
        try lamp.write(true)
        #expect(chip.physicalLevel(6) == false)
        #expect(try lamp.read() == true)
        let asserted = try chip.request(GPIOLineAddress(chip: "gpiochip0", line: 7, activeLow: true),
                                        direction: .output(initial: true), consumer: "rigd:heat:lamp2")
        #expect(chip.physicalLevel(7) == false)
        try asserted.write(false)
        #expect(chip.physicalLevel(7) == true)
    }

    @Test func lineIsBusyUntilReleased() throws {
        let address = GPIOLineAddress(chip: "gpiochip0", line: 9)
        let first = try chip.request(address, direction: .input, consumer: "rigd:a")
        let error = #expect(throws: GPIOError.self) {
            _ = try chip.request(address, direction: .output(initial: false), consumer: "rigd:b")
        }
        #expect(error?.kind == .busy)
        #expect(error?.errno == EBUSY)
        #expect(error?.description.contains("busy") == true)
        #expect(chip.consumer(of: 9) == "rigd:a")

        first.release()
        first.release()   // harmless
        #expect(chip.consumer(of: 9) == nil)
        #expect(throws: GPIOError.self) { try first.read() }
        let second = try chip.request(address, direction: .input, consumer: "rigd:b")
        #expect(chip.consumer(of: 9) == "rigd:b")
        withExtendedLifetime(second) {}
    }

    @Test func droppingALineReleasesIt() throws {
        let address = GPIOLineAddress(chip: "gpiochip0", line: 10)
        _ = try chip.request(address, direction: .input, consumer: "rigd:a")   // dropped at once
        #expect(chip.consumer(of: 10) == nil)
        let again = try chip.request(address, direction: .input, consumer: "rigd:b")
        #expect(again.address == address)
    }

    @Test func wrongChipIsChipNotFound() {
        let address = GPIOLineAddress(chip: "gpiochip1", line: 0)
        let error = #expect(throws: GPIOError.self) {
            _ = try chip.request(address, direction: .input, consumer: "t")
        }
        #expect(error?.kind == .chipNotFound)
        #expect(error?.errno == ENOENT)
        #expect(error?.description.contains("no such GPIO chip gpiochip1") == true)
    }

    @Test(arguments: [32, 100, -1])
    func lineOutOfRangeIsLineNotFound(_ line: Int) {
        let error = #expect(throws: GPIOError.self) {
            _ = try chip.request(GPIOLineAddress(chip: "gpiochip0", line: line), direction: .input, consumer: "t")
        }
        #expect(error?.kind == .lineNotFound)
    }

    @Test func writeOnAnInputIsNotAnOutput() throws {
        let input = try chip.request(GPIOLineAddress(chip: "gpiochip0", line: 2, activeLow: true),
                                     direction: .input, consumer: "t")
        let error = #expect(throws: GPIOError.self) { try input.write(true) }
        #expect(error?.kind == .notAnOutput)
        #expect(chip.physicalLevel(2) == true)   // the wire is untouched
    }

    @Test func longConsumerLabelsAreCutAsTheKernelCutsThem() throws {
        let label = String(repeating: "x", count: 40)
        let line = try chip.request(GPIOLineAddress(chip: "gpiochip0", line: 1), direction: .input, consumer: label)
        #expect(chip.consumer(of: 1) == String(repeating: "x", count: 31))
        withExtendedLifetime(line) {}
    }
}
