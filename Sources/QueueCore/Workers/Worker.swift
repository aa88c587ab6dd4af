import Glibc

/// One worker process: claim the next job, run it, record the outcome, repeat; sleep without
/// spinning when there is nothing due (woken by inotify on the home, a signal, or the next due time).
public final class Worker {
    let store: JSONStore
    let slot: Int
    let supervisorFd: Int32         // read end of a pipe only the supervisor writes: HUP = it died
    let pid: Int
    let startTime: Int64?
    var stopRequested = false
    var forceRequested = false
    let log: (String) -> Void
    private var watch: HomeWatch?

    public init(store: JSONStore, slot: Int, supervisorFd: Int32, log: @escaping (String) -> Void) {
        self.store = store
        self.slot = slot
        self.supervisorFd = supervisorFd
        self.pid = Int(getpid())
        self.startTime = Posix.processStartTime(Int(getpid()))
        self.log = log
    }

    /// Runs until asked to stop (SIGTERM/SIGINT, supervisor gone), finishing the current job first.
    public func run() {
        watch = HomeWatch(home: store.home)
        while !stopRequested {
            do {
                if let claimed = try claim() {
                    execute(claimed)
                } else {
                    try idle()
                }
            } catch {
                log("worker \(slot): \(QueueError.from(error).description)")
                wait(seconds: 1)  // store trouble (disk full, corrupt file): retry calmly
            }
        }
    }

    /// Takes the next runnable job under the store's lock; recovers jobs of dead workers first.
    func claim() throws -> (Job, Config)? {
        try store.transaction { tx -> (Job, Config)? in
            let state = try tx.state
            try Recovery.recoverLostJobs(tx: tx, state: state, log: log)
            for (var j, why) in Scheduler.blocked(in: try tx.state) {
                Lifecycle.cancel(&j, now: tx.now, reason: "not run: " + why)
                try tx.put(j)
                log("\(j.id) cancelled: \(why)")
            }
            guard var job = Scheduler.next(in: try tx.state, now: tx.now) else { return nil }
            Lifecycle.claim(&job, now: tx.now, workerPid: pid, workerStart: startTime)
            try tx.put(job)
            return (job, tx.config)
        }
    }

    func execute(_ claimed: (Job, Config)) {
        let (job, config) = claimed
        let attempt = job.history.last?.number ?? job.attempts
        log("\(job.id) claimed by worker \(slot) (attempt \(job.attempts) of \(job.maxRetries + 1)): \(job.command)")
        let runner = JobRunner()
        runner.extraFds = [supervisorFd]
        runner.shouldKill = { [unowned self] signals, supervisorGone in
            self.handle(signals, supervisorGone: supervisorGone)
            return self.forceRequested
        }
        runner.onStart = { [store] pgid in
            // Remembered so a worker that recovers this job after our death can kill the group.
            try? Posix.atomicWriteFast(path: store.home.logDirectory(job: job.id) + "/\(attempt).pgid", text: "\(pgid)\n")
        }
        let timeout = job.timeout ?? config.jobTimeout
        let outcome = runner.run(RunRequest(
            job: job, attempt: attempt, logPath: store.home.logFile(job: job.id, attempt: attempt),
            timeout: timeout, killGrace: config.killGrace, logMaxBytes: config.logMaxBytes))
        unlink(store.home.logDirectory(job: job.id) + "/\(attempt).pgid")
        do {
            try store.transaction { tx in
                guard var current = try tx.job(job.id) else { return }  // purged meanwhile
                guard current.state == .processing, current.workerPid == pid else { return }  // cancelled meanwhile
                if runner.killedOnRequest {
                    Lifecycle.requeue(&current, now: tx.now, reason: "interrupted by 'worker stop --force'")
                    try tx.put(current)
                    log("\(job.id) interrupted, back to pending")
                    return
                }
                let started = current.startedAt ?? tx.now
                let result = Lifecycle.finish(&current, outcome: outcome, now: tx.now, config: tx.config)
                try tx.put(current)
                let took = Clock.humanDuration(Double(tx.now - started) / 1000)
                switch result {
                case .completed:
                    log("\(job.id) completed in \(took)")
                case .retry(let at):
                    log("\(job.id) failed (\(outcome.reason ?? "?")) after \(took); retry in \(Clock.humanDuration(Double(at - tx.now) / 1000))")
                case .dead:
                    log("\(job.id) failed (\(outcome.reason ?? "?")) after \(took); moved to the DLQ")
                }
            }
        } catch {
            log("worker \(slot): cannot record the result of \(job.id): \(QueueError.from(error).description)")
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
    func idle() throws {
        let config = try store.config()
        let now = Clock.nowMillis()
        var seconds = config.pollInterval
        if let due = try store.read({ Scheduler.nextDue(in: $0, after: now) }) {
            seconds = min(seconds, max(0.001, Double(due - now) / 1000))
        }
        wait(seconds: seconds)
    }

    func wait(seconds: Double) {
        var fds = [pollfd(fd: SignalPipe.readFd, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: supervisorFd, events: Int16(POLLIN), revents: 0)]
        if let w = watch { fds.append(pollfd(fd: w.fd, events: Int16(POLLIN), revents: 0)) }
        Posix.poll(&fds, timeoutMs: Int32(min(seconds, 3600) * 1000) + 1)
        handle(SignalPipe.take(), supervisorGone: fds[1].revents != 0)
        watch?.drain()
    }
}
