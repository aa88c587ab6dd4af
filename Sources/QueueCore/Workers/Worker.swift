import Glibc

/// One worker process: claim the next job, run it, record the outcome, repeat; sleep without
/// spinning when there is nothing due (woken by inotify on the home, a signal, or the next due time).
public final class Worker {
    let store: JSONStore
    let slot: Int
    let supervisorFd: FileDescriptor?  // read end of a pipe only the supervisor writes: HUP = it died
    let pid: Int
    let startTime: Int64?
    var stopRequested = false
    var forceRequested = false
    let log: (String) -> Void
    private var watch: HomeWatch?
    private var hostLock: FileDescriptor?
    private lazy var hooks = Hooks(log: log)
    /// Hooks decided by the transaction under way: fired once it has committed (never under the
    /// lock), dropped if it fails.
    private var dueHooks: [Hooks.Due] = []

    public init(store: JSONStore, slot: Int, supervisorFd: FileDescriptor?, log: @escaping (String) -> Void) {
        self.store = store
        store.keepsFinished = false  // live jobs only in memory (ARCHITECTURE.md, "Finished jobs stay on disk")
        self.slot = slot
        self.supervisorFd = supervisorFd
        self.pid = Int(getpid())
        self.startTime = Posix.processStartTime(Int(getpid()))
        self.log = log
    }

    /// The queues this worker takes jobs from (`worker start --queues`); nil: every queue.
    public var queues: Set<String>?

    /// `--drain`: exit once no job is running, pending (due now or within this many seconds) or
    /// awaiting a retry. Jobs delayed past it are left for later workers.
    public var drainWait: Double?
    /// Whether a job this worker ran ended other than completed (dead, cancelled): the exit code.
    private var ranUncompleted = false
    private var drained = false

    /// Runs until asked to stop (SIGTERM/SIGINT, supervisor gone), finishing the current job
    /// first, or with `drainWait` until the queue is drained. Returns the process's exit code.
    public func run() -> Int32 {
        // inotify sees only this machine's writes: on a network file system, poll instead.
        if !FileSystemKind.of(store.home.path).isNetwork {
            watch = HomeWatch(home: store.home)
            if watch != nil { turn = IdleTurn(home: store.home) }
        }
        store.recordsMarker = true
        do {
            hostLock = try WorkerHostLock.hold(store.home)
        } catch {
            log("worker \(slot): \(QueueError.from(error).description)")
            return 1
        }
        defer { hostLock?.close() }
        let leaseTimeout = (try? store.config().leaseTimeout) ?? 30
        leaseInterval = leaseTimeout / 3
        watchdog = LeaseWatchdog(timeout: leaseTimeout)
        var next: Claimed? = nil
        var unrecorded: Finished? = nil   // a result not yet written (kept across store errors)
        var failures = 0
        while !stopRequested || next != nil || (unrecorded != nil && failures < 10) {
            do {
                if let f = unrecorded {
                    // Record the result and take the next job in one transaction (one fsync per job).
                    let tried = !stopRequested
                    next = try claiming { tx in
                        try record(f, tx: tx)
                        return stopRequested ? nil : try keepTurnIfLast(claimNext(tx), tx)
                    }
                    unrecorded = nil
                    // That transaction looked for work already: asking again at once would only
                    // cost a second transaction per job.
                    if next == nil && tried { try foundNothing() }
                } else if let claimed = next {
                    next = nil
                    unrecorded = execute(claimed)
                } else {
                    next = try claiming { tx in try keepTurnIfLast(claimNext(tx), tx) }
                    if next == nil { try foundNothing() }
                }
                failures = 0
            } catch {
                failures += 1
                log("worker \(slot): \(QueueError.from(error).description)")
                wait(seconds: 1)  // store trouble (disk full, corrupt file): retry calmly
            }
        }
        turn?.giveUp()  // another worker watches from now on
        do { try store.syncJournal() } catch { log("worker \(slot): \(QueueError.from(error).description)") }
        // Hooks still running get their time, unless the stop was forced.
        let config = try? store.config()
        hooks.finish(within: forceRequested ? 0 : (config?.hookTimeout ?? 30))
        return ranUncompleted ? 1 : 0
    }

