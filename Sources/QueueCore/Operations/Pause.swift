/// `pause` and `resume` (ARCHITECTURE.md, "Named queues"). A queue's pause lives in
/// `queues.jsonl`, a job's in its record; either way the claim skips what is paused, and a
/// running job it applies to is stopped (SIGSTOP to its process group) and later continued by
/// the worker that runs it, on whichever host that is: a pause is a request in the files, acted
/// on by the owner of the process, as `cancel` is.
public enum Pause {
    /// Pauses (or resumes) a queue. `stopRunning`: its running jobs are stopped too (`--jobs`).
    /// Returns how many of its jobs are running (to be stopped, or continued).
    @discardableResult
    public static func queue(store: JSONStore, name: String, paused: Bool, stopRunning: Bool = false) throws -> Int {
        guard QueueSettings.isValidName(name) else { throw QueueError.usage("invalid queue name '\(name.prefix(40))': \(QueueSettings.nameRule)") }
        try store.updateQueueSettings { s in
            s[name].paused = paused
            s[name].stopsRunning = paused && stopRunning
        }
        // The running jobs only, read without loading every job (as `status` does).
        let running = try store.counts()[.processing] ?? 0
        guard running > 0 else { return 0 }
        if let r = try store.recent(limit: running, state: .processing) { return r.jobs.filter { $0.queue == name }.count }
        return try store.read { state in state.processing.filter { $0.queue == name }.count }
    }

    /// Holds (or releases) jobs: they are not claimed while paused (a running one goes on, and a
    /// retry of it waits); with `stopRunning` (`--jobs`) a running one is stopped by its worker
    /// too. All or nothing: an unknown or finished job changes none of them. Returns the jobs.
    @discardableResult
    public static func jobs(store: JSONStore, ids: [String], paused: Bool, stopRunning: Bool = false) throws -> [Job] {
        guard !ids.isEmpty else { throw QueueError.usage("name the jobs to \(paused ? "pause" : "resume"), or give --queue NAME") }
        return try store.transaction { tx in
            var changed: [Job] = []
            for id in ids {
                guard var j = try tx.job(id) else { throw QueueError.notFound("no job with id \"\(id)\"; see 'queuectl list'") }
                guard !j.state.isFinished else {
                    throw QueueError.conflict("job \"\(id)\" is \(j.state.rawValue): there is nothing to \(paused ? "pause" : "resume")\(paused ? "" : "; 'queuectl restart \(id)' runs it again")")
                }
                if j.paused != paused || j.stopsRunning != (paused && stopRunning) {
                    j.paused = paused
                    j.stopsRunning = paused && stopRunning
                    j.updatedAt = tx.now
                    try tx.put(j)
                }
                changed.append(j)
            }
            return changed
        }
    }
}
