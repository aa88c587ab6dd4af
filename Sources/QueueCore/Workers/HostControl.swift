import Glibc

/// Requests from other machines to one host's supervisor (signals do not cross machines):
/// `hosts/<host>.control` holds the latest one. The supervisor creates the file when it starts
/// and reads it once a second; requester and reader take its `flock`, and each opens it afresh,
/// so what one machine wrote the other reads (close-to-open).
public enum HostControl {
    public enum Request: String {
        case stop        // like SIGTERM: workers finish their current job, then exit
        case forceStop = "force"  // like SIGUSR1: running jobs are interrupted and run again
    }

    /// Writes a request for host `name`'s supervisor. A stronger one is never replaced by a weaker.
    public static func send(_ request: Request, to name: String, home: Home) throws {
        let path = home.control(host: name)
        let fd = try Posix.open(path, O_RDWR | O_CREAT, 0o600)
        defer { fd.close() }
        try fd.lock(LOCK_EX, path: path)
        if request == .stop, current(fd, path: path) == .forceStop { return }
        let text = Array((request.rawValue + "\n").utf8)
        try Posix.pwriteAll(fd: fd, text, at: 0, path: path)
        guard ftruncate(fd.rawValue, off_t(text.count)) == 0 else { throw SystemError(operation: "write", path: path, code: errno) }
        try Posix.fsyncFile(fd, path: path)
    }

    /// This host's pending request, taken (the file is emptied); nil when there is none.
    public static func take(home: Home) throws -> Request? {
        let path = home.control(host: Host.current.name)
        let fd = try Posix.open(path, O_RDWR | O_CREAT, 0o600)
        defer { fd.close() }
        try fd.lock(LOCK_EX, path: path)
        guard let r = current(fd, path: path) else { return nil }
        _ = ftruncate(fd.rawValue, 0)
        return r
    }

    /// Clears what an earlier supervisor of this host left unread.
    public static func clear(home: Home) { _ = try? take(home: home) }

    private static func current(_ fd: FileDescriptor, path: String) -> Request? {
        guard let bytes = try? Posix.readAll(fd: fd, from: 0, path: path) else { return nil }
        return Request(rawValue: String(decoding: bytes.prefix { $0 != 0x0A }, as: UTF8.self))
    }
}
