import ArgumentParser
import Devices
import Stations
import DeviceTransports
import SimServe
import Locking

struct PortsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ports",
        abstract: "List the serial ports (RS-485 adapters) this machine has.",
        discussion: "Through libserialport: name, description, transport, and for USB adapters VID:PID, maker, product "
            + "and serial number — the serial number tells two identical adapters apart. Pseudo-terminals (a socat "
            + "pair) are not listed; use their path directly in an rtu:// address."
    )

    func run() throws {
        let ports = try SerialPorts.list()
        guard !ports.isEmpty else {
            say("no serial ports found (libserialport lists native, USB and Bluetooth ports; is the adapter plugged in?)")
            return
        }
        for port in ports {
            var fields = [port.name, port.transport.rawValue]
            if !port.description.isEmpty { fields.append(port.description) }
            if let id = port.usbID { fields.append("USB \(id)") }
            if let maker = port.usbManufacturer { fields.append(maker) }
            if let product = port.usbProduct { fields.append(product) }
            if let serial = port.usbSerial { fields.append("serial \(serial)") }
            say(fields.joined(separator: "  "))
        }
    }
}
