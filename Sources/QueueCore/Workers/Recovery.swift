import Glibc

/// Crash recovery (SPEC §3, §8): a job left `processing` by a worker that no longer exists
/// (killed -9, machine restarted) is counted as a failed attempt and retried.
public enum Recovery {
    public static func recoverLostJobs(tx: Transaction, state: QueueState, log: (String) -> Void) throws {
        var lost: [Job] = []
        for j in state.jobs.values where j.state == .processing {
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
    /// overlap it. The group is only killed if it still carries this job's QUEUECTL_JOB_ID.
    static func killOrphanedGroup(home: Home, job: Job) {
        guard let n = job.history.last?.number,
              let text = try? Posix.readFile(home.logDirectory(job: job.id) + "/\(n).pgid"),
              let pgid = Int32(String(decoding: text, as: UTF8.self).trimmingSpaces()), pgid > 1 else { return }
        guard let env = try? Posix.readFile("/proc/\(pgid)/environ") else { return }
        let marker = Array("QUEUECTL_JOB_ID=\(job.id)".utf8)
        let vars = env.split(separator: 0)
        if vars.contains(where: { Array($0) == marker }) { kill(-pgid, SIGKILL) }
    }
}
