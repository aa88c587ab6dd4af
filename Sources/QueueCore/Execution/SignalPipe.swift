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
    private static var writeFd: Int32 = -1
    public private(set) static var readFd: Int32 = -1

    public static let handled: [Int32] = [SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1]

    /// Installs handlers for `handled` signals. Safe to call again (e.g. in a forked child).
    public static func install() {
        if readFd < 0 {
            let (r, w) = Posix.makePipe(nonBlocking: true)
            readFd = r
            writeFd = w
        }
        _ = flags
        staticWriteFd = writeFd
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
        if readFd >= 0 { close(readFd); close(writeFd) }
        readFd = -1
        for i in 0..<65 { flags[i] = 0 }
        install()
    }

    /// Empties the pipe and returns which signals arrived since the last call.
    public static func take() -> Set<Int32> {
        var buf = [UInt8](repeating: 0, count: 64)
        while buf.withUnsafeMutableBytes({ read(readFd, $0.baseAddress!, 64) }) > 0 {}
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
