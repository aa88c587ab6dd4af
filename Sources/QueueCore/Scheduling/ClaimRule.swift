/// Which queues a worker may take its next job from (ARCHITECTURE.md, "Choosing the next job"):
/// the ones it serves (`worker start --queues`), not paused, whose running jobs' slots leave room
/// for the job under the queue's parallel limit. Built in the claim's transaction from
/// `queues.jsonl` and the running jobs' records, both read under the lock, so a limit holds across
/// every host. Within what the rule allows, selection order stands (Scheduler.precedes).
public struct ClaimRule {
    /// nil: every queue.
    public var served: Set<String>?
    public var settings: QueueSettings
    /// Slots taken by running jobs, per queue.
    public var runningSlots: [String: Int]

    public init(served: Set<String>? = nil, settings: QueueSettings = QueueSettings(), runningSlots: [String: Int] = [:]) {
        self.served = served
        self.settings = settings
        self.runningSlots = runningSlots
    }

    /// Whether this worker may claim from the queue at all now.
    public func serves(_ queue: String) -> Bool {
        (served?.contains(queue) ?? true) && !settings[queue].paused
    }

    /// Whether a job of `slots` fits in its queue now. A job wider than the limit waits until
    /// the limit is raised (it never runs past it, not even alone).
    public func fits(queue: String, slots: Int) -> Bool {
        guard serves(queue) else { return false }
        let limit = settings[queue].parallel
        return limit == 0 || (runningSlots[queue] ?? 0) + slots <= limit
    }
}
