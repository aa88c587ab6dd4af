import Glibc

/// What starting and watching a child shares between the job runner and the hooks.
enum Spawning {
    /// `base` (`NAME=value` strings) with each of `setting` added, replacing a variable of the same name.
    static func environment(_ base: [String], setting: [(String, String)]) -> [String] {
        var out = base
        for (k, v) in setting {
            out.removeAll { $0.hasPrefix(k + "=") }
            out.append("\(k)=\(v)")
        }
        return out
    }

    /// Runs `body` with NUL-terminated copies of `strings` followed by nil (as exec wants argv
    /// and envp), or nil when memory ran out; the copies are freed when it returns.
    static func withCStrings<T>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]?) -> T) -> T {
        let list = strings.map { strdup($0) } + [nil]
        defer { for p in list { free(p) } }
        return body(list.dropLast().allSatisfy { $0 != nil } ? list : nil)
    }

    /// Whether our child `pid` has exited, without reaping it (WNOWAIT): its pid, and so the id
    /// of the group it leads, stays ours until it is reaped. nil when it is not our child (any more).
    static func leaderExited(_ pid: pid_t) -> Bool? {
        var info = siginfo_t()
        while true {
            let r = waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT)
            if r == 0 { return info._sifields._sigchld.si_pid == pid }
            if errno == EINTR { continue }
            return errno == ECHILD ? nil : false
        }
    }

    /// Whether a wait status says the process was ended by a signal (else it exited).
    static func endedBySignal(_ status: Int32) -> Bool { (status & 0x7f) != 0 && (status & 0x7f) != 0x7f }

    /// Adds a close to `actions` for every descriptor above 2 that this process holds without
    /// close-on-exec: the queue opens everything close-on-exec, but a descriptor inherited from
    /// whoever started the worker would otherwise reach the child.
    static func closeInherited(_ actions: inout posix_spawn_file_actions_t) {
        for name in Posix.listDirectory("/proc/self/fd") {
            guard let fd = Int32(name), fd > 2 else { continue }
            let flags = fcntl(fd, F_GETFD)
            if flags >= 0 && flags & FD_CLOEXEC == 0 { posix_spawn_file_actions_addclose(&actions, fd) }
        }
    }
}
