import Glibc

/// What kind of file system the home is on. On a network file system other machines' writes
/// are invisible to inotify, so workers poll at `poll_interval` there (ARCHITECTURE.md, "A home
/// on a network file system"). Read from /proc/self/mountinfo: statfs(2) is not visible to Swift,
/// and the mount table also names a FUSE file system's kind (fuse.juicefs, fuse.sshfs).
public struct FileSystemKind: Equatable {
    public let name: String
    public let isNetwork: Bool

    static let networkTypes: Set<String> = [
        "nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph", "lustre", "gfs2", "ocfs2", "9p", "afs",
        "glusterfs", "beegfs", "gpfs", "panfs", "orangefs", "pvfs2", "davfs", "fuse", "fuseblk",
    ]

    public static func isNetwork(type: String) -> Bool {
        networkTypes.contains(type) || type.hasPrefix("fuse.")
    }

    /// `QUEUECTL_FS=network|local` overrides the detection (tests, and file systems we do not know).
    public static func of(_ path: String) -> FileSystemKind {
        if let forced = Posix.env("QUEUECTL_FS") {
            return FileSystemKind(name: forced, isNetwork: forced != "local")
        }
        guard let type = mountType(of: path) else { return FileSystemKind(name: "unknown", isNetwork: false) }
        return FileSystemKind(name: type, isNetwork: isNetwork(type: type))
    }

    /// The type of the mount that holds `path`: the longest mount point that contains it.
    static func mountType(of path: String) -> String? {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let real = realpath(path, &buf) != nil ? String(cString: buf) : path
        guard let table = try? Posix.readFile("/proc/self/mountinfo") else { return nil }
        var best: (length: Int, type: String)? = nil
        for line in String(decoding: table, as: UTF8.self).split(separator: "\n") {
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard f.count > 6, let dash = f.firstIndex(of: "-"), dash + 1 < f.count else { continue }
            let point = unescape(String(f[4]))
            let inside = point == "/" || real == point || real.hasPrefix(point + "/")
            if inside && point.count >= (best?.length ?? -1) { best = (point.count, String(f[dash + 1])) }
        }
        return best?.type
    }

    /// mountinfo writes spaces and a few other bytes in mount points as \ooo (octal).
    static func unescape(_ s: String) -> String {
        guard s.contains("\\") else { return s }
        var out: [UInt8] = []
        let b = Array(s.utf8)
        var i = 0
        while i < b.count {
            if b[i] == UInt8(ascii: "\\"), i + 3 < b.count,
               let v = UInt8(String(decoding: b[(i + 1)...(i + 3)], as: UTF8.self), radix: 8) {
                out.append(v)
                i += 4
            } else {
                out.append(b[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// How idle workers learn of new jobs on this file system.
    public var wakeup: String { isNetwork ? "poll" : "inotify" }
}
