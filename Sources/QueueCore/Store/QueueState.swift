/// All jobs of a home, in memory, with per-state counts kept up to date on every change.
public struct QueueState {
    public private(set) var jobs: [String: Job] = [:]
    public private(set) var counts: [JobState: Int] = [:]
    /// Ids of pending/failed and processing jobs, so scheduling never walks finished jobs.
    public private(set) var waitingIds: Set<String> = []
    public private(set) var processingIds: Set<String> = []

    public init() {}

    public var count: Int { jobs.count }

    public mutating func reserveCapacity(_ n: Int) {
        jobs.reserveCapacity(n)
        waitingIds.reserveCapacity(n)
    }

    public subscript(id: String) -> Job? { jobs[id] }

    public mutating func put(_ job: Job) {
        if let old = jobs[job.id] {
            counts[old.state, default: 0] -= 1
            if old.state != job.state { unindex(old) }
        }
        counts[job.state, default: 0] += 1
        if job.state.isWaiting { waitingIds.insert(job.id) } else if job.state == .processing { processingIds.insert(job.id) }
        jobs[job.id] = job
    }

    public mutating func remove(_ id: String) {
        if let old = jobs.removeValue(forKey: id) {
            counts[old.state, default: 0] -= 1
            unindex(old)
        }
    }

    private mutating func unindex(_ job: Job) {
        if job.state.isWaiting { waitingIds.remove(job.id) } else if job.state == .processing { processingIds.remove(job.id) }
    }

    /// Pending and failed jobs.
    public var waiting: [Job] { waitingIds.compactMap { jobs[$0] } }
    public var processing: [Job] { processingIds.compactMap { jobs[$0] } }

    public func count(_ state: JobState) -> Int { counts[state] ?? 0 }

    /// Jobs in creation order (ties by id), the order `list` shows.
    public func ordered(state: JobState? = nil) -> [Job] {
        var out: [Job] = []
        out.reserveCapacity(state.map { count($0) } ?? jobs.count)
        for j in jobs.values where state == nil || j.state == state { out.append(j) }
        out.sort {
            if $0.createdAt != $1.createdAt { return $0.createdAt < $1.createdAt }
            if $0.batchIndex != $1.batchIndex { return $0.batchIndex < $1.batchIndex }
            return $0.id < $1.id
        }
        return out
    }
}
