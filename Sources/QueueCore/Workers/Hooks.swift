import Glibc

/// Hooks (config on_finish, on_idle) run by a worker outside the store's lock, never waited for
/// in the job path: each in its own process group, killed when it outlives hook_timeout.
///
/// A hook's group is signalled only while its leader is unreaped by us (as a job's is,
/// ARCHITECTURE.md "A job run"): until `waitpid` takes it, its pid cannot be reused. When the
/// leader ends, whatever it left in its group is killed before it is reaped. The process that
/// owns a `Hooks` must not reap children it does not know (`waitpid(-1)`): only workers run hooks.
/// Not thread-safe: the worker's own thread calls it.
public final class Hooks {
    private struct Running {
        let what: String
        let pid: pid_t
        let startedAt: Double
        let timeout: Double
        let killGrace: Double
        var termSentAt: Double?
        var killSentAt: Double?
        /// Why we stopped it, for the log line when it is reaped (nil: it ended by itself).
        var stoppedBecause: String?
    }

    private let log: (String) -> Void
    private var hooks: [Running] = []

    public init(log: @escaping (String) -> Void) {
        self.log = log
    }

    deinit {
        if !hooks.isEmpty { finish(within: 0) }
    }

    public var running: Int { hooks.count }

    /// Starts `command` with /bin/sh -c: own process group, stdin /dev/null, stdout and stderr
    /// the caller's stderr (fd 2, which is the host's workers log for a detached worker),
    /// environment = this process's environment with `env` added (replacing same names).
    /// `what` names it in log lines, e.g. "on_finish for job1". Never blocks; a spawn failure is logged.
    public func fire(_ what: String, command: String, env: [(String, String)], timeout: Double, killGrace: Double) {
        // exec cannot carry a NUL (the C string would end early) nor a variable name with '='.
        guard !command.utf8.contains(0), env.allSatisfy({ !$0.0.isEmpty && !$0.0.contains("=") && !($0.0 + $0.1).utf8.contains(0) }) else {
            log("hook \(what) not started: its command or environment holds a NUL byte or a bad name")
            return
        }
        // Validated by Config on the way in; clamped here so no value can trap or never end.
        let timeout = timeout.isFinite && timeout > 0 ? min(timeout, 86_400) : 30
        let killGrace = killGrace.isFinite && killGrace >= 0 ? min(killGrace, 3600) : 2
        // The worker's environment without the variables of its own job (if it runs inside one).
        let envStrings = Spawning.environment(JobRunner.inheritedEnvironment, setting: env)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, 2, 1)
        Spawning.closeInherited(&actions)
        var attr = SignalPipe.spawnAttributes(newProcessGroup: true)
        defer {
            posix_spawn_file_actions_destroy(&actions)
            posix_spawnattr_destroy(&attr)
        }
        var pid: pid_t = 0
        let rc: Int32 = Spawning.withCStrings(["/bin/sh", "-c", command]) { argv in
            Spawning.withCStrings(envStrings) { envp in
                guard let argv, let envp else { return ENOMEM }
                return posix_spawn(&pid, "/bin/sh", &actions, &attr, argv, envp)
            }
        }
        guard rc == 0 else {
            log("hook \(what) could not start: \(Posix.describe(rc))")
            return
        }
        setpgid(pid, pid)  // also in the parent, so the group exists before we may signal it
        hooks.append(Running(what: what, pid: pid, startedAt: Clock.monotonic(), timeout: timeout, killGrace: killGrace))
    }

    /// Reaps hooks that ended (logs a non-zero exit or a signal, e.g. "hook on_finish for job1 exited with 3"),
    /// and stops those past their timeout: SIGTERM to the group, SIGKILL after killGrace ("hook … killed after 30s").
    /// Never blocks. The worker calls it every loop turn and every poll wake-up.
    public func reap() {
        guard !hooks.isEmpty else { return }
        let now = Clock.monotonic()
        hooks = hooks.compactMap { h in
            var h = h
            switch Spawning.leaderExited(h.pid) {
            case nil:
                // Reaped by someone else: its pid may be anyone's now, so it is never signalled again.
                log("hook \(h.what): its end was collected elsewhere; its group is no longer watched")
                return nil
            case true?:
                // Its zombie still holds the group's id: leave nothing of the hook behind.
                kill(-h.pid, SIGKILL)
                var status: Int32 = 0
                let r = Posix.retryingEINTR { waitpid(h.pid, &status, WNOHANG) }
                if r == h.pid { report(h, status: status) }
                return r == 0 ? h : nil  // 0 cannot follow WNOWAIT's answer; kept to look again
            case false?:
                break
            }
            if h.termSentAt == nil, now - h.startedAt >= h.timeout {
                h.termSentAt = now
                h.stoppedBecause = "killed after \(Clock.humanDuration(h.timeout)) (hook_timeout)"
                kill(-h.pid, SIGTERM)
            }
            if h.killSentAt == nil, let t = h.termSentAt, now - t >= h.killGrace {
                h.killSentAt = now
                kill(-h.pid, SIGKILL)
            }
            return h
        }
    }

    /// Seconds until reap() next has work (a timeout or kill grace ending); nil when no hook runs.
    /// A hook that ends by itself wakes the worker by SIGCHLD; one sent SIGKILL is looked at
    /// again shortly, as its death is certain but its SIGCHLD may be merged with another.
    public var nextWake: Double? {
        guard !hooks.isEmpty else { return nil }
        let now = Clock.monotonic()
        var soonest = Double.infinity
        for h in hooks {
            let due: Double
            if let t = h.termSentAt {
                due = h.killSentAt == nil ? t + h.killGrace : now + 0.1
            } else {
                due = h.startedAt + h.timeout
            }
            soonest = min(soonest, due - now)
        }
        return max(0, soonest)
    }

    /// At worker exit: waits up to `seconds` for running hooks (polling, EINTR-safe), then kills their groups and reaps them.
    public func finish(within seconds: Double) {
        let end = Clock.monotonic() + (seconds.isFinite ? min(max(seconds, 0), 86_400) : 0)
        reap()
        while !hooks.isEmpty, Clock.monotonic() < end {
            Posix.sleep(seconds: min(0.02, max(0, end - Clock.monotonic())))
            reap()
        }
        guard !hooks.isEmpty else { return }
        for i in hooks.indices {
            if hooks[i].stoppedBecause == nil { hooks[i].stoppedBecause = "killed as its worker stopped" }
            hooks[i].killSentAt = Clock.monotonic()
            kill(-hooks[i].pid, SIGKILL)  // not reaped yet: still our group
        }
        // SIGKILL is certain, but a process stuck in the kernel (a hung mount) may take its time:
        // wait a while, then leave it to init rather than hang the worker's exit.
        let giveUp = Clock.monotonic() + 5
        reap()
        while !hooks.isEmpty, Clock.monotonic() < giveUp {
            Posix.sleep(seconds: 0.01)
            reap()
        }
        for h in hooks { log("hook \(h.what) did not end after SIGKILL; left behind") }
        hooks.removeAll()
    }

    private func report(_ h: Running, status: Int32) {
        if let why = h.stoppedBecause {
            log("hook \(h.what) \(why)")
        } else if Spawning.endedBySignal(status) {
            log("hook \(h.what) ended by signal \(status & 0x7f)")
        } else {
            let code = (status >> 8) & 0xff
            if code != 0 { log("hook \(h.what) exited with \(code)\(code == 127 ? " (command not found)" : "")") }
        }
    }
}

