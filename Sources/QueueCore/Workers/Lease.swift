import Glibc

/// A host's lease on its claims (ARCHITECTURE.md, "Several machines, one home"). The host's
/// supervisor renews `hosts/<host>.lease` at a third of `lease_timeout`. Its age is judged by
/// the file server's clock alone: the lease file's modification time against that of a probe
/// file this process touches just then, so the clocks of different machines never meet.
public enum Lease {
    /// Renews this host's lease: the file names which boot of the machine holds it, and its
    /// modification time becomes the server's now.
    public static func renew(_ home: Home) throws {
        let path = home.lease(host: Host.current.name)
        let fd = try Posix.open(path, O_WRONLY | O_CREAT, 0o600)
        defer { fd.close() }
        let text = Array((Host.current.id + "\n").utf8)
        try Posix.pwriteAll(fd: fd, text, at: 0, path: path)
        guard ftruncate(fd.rawValue, off_t(text.count)) == 0, futimens(fd.rawValue, nil) == 0 else {
            throw SystemError(operation: "renew the lease in", path: path, code: errno)
        }
    }

    /// Ends this host's lease when its supervisor stops cleanly (its workers hold no claims).
    public static func end(_ home: Home) { unlink(home.lease(host: Host.current.name)) }

    public struct Reading: Equatable {
        /// Which boot of the host holds it (`Host.id`).
        public var hostId: String
        /// Seconds since it was last renewed, by the file server's clock.
        public var age: Double
    }

    /// The lease of host `name`; nil when it has none (never started, or stopped cleanly).
    public static func read(_ home: Home, host name: String) throws -> Reading? {
        let path = home.lease(host: name)
        guard let fd = try Posix.openIfExists(path) else { return nil }  // opening revalidates it (close-to-open)
        defer { fd.close() }
        let renewed = try modified(fd, path: path)
        let text = try Posix.readAll(fd: fd, from: 0, path: path)
        let id = String(decoding: text.prefix { $0 != 0x0A }, as: UTF8.self)
        return Reading(hostId: id, age: age(renewed: renewed, now: try serverNow(home)))
    }

    /// The file server's clock now: a probe file of this host is touched and its time read back.
    static func serverNow(_ home: Home) throws -> Double {
        let path = home.clockProbe()
        let fd = try Posix.open(path, O_WRONLY | O_CREAT, 0o600)
        defer { fd.close() }
        guard futimens(fd.rawValue, nil) == 0 else { throw SystemError(operation: "touch", path: path, code: errno) }
        return try modified(fd, path: path)
    }

    static func modified(_ fd: FileDescriptor, path: String) throws -> Double {
        var st = stat()
        guard fstat(fd.rawValue, &st) == 0 else { throw SystemError(operation: "stat", path: path, code: errno) }
        return Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
    }

    /// A lease's age from two readings of the server's clock; never negative (two writes of one
    /// server can land in either order within its timestamp granularity).
    public static func age(renewed: Double, now: Double) -> Double {
        guard renewed.isFinite, now.isFinite else { return .infinity }
        return max(0, now - renewed)
    }

    /// Whether a claim of host `hostId`, whose lease reads `reading`, is lost: the lease is older
    /// than `timeout`, or it belongs to a later boot of that host (the claiming boot is over).
    /// Without a lease file, the claim is lost only when no worker of that host holds its lock
    /// (`workersFree`): a host that stopped cleanly has no claims left, and one that never
    /// renewed (an older version) is judged as before.
    public static func isExpired(_ reading: Reading?, claimHostId: String, timeout: Double, workersFree: () -> Bool) -> Bool {
        guard let r = reading else { return workersFree() }
        if r.hostId != claimHostId { return true }
        return r.age > timeout
    }
}
