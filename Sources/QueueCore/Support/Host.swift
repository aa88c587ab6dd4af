import Glibc

/// Which machine this process runs on. A pid means something only on its own host (and only
/// with its start time), so every claim, worker record and supervisor names its host.
///
/// `name` is `$QUEUECTL_HOST` when set (tests, containers), else the kernel's hostname. `id`
/// adds the boot id, so a machine that rebooted is not mistaken for the one that was running.
public struct Host: Equatable {
    public let name: String
    public let id: String

    public static let current: Host = {
        let boot = (try? Posix.readFile("/proc/sys/kernel/random/boot_id")).flatMap { $0 }
            .map { String(decoding: $0.prefix(8), as: UTF8.self) } ?? "noboot"
        if let forced = Posix.env("QUEUECTL_HOST") { return Host(name: forced, id: forced + ":" + boot) }
        var u = utsname()
        let node: String = uname(&u) == 0
            ? withUnsafeBytes(of: u.nodename) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            : "localhost"
        return Host(name: node.isEmpty ? "localhost" : node, id: (node.isEmpty ? "localhost" : node) + ":" + boot)
    }()

    /// The name reduced to characters that are safe in a file name.
    public var fileSafeName: String { Host.fileSafe(name) }

    static func fileSafe(_ s: String) -> String {
        String(s.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == "_") ? $0 : "_" })
    }

    /// The host name part of an `id` (`name:boot`).
    public static func name(ofId id: String) -> String {
        guard let colon = id.lastIndex(of: ":") else { return id }
        return String(id[..<colon])
    }
}
