/// `move ID --first | --before OTHER`: reorders waiting jobs within their queue. Priority stays
/// the first key of the selection order (Scheduler.precedes); the job's `order` takes the place
/// of its due time as the second, so it goes ahead of every job of its priority (`--first`:
/// below every due time, and below earlier moves) or just ahead of OTHER.
public enum Move {
    public enum Place { case first, before(String) }

    @discardableResult
    public static func run(store: JSONStore, id: String, to place: Place) throws -> Job {
        try store.transaction { tx in
            guard var job = try tx.job(id) else { throw QueueError.notFound("no job with id \"\(id)\"; see 'queuectl list'") }
            guard job.state.isWaiting else {
                throw QueueError.conflict("job \"\(id)\" is \(job.state.rawValue); only a waiting job (pending, or failed awaiting its retry) can be moved")
            }
            switch place {
            case .first:
                job.order = -tx.now  // every due time is positive; a later move goes ahead of an earlier one
            case .before(let otherId):
                guard otherId != id else { throw QueueError.usage("a job cannot be moved before itself") }
                guard let other = try tx.job(otherId) else { throw QueueError.notFound("no job with id \"\(otherId)\"; see 'queuectl list'") }
                guard other.queue == job.queue else {
                    throw QueueError.conflict("job \"\(otherId)\" is in queue \(other.queue) and \"\(id)\" in \(job.queue); jobs are ordered within their queue ('queuectl edit \(id) --queue \(other.queue)' moves it there)")
                }
                guard other.priority <= job.priority else {
                    throw QueueError.conflict("job \"\(otherId)\" has priority \(other.priority), higher than \"\(id)\"'s \(job.priority), so it runs first whatever the order; 'queuectl edit \(id) --priority \(other.priority)' first")
                }
                let r = Scheduler.rank(other)
                job.order = r > Millis.min ? r - 1 : r
            }
            job.updatedAt = tx.now
            try tx.put(job)
            return job
        }
    }
}