    /// After a claim that found nothing: stop if drained, else sleep until the queue changes.
    private func foundNothing() throws {
        if drained {
            stopRequested = true
            log("worker \(slot): the queue is drained")
            return
        }
        // The files as the claim left them, read under its lock: a change made between the
        // unlock and a later look would otherwise be taken as already seen.
        seen = store.markerAtUnlock ?? store.changeMarker()
        try idle()
    }

    /// A claimed job and how to run its attempt.
    struct Claimed {
        let job: Job
        let request: RunRequest
    }

    /// Whether the worker that holds the turn to watch keeps it while it runs the job it just
    /// claimed (caller holds the lock): only if the claim left no job pending or awaiting a
    /// retry. Otherwise the turn passes on before the claim is written, and the worker that
    /// takes it looks at the home against what it saw last (IdleTurn.swift).
    private func keepTurnIfLast(_ claimed: Claimed?, _ tx: Transaction) throws -> Claimed? {
        guard claimed != nil, let t = turn, t.held else { return claimed }
        let s = try tx.state
        if s.count(.pending) + s.count(.failed) > 0 { t.giveUp() }
        return claimed
    }

    /// A worker's transaction: claims and results are written without waiting for the disk (a
    /// claim lost in a crash leaves the job pending, so it runs again: at-least-once).
    private func claiming(_ body: (Transaction) throws -> Claimed?) throws -> Claimed? {
        dueHooks = []
        let claimed: Claimed?
        do {
            claimed = try store.transaction { tx in
                tx.durable = false
                return try body(tx)
            }
        } catch {
            dueHooks = []
            throw error
        }
        fireDueHooks()
        return claimed
    }

    /// Notes the hooks a job's end calls for (caller holds the lock; `job` is as just put):
    /// `on_finish` for a job in a final state, and `on_idle` when its queue has no pending,
    /// failed or running job left. Exactly one transaction makes a job final, and exactly one
    /// makes a queue's last live job final, so each fires once, on one host.
    func noteFinished(_ job: Job, tx: Transaction) throws {
        let config = tx.config
        guard config.onFinish != nil || config.onIdle != nil else { return }
        if let command = config.onFinish {
            dueHooks.append(.onFinish(job, command: command, home: store.home))
        }
        if let command = config.onIdle, try tx.liveCount(queue: job.queue) == 0 {
            dueHooks.append(.onIdle(queue: job.queue, command: command, home: store.home))
        }
    }

    private func fireDueHooks() {
        guard !dueHooks.isEmpty else { return }
        let config = (try? store.config()) ?? Config()
        for h in dueHooks { hooks.fire(h.what, command: h.command, env: h.env, timeout: config.hookTimeout, killGrace: config.killGrace) }
        dueHooks = []
    }

    private var lastRecovery = -Double.infinity

    /// Takes the next runnable job (caller holds the store's lock). This is where a job is claimed.
    /// Jobs of dead workers are recovered first (at most once a second: it reads /proc).
    func claimNext(_ tx: Transaction) throws -> Claimed? {
        if Clock.monotonic() - lastRecovery >= 1 {
            lastRecovery = Clock.monotonic()
            for j in try Recovery.recoverLostJobs(tx: tx, log: log) where j.state.isFinished { try noteFinished(j, tx: tx) }
            for (var j, why) in try tx.blockedJobs() {
                Lifecycle.cancel(&j, now: tx.now, reason: "not run: " + why)
                try tx.put(j)
                log("\(j.id) cancelled: \(why)")
                try noteFinished(j, tx: tx)
            }
        }
        guard var job = try tx.nextRunnable(rule: try tx.claimRule(served: queues)) else {
            nextDue = try tx.nextDue()
            let s = try tx.state
            holdingBack = s.count(.pending) + s.count(.failed) > 0
            if let wait = drainWait {
                // Drained: nothing running or awaiting a retry, and nothing due within the wait.
                let horizon = tx.now + (Clock.millis(seconds: wait) ?? 0)
                drained = s.count(.processing) == 0 && s.count(.failed) == 0 && (nextDue.map { $0 > horizon } ?? true)
            }
            return nil
        }
        Lifecycle.claim(&job, now: tx.now, workerPid: pid, workerStart: startTime)
        let config = tx.config
        let attempt = job.history.last?.number ?? job.attempts
        let request = RunRequest(job: job, attempt: attempt, logPath: store.home.logFile(job: job.id, attempt: attempt),
                                 timeout: job.timeout ?? config.jobTimeout, killGrace: config.killGrace, logMaxBytes: config.logMaxBytes)
        try tx.put(job)
        return Claimed(job: job, request: request)
    }

