import Glibc

/// Everything needed to run one attempt of a job.
public struct RunRequest {
    public var job: Job
    public var attempt: Int              // history number: names the log file and QUEUECTL_ATTEMPT
    public var logPath: String
    public var timeout: Double           // seconds, 0 = none
    public var killGrace: Double
    public var logMaxBytes: Int
}

/// Runs one attempt: `/bin/sh -c COMMAND` in its own process group, in the job's directory,
/// stdin from /dev/null, stdout+stderr through a pipe into the attempt's log (capped), with a
/// timeout that signals the whole group (SIGTERM, then SIGKILL after a grace).
public final class JobRunner {
    /// Asked whenever signals arrive or an extra descriptor becomes ready while the job runs:
    /// return true to kill the job now (forced stop, cancel).
    public var shouldKill: (Set<Int32>, _ extraReady: Bool) -> Bool = { _, _ in false }
    /// Extra descriptors to watch (e.g. the supervisor pipe). Readiness is passed to `shouldKill`.
    public var extraFds: [Int32] = []
    /// Set by the runner when it killed the job because `shouldKill` said so.
    public private(set) var killedOnRequest = false

    public init() {}

    public func run(_ req: RunRequest) -> Outcome {
        killedOnRequest = false
        let logFd: Int32
        do {
            let dir = Posix.dirname(of: req.logPath)
            if mkdir(dir, 0o700) != 0 && errno != EEXIST { try Posix.makeDirectories(dir) }
            logFd = try Posix.open(req.logPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        } catch {
            var o = Outcome()
            o.error = "cannot open the log: \(error)"
            return o
        }
        defer { close(logFd) }

        let (pipeR, pipeW) = Posix.makePipe()
        let devNull = Glibc.open("/dev/null", O_RDONLY | O_CLOEXEC)

        // Prepare every C string before fork: the child only calls async-signal-safe functions.
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sh"), strdup("-c"), strdup(req.job.command), nil]
        var envStrings = currentEnvironment().filter { !$0.hasPrefix("QUEUECTL_JOB_ID=") && !$0.hasPrefix("QUEUECTL_ATTEMPT=") }
        for (k, v) in req.job.env {
            envStrings.removeAll { $0.hasPrefix(k + "=") }
            envStrings.append("\(k)=\(v)")
        }
        envStrings.append("QUEUECTL_JOB_ID=\(req.job.id)")
        envStrings.append("QUEUECTL_ATTEMPT=\(req.attempt)")
        let envp: [UnsafeMutablePointer<CChar>?] = envStrings.map { strdup($0) } + [nil]
        guard let cwd = strdup(req.job.cwd), let cwdError = strdup("queuectl: cannot enter the job's directory \(req.job.cwd)\n") else {
            var o = Outcome()
            o.error = "out of memory"
            return o
        }
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
            free(cwd)
            free(cwdError)
        }

        fflush(stdout)
        fflush(stderr)
        let start = Clock.monotonic()
        let pid = fork()
        if pid == 0 {
            setpgid(0, 0)
            dup2(devNull, 0)
            dup2(pipeW, 1)
            dup2(pipeW, 2)
            SignalPipe.resetForExec()
            var empty = sigset_t()
            sigemptyset(&empty)
            sigprocmask(SIG_SETMASK, &empty, nil)
            if chdir(cwd) != 0 {
                _ = write(2, cwdError, strlen(cwdError))
                _exit(126)
            }
            execve("/bin/sh", argv, envp)
            _exit(127)
        }
        close(pipeW)
        if devNull >= 0 { close(devNull) }
        if pid < 0 {
            close(pipeR)
            var o = Outcome()
            o.error = "cannot start the command: \(Posix.describe(errno))"
            return o
        }
        setpgid(pid, pid)  // also in the parent, so killpg works before the child gets to it

        var log = CappedLog(fd: logFd, limit: req.logMaxBytes)
        var status: Int32 = 0
        var exited = false
        var timedOut = false
        var termSentAt: Double? = nil
        var killed = false
        var pipeOpen = true
        var exitedAt: Double? = nil
        var buffer = [UInt8](repeating: 0, count: 65536)

        while pipeOpen || !exited {
            let now = Clock.monotonic()
            // Timeout: SIGTERM to the group, SIGKILL after the grace.
            if !exited && req.timeout > 0 && !timedOut && now - start >= req.timeout {
                timedOut = true
                termSentAt = now
                kill(-pid, SIGTERM)
            }
            if let t = termSentAt, !killed, now - t >= req.killGrace {
                kill(-pid, SIGKILL)
                killed = true
            }
            // The leader is gone but something still holds the output pipe: give it a moment, then stop reading.
            if exited, let e = exitedAt, now - e > 1.0 { break }

            var wait: Double = 1.0
            if !exited && req.timeout > 0 && !timedOut { wait = min(wait, req.timeout - (now - start)) }
            if let t = termSentAt, !killed { wait = min(wait, req.killGrace - (now - t)) }
            if exited { wait = min(wait, 0.1) }
            var fds = [pollfd(fd: SignalPipe.readFd, events: Int16(POLLIN), revents: 0)]
            if pipeOpen { fds.append(pollfd(fd: pipeR, events: Int16(POLLIN), revents: 0)) }
            for f in extraFds { fds.append(pollfd(fd: f, events: Int16(POLLIN), revents: 0)) }
            Posix.poll(&fds, timeoutMs: Int32(max(0, wait) * 1000) + 1)

            if pipeOpen, fds[1].revents != 0 {
                let n = buffer.withUnsafeMutableBytes { read(pipeR, $0.baseAddress!, $0.count) }
                if n > 0 { log.write(buffer, count: n) } else if n == 0 || errno != EINTR { pipeOpen = false }
            }
            let extraReady = fds.suffix(extraFds.count).contains { $0.revents != 0 }
            let signals = SignalPipe.take()
            if !exited && (shouldKill(signals, extraReady)) {
                killedOnRequest = true
                kill(-pid, SIGKILL)
            }
            if !exited {
                let r = waitpid(pid, &status, WNOHANG)
                if r == pid {
                    exited = true
                    exitedAt = Clock.monotonic()
                    // Leave nothing behind: background children of the job go with it.
                    kill(-pid, SIGKILL)
                }
            }
        }
        close(pipeR)
        log.finish()

        var o = Outcome()
        o.outputBytes = log.total
        if exitStatusIsSignal(status) {
            o.signal = Int(status & 0x7f)
        } else {
            o.exitCode = Int((status >> 8) & 0xff)
        }
        if timedOut {
            o.timedOut = true
            o.timeoutSeconds = req.timeout
        }
        return o
    }

    private func exitStatusIsSignal(_ s: Int32) -> Bool { (s & 0x7f) != 0 && (s & 0x7f) != 0x7f }

    private func currentEnvironment() -> [String] {
        var out: [String] = []
        var p = environ
        while let s = p.pointee {
            out.append(String(cString: s))
            p += 1
        }
        return out
    }
}

/// Writes output to the log up to a limit, then notes where it was cut and counts the rest.
struct CappedLog {
    let fd: Int32
    let limit: Int
    var written = 0
    var total = 0
    var cut = false

    mutating func write(_ buf: [UInt8], count: Int) {
        total += count
        guard !cut else { return }
        let room = limit - written
        let n = min(room, count)
        if n > 0 {
            buf.withUnsafeBytes { raw in
                try? Posix.writeAll(fd: fd, UnsafeRawBufferPointer(rebasing: raw[0..<n]), path: "log")
            }
            written += n
        }
        if count > room { cut = true }
    }

    mutating func finish() {
        if cut {
            try? Posix.writeAll(fd: fd, "\n[queuectl: output cut at \(limit) bytes (log_max_bytes); \(total) bytes in all]\n", path: "log")
        }
    }
}
