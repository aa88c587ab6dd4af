/// The Dead Letter Queue: jobs that ran out of retries.
public enum DeadLetters {
    /// Puts dead jobs back to pending with fresh attempts. All named ids must be dead, or nothing changes.
    @discardableResult
    public static func retry(store: JSONStore, ids: [String], all: Bool) throws -> [String] {
        try store.transaction { tx in
            let state = try tx.state
            var targets: [Job] = []
            if all {
                targets = state.ordered(state: .dead)
            } else {
                for id in ids {
                    guard let j = state[id] else { throw QueueError.notFound("no job with id \"\(id)\"; see 'queuectl dlq list'") }
                    guard j.state == .dead else {
                        throw QueueError.conflict("job \"\(id)\" is \(j.state.rawValue), not dead; only jobs in the DLQ can be retried")
                    }
                    targets.append(j)
                }
            }
            for var j in targets {
                Lifecycle.retryFromDLQ(&j, now: tx.now)
                try tx.put(j)
            }
            return targets.map(\.id)
        }
    }
}