    struct Finished {
        let job: Job
        let outcome: Outcome
        let interrupted: Bool
    }

    /// Starts the claimed attempt, records its process group, runs it to its end.
    func execute(_ claimed: Claimed) -> Finished {
        let job = claimed.job
        log("\(job.id) claimed by worker \(slot) (attempt \(job.attempts) of \(job.maxRetries + 1)): \(job.command)")
        let runner = JobRunner()
        runner.extraFds = supervisorFd.map { [$0] } ?? []
        let checkEvery = (try? store.config().pollInterval) ?? 1
        runner.wakeEvery = checkEvery
        var checkedAt = Clock.monotonic()
        var superseded: String? = nil
        var held = false
        runner.shouldKill = { [unowned self] signals, supervisorGone in
            self.handle(signals, supervisorGone: supervisorGone)
            self.renewLeaseIfDue()
            self.hooks.reap()
            // Cancelled from another machine, or taken over after this host's lease expired (a
            // pause, a partition): the claim is no longer this attempt's, so the attempt stops.
            // Paused (the job, or its queue with --jobs): the attempt is held stopped. Both are
            // requests in the files, acted on by the host that owns the attempt.
            let now = Clock.monotonic()
            if superseded == nil && now - checkedAt >= checkEvery {
                checkedAt = now
                if let current = try? self.store.read({ $0.job(job.id) }) {
                    superseded = self.supersededBy(current, claimed: job)
                    let wanted = self.holdWanted(current)
                    if wanted != held { self.log("\(job.id) \(wanted ? "paused: its process group is stopped" : "resumed")") }
                    held = wanted
                }
            }
            return self.forceRequested || superseded != nil
        }
        runner.holdWanted = { held }
        watchWhileRunning(runner)
        runner.whenSettled = { [unowned self] s in self.recordGroup(of: job, s) }
        var fenced = false
        runner.willReap = { [unowned self] in fenced = self.watchdog?.finished() ?? false }
        var outcome: Outcome
        switch runner.start(claimed.request) {
        case .failed(let o): outcome = o
        case .running(let s):
            watchdog?.running(s.pid)
            outcome = runner.wait(s, claimed.request)
            watchdog?.finished()
        }
        if fenced {
            let why = "stopped by its own host: the host's lease could not be renewed for \(Clock.humanDuration(leaseInterval * 3)) (a partition or a hung file system), so another host may take the job over"
            outcome.error = why
            log("\(job.id): \(why)")
        }
        if let why = superseded {
            log(why == "cancelled" ? "\(job.id) cancelled while running: its process group was killed"
                                   : "\(job.id): claim \(why); its process group was killed")
        }
        return Finished(job: job, outcome: outcome, interrupted: runner.killedOnRequest && superseded == nil)
    }

    /// The turn's holder, running a job, still watches the home: the first change it did not
    /// make itself (the files differ from how its own last transaction left them) hands the turn
    /// to a waiting worker, which takes the new job at once.
    private func watchWhileRunning(_ runner: JobRunner) {
        guard let t = turn, t.held, let w = watch, store.markerAtUnlock != nil else { return }
        runner.watchFd = w.fd
        runner.watchReady = { [unowned self] in
            w.drain()
            guard t.held, self.store.changeMarker() == self.store.markerAtUnlock else {
                t.giveUp()
                return false
            }
            return true
        }
    }

    /// Whether a running job should be held stopped: paused itself with `--jobs`, or its queue
    /// paused with its running jobs.
    func holdWanted(_ current: Job?) -> Bool {
        guard let c = current else { return false }
        if c.stopsRunning { return true }
        guard let settings = try? store.queueSettings() else { return false }
        let q = settings[c.queue]
        return q.paused && q.stopsRunning
    }

