#if canImport(Glibc)
import Glibc
#endif

/// Files whose contents decide what rigd does to hardware (the configuration) or who may command it (the API
/// token) must not be writable by other users; the token must not be readable by them either. rigd warns, naming
/// the file, its mode and the fix, and carries on: refusing to start could leave a rig uncontrolled.
package enum FilePermissions {
    /// A warning when `file` is writable by its group or by others (configuration, recipe, fault timeline).
    package static func writableByOthers(_ file: String, what: String) -> String? {
        guard let mode = mode(of: file), mode & 0o022 != 0 else { return nil }
        return "\(what) \(file) is writable by other users (mode \(octal(mode))): anyone who can write it decides "
            + "what rigd does to the hardware; chmod go-w it"
    }

    /// A warning when the API token file is readable or writable by its group or by others.
    package static func tokenTooOpen(_ file: String) -> String? {
        secretTooOpen(file, what: "the API token file", risk: "may command the stations")
    }

    /// A warning when a secret (a password file) is readable or writable by its group or by others.
    package static func secretTooOpen(_ file: String, what: String, risk: String) -> String? {
        guard let mode = mode(of: file), mode & 0o077 != 0 else { return nil }
        return "\(what) \(file) is open to other users (mode \(octal(mode))): anyone who can read it \(risk); "
            + "chmod 600 it"
    }

    private static func mode(of file: String) -> mode_t? {
        var info = stat()
        guard stat(file, &info) == 0 else { return nil }
        return info.st_mode & 0o7777
    }

    private static func octal(_ mode: mode_t) -> String { "0" + String(mode, radix: 8) }
}
