import Glibc

/// `worker start`: this host's supervisor. Holds `hosts/<host>.lock`, writes `hosts/<host>.pid`,
/// renews the host's lease, forks N workers, restarts one that dies unexpectedly, and on
/// SIGTERM/SIGINT (or `worker stop`, from this machine or as a request from another) lets them
/// finish and exits. Other machines run supervisors of their own on the same home.
public final class Supervisor {
    let store: JSONStore
    let count: Int
    let log: (String) -> Void
    var lockFd: FileDescriptor?
    var pipe: (read: FileDescriptor, write: FileDescriptor)?  // workers watch the read end: HUP means the supervisor died
    var slots: [Int: (pid: Int32, start: Double)] = [:]
    var restartAt: [Int: Double] = [:]
    var crashes: [Int: Int] = [:]
    var stopping = false
    var pidFile: PidFile
    /// `--drain`: workers exit once the queue is drained (see Worker.drainWait) and are not
    /// restarted; the supervisor then exits 0 if every job they ran completed, else 1.
    public var drainWait: Double?
    /// The queues its workers serve (`--queues`); nil: every queue.
    public var queues: Set<String>?
    private var drainResult: Int32 = 0
    /// Descriptors a worker child must close (e.g. the pipe `--detach` reports readiness on).
    public var closeInChildren: [FileDescriptor] = []
    public var logPath: String?

    public init(store: JSONStore, count: Int, log: @escaping (String) -> Void) {
        self.store = store
        self.count = count
        self.log = log
        self.pidFile = PidFile(supervisorPid: Int(getpid()), supervisorStart: nil, startedAt: Clock.nowMillis(), workers: [], logPath: nil)
    }

    /// Takes the supervisor lock, or explains who holds it. Also replaces a stale pidfile.
    public func acquire() throws {
        try store.home.create()
        let home = store.home
        let fd = try Posix.open(home.supervisorLock(), O_RDWR | O_CREAT, 0o600)
        if !fd.tryLock(LOCK_EX) {
            fd.close()
            let p = PidFile.read(home)
            if let p, !p.isThisHost {
                throw QueueError.conflict("another machine named \(Host.current.name) (host id \(p.hostId)) runs workers for \(home.path); host names must be unique among the machines that share a home: set QUEUECTL_HOST to a name of this machine's own")
            }
            let who = p.map { " (supervisor pid \($0.supervisorPid))" } ?? ""
            throw QueueError.conflict("workers are already running for \(home.path) on this host, \(Host.current.name)\(who); stop them with 'queuectl worker stop' or check 'queuectl worker status'")
        }
        lockFd = fd
        if Posix.exists(home.pidFile()) {
            log("replacing a stale \(home.pidFile()) (its supervisor is gone)")
            unlink(home.pidFile())
        }
        HostControl.clear(home: home)  // a request meant for an earlier supervisor of this host
        leaseInterval = ((try? store.config().leaseTimeout) ?? 30) / 3
        try Lease.renew(home)          // before any claim of this boot exists
        leaseRenewedAt = Clock.monotonic()
    }

