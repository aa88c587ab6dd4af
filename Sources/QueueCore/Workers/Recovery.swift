import Glibc

/// Crash recovery (ARCHITECTURE.md, "Crashes"): a job left `processing` by a worker that no longer exists
/// (killed -9, machine restarted) is counted as a failed attempt and retried.
public enum Recovery {
    public static func recoverLostJobs(tx: Transaction, log: (String) -> Void) throws {
        // Collect first: holding a copy of the state across `put` would copy every job.
        let lost = try tx.state.processing.filter { isLost($0, home: tx.storeHome) }
        for var j in lost {
            let elsewhere = j.workerHost.map { $0 != Host.current.id } ?? false
            if !elsewhere { killOrphanedGroup(home: tx.storeHome, job: j) }
            var o = Outcome()
            o.error = elsewhere
                ? "worker lost (no worker of host \(Host.name(ofId: j.workerHost ?? "?")) is alive)"
                : "worker lost (pid \(j.workerPid.map(String.init) ?? "?") died while running the job)"
            let result = Lifecycle.finish(&j, outcome: o, now: tx.now, config: tx.config)
            try tx.put(j)
            log("\(j.id) recovered from a lost worker: \(result == .dead ? "moved to the DLQ" : "will retry")")
        }
    }

    /// A claim of this host is lost when its worker pid (with its start time) is gone; a claim of
    /// another host only when no worker of that host holds its lock (see WorkerHostLock).
    static func isLost(_ job: Job, home: Home) -> Bool {
        if let h = job.workerHost, h != Host.current.id { return WorkerHostLock.isFree(home, hostId: h) }
        return !Posix.isAlive(pid: job.workerPid ?? 0, startTime: job.workerStart)
    }

    /// The dead worker's job may still be running; kill its process group so the retry does not
    /// overlap it.
    static func killOrphanedGroup(home: Home, job: Job) {
        ownedGroup(job)?.signalGroup(SIGKILL)
    }

    /// The process group running a job's attempt, as its worker recorded it with the claim: only
    /// while the leader with the recorded start time is alive (a recycled pid fails the check),
    /// and never found through anything the job itself controls, such as its environment.
    static func ownedGroup(_ job: Job) -> OwnedProcess? {
        guard let g = job.jobPgid, let start = job.jobStart else { return nil }
        let leader = OwnedProcess(pid: g, startTime: start)
        return leader.isAlive ? leader : nil
    }
}
