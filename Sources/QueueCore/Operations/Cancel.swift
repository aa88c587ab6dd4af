import Glibc

/// `cancel`: a waiting job never runs; a running one has its process group stopped.
public enum Cancel {
    public struct Result {
        public var cancelled: [String] = []
        public var stopped: [String] = []       // were running: their process group was signalled
        /// Were running on another machine: its worker stops them within its poll interval.
        public var elsewhere: [(id: String, host: String)] = []
    }

    public static func run(store: JSONStore, ids: [String]) throws -> Result {
        var result = Result()
        var running: [Job] = []
        var ended: [Job] = []  // waiting jobs made final here: no worker will announce them
        try store.transaction { tx in
            var targets: [Job] = []
            for id in ids {
                guard let j = try tx.job(id) else { throw QueueError.notFound("no job with id \"\(id)\"; see 'queuectl list'") }
                guard !j.state.isFinished else {
                    throw QueueError.conflict("job \"\(id)\" is already \(j.state.rawValue); only pending, failed or processing jobs can be cancelled")
                }
                targets.append(j)
            }
            for var j in targets {
                if j.state == .processing { running.append(j) }
                let attempt = j.history.last
                Lifecycle.cancel(&j, now: tx.now, reason: "cancelled by the user")
                if running.last?.id == j.id, var a = attempt {
                    a.finishedAt = tx.now
                    a.error = "cancelled while running"
                    j.history[j.history.count - 1] = a
                }
                try tx.put(j)
                result.cancelled.append(j.id)
                if running.last?.id != j.id { ended.append(j) }
            }
        }
        // A running job's end is announced by its worker (it finds the job cancelled); a waiting
        // one's, here, by a detached process so that `cancel` does not wait for the hook.
        if let config = try? store.config(), let command = config.onFinish, !ended.isEmpty {
            let due = ended.map { Hooks.Due.onFinish($0, command: command, home: store.home) }
            Hooks.fireDetached(due, home: store.home, timeout: config.hookTimeout, killGrace: config.killGrace)
        }
        // Outside the lock: stop running jobs. Their worker sees the exit and, finding the job
        // cancelled, leaves it so.
        let grace = (try? store.config().killGrace) ?? 2
        // Only this host's process groups can be signalled. A job running on another machine
        // is stopped there: its worker checks its claim every poll interval (Worker.execute).
        for j in running {
            if let h = j.workerHost, h != Host.current.id {
                result.elsewhere.append((j.id, Host.name(ofId: h)))
            } else if stopGroup(home: store.home, job: j, grace: grace) {
                result.stopped.append(j.id)
            }
        }
        return result
    }

    /// SIGTERM to the job's recorded process group, SIGKILL after the grace; each signal only
    /// while the group's leader is still the process its worker started (Recovery.ownedGroup).
    static func stopGroup(home: Home, job: Job, grace: Double) -> Bool {
        guard let leader = Recovery.ownedGroup(job) else { return false }
        leader.signalGroup(SIGTERM)
        let deadline = Clock.monotonic() + grace
        // Watch the leader (the job's shell): once it is gone its worker has killed the rest of
        // the group and collected it.
        while Clock.monotonic() < deadline && Recovery.ownedGroup(job) != nil {
            Posix.sleep(seconds: 0.02)
        }
        leader.signalGroup(SIGKILL)  // only if it is still that leader
        return true
    }
}
