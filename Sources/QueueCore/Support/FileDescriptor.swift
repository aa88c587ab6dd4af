import Glibc

/// An open file descriptor. It is never -1: where there may be none, the type is
/// `FileDescriptor?`. A value, not an owner: whoever opened it closes it, once.
public struct FileDescriptor: Hashable, Sendable {
    public let rawValue: Int32

    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// Wraps what a call returned: nil for -1 (errno then tells why).
    public init?(returned fd: Int32) {
        guard fd >= 0 else { return nil }
        rawValue = fd
    }

    public static let standardInput = FileDescriptor(rawValue: 0)
    public static let standardOutput = FileDescriptor(rawValue: 1)
    public static let standardError = FileDescriptor(rawValue: 2)

    /// Closes it. Not retried on EINTR: Linux releases the descriptor even then.
    @discardableResult
    public func close() -> Bool { Glibc.close(rawValue) == 0 }

    /// `flock`, retried on EINTR; a failure is reported with the path.
    public func lock(_ op: Int32, path: String) throws { try Posix.lock(self, op, path: path) }

    /// A non-blocking `flock`: whether it was taken.
    public func tryLock(_ op: Int32) -> Bool { Posix.retryingEINTR({ systemFlockRaw(rawValue, op | LOCK_NB) }) == 0 }

    /// Its size now (fstat).
    public func size(path: String) throws -> Int {
        var st = stat()
        guard fstat(rawValue, &st) == 0 else { throw SystemError(operation: "stat", path: path, code: errno) }
        return Int(st.st_size)
    }

    /// Sets close-on-exec, and non-blocking when asked.
    func configure(nonBlocking: Bool) {
        _ = fcntl(rawValue, F_SETFD, FD_CLOEXEC)
        if nonBlocking { _ = fcntl(rawValue, F_SETFL, fcntl(rawValue, F_GETFL) | O_NONBLOCK) }
    }
}

/// Glibc's flock(2), by a name that the `flock` struct of the same module does not shadow.
func systemFlockRaw(_ fd: Int32, _ op: Int32) -> Int32 { flock(fd, op) }

extension pollfd {
    /// Waits for input on `fd`; for nil, an entry poll(2) ignores (a negative descriptor), so
    /// the positions of the others stay put.
    public init(readable fd: FileDescriptor?) { self.init(fd: fd?.rawValue ?? -1, events: Int16(POLLIN), revents: 0) }
}
