import CSerialPort
import Devices
import Locking

/// A serial port as libserialport describes it.
public struct SerialPortInfo: Sendable, Equatable {
    public enum Transport: String, Sendable { case native, usb, bluetooth }

    /// The device path, e.g. /dev/ttyUSB0.
    public var name: String
    public var description: String
    public var transport: Transport
    /// USB vendor and product ids, where the port is on USB.
    public var usbVendorID: Int?
    public var usbProductID: Int?
    public var usbManufacturer: String?
    public var usbProduct: String?
    public var usbSerial: String?

    /// "VID:PID" in hex, as lsusb prints it.
    public var usbID: String? {
        guard let vid = usbVendorID, let pid = usbProductID else { return nil }
        func hex(_ v: Int) -> String {
            let s = String(v, radix: 16)
            return String(repeating: "0", count: max(0, 4 - s.count)) + s
        }
        return "\(hex(vid)):\(hex(pid))"
    }
}

/// Lists the machine's serial ports through libserialport.
///
/// - Important: libserialport lists real (native, USB, Bluetooth) ports only; pseudo-terminals such as a socat pair
///   are not listed, and are used by their path directly.
public enum SerialPorts {
    public struct ListError: Error, Sendable, CustomStringConvertible {
        public let code: Int32
        public var description: String { "libserialport could not list ports (sp_return \(code))" }
    }

    public static func list() throws -> [SerialPortInfo] {
        var list: UnsafeMutablePointer<OpaquePointer?>?
        let rc = sp_list_ports(&list)
        guard rc == SP_OK, let list else { throw ListError(code: rc.rawValue) }
        defer { sp_free_port_list(list) }
        var ports: [SerialPortInfo] = []
        var i = 0
        while let port = list[i] {
            i += 1
            func text(_ p: UnsafeMutablePointer<CChar>?) -> String? { p.map { String(cString: $0) } }
            let transport: SerialPortInfo.Transport = switch sp_get_port_transport(port) {
            case SP_TRANSPORT_USB: .usb
            case SP_TRANSPORT_BLUETOOTH: .bluetooth
            default: .native
            }
            var info = SerialPortInfo(name: text(sp_get_port_name(port)) ?? "?",
                                      description: text(sp_get_port_description(port)) ?? "", transport: transport)
            if transport == .usb {
                var vid: Int32 = 0
                var pid: Int32 = 0
                if sp_get_port_usb_vid_pid(port, &vid, &pid) == SP_OK {
                    info.usbVendorID = Int(vid)
                    info.usbProductID = Int(pid)
                }
                info.usbManufacturer = text(sp_get_port_usb_manufacturer(port))
                info.usbProduct = text(sp_get_port_usb_product(port))
                info.usbSerial = text(sp_get_port_usb_serial(port))
            }
            ports.append(info)
        }
        return ports.sorted { $0.name < $1.name }
    }
}
