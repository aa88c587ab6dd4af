import Glibc

/// Crash recovery (SPEC §3, §8): a job left `processing` by a worker that no longer exists
/// (killed -9, machine restarted) is counted as a failed attempt and retried.
public enum Recovery {
    public static func recoverLostJobs(tx: Transaction, state: QueueState, log: (String) -> Void) throws {
        var lost: [Job] = []
        for j in state.processing {
            if !Posix.isAlive(pid: j.workerPid ?? 0, startTime: j.workerStart) { lost.append(j) }
        }
        for var j in lost {
            killOrphanedGroup(home: tx.storeHome, job: j)
            var o = Outcome()
            o.error = "worker lost (pid \(j.workerPid.map(String.init) ?? "?") died while running the job)"
            let result = Lifecycle.finish(&j, outcome: o, now: tx.now, config: tx.config)
            try tx.put(j)
            log("\(j.id) recovered from a lost worker: \(result == .dead ? "moved to the DLQ" : "will retry")")
        }
    }

    /// The dead worker's job may still be running; kill its process group so the retry does not
    /// overlap it.
    static func killOrphanedGroup(home: Home, job: Job) {
        if let pgid = jobGroup(home: home, job: job) { kill(-pgid, SIGKILL) }
    }

    /// The process group running a job's latest attempt, if it is still alive and really is that
    /// job's (its leader carries QUEUECTL_JOB_ID=<id>), so a recycled pid is never signalled.
    public static func jobGroup(home: Home, job: Job) -> Int32? {
        guard let n = job.history.last?.number,
              let text = try? Posix.readFile(home.logDirectory(job: job.id) + "/\(n).pgid"),
              let pgid = Int32(String(decoding: text, as: UTF8.self).trimmingSpaces()), pgid > 1 else { return nil }
        guard let env = try? Posix.readFile("/proc/\(pgid)/environ") else { return nil }
        let marker = Array("QUEUECTL_JOB_ID=\(job.id)".utf8)
        return env.split(separator: 0).contains(where: { Array($0) == marker }) ? pgid : nil
    }
}
