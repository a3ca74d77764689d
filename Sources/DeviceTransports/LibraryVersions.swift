import CGPIOD
import CModbus
import CSerialPort

/// The versions of the Debian C libraries rigd runs with, as the loaded libraries report them (not the headers it was
/// built against): what `rigd --version` prints.
public enum LibraryVersions {
    /// libmodbus's `libmodbus_version_major.minor.micro`, e.g. "3.1.6".
    public static var libmodbus: String {
        "\(libmodbus_version_major).\(libmodbus_version_minor).\(libmodbus_version_micro)"
    }

    /// libgpiod's `gpiod_version_string()`, e.g. "1.6.3".
    public static var libgpiod: String { String(cString: gpiod_version_string()) }

    /// libserialport's package version, e.g. "0.1.1".
    public static var libserialport: String { String(cString: sp_get_package_version_string()) }
}
