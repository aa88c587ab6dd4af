/// `restart`: a finished job (completed, dead or cancelled) runs again with fresh attempts, its
/// earlier attempts and their logs kept in its history (attempt numbers go on counting); or, with
/// `asNew`, a copy of it is enqueued under a new id and the original is left as it is. All named
/// jobs must be finished, or nothing changes. `dlq retry` is the same for dead jobs only.
public enum Restart {
    /// `failed`: every dead job (finished without success), of `queue` only if given. Returns
    /// the ids that will run: the restarted jobs', or the copies'.
    @discardableResult
    public static func run(store: JSONStore, ids: [String], failed: Bool, queue: String? = nil, asNew: Bool) throws -> [String] {
        try store.transaction { tx in
            var targets: [Job] = []
            if failed {
                targets = try tx.state.ordered(state: .dead).filter { queue == nil || $0.queue == queue }
            }
            for id in ids {
                guard let j = try tx.job(id) else { throw QueueError.notFound("no job with id \"\(id)\"; see 'queuectl list'") }
                guard j.state.isFinished else {
                    throw QueueError.conflict("job \"\(id)\" is \(j.state.rawValue), not finished; only completed, dead or cancelled jobs can be restarted (a waiting job will run anyway; 'queuectl cancel' stops one)")
                }
                if !targets.contains(where: { $0.id == id }) { targets.append(j) }
            }
            guard asNew else {
                for var j in targets {
                    Lifecycle.retryFromDLQ(&j, now: tx.now)
                    try tx.put(j)
                }
                return targets.map(\.id)
            }
            let copies = targets.map { copy(of: $0, now: tx.now) }
            for (original, c) in zip(targets, copies) {
                for d in c.dependsOn where try !tx.contains(d) {
                    throw QueueError.conflict("job \"\(original.id)\" depends on \"\(d)\", which no longer exists, so its copy could never run; enqueue a copy without that dependency")
                }
            }
            for c in copies { try tx.put(c) }
            return copies.map(\.id)
        }
    }

    /// What the user gave the job (Job.takeUserFields), under a new id, as if just enqueued.
    static func copy(of j: Job, now: Millis) -> Job {
        var c = Job(id: JobInput.generateId(now: now), command: j.command, maxRetries: j.maxRetries, createdAt: now, cwd: j.cwd)
        c.takeUserFields(of: j)
        return c
    }
}
