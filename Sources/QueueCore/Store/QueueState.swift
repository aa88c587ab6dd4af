/// All jobs of a home, in memory, with per-state counts kept up to date on every change.
public struct QueueState {
    public private(set) var jobs: [String: Job] = [:]
    public private(set) var counts: [JobState: Int] = [:]

    public init() {}

    public var count: Int { jobs.count }

    public subscript(id: String) -> Job? { jobs[id] }

    public mutating func put(_ job: Job) {
        if let old = jobs[job.id] { counts[old.state, default: 0] -= 1 }
        counts[job.state, default: 0] += 1
        jobs[job.id] = job
    }

    public mutating func remove(_ id: String) {
        if let old = jobs.removeValue(forKey: id) { counts[old.state, default: 0] -= 1 }
    }

    public func count(_ state: JobState) -> Int { counts[state] ?? 0 }

    /// Jobs in creation order (ties by id), the order `list` shows.
    public func ordered(state: JobState? = nil) -> [Job] {
        var out: [Job] = []
        out.reserveCapacity(state.map { count($0) } ?? jobs.count)
        for j in jobs.values where state == nil || j.state == state { out.append(j) }
        out.sort { $0.createdAt != $1.createdAt ? $0.createdAt < $1.createdAt : $0.id < $1.id }
        return out
    }
}
