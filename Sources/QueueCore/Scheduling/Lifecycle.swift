import Glibc

/// The state transitions of a job (ARCHITECTURE.md, "A job run"), in one place.
public enum Lifecycle {
    /// Seconds to wait after the k-th failed attempt: min(backoff_base^k, backoff_max). Saturates:
    /// a power that overflows (or a value no check let through) is the cap, never a trap.
    public static func backoff(afterAttempt k: Int, config: Config) -> Double {
        let cap = min(max(config.backoffMax, 0), Clock.maxDurationSeconds)
        let v = pow(config.backoffBase, Double(max(0, k)))
        guard v.isFinite, v >= 0 else { return cap.isFinite ? cap : Clock.maxDurationSeconds }
        return min(v, cap)
    }

    public static func claim(_ job: inout Job, now: Millis, workerPid: Int, workerStart: Int64?) {
        job.state = .processing
        job.attempts += 1
        job.workerPid = workerPid
        job.workerStart = workerStart
        job.workerHost = Host.current.id
        job.jobPgid = nil  // set once the worker has spawned it
        job.jobStart = nil
        job.startedAt = now
        job.finishedAt = nil
        if job.firstStartedAt == nil { job.firstStartedAt = now }
        job.updatedAt = now
        job.history.append(Attempt(number: (job.history.last?.number ?? 0) + 1, startedAt: now, workerPid: workerPid, workerHost: Host.current.id))
    }

    public enum Result: Equatable { case completed, retry(at: Millis), dead }

    /// Records the attempt's end and decides: completed, retry later, or the DLQ.
    @discardableResult
    public static func finish(_ job: inout Job, outcome: Outcome, now: Millis, config: Config) -> Result {
        if var last = job.history.popLast() {
            last.finishedAt = now
            last.exitCode = outcome.exitCode
            last.signal = outcome.signal
            last.error = outcome.reason
            last.outputBytes = outcome.outputBytes
            job.history.append(last)
        }
        job.exitCode = outcome.exitCode
        job.workerPid = nil
        job.workerStart = nil
        job.workerHost = nil
        job.jobPgid = nil
        job.jobStart = nil
        job.updatedAt = now
        if outcome.succeeded {
            job.state = .completed
            job.lastError = nil
            job.finishedAt = now
            job.nextRunAt = nil
            return .completed
        }
        job.lastError = outcome.reason
        if job.attempts <= job.maxRetries {
            let at = now + (Clock.millis(seconds: backoff(afterAttempt: job.attempts, config: config)) ?? 0)
            job.state = .failed
            job.nextRunAt = at
            return .retry(at: at)
        }
        job.state = .dead
        job.finishedAt = now
        job.nextRunAt = nil
        return .dead
    }

    /// A running job that was interrupted on purpose (`worker stop --force`): back to pending,
    /// the interrupted attempt not counted against its retries.
    public static func requeue(_ job: inout Job, now: Millis, reason: String) {
        if var last = job.history.popLast() {
            last.finishedAt = now
            last.error = reason
            job.history.append(last)
        }
        job.state = .pending
        job.attempts = max(0, job.attempts - 1)
        job.workerPid = nil
        job.workerStart = nil
        job.workerHost = nil
        job.jobPgid = nil
        job.jobStart = nil
        job.nextRunAt = nil
        job.lastError = reason
        job.updatedAt = now
    }

    /// `dlq retry`, `restart`: back to pending with a fresh set of attempts, runnable now, in
    /// its place by age (an earlier `pause` or `move` of it no longer applies).
    public static func retryFromDLQ(_ job: inout Job, now: Millis) {
        job.state = .pending
        job.paused = false  // and stopsRunning with it
        job.order = nil
        job.attempts = 0
        job.nextRunAt = nil
        job.runAt = nil
        job.finishedAt = nil
        job.updatedAt = now
    }

    public static func cancel(_ job: inout Job, now: Millis, reason: String) {
        job.state = .cancelled
        job.lastError = reason
        job.workerPid = nil
        job.workerStart = nil
        job.workerHost = nil
        job.jobPgid = nil
        job.jobStart = nil
        job.nextRunAt = nil
        job.finishedAt = now
        job.updatedAt = now
    }

    public static func signalName(_ s: Int) -> String {
        switch Int32(s) {
        case SIGHUP: return "SIGHUP"
        case SIGINT: return "SIGINT"
        case SIGQUIT: return "SIGQUIT"
        case SIGILL: return "SIGILL"
        case SIGABRT: return "SIGABRT"
        case SIGFPE: return "SIGFPE"
        case SIGKILL: return "SIGKILL"
        case SIGSEGV: return "SIGSEGV"
        case SIGPIPE: return "SIGPIPE"
        case SIGALRM: return "SIGALRM"
        case SIGTERM: return "SIGTERM"
        case SIGUSR1: return "SIGUSR1"
        case SIGUSR2: return "SIGUSR2"
        case SIGBUS: return "SIGBUS"
        default: return "signal \(s)"
        }
    }
}