    /// Runs until stopped. `ready` is called once the workers are up.
    public func run(ready: () -> Void) -> Int32 {
        SignalPipe.install()
        do {
            pipe = try Posix.makePipe()
        } catch {
            log("cannot start workers: \(error)")
            lockFd?.close()
            return 1
        }
        pidFile = PidFile(supervisorPid: Int(getpid()), supervisorStart: Posix.processStartTime(Int(getpid())),
                          startedAt: Clock.nowMillis(), workers: [], logPath: logPath)
        let fs = FileSystemKind.of(store.home.path)
        pidFile.fileSystem = fs.name
        pidFile.wakeup = fs.wakeup
        pidFile.queues = queues?.sorted()
        for slot in 1...count { spawn(slot) }
        writePidFile()
        log("supervisor \(getpid()) on \(Host.current.name) started \(count) worker\(count == 1 ? "" : "s") for \(store.home.path)"
            + (fs.isNetwork ? " (\(fs.name): a network file system, so idle workers poll every \(Clock.humanDuration((try? store.config().pollInterval) ?? 1)))" : ""))
        ready()

        while true {
            let now = Clock.monotonic()
            var timeout = 1.0
            if !stopping || !slots.isEmpty { renewLeaseIfDue(now) }
            timeout = min(timeout, max(0.01, leaseRenewedAt + leaseInterval - now))
            if now - controlCheckedAt >= 1 {
                controlCheckedAt = now
                actOnRequest()
            }
            for (slot, at) in restartAt {
                if at <= now, !stopping {
                    restartAt[slot] = nil
                    spawn(slot)
                    writePidFile()
                } else {
                    timeout = min(timeout, at - now)
                }
            }
            var fds = [pollfd(readable: SignalPipe.readFd)]
            Posix.poll(&fds, seconds: max(0.01, timeout))
            let signals = SignalPipe.take().union(requested)
            requested = []
            if signals.contains(SIGUSR1) {
                if !stopping { log("forced stop: interrupting running jobs, they will run again") }
                stopping = true
                restartAt.removeAll()
                for (_, w) in slots { kill(w.pid, SIGUSR1) }
            } else if !stopping && (signals.contains(SIGTERM) || signals.contains(SIGINT) || signals.contains(SIGHUP)) {
                log("stopping: workers finish their current job, then exit")
                stopping = true
                restartAt.removeAll()
                for (_, w) in slots { kill(w.pid, SIGTERM) }
            }
            reap()
            if (stopping || drainWait != nil) && slots.isEmpty && restartAt.isEmpty { break }
        }
        unlink(store.home.pidFile())
        Lease.end(store.home)  // every worker has exited: this host holds no claim
        if drainWait != nil {
            log("supervisor \(getpid()) stopped: the queue is drained" + (drainResult == 0 ? "; every job completed" : "; some jobs did not complete"))
        } else {
            log("supervisor \(getpid()) stopped")
        }
        lockFd?.close()
        return stopping ? 0 : drainResult
    }

    /// The detached supervisor keeps no descriptor it inherited (a caller's pipes would otherwise
    /// stay open for as long as the workers run), except `keep` and its own lock.
    public func closeInheritedDescriptors(keep: [FileDescriptor]) {
        store.closeFiles()
        let fds = Posix.listDirectory("/proc/self/fd").compactMap { Int32($0) }.map(FileDescriptor.init(rawValue:))
        for fd in fds where fd.rawValue > 2 && fd != lockFd && !keep.contains(fd) { fd.close() }
    }

    /// After `--detach` forks, the CLI parent drops its copy of the lock descriptor.
    public func releaseLockInParent() {
        lockFd?.close()
        lockFd = nil
    }

    func spawn(_ slot: Int) {
        let pid = ForkedChild.start {
            // The child runs only the worker loop.
            lockFd?.close()
            pipe?.write.close()
            for fd in closeInChildren { fd.close() }
            SignalPipe.reinstallAfterFork()
            store.closeFiles()
            let worker = Worker(store: store, slot: slot, supervisorFd: pipe?.read, log: log)
            worker.drainWait = drainWait
            worker.queues = queues
            return worker.run()
        }
        if pid < 0 {
            log("cannot fork worker \(slot): \(Posix.describe(errno)); retrying in 5s")
            restartAt[slot] = Clock.monotonic() + 5
            return
        }
        slots[slot] = (pid, Clock.monotonic())
    }

    func reap() {
        var status: Int32 = 0
        while true {
            let pid = waitpid(-1, &status, WNOHANG)
            if pid <= 0 { break }
            guard let (slot, w) = slots.first(where: { $0.value.pid == pid }) else { continue }
            slots[slot] = nil
            if stopping { continue }
            if drainWait != nil && (status & 0x7f) == 0 {
                // A drained worker's exit: 1 if a job it ran did not complete.
                if (status >> 8) & 0xff != 0 { drainResult = 1 }
                continue
            }
            // Unexpected death: restart, backing off if it keeps dying at once.
            let lived = Clock.monotonic() - w.start
            crashes[slot] = lived < 5 ? (crashes[slot] ?? 0) + 1 : 0
            let delay = min(30, crashes[slot] == 0 ? 0 : pow(2, Double(crashes[slot]! - 1)))
            let how = (status & 0x7f) != 0 ? "was killed by signal \(status & 0x7f)" : "exited with code \((status >> 8) & 0xff)"
            log("worker \(slot) (pid \(pid)) \(how); restarting\(delay > 0 ? " in \(Int(delay))s" : "")")  // checked: delay ≤ 30
            if (status & 0x7f) != 0 { noteCrash(signal: status & 0x7f) }
            if delay > 0 { restartAt[slot] = Clock.monotonic() + delay } else { spawn(slot); writePidFile() }
        }
    }

