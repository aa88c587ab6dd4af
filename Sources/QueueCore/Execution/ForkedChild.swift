import Glibc

/// The one way this program forks (the supervisor's workers, `worker start --detach`, the
/// detached compactor leaving its parent): stdout and stderr are flushed first, so nothing
/// buffered is written twice, and the child runs only `body` and exits with its code — it
/// never returns into the caller's code. Returns the child's pid to the parent, or -1 (errno set).
public enum ForkedChild {
    public static func start(_ body: () -> Int32) -> pid_t {
        fflush(stdout)
        fflush(stderr)
        let pid = fork()
        if pid == 0 {
            let code = body()
            fflush(stdout)
            fflush(stderr)
            _exit(code)
        }
        return pid
    }
}
