/// Which job runs next (ARCHITECTURE.md, "A job run"): among runnable jobs, higher `priority` first, then the earlier
/// due time (`next_run_at`/`run_at`), then the earlier `created_at`.
public enum Scheduler {
    /// When the job may start; a job with no schedule is due since it was created.
    static func due(_ j: Job) -> Millis { j.dueAt ?? j.createdAt }

    public static func precedes(_ a: Job, _ b: Job) -> Bool {
        if a.priority != b.priority { return a.priority > b.priority }
        let da = due(a), db = due(b)
        if da != db { return da < db }
        if a.createdAt != b.createdAt { return a.createdAt < b.createdAt }
        if a.batchIndex != b.batchIndex { return a.batchIndex < b.batchIndex }
        return a.id < b.id
    }

    public enum DependencyStatus { case ready, waiting, blocked(String) }

    public static func dependencies(of job: Job, in state: QueueState) -> DependencyStatus {
        var waiting = false
        for d in job.dependsOn {
            guard let dep = state[d] else { return .blocked("dependency \"\(d)\" no longer exists") }
            switch dep.state {
            case .completed: continue
            case .dead: return .blocked("dependency \"\(d)\" is dead")
            case .cancelled: return .blocked("dependency \"\(d)\" was cancelled")
            default: waiting = true
            }
        }
        return waiting ? .waiting : .ready
    }

    /// The job a free worker should take now, if any.
    public static func next(in state: QueueState, now: Millis) -> Job? {
        var best: Job? = nil
        for id in state.waitingIds {
            guard let j = state[id], due(j) <= now else { continue }
            if let b = best, !precedes(j, b) { continue }
            if !j.dependsOn.isEmpty, case .ready = dependencies(of: j, in: state) {} else if !j.dependsOn.isEmpty { continue }
            best = j
        }
        return best
    }

    /// Waiting jobs whose dependencies can never complete; they are cancelled with the reason.
    public static func blocked(in state: QueueState) -> [(Job, String)] {
        var out: [(Job, String)] = []
        for id in state.waitingIds {
            guard let j = state[id], !j.dependsOn.isEmpty else { continue }
            if case .blocked(let why) = dependencies(of: j, in: state) { out.append((j, why)) }
        }
        return out
    }

    /// The earliest future time a waiting job becomes due (so an idle worker sleeps until then).
    public static func nextDue(in state: QueueState, after now: Millis) -> Millis? {
        var best: Millis? = nil
        for id in state.waitingIds {
            guard let j = state[id] else { continue }
            let d = due(j)
            if d > now && (best == nil || d < best!) { best = d }
        }
        return best
    }
}
