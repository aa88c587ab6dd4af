import Glibc

/// `workers.<host>.lock`: every worker holds it shared while it lives. A pid can be checked only
/// on its own machine, but a lock on the shared home can be checked from any machine: when it is
/// free, no worker of that host is alive, and its claims are lost (the file system releases a
/// dead client's locks when its session expires).
public enum WorkerHostLock {
    /// Takes this host's lock, shared; the descriptor stays open (close-on-exec) for the worker's life.
    public static func hold(_ home: Home) throws -> FileDescriptor {
        let path = home.workersLock(hostName: Host.current.name)
        let fd = try Posix.open(path, O_RDWR | O_CREAT, 0o600)
        do {
            try fd.lock(LOCK_SH, path: path)
        } catch {
            fd.close()
            throw error
        }
        return fd
    }

    /// Whether no worker of the host named in a claim (`Host.id`) is alive.
    public static func isFree(_ home: Home, hostId: String) -> Bool {
        let path = home.workersLock(hostName: Host.name(ofId: hostId))
        guard let fd = Posix.openQuietly(path, O_RDWR) else { return errno == ENOENT }
        defer { fd.close() }
        return fd.tryLock(LOCK_EX)  // released by the close
    }
}