    /// Whether this worker's claim on `job` still stands; if not, why. The claim's fencing
    /// token is its attempt number with this worker's host, pid and start time: a later claim
    /// (by another host, once this host's lease expired) always has a higher attempt number.
    func supersededBy(_ current: Job?, claimed: Job) -> String? {
        guard let c = current else { return "purged" }
        if c.state == .cancelled { return "cancelled" }
        let mine = c.state == .processing && c.workerPid == pid && c.workerStart == startTime
            && (c.workerHost ?? Host.current.id) == Host.current.id && c.history.last?.number == claimed.history.last?.number
        if mine { return nil }
        let by = c.workerHost.map { " (now \(c.state.rawValue), claimed by host \(Host.name(ofId: $0)))" } ?? " (now \(c.state.rawValue))"
        return "superseded: this host's lease expired and the job was taken over\(by)"
    }

    /// Records a running attempt's process group and its leader's start time on the claim, in
    /// its own transaction, once the attempt has run 20 ms (JobRunner.whenSettled): cancel and
    /// recovery signal exactly that group, never one found through anything the job controls.
    /// Most jobs are over sooner and cost no write; spawning inside the claim's transaction
    /// instead held the queue's lock for every spawn (a million-job backlog drained 1.5 times
    /// slower), and a write for every job cost a fifth of the drain rate. A worker killed within
    /// those 20 ms leaves its attempt's group unrecorded: recovery then cannot stop it.
    /// Returns why the attempt must not go on: its claim is gone (cancelled meanwhile) or the
    /// group could not be recorded.
    private func recordGroup(of job: Job, _ s: JobRunner.Started) -> String? {
        do {
            let ours = try store.transaction { tx -> Bool in
                tx.durable = false
                // Still watching while this job runs: a change made since the claim, not yet
                // seen, is seen here, under the lock, before this write would hide it.
                if let t = turn, t.held, store.changeMarker() != store.markerAtUnlock { t.giveUp() }
                guard var j = try tx.job(job.id), supersededBy(j, claimed: job) == nil else { return false }
                j.jobPgid = Int(s.pid)
                j.jobStart = s.startTime
                try tx.put(j)
                return true
            }
            return ours ? nil : "cancelled before it started"
        } catch {
            return "could not record its process group: \(QueueError.from(error).description)"
        }
    }

    /// Writes an attempt's result: completed, retry later, the DLQ, or back to pending if interrupted.
    func record(_ f: Finished, tx: Transaction) throws {
        let id = f.job.id
        let current0 = try tx.job(id)
        if let why = supersededBy(current0, claimed: f.job) {
            // Checked here, under the lock: a late result is never written over a later claim.
            ranUncompleted = true
            if why.hasPrefix("superseded") { log("\(id): claim \(why); this attempt's late result is discarded") }
            // Cancelled while it ran (here or from another machine): its end is this worker's to announce.
            if why == "cancelled", let c = current0 { try noteFinished(c, tx: tx) }
            return
        }
        guard var current = current0 else { return }
        if f.interrupted {
            Lifecycle.requeue(&current, now: tx.now, reason: "interrupted by 'worker stop --force'")
            try tx.put(current)
            log("\(id) interrupted, back to pending")
            return
        }
        let started = current.startedAt ?? tx.now
        let result = Lifecycle.finish(&current, outcome: f.outcome, now: tx.now, config: tx.config)
        try tx.put(current)
        if current.state.isFinished { try noteFinished(current, tx: tx) }
        let took = Clock.humanDuration(Double(tx.now - started) / 1000)
        switch result {
        case .completed:
            log("\(id) completed in \(took)")
        case .retry(let at):
            log("\(id) failed (\(f.outcome.reason ?? "?")) after \(took); retry in \(Clock.humanDuration(Double(at - tx.now) / 1000))")
        case .dead:
            ranUncompleted = true
            log("\(id) failed (\(f.outcome.reason ?? "?")) after \(took); moved to the DLQ")
        }
    }

    func handle(_ signals: Set<Int32>, supervisorGone: Bool) {
        if signals.contains(SIGTERM) || signals.contains(SIGINT) || signals.contains(SIGHUP) || supervisorGone {
            stopRequested = true
        }
        if signals.contains(SIGUSR1) {
            stopRequested = true
            forceRequested = true
        }
    }

    /// Sleeps until the queue changes, the next job is due, a signal arrives, or the poll interval passes.
    private var lastRetention = -Double.infinity

