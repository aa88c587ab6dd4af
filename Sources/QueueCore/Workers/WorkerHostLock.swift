import Glibc

/// `workers.<host>.lock`: every worker holds it shared while it lives. A pid can be checked only
/// on its own machine, but a lock on the shared home can be checked from any machine: when it is
/// free, no worker of that host is alive, and its claims are lost (the file system releases a
/// dead client's locks when its session expires).
public enum WorkerHostLock {
    /// Takes this host's lock, shared; the descriptor stays open (close-on-exec) for the worker's life.
    public static func hold(_ home: Home) throws -> Int32 {
        let path = home.workersLock(hostName: Host.current.name)
        let fd = try Posix.open(path, O_RDWR | O_CREAT, 0o600)
        do {
            try Posix.lock(fd, LOCK_SH, path: path)
        } catch {
            close(fd)
            throw error
        }
        return fd
    }

    /// Whether no worker of the host named in a claim (`Host.id`) is alive.
    public static func isFree(_ home: Home, hostId: String) -> Bool {
        let path = home.workersLock(hostName: Host.name(ofId: hostId))
        let fd = Glibc.open(path, O_RDWR | O_CLOEXEC)
        if fd < 0 { return errno == ENOENT }
        defer { close(fd) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { return false }
        flock(fd, LOCK_UN)
        return true
    }
}