extension Hooks {
    /// A hook to fire, as decided by the transaction that ended a job.
    public struct Due {
        public let what: String
        public let command: String
        public let env: [(String, String)]
        public init(what: String, command: String, env: [(String, String)]) { (self.what, self.command, self.env) = (what, command, env) }

        /// `on_finish` for a job that ended, with what the hook learns of it (README, "config").
        public static func onFinish(_ job: Job, command: String, home: Home) -> Due {
            Due(what: "on_finish for \(job.id)", command: command,
                env: [("QUEUECTL_JOB_ID", job.id), ("QUEUECTL_STATE", job.state.rawValue),
                      ("QUEUECTL_EXIT_CODE", job.exitCode.map(String.init) ?? ""), ("QUEUECTL_QUEUE", job.queue),
                      ("QUEUECTL_LABEL", job.label ?? ""), ("QUEUECTL_HOME", home.path)])
        }

        /// `on_idle` for a queue that ran empty.
        public static func onIdle(queue: String, command: String, home: Home) -> Due {
            Due(what: "on_idle for queue \(queue)", command: command, env: [("QUEUECTL_QUEUE", queue), ("QUEUECTL_HOME", home.path)])
        }
    }

    /// For a command that ends jobs itself (`cancel` of waiting jobs): runs the hooks in a
    /// detached grandchild (its own session, its output and log lines appended to this host's
    /// workers log), so the command returns at once, leaves no zombie, and the hooks still get
    /// their timeout.
    public static func fireDetached(_ due: [Due], home: Home, timeout: Double, killGrace: Double) {
        guard !due.isEmpty else { return }
        let first = ForkedChild.start {
            setsid()
            let second = ForkedChild.start {
                if let fd = Posix.openQuietly(home.workersLog(), O_WRONLY | O_CREAT | O_APPEND) {
                    dup2(fd.rawValue, 1)
                    dup2(fd.rawValue, 2)
                    fd.close()
                }
                let hooks = Hooks { line in
                    fputs(Clock.local(Clock.nowMillis()) + " [" + String(getpid()) + "] " + line + "\n", stderr)
                    fflush(stderr)
                }
                for d in due { hooks.fire(d.what, command: d.command, env: d.env, timeout: timeout, killGrace: killGrace) }
                hooks.finish(within: timeout + killGrace + 1)
                return 0
            }
            return second < 0 ? 1 : 0
        }
        if first > 0 {
            var status: Int32 = 0
            _ = Posix.retryingEINTR { waitpid(first, &status, 0) }
        }
    }
}
