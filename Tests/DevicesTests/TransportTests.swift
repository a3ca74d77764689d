import Glibc
import Testing
@testable import Devices
@testable import DeviceTransports
import SimServe
import Locking

@Suite struct DeviceAddressTests {
    @Test func parses() throws {
        #expect(try DeviceAddress(parsing: "tcp://127.0.0.1:15020") == .tcp(host: "127.0.0.1", port: 15020, unit: 1))
        #expect(try DeviceAddress(parsing: "tcp://rig.lab:502?unit=7") == .tcp(host: "rig.lab", port: 502, unit: 7))
        #expect(try DeviceAddress(parsing: "tcp://[::1]:1502") == .tcp(host: "::1", port: 1502, unit: 1))
        #expect(try DeviceAddress(parsing: "tcp://host") == .tcp(host: "host", port: 502, unit: 1))
        #expect(try DeviceAddress(parsing: "sim://") == .simulated)
        #expect(DeviceAddress.tcp(host: "::1", port: 1502, unit: 3).description == "tcp://[::1]:1502?unit=3")
    }

    @Test func parsesRTU() throws {
        let plain = try DeviceAddress(parsing: "rtu:///dev/ttyUSB0")
        #expect(plain == .rtu(SerialSettings(path: "/dev/ttyUSB0"), unit: 1))
        #expect(plain.description == "rtu:///dev/ttyUSB0?baud=9600&parity=N&data=8&stop=1&unit=1")
        let full = try DeviceAddress(parsing: "rtu:///dev/ttyUSB0?baud=19200&parity=e&data=7&stop=2&unit=3")
        #expect(full == .rtu(SerialSettings(path: "/dev/ttyUSB0", baud: 19200, parity: .even, dataBits: 7, stopBits: 2),
                             unit: 3))
        #expect(full.unit == 3)
        // The description parses back to the same address.
        #expect(try DeviceAddress(parsing: full.description) == full)
        #expect(SerialSettings(path: "/dev/x", parity: .odd).summary == "9600 8O1")
    }

    @Test(arguments: ["udp://1.2.3.4:5", "tcp://", "tcp://h:0", "tcp://h:70000", "tcp://h:12x", "tcp://h:1?unit=300",
                      "tcp://h:1?slave=2", "127.0.0.1:502", "tcp://bad host:1", "rtu://", "rtu://ttyUSB0",
                      "rtu:///dev/ttyUSB0?unit=0", "rtu:///dev/ttyUSB0?unit=248", "rtu:///dev/ttyUSB0?baud=1000",
                      "rtu:///dev/ttyUSB0?parity=X", "rtu:///dev/ttyUSB0?stop=3", "rtu:///dev/ttyUSB0?data=9",
                      "rtu:///dev/ttyUSB0?speed=9600", "rtu:///dev/ttyUSB0?unit"])
    func rejects(_ text: String) {
        #expect(throws: DeviceAddress.ParseError.self) { try DeviceAddress(parsing: text) }
    }
}

@Suite struct ModbusErrorTests {
    @Test func exceptionsAreTransactionErrors() {
        let e = modbusError(errno: 112_345_678 + 3, endpoint: "x", operation: "write")
        let t = try? #require(e as? ModbusTransactionError)
        #expect(t?.exception == .illegalDataValue)
        #expect(t?.description.contains("exception 0x03 (illegal data value)") == true)
        let gw = modbusError(errno: 112_345_678 + 11, endpoint: "x", operation: "read") as? ModbusTransactionError
        #expect(gw?.exception == .gatewayTargetFailed)
    }

    @Test func protocolErrorsAreTransactionErrors() {
        // EMBBADCRC = EMBXGTAR + 1.
        let crc = modbusError(errno: 112_345_678 + 11 + 1, endpoint: "x", operation: "read") as? ModbusTransactionError
        #expect(crc?.kind == .badCRC)
        let data = modbusError(errno: 112_345_678 + 11 + 2, endpoint: "x", operation: "read") as? ModbusTransactionError
        #expect(data?.kind == .badData)
    }

    @Test func socketErrorsAreLinkErrors() {
        for code in [ECONNREFUSED, ETIMEDOUT, ECONNRESET, EPIPE] {
            let e = modbusError(errno: code, endpoint: "tcp://h:1", operation: "read") as? ModbusLinkError
            #expect(e?.errno == code)
        }
    }

    @Test func refusedConnectionIsALinkErrorWithErrno() throws {
        // Bind a socket without listening: connecting to its port is refused at once.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        let port = Int(UInt16(bigEndian: addr.sin_port))
        let client = ModbusTCPClient(host: "127.0.0.1", port: port,
                                     timeouts: ModbusTimeouts(connect: .milliseconds(300), response: .milliseconds(300)))
        do {
            try client.connect()
            Issue.record("connect to a closed port succeeded")
        } catch let error as ModbusLinkError {
            #expect(error.errno == ECONNREFUSED)
            #expect(error.description.contains("tcp://127.0.0.1:\(port)"))
        }
        #expect(!client.isConnected)
        #expect(throws: ModbusLinkError.self) { try client.readInputRegisters(at: 0, count: 1) }
    }
}

@Suite struct HeatRigProfileTests {
    @Test func writesOnlyWhatChanged() {
        let on = HeatRigProfile.Commands(heaterPercent: 40, fanPercent: 0, heaterEnable: true, fanEnable: false)
        let first = HeatRigProfile.writes(for: on, previous: nil, order: .abcd)
        // Percentages before the enables when switching on.
        #expect(first == [.registers(address: 100, values: [0x4220, 0, 0, 0]),
                          .coils(address: 0, values: [true, false])])
        #expect(HeatRigProfile.writes(for: on, previous: on, order: .abcd).isEmpty)
        var warmer = on
        warmer.heaterPercent = 50
        #expect(HeatRigProfile.writes(for: warmer, previous: on, order: .cdab)
                == [.registers(address: 100, values: [0, 0x4248, 0, 0])])
        // Switching the heater off: the enable goes first.
        let safe = HeatRigProfile.writes(for: .safe, previous: on, order: .abcd)
        #expect(safe.first == .coils(address: 0, values: [false, true]))
        #expect(safe.count == 2)
    }
}

@Suite struct SerialPortTests {
    @Test func usbIDIsHexLikeLsusb() {
        var port = SerialPortInfo(name: "/dev/ttyUSB0", description: "FT232R", transport: .usb)
        #expect(port.usbID == nil)
        port.usbVendorID = 0x0403
        port.usbProductID = 0x6001
        #expect(port.usbID == "0403:6001")
    }

    @Test func listingWorksWithoutAdapters() throws {
        // Whatever this machine has, listing must not fail, and every entry names a device path.
        for port in try SerialPorts.list() { #expect(port.name.hasPrefix("/dev/")) }
    }
}
