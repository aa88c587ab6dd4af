import Glibc

/// A process of this host known by its pid *and* its start time (ARCHITECTURE.md, "A job run"):
/// a pid alone may have been reused by anything since it was written down. Every signal to a
/// process this process did not itself start and still holds unreaped goes through here.
public struct OwnedProcess: Equatable {
    public let pid: pid_t
    public let startTime: Int64?

    public init(pid: Int, startTime: Int64?) {
        self.pid = pid_t(clamping: pid)
        self.startTime = startTime
    }

    /// Alive, not a zombie, and (when the start time is known) still the same process.
    public var isAlive: Bool { pid > 1 && Posix.isAlive(pid: Int(pid), startTime: startTime) }

    /// Sends `sig` to it, only if it is still the process that was written down.
    @discardableResult
    public func signal(_ sig: Int32) -> Bool { isAlive && kill(pid, sig) == 0 }

    /// Sends `sig` to the process group it leads, only while it is still that leader.
    @discardableResult
    public func signalGroup(_ sig: Int32) -> Bool { isAlive && kill(-pid, sig) == 0 }
}
