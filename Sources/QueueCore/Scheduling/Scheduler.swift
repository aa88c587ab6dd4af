/// Which job runs next (ARCHITECTURE.md, "A job run"): among runnable jobs, higher `priority` first, then the earlier
/// due time (`next_run_at`/`run_at`; a job placed by `move` uses the rank it gave instead), then the earlier `created_at`. The answer to "which job
/// now" comes from QueueState's ScheduleIndex, in O(log n); this is the rule it keeps.
public enum Scheduler {
    /// When the job may start; a job with no schedule is due since it was created.
    public static func due(_ j: Job) -> Millis { j.dueAt ?? j.createdAt }

    /// The second key of the selection order: where `move` put the job, else its due time.
    public static func rank(_ j: Job) -> Millis { j.order ?? due(j) }

    public static func precedes(_ a: Job, _ b: Job) -> Bool {
        if a.priority != b.priority { return a.priority > b.priority }
        let da = rank(a), db = rank(b)
        if da != db { return da < db }
        if a.createdAt != b.createdAt { return a.createdAt < b.createdAt }
        if a.batchIndex != b.batchIndex { return a.batchIndex < b.batchIndex }
        return a.id < b.id
    }

    public enum DependencyStatus { case ready, waiting, blocked(String) }

    public static func dependencies(of job: Job, in state: QueueState) -> DependencyStatus {
        var waiting = false
        for d in job.dependsOn {
            guard let depState = state.stateOf(d) else { return .blocked("dependency \"\(d)\" no longer exists") }
            switch depState {
            case .completed: continue
            case .dead: return .blocked("dependency \"\(d)\" is dead")
            case .cancelled: return .blocked("dependency \"\(d)\" was cancelled")
            default: waiting = true
            }
        }
        return waiting ? .waiting : .ready
    }
}
