import Glibc

/// Turns signals into readable bytes on a pipe (the self-pipe trick), so the worker and supervisor
/// loops can wait for signals, job output and queue changes in one `poll`. Glibc's signalfd is not
/// visible to Swift, and a handler may only do async-signal-safe work: set a flag, write a byte.
public enum SignalPipe {
    /// Flags indexed by signal number, allocated once before any handler is installed.
    private static let flags: UnsafeMutablePointer<sig_atomic_t> = {
        let p = UnsafeMutablePointer<sig_atomic_t>.allocate(capacity: 65)
        p.initialize(repeating: 0, count: 65)
        return p
    }()
    private static var pipe: (read: FileDescriptor, write: FileDescriptor)?
    /// Readable when a handled signal has arrived; nil before `install`, or if the pipe could not
    /// be made (then only the flags tell, at the next wake-up).
    public static var readFd: FileDescriptor? { pipe?.read }

    public static let handled: [Int32] = [SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1]

    /// Installs handlers for `handled` signals. Safe to call again (e.g. in a forked child).
    public static func install() {
        if pipe == nil { pipe = try? Posix.makePipe(nonBlocking: true) }
        _ = flags
        staticWriteFd = pipe?.write.rawValue ?? -1  // without a pipe, signals still set their flags
        staticFlags = flags
        for s in handled {
            var sa = sigaction()
            sa.__sigaction_handler.sa_handler = signalHandler
            sigemptyset(&sa.sa_mask)
            sa.sa_flags = SA_RESTART
            sigaction(s, &sa, nil)
        }
        signal(SIGPIPE, SIG_IGN)
    }

    /// Creates a fresh pipe (a forked child must not share its parent's).
    public static func reinstallAfterFork() {
        pipe?.read.close()
        pipe?.write.close()
        pipe = nil
        for i in 0..<65 { flags[i] = 0 }
        install()
    }

    /// Empties the pipe and returns which signals arrived since the last call.
    public static func take() -> Set<Int32> {
        var buf = [UInt8](repeating: 0, count: 64)
        if let fd = readFd {
            while buf.withUnsafeMutableBytes({ read(fd.rawValue, $0.baseAddress!, 64) }) > 0 {}
        }
        var got: Set<Int32> = []
        for s in handled where flags[Int(s)] != 0 {
            flags[Int(s)] = 0
            got.insert(s)
        }
        return got
    }
}

// Plain globals: the handler must not touch Swift's lazy-initialisation machinery.
private var staticWriteFd: Int32 = -1
private var staticFlags: UnsafeMutablePointer<sig_atomic_t>? = nil

private func signalHandler(_ sig: Int32) {
    let saved = errno
    staticFlags?[Int(sig)] = 1
    var b: UInt8 = 1
    _ = write(staticWriteFd, &b, 1)
    errno = saved
}

extension SignalPipe {
    /// posix_spawn attributes for a child of a worker: an empty signal mask and default handling
    /// of the signals this process catches (and SIGPIPE), optionally in a process group of its own.
    /// The caller destroys them (`posix_spawnattr_destroy`).
    static func spawnAttributes(newProcessGroup: Bool) -> posix_spawnattr_t {
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        if newProcessGroup { posix_spawnattr_setpgroup(&attr, 0) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for sig in handled + [SIGPIPE] { sigaddset(&defaults, sig) }
        posix_spawnattr_setsigdefault(&attr, &defaults)
        let group = newProcessGroup ? POSIX_SPAWN_SETPGROUP : 0
        posix_spawnattr_setflags(&attr, Int16(group | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        return attr
    }
}