    /// Jobs left by workers that died by a signal, with when (monotonic seconds).
    private var crashedOn: [String: [Double]] = [:]

    /// A worker died by a signal. Each processing job of this host whose worker is gone is
    /// noted; a job found so twice within a minute (its worker crashed, and so did the one that
    /// took it up, or recovered it) gets that attempt recorded as failed here, `worker crashed`,
    /// instead of restarting workers into the same crash. Reads only the processing jobs.
    func noteCrash(signal: Int32) {
        let now = Clock.monotonic()
        do {
            let running = try store.counts()[.processing] ?? 0
            guard running > 0, let orphans = try store.recent(limit: running, state: .processing)?.jobs else { return }
            let mine = orphans.filter { ($0.workerHost ?? Host.current.id) == Host.current.id && !Posix.isAlive(pid: $0.workerPid ?? 0, startTime: $0.workerStart) }
            var twice: [Job] = []
            for j in mine {
                let times = (crashedOn[j.id] ?? []).filter { now - $0 < 60 } + [now]
                crashedOn[j.id] = times
                if times.count >= 2 { twice.append(j); crashedOn[j.id] = nil }
            }
            crashedOn = crashedOn.filter { !$0.value.filter { now - $0 < 60 }.isEmpty }
            guard !twice.isEmpty else { return }
            try store.transaction { tx in
                for seen in twice {
                    guard var j = try tx.job(seen.id), j.state == .processing, j.workerPid == seen.workerPid, j.workerStart == seen.workerStart else { continue }
                    Recovery.killOrphanedGroup(home: store.home, job: j)
                    var o = Outcome()
                    o.error = "worker crashed (killed by signal \(signal)) twice within a minute while holding this job"
                    let result = Lifecycle.finish(&j, outcome: o, now: tx.now, config: tx.config)
                    try tx.put(j)
                    log("\(j.id): worker crashed twice within a minute on it; attempt recorded as failed, \(result == .dead ? "moved to the DLQ" : "will retry")")
                }
            }
        } catch {
            log("cannot check the jobs of a crashed worker: \(QueueError.from(error).description)")
        }
        store.closeFiles()  // keep no state or descriptor in the supervisor (its workers fork from it)
    }

    // MARK: - The host's lease and requests from other machines

    private var leaseRenewedAt = -Double.infinity
    private var leaseInterval = 10.0
    private var controlCheckedAt = -Double.infinity
    /// Requests from other machines, handled as the signals they stand for.
    private var requested: Set<Int32> = []

    /// Renews the lease at a third of `lease_timeout` (ARCHITECTURE.md, "Several machines").
    func renewLeaseIfDue(_ now: Double) {
        guard now - leaseRenewedAt >= leaseInterval else { return }
        leaseInterval = ((try? store.config().leaseTimeout) ?? 30) / 3
        do {
            try Lease.renew(store.home)
            leaseRenewedAt = now
        } catch {
            leaseRenewedAt = now - leaseInterval + 1  // try again in a second
            log("cannot renew this host's lease: \(QueueError.from(error).description)")
        }
    }

    /// `worker stop --host`/`--all-hosts` from another machine.
    func actOnRequest() {
        do {
            switch try HostControl.take(home: store.home) {
            case .stop?:
                log("stop requested from another machine")
                requested.insert(SIGTERM)
            case .forceStop?:
                log("forced stop requested from another machine")
                requested.insert(SIGUSR1)
            case nil: break
            }
        } catch {
            log("cannot read requests from other machines: \(QueueError.from(error).description)")
        }
    }

    func writePidFile() {
        pidFile.workers = slots.sorted { $0.key < $1.key }.map {
            PidFile.Entry(slot: $0.key, pid: Int($0.value.pid), startTime: Posix.processStartTime(Int($0.value.pid)))
        }
        do { try pidFile.write(store.home) } catch { log("cannot write \(store.home.pidFile()): \(error)") }
    }
}
