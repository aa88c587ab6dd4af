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
    public var extraFds: [FileDescriptor] = []
    /// A descriptor the worker watches while the attempt runs (the home, while it keeps the turn
    /// to watch): when it is readable `watchReady` is called, and returns whether to go on watching.
    var watchFd: FileDescriptor?
    var watchReady: () -> Bool = { false }
    /// The worker's own environment, read once (it does not change while the worker lives),
    /// without the variables each attempt sets for itself.
    static let inheritedEnvironment: [String] = Posix.environment().filter { !$0.hasPrefix("QUEUECTL_JOB_ID=") && !$0.hasPrefix("QUEUECTL_ATTEMPT=") }
    /// Whether plain-word commands skip the shell (tests compare both ways).
    public var directCommands = true
    /// The longest the run loop sleeps without looking at `shouldKill` (the worker's claim check).
    public var wakeEvery: Double = 1.0
    /// Asked at every wake-up: whether the attempt should be held stopped (`pause`). The group
    /// gets SIGSTOP when this turns true and SIGCONT when it turns false; time spent stopped does
    /// not count against the timeout.
    public var holdWanted: () -> Bool = { false }
    /// Seconds the last attempt spent stopped by `holdWanted`.
    public private(set) var heldSeconds = 0.0
    /// Set by the runner when it killed the job because `shouldKill` said so.
    public private(set) var killedOnRequest = false
    /// Called once if the attempt is still running `settleTime` seconds after it started: the
    /// worker records its process group then (most jobs are over by then and need no write).
    /// Returns why the attempt must not go on (its claim is gone, or nothing could be
    /// recorded); it is then killed and its outcome carries that reason.
    public var whenSettled: (Started) -> String? = { _ in nil }
    /// Called once the leader has exited, just before it is reaped (while its pid still names
    /// the group): a watcher that signals the group must stop before the id can be reused.
    public var willReap: () -> Void = {}
    public var settleTime = 0.02

    public init() {}

    /// A started attempt: its leader's pid (which is also its process group).
    public struct Started {
        public let pid: pid_t
        /// The leader's start time, which the worker records with its pid. Read when asked, not at
        /// the start: most jobs end before the worker records them, and reading /proc cost a
        /// trivial job 4% of its worker's time. The leader stays unreaped until `wait` returns,
        /// so the pid cannot be reused meanwhile and the answer is the same.
        public var startTime: Int64? { Posix.processStartTime(Int(pid)) }
        let output: FileDescriptor
        let startedAt: Double
    }

    public enum Start {
        case running(Started)
        case failed(Outcome)  // it could not be started: the attempt's outcome
    }

    /// Runs one attempt to its end.
    public func run(_ req: RunRequest) -> Outcome {
        switch start(req) {
        case .running(let s): return wait(s, req)
        case .failed(let o): return o
        }
    }

    /// Starts the attempt: `/bin/sh -c COMMAND`, or the program itself for a command of plain
    /// words (DirectCommand), by posix_spawn (a vfork-style clone: no copy of
    /// the worker's page tables) into a new process group, in the job's directory, with default
    /// signal handling and an empty mask.
    public func start(_ req: RunRequest) -> Start {
        func failed(_ why: String) -> Start {
            var o = Outcome()
            o.error = why
            return .failed(o)
        }
        killedOnRequest = false
        var st = stat()
        guard stat(req.job.cwd, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR, access(req.job.cwd, X_OK) == 0 else {
            return failed("cannot enter the job's directory \(req.job.cwd): \(Posix.describe(errno == 0 ? ENOTDIR : errno))")
        }
        // QUEUECTL_* are refused at enqueue; a hand-edited record may still hold them.
        var envStrings = Spawning.environment(JobRunner.inheritedEnvironment, setting: req.job.env.filter { !$0.0.hasPrefix("QUEUECTL_") })
        envStrings.append("QUEUECTL_JOB_ID=\(req.job.id)")
        envStrings.append("QUEUECTL_ATTEMPT=\(req.attempt)")
        // A command of plain words runs without the shell (DirectCommand); else `sh -c`.
        let direct = directCommands ? DirectCommand.plan(req.job.command, environment: envStrings, cwd: req.job.cwd) : nil
        if direct != nil { envStrings = DirectCommand.environment(envStrings, cwd: req.job.cwd) }
        let program = direct?.path ?? "/bin/sh"
        let words = direct?.argv ?? ["/bin/sh", "-c", req.job.command]
        let argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = envStrings.map { strdup($0) } + [nil]
        let cwd = strdup(req.job.cwd)
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
            free(cwd)
        }
        guard argv.dropLast().allSatisfy({ $0 != nil }), envp.dropLast().allSatisfy({ $0 != nil }), let dir = cwd else {
            return failed("cannot start the command: out of memory")
        }
        let pipeR: FileDescriptor, pipeW: FileDescriptor, devNull: FileDescriptor
        do {
            (pipeR, pipeW) = try Posix.makePipe()
        } catch {
            return failed("cannot start the command: \(error)")
        }
        do {
            devNull = try Posix.open("/dev/null", O_RDONLY)
        } catch {
            pipeR.close(); pipeW.close()
            return failed("cannot start the command: \(error)")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_adddup2(&actions, devNull.rawValue, 0)
        posix_spawn_file_actions_adddup2(&actions, pipeW.rawValue, 1)
        posix_spawn_file_actions_adddup2(&actions, pipeW.rawValue, 2)
        var attr = SignalPipe.spawnAttributes(newProcessGroup: true)
        defer {
            posix_spawn_file_actions_destroy(&actions)
            posix_spawnattr_destroy(&attr)
        }
        // The child steps into the job's directory; the worker itself never moves.
        let chdirRc = spawnChdir(&actions, dir)
        guard chdirRc == 0 else {
            pipeR.close(); pipeW.close(); devNull.close()
            return failed("cannot start the command: \(Posix.describe(chdirRc))")
        }
        let startedAt = Clock.monotonic()
        var pid: pid_t = 0
        var rc = posix_spawn(&pid, program, &actions, &attr, argv, envp)
        if rc != 0 && direct != nil {
            // Not executable by the kernel itself (a script without #!) or gone meanwhile: the
            // shell runs it, or reports it, as it always did.
            let shArgv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sh"), strdup("-c"), strdup(req.job.command), nil]
            defer { for p in shArgv { free(p) } }
            rc = posix_spawn(&pid, "/bin/sh", &actions, &attr, shArgv, envp)
        }
        pipeW.close()
        devNull.close()
        if rc != 0 {
            pipeR.close()
            return failed("cannot start the command: \(Posix.describe(rc))")
        }
        setpgid(pid, pid)  // also in the parent, so killpg works before the child gets to it
        return .running(Started(pid: pid, output: pipeR, startedAt: startedAt))
    }

    /// Copies the attempt's output to its log until it ends; enforces the timeout and `shouldKill`.
    /// The group is only ever signalled while its leader is unreaped (a zombie still holds its
    /// pid), so a recycled pid is never hit.
    public func wait(_ s: Started, _ req: RunRequest) -> Outcome {
        let pid = s.pid, pipeR = s.output, start = s.startedAt
        var log = CappedLog(path: req.logPath, limit: req.logMaxBytes)
        var status: Int32 = 0
        var exited = false
        var timedOut = false
        var termSentAt: Double? = nil
        var killed = false
        var pipeOpen = true
        var exitedAt: Double? = nil
        var settled = false
        var refused: String? = nil
        var buffer = [UInt8](unsafeUninitializedCapacity: 65536) { _, n in n = 65536 }
        var heldSince: Double? = nil
        heldSeconds = 0
        /// Time the attempt has had to run: stopped time is not counted.
        func ran(_ now: Double) -> Double { now - start - heldSeconds - (heldSince.map { now - $0 } ?? 0) }

        while pipeOpen || !exited {
            let now = Clock.monotonic()
            // Pause: stop or continue the group (only while the leader is unreaped: still ours).
            if !exited && termSentAt == nil {
                let hold = holdWanted()
                if hold && heldSince == nil {
                    heldSince = now
                    kill(-pid, SIGSTOP)
                } else if !hold, let since = heldSince {
                    heldSeconds += now - since
                    heldSince = nil
                    kill(-pid, SIGCONT)
                }
            }
            // Timeout: SIGTERM to the group, SIGKILL after the grace.
            if !exited && req.timeout > 0 && !timedOut && heldSince == nil && ran(now) >= req.timeout {
                timedOut = true
                termSentAt = now
                kill(-pid, SIGTERM)
            }
            if let t = termSentAt, !killed, !exited, now - t >= req.killGrace {
                kill(-pid, SIGKILL)
                killed = true
            }
            // The leader is gone but something still holds the output pipe: give it a moment, then stop reading.
            if exited, let e = exitedAt, now - e > 1.0 { break }

            if !exited && !settled && now - start >= settleTime {
                settled = true
                if let why = whenSettled(s) {
                    refused = why
                    kill(-pid, SIGKILL)  // not reaped yet: still our group
                }
            }
            var wait: Double = max(0.01, min(1.0, wakeEvery))
            if !exited && !settled { wait = min(wait, settleTime - (now - start)) }
            if !exited && req.timeout > 0 && !timedOut && heldSince == nil { wait = min(wait, req.timeout - ran(now)) }
            if let t = termSentAt, !killed { wait = min(wait, req.killGrace - (now - t)) }
            if exited { wait = min(wait, 0.1) }
            var fds = [pollfd(readable: SignalPipe.readFd)]
            if pipeOpen { fds.append(pollfd(readable: pipeR)) }
            for f in extraFds { fds.append(pollfd(readable: f)) }
            if let w = watchFd { fds.append(pollfd(readable: w)) }
            Posix.poll(&fds, seconds: wait + 0.001)
            let watched = watchFd != nil && fds.removeLast().revents != 0

            if pipeOpen, fds[1].revents != 0 {
                let n = buffer.withUnsafeMutableBytes { read(pipeR.rawValue, $0.baseAddress!, $0.count) }
                if n > 0 { log.write(buffer, count: n) } else if n == 0 || errno != EINTR { pipeOpen = false }
            }
            let extraReady = fds.suffix(extraFds.count).contains { $0.revents != 0 }
            let signals = SignalPipe.take()
            if !exited && (shouldKill(signals, extraReady)) {
                killedOnRequest = true
                kill(-pid, SIGKILL)  // a stopped group dies too
            }
            if !exited && Spawning.leaderExited(pid) != false {  // exited, or not ours to wait for
                // Leave nothing behind: background children of the job go with it, signalled
                // while the leader's zombie still holds the group's id; then it is reaped.
                kill(-pid, SIGKILL)
                willReap()
                Posix.retryingEINTR { waitpid(pid, &status, 0) }
                exited = true
                exitedAt = Clock.monotonic()
            }
            // Asked only while the attempt runs: once it has ended the worker looks anyway (and a
            // descriptor left unread would end every poll at once while the output drains).
            if exited || (watched && !watchReady()) { watchFd = nil }
        }
        pipeR.close()
        log.finish()

        var o = Outcome()
        if let e = log.error { o.error = e }
        if let why = refused { o.error = why }
        o.outputBytes = log.total
        if Spawning.endedBySignal(status) {
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

}

/// Writes output to the attempt's log up to a limit, then notes where it was cut and counts the
/// rest. The file (and the job's log directory) is created on the first byte of output: most
/// jobs of a busy queue print nothing, and creating inodes is the costliest part of a run.
struct CappedLog {
    let path: String
    let limit: Int
    var fd: FileDescriptor?
    var written = 0
    var total = 0
    var cut = false
    var error: String?

    init(path: String, limit: Int) {
        self.path = path
        self.limit = limit
    }

    mutating func open() -> Bool {
        if fd != nil { return true }
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
        guard !cut, open(), let fd else { return }
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
        if cut, open(), let fd {
            try? Posix.writeAll(fd: fd, "\n[queuectl: output cut at \(limit) bytes (log_max_bytes); \(total) bytes in all]\n", path: path)
        }
        fd?.close()
        fd = nil
    }
}

/// Glibc's posix_spawn_file_actions_addchdir_np (2.29+), which Swift's Glibc module does not show.
@_silgen_name("posix_spawn_file_actions_addchdir_np")
private func spawnChdir(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ path: UnsafePointer<CChar>) -> Int32
