import Glibc

/// Crash recovery (ARCHITECTURE.md, "Crashes"): a job left `processing` by a worker that no longer exists
/// (killed -9, machine restarted) is counted as a failed attempt and retried.
public enum Recovery {
    /// Returns the jobs it recovered, as recorded (some may now be dead).
    @discardableResult
    public static func recoverLostJobs(tx: Transaction, log: (String) -> Void) throws -> [Job] {
        // Collect first: holding a copy of the state across `put` would copy every job.
        let timeout = tx.config.leaseTimeout
        let lost = try tx.state.processing.compactMap { j in lostBecause(j, home: tx.storeHome, leaseTimeout: timeout).map { (j, $0) } }
        var recovered: [Job] = []
        for (var j, why) in lost {
            let elsewhere = j.workerHost.map { $0 != Host.current.id } ?? false
            if !elsewhere { killOrphanedGroup(home: tx.storeHome, job: j) }  // another host's group is its own to kill (fencing)
            var o = Outcome()
            o.error = "worker lost (\(why))"
            let result = Lifecycle.finish(&j, outcome: o, now: tx.now, config: tx.config)
            try tx.put(j)
            log("\(j.id) recovered from a lost worker: \(result == .dead ? "moved to the DLQ" : "will retry")")
            recovered.append(j)
        }
        return recovered
    }

    /// Why a claim is lost, or nil while it stands. A claim of this host is lost when its worker
    /// pid (with its start time) is gone; a claim of another host only once that host's lease
    /// has expired by the file server's clock (Lease), never on the word of this machine's clock.
    static func lostBecause(_ job: Job, home: Home, leaseTimeout: Double) -> String? {
        guard let h = job.workerHost, h != Host.current.id else {
            return Posix.isAlive(pid: job.workerPid ?? 0, startTime: job.workerStart) ? nil
                : "pid \(job.workerPid.map(String.init) ?? "?") died while running the job"
        }
        let name = Host.name(ofId: h)
        let now = Clock.monotonic()
        if let until = leaseFreshUntil[h], now < until { return nil }
        let reading: Lease.Reading?
        do {
            reading = try Lease.read(home, host: name)
        } catch {
            return nil  // cannot tell: never take a job on a guess
        }
        if let r = reading, r.hostId == h, r.age <= leaseTimeout {
            // It cannot expire before the rest of its time has passed here: look again then.
            leaseFreshUntil[h] = now + (leaseTimeout - r.age)
            return nil
        }
        leaseFreshUntil[h] = nil
        guard Lease.isExpired(reading, claimHostId: h, timeout: leaseTimeout, workersFree: { WorkerHostLock.isFree(home, hostId: h) }) else { return nil }
        if let r = reading, r.hostId != h { return "host \(name) restarted since it claimed the job" }
        return reading == nil ? "no worker of host \(name) is alive" : "host \(name) stopped renewing its lease"
    }

    /// Per host id: until when (monotonic seconds) its lease was last seen to be surely fresh.
    nonisolated(unsafe) static var leaseFreshUntil: [String: Double] = [:]

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
