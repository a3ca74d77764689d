import Devices

extension StationKind {
    /// The kind's register contract (docs/register-contract.md) written as a device map: rigd's built-in map for the
    /// kind, generated from the device profile. `maps/builtin/<kind>.toml` holds this text; a test keeps the two the
    /// same and loads it through `MapLoader`.
    package static var builtInMapText: String {
        typealias Profile = Controller.Profile
        func number(_ value: Double) -> String { TableReader.format(value) }
        func hex(_ code: UInt16) -> String {
            let digits = String(code, radix: 16, uppercase: true)
            return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
        }
        var lines = [
            "# \(kind): rigd's register contract (docs/register-contract.md) as a device map — the map a station of this",
            "# kind uses when it names none. Generated from the device profile (Sources/Devices/Profiles); a test checks",
            "# this file against it. Registers are 0-based protocol addresses.",
            "[map]",
            "kind = \"\(kind)\"",
            "name = \"rigd register contract: \(kind) (device type 0x\(hex(kind.deviceType)))\"",
            "word_order = \"ABCD\"              # a contract device also takes CDAB, selected in HR 2",
            "unit = 1",
            "max_read_registers = 125",
            "max_write_registers = 123",
            "max_gap = 8",
            "inter_request_ms = 0",
            "identity = { table = \"input\", register = \(CommonRegisters.deviceType), type = \"uint16\", "
                + "equals = \(kind.deviceType) }",
        ]
        let served = Profile.channels.count - Profile.simulatorOnlyChannelCount
        for spec in Profile.channels.prefix(served) {
            lines += ["", "[[map.channel]]", "name = \"\(spec.name)\"", "table = \"input\"",
                      "register = \(spec.address)", "type = \"float32\"",
                      "quality_word = { table = \"input\", register = \(spec.address + 2) }"]
        }
        let simulatorOnly = Profile.channels.dropFirst(served).map(\.name)
        if !simulatorOnly.isEmpty {
            lines += ["", "# Not mapped: \(simulatorOnly.joined(separator: ", ")) (served by rigd's simulator only; a real "
                      + "device has no such sensor)."]
        }
        for setpoint in Profile.holdingSetpoints {
            lines += ["", "[[map.command]]", "name = \"\(setpoint.name)\"", "table = \"holding\"",
                      "register = \(setpoint.address)", "type = \"float32\"",
                      "min = \(number(Double(setpoint.limits.lowerBound)))",
                      "max = \(number(Double(setpoint.limits.upperBound)))"]
        }
        for (i, coil) in Profile.coilNames.enumerated() {
            lines += ["", "[[map.command]]", "name = \"\(coil)\"", "table = \"coil\"", "register = \(i)",
                      "type = \"bool\""]
        }
        if Profile.usesHostWatchdog {
            lines += ["", "[map.watchdog]",
                      "timeout = { table = \"holding\", register = \(CommonRegisters.watchdogTimeoutMs), "
                          + "type = \"uint16\", value_ms = \(CommonRegisters.defaultWatchdogMs) }",
                      "heartbeat = { table = \"holding\", register = \(CommonRegisters.hostHeartbeat) }",
                      "reset = { table = \"holding\", register = \(CommonRegisters.command), "
                          + "value = \(CommonRegisters.resetFaultsCommand) }"]
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
