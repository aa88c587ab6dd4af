/// All jobs of a home, in memory, with per-state counts kept up to date on every change.
///
/// Jobs live in a dense array with an id → position table beside it: a `[String: Job]` table
/// would round 100,000 jobs up to 262,144 slots of a ~300-byte job each, mostly empty.
public struct QueueState {
    /// Every job, in no particular order.
    public private(set) var all: [Job] = []
    private var position: [String: Int] = [:]
    public private(set) var counts: [JobState: Int] = [:]
    /// Ids of pending/failed and processing jobs, so scheduling never walks finished jobs.
    public private(set) var waitingIds: Set<String> = []
    public private(set) var processingIds: Set<String> = []

    public init() {}

    public var count: Int { all.count }
    public var ids: [String] { all.map(\.id) }

    public mutating func reserveCapacity(_ n: Int) {
        all.reserveCapacity(n)
        position.reserveCapacity(n)
        waitingIds.reserveCapacity(n)
    }

    public subscript(id: String) -> Job? { position[id].map { all[$0] } }

    public mutating func put(_ job: Job) {
        if let at = position[job.id] {
            let old = all[at]
            counts[old.state, default: 0] -= 1
            if old.state != job.state { unindex(old) }
            all[at] = job
        } else {
            position[job.id] = all.count
            all.append(job)
        }
        counts[job.state, default: 0] += 1
        if job.state.isWaiting { waitingIds.insert(job.id) } else if job.state == .processing { processingIds.insert(job.id) }
    }

    public mutating func remove(_ id: String) {
        guard let at = position.removeValue(forKey: id) else { return }
        let old = all[at]
        counts[old.state, default: 0] -= 1
        unindex(old)
        // Fill the hole with the last job.
        let last = all.count - 1
        if at != last {
            all[at] = all[last]
            position[all[at].id] = at
        }
        all.removeLast()
    }

    private mutating func unindex(_ job: Job) {
        if job.state.isWaiting { waitingIds.remove(job.id) } else if job.state == .processing { processingIds.remove(job.id) }
    }

    /// Pending and failed jobs.
    public var waiting: [Job] { waitingIds.compactMap { self[$0] } }
    public var processing: [Job] { processingIds.compactMap { self[$0] } }

    public func count(_ state: JobState) -> Int { counts[state] ?? 0 }

    /// Jobs in creation order (ties by id), the order `list` shows.
    public func ordered(state: JobState? = nil) -> [Job] {
        var out: [Job] = []
        out.reserveCapacity(state.map { count($0) } ?? all.count)
        for j in all where state == nil || j.state == state { out.append(j) }
        out.sort {
            if $0.createdAt != $1.createdAt { return $0.createdAt < $1.createdAt }
            if $0.batchIndex != $1.batchIndex { return $0.batchIndex < $1.batchIndex }
            return $0.id < $1.id
        }
        return out
    }
}
