/// `purge` and automatic retention: delete finished jobs and their logs, so finished work never
/// slows down live work (ARCHITECTURE.md, "The store").
public enum Purge {
    /// Deletes finished jobs (of `state`, if given) that finished before `olderThan` seconds ago.
    @discardableResult
    public static func run(store: JSONStore, state: JobState?, olderThan: Double?) throws -> [String] {
        if let s = state, !s.isFinished {
            throw QueueError.usage("only finished jobs can be purged (completed, dead, cancelled), not \(s.rawValue)")
        }
        let ids: [String] = try store.transaction { tx in
            // An age out of range (only a caller past the CLI's check could give one) purges
            // nothing younger than the longest duration, never everything.
            let cutoff = olderThan.map { tx.now - (Clock.millis(seconds: $0) ?? Clock.maxDurationMillis) }
            var victims: [(String, JobState)] = []
            try tx.eachFinished { id, st, finishedAt in
                if (state == nil || st == state) && (cutoff == nil || finishedAt <= cutoff!) { victims.append((id, st)) }
            }
            for (id, st) in victims { try tx.delete(id, state: st) }
            return victims.map(\.0)
        }
        // Logs go after the change is durable: a crash in between leaves only orphan logs.
        for id in ids { Posix.removeTree(store.home.logDirectory(job: id)) }
        return ids
    }
}
