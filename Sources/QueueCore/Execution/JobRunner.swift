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
        let (pipeR, pipeW) = Posix.makePipe()
        let devNull = Glibc.open("/dev/null", O_RDONLY | O_CLOEXEC)

        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sh"), strdup("-c"), strdup(req.job.command), nil]
        var envStrings = Posix.environment().filter { !$0.hasPrefix("QUEUECTL_JOB_ID=") && !$0.hasPrefix("QUEUECTL_ATTEMPT=") }
        for (k, v) in req.job.env {
            envStrings.removeAll { $0.hasPrefix(k + "=") }
            envStrings.append("\(k)=\(v)")
        }
        envStrings.append("QUEUECTL_JOB_ID=\(req.job.id)")
        envStrings.append("QUEUECTL_ATTEMPT=\(req.attempt)")
        let envp: [UnsafeMutablePointer<CChar>?] = envStrings.map { strdup($0) } + [nil]
        guard let cwd = strdup(req.job.cwd) else {
            var o = Outcome()
            o.error = "out of memory"
            return o
        }
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
            free(cwd)
        }

        // posix_spawn (a vfork-style clone: no copy of the worker's page tables) into a new
        // process group, with default signal handling and an empty mask. Glibc's addchdir_np is
        // not visible to Swift, so the worker (single-threaded) steps into the job's directory
        // around the spawn.
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_adddup2(&actions, devNull, 0)
        posix_spawn_file_actions_adddup2(&actions, pipeW, 1)
        posix_spawn_file_actions_adddup2(&actions, pipeW, 2)
        var attr = SignalPipe.spawnAttributes(newProcessGroup: true)
        defer {
            posix_spawn_file_actions_destroy(&actions)
            posix_spawnattr_destroy(&attr)
        }
        let here = Glibc.open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard chdir(cwd) == 0 else {
            let e = errno
            close(pipeR); close(pipeW); if devNull >= 0 { close(devNull) }; if here >= 0 { close(here) }
            var o = Outcome()
            o.error = "cannot enter the job's directory \(req.job.cwd): \(Posix.describe(e))"
            return o
        }
        let start = Clock.monotonic()
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, "/bin/sh", &actions, &attr, argv, envp)
        if here >= 0 { fchdir(here); close(here) }
        close(pipeW)
        if devNull >= 0 { close(devNull) }
        if rc != 0 {
            close(pipeR)
            var o = Outcome()
            o.error = "cannot start the command: \(Posix.describe(rc))"
            return o
        }
        setpgid(pid, pid)  // also in the parent, so killpg works before the child gets to it

        var log = CappedLog(path: req.logPath, limit: req.logMaxBytes)
        var status: Int32 = 0
        var exited = false
        var timedOut = false
        var termSentAt: Double? = nil
        var killed = false
        var pipeOpen = true
        var exitedAt: Double? = nil
        var buffer = [UInt8](unsafeUninitializedCapacity: 65536) { _, n in n = 65536 }

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
        if let e = log.error { o.error = e }
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

}

/// Writes output to the attempt's log up to a limit, then notes where it was cut and counts the
/// rest. The file (and the job's log directory) is created on the first byte of output: most
/// jobs of a busy queue print nothing, and creating inodes is the costliest part of a run.
struct CappedLog {
    let path: String
    let limit: Int
    var fd: Int32 = -1
    var written = 0
    var total = 0
    var cut = false
    var error: String?

    init(path: String, limit: Int) {
        self.path = path
        self.limit = limit
    }

    mutating func open() -> Bool {
        if fd >= 0 { return true }
        if error != nil { return false }
        let dir = Posix.dirname(of: path)
        if mkdir(dir, 0o700) != 0 && errno != EEXIST { try? Posix.makeDirectories(dir) }
        do {
            fd = try Posix.open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            return true
        } catch {
            self.error = "cannot write the log: \(error)"
            return false
        }
    }

    mutating func write(_ buf: [UInt8], count: Int) {
        total += count
        guard !cut, open() else { return }
        let room = limit - written
        let n = min(room, count)
        if n > 0 {
            buf.withUnsafeBytes { raw in
                try? Posix.writeAll(fd: fd, UnsafeRawBufferPointer(rebasing: raw[0..<n]), path: path)
            }
            written += n
        }
        if count > room { cut = true }
    }

    mutating func finish() {
        if cut, open() {
            try? Posix.writeAll(fd: fd, "\n[queuectl: output cut at \(limit) bytes (log_max_bytes); \(total) bytes in all]\n", path: path)
        }
        if fd >= 0 { close(fd) }
        fd = -1
    }
}