    func idle() throws {
        let config = try store.config()
        // Automatic retention: finished jobs older than `retention` go; checked when idle, at most
        // once a minute (more often only for retentions shorter than two minutes).
        if config.retention > 0 && Clock.monotonic() - lastRetention >= min(60, max(1, config.retention / 2)) {
            lastRetention = Clock.monotonic()
            let purged = try Purge.run(store: store, state: nil, olderThan: config.retention)
            if !purged.isEmpty { log("retention: purged \(purged.count) finished job\(purged.count == 1 ? "" : "s")") }
        }
        if config.fsync {
            // Sync once the queue has been quiet for a moment: while jobs arrive one by one,
            // syncing at every idle transition cost an fdatasync per job, queued beside the
            // enqueuers' own. Unsynced claims and results are at-least-once either way.
            let quietUntil = Clock.monotonic() + min(0.05, config.pollInterval)
            while !stopRequested && Clock.monotonic() < quietUntil {
                wait(seconds: quietUntil - Clock.monotonic())  // wakes on any change in the home
                if changed() { return }
            }
            try store.syncJournal()
        }
        // Sleep until the queue changes (someone else wrote), the next job is due, or the poll
        // interval passes. Wake-ups caused by our own or unrelated writes are absorbed here
        // without taking the lock.
        let deadline = Clock.monotonic() + config.pollInterval
        leaseInterval = config.leaseTimeout / 3
        while !stopRequested {
            renewLeaseIfDue()
            let now = Clock.nowMillis()
            var seconds = min(deadline, leaseRenewedAt + leaseInterval) - Clock.monotonic()
            if let due = nextDue { seconds = min(seconds, Double(due - now) / 1000) }
            if seconds <= 0 { return }
            wait(seconds: seconds)
            if changed() { return }
        }
    }

    /// Whether the home changed since the last claim attempt in a way that calls for another.
    /// Locally, a journal that only grew by lines that leave no job claimable (another worker's
    /// claim or result) is absorbed without the lock, unless the last attempt saw jobs waiting
    /// (then any change, a finished dependency or a freed slot, may release one).
    private func changed() -> Bool {
        if let t = turn, !t.take() { return false }  // another idle worker is watching
        let now = store.changeMarker()
        guard now != seen else { return false }
        if watch != nil, !holdingBack, now.count == 3, seen.count == 3, now[1] == seen[1], now[2] == seen[2], now[0] > seen[0],
           !store.appendedLinesMayOfferWork() {
            seen = now
            return false
        }
        return true
    }

    /// Whether the last claim attempt that found nothing saw jobs pending or failed (held back
    /// by dependencies, limits, pauses or due times).
    private var holdingBack = true
    /// Whether this worker is the one of its machine that watches the home (IdleTurn.swift).
    private var turn: IdleTurn?

    /// Every live worker renews its host's lease too (the supervisor does as well), so the host
    /// keeps its claims while any of its processes lives (ARCHITECTURE.md, "Several machines").
    private var leaseRenewedAt = Clock.monotonic()  // the supervisor renewed it before forking
    private var leaseInterval = 10.0
    private var watchdog: LeaseWatchdog?

    func renewLeaseIfDue() {
        let now = Clock.monotonic()
        guard now - leaseRenewedAt >= leaseInterval else { return }
        leaseRenewedAt = now
        do {
            try Lease.renew(store.home)
            watchdog?.renewed(timeout: leaseInterval * 3)
        } catch {
            log("worker \(slot): cannot renew this host's lease: \(QueueError.from(error).description)")
        }
    }

    /// The earliest future due time seen by the last claim attempt, and the files' state then.
    private var nextDue: Millis?
    private var seen: [Int] = []

    func wait(seconds: Double) {
        hooks.reap()
        // A free turn is taken before sleeping, and its new holder looks at the home first.
        if let t = turn, !t.held, t.take() { return }
        let seconds = min(seconds, hooks.nextWake ?? seconds)
        var fds = [pollfd(readable: SignalPipe.readFd),
                   pollfd(readable: supervisorFd)]
        // The turn's holder sleeps on the home; the others until the turn is handed over.
        if let w = watch { fds.append(pollfd(readable: turn.map { $0.held ? w.fd : $0.wakeFd } ?? w.fd)) }
        Posix.poll(&fds, seconds: seconds + 0.001)
        handle(SignalPipe.take(), supervisorGone: fds[1].revents != 0)
        watch?.drain()
    }
}
