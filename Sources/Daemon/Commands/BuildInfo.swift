import CShims
import DeviceTransports
import MQTT

/// What `rigd --version` prints: rigd's version and the git commit it was built from, and the versions of the C
/// libraries it runs with (as the loaded libraries report them). The Debian package's version comes from `version`
/// here (scripts/package reads the line); the commit from scripts/build-release (Sources/CShims/build_commit.h), "unknown" in a
/// build made without it.
package enum BuildInfo {
    package static let version = "0.1.0"

    package static var commit: String { String(cString: rigd_git_commit()) }

    package static var text: String {
        """
        rigd \(version) (commit \(commit))
        libmodbus \(LibraryVersions.libmodbus), libgpiod \(LibraryVersions.libgpiod), \
        libserialport \(LibraryVersions.libserialport), libmosquitto \(libmosquittoVersion)
        """
    }
}
