/// The jobs of a home, in memory, with per-state counts kept up to date on every change.
/// A worker's state omits the finished jobs of the snapshot it loaded (`omitted`, see
/// OmittedJobs): then `all` holds live jobs and the finished ones changed since, while `job(_:)`,
/// `counts` and the scheduling questions still answer for every job.
///
/// Jobs live in a dense array with an id → position table beside it: a `[String: Job]` table
/// would round 100,000 jobs up to 262,144 slots of a ~300-byte job each, mostly empty.
public struct QueueState {
    /// Every job, in no particular order.
    public private(set) var all: [Job] = []
    private var position: [String: Int] = [:]
    public private(set) var counts: [JobState: Int] = [:]
    /// Ids of processing jobs (few), so recovery never walks the others.
    public private(set) var processingIds: Set<String> = []
    /// Pending, failed and running jobs per queue (what `on_idle` and `queue list` ask).
    private var liveByQueue: [String: Int] = [:]
    /// Ids of pending and failed jobs. A walk over every job: the scheduling index keeps them
    /// itself, and this is asked only when it is built or rebuilt (and by `wait`). A set of them
    /// cost a worker ~30 MB at a million jobs.
    public var waitingIds: [String] { all.compactMap { $0.state.isWaiting ? $0.id : nil } }
    /// The version of each job in `all` (same positions): every put gives a new one, so the
    /// scheduling heaps can tell a stale entry from the job as it is now.
    private var versions: [UInt32] = []
    private var nextVersion: UInt32 = 0
    /// Built on the first scheduling question (a worker's), then kept up to date by put/remove;
    /// short-lived readers never pay for it.
    private var schedule: ScheduleIndex?
    /// Set when finished jobs were left on disk at load (a worker's state).
    private(set) var omitted: OmittedJobs?

    public init() {}

    /// Leaves the finished jobs that were counted, not decoded, on disk (SnapshotFile.decode).
    mutating func omit(_ o: OmittedJobs) {
        for (st, n) in o.counts { counts[st, default: 0] += n }
        omitted = o
    }

    /// Whether every job is in `all` (only then may the state be written as a snapshot).
    public var isWhole: Bool { omitted == nil }

    /// Finished jobs held in memory: in a state that omits them, those finished since the load.
    var residentFinished: Int {
        var n = 0
        for st in JobState.allCases where st.isFinished { n += count(st) - (omitted?.counts[st] ?? 0) }
        return n
    }

    /// Every finished job (id, state, finish time), the omitted ones read from the snapshot.
    func eachFinished(_ body: (String, JobState, Millis) -> Void) throws {
        for j in all where j.state.isFinished { body(j.id, j.state, j.finishedAt ?? j.updatedAt) }
        try omitted?.eachFinished { id, st, at in if position[id] == nil { body(id, st, at) } }
    }

    /// The state of an omitted job, as a scan of the snapshot read it (see OmittedJobs.learn).
    func learn(_ id: String, state: JobState) {
        if position[id] == nil { omitted?.learn(id, state: state) }
    }

    /// Any job by id: in memory, or read from disk when the state omits it.
    public func job(_ id: String) -> Job? {
        if let at = position[id] { return all[at] }
        return omitted?.job(id)
    }

    /// The state of any job by id (what a dependency check needs), nil if there is no such job.
    public func stateOf(_ id: String) -> JobState? {
        if let at = position[id] { return all[at].state }
        return omitted?.state(of: id)
    }

    public var count: Int { all.count }
    public var ids: [String] { all.map(\.id) }

    public mutating func reserveCapacity(_ n: Int) {
        all.reserveCapacity(n)
        versions.reserveCapacity(n)
        position.reserveCapacity(n)
    }

    public subscript(id: String) -> Job? { position[id].map { all[$0] } }

    func version(of id: String) -> UInt32? { position[id].map { versions[$0] } }

    /// Adds or replaces a job. `isNew` (the journal's `from` is empty) spares a state that omits
    /// finished jobs the disk read that asks whether the id was one of them.
    public mutating func put(_ job: Job, isNew: Bool = false) {
        nextVersion &+= 1
        if let at = position[job.id] {
            let old = all[at]
            counts[old.state, default: 0] -= 1
            if old.state.isLive { liveByQueue[old.queue, default: 0] -= 1 }
            if old.state != job.state { unindex(old) }
            all[at] = job
            versions[at] = nextVersion
        } else {
            if let o = omitted, let prior = o.becomesResident(job.id, isNew: isNew) { counts[prior, default: 0] -= 1 }
            position[job.id] = all.count
            all.append(job)
            versions.append(nextVersion)
        }
        counts[job.state, default: 0] += 1
        if job.state.isLive { liveByQueue[job.queue, default: 0] += 1 }
        if job.state == .processing { processingIds.insert(job.id) }
        if var index = schedule {
            schedule = nil  // moved out, so the index is not shared while it changes
            index.didPut(job, version: nextVersion, in: self)
            schedule = index
        }
    }

    public mutating func remove(_ id: String) {
        guard let at = position.removeValue(forKey: id) else {
            if let o = omitted, let prior = o.removed(id, wasResident: false) {
                counts[prior, default: 0] -= 1
                if var index = schedule {
                    schedule = nil
                    index.didRemove(id, in: self)
                    schedule = index
                }
            }
            return
        }
        _ = omitted?.removed(id, wasResident: true)
        let old = all[at]
        counts[old.state, default: 0] -= 1
        if old.state.isLive { liveByQueue[old.queue, default: 0] -= 1 }
        unindex(old)
        // Fill the hole with the last job.
        let last = all.count - 1
        if at != last {
            all[at] = all[last]
            versions[at] = versions[last]
            position[all[at].id] = at
        }
        all.removeLast()
        versions.removeLast()
        if var index = schedule {
            schedule = nil
            index.didRemove(id, in: self)
            schedule = index
        }
    }

    // MARK: - Scheduling (O(log n) per question; see ScheduleIndex)

    private mutating func withSchedule<T>(now: Millis, _ body: (inout ScheduleIndex, QueueState) -> T) -> T {
        var index: ScheduleIndex
        if let built = schedule {
            index = built
            schedule = nil
        } else {
            index = ScheduleIndex()
            for (at, j) in all.enumerated() where j.state.isWaiting { index.didPut(j, version: versions[at], in: self) }
        }
        index.promote(now: now, in: self)
        let result = body(&index, self)
        schedule = index
        return result
    }

    /// The job a free worker should take now, if any (Scheduler.precedes order), among those
    /// `rule` allows (its queues, not paused, within their limits).
    public mutating func nextRunnable(now: Millis, rule: ClaimRule = ClaimRule()) -> Job? {
        withSchedule(now: now) { index, state in index.best(under: rule, in: state).flatMap { state[$0.id] } }
    }

    /// Slots taken by running jobs, per queue (a walk over the running jobs only).
    public func runningSlots() -> [String: Int] {
        var slots: [String: Int] = [:]
        for id in processingIds { if let j = self[id] { slots[j.queue, default: 0] += j.slots } }
        return slots
    }

    /// Pending, failed (awaiting a retry) and running jobs of a queue: 0 once it has run empty.
    public func liveCount(queue: String) -> Int { liveByQueue[queue] ?? 0 }

    /// The earliest future time a waiting job (whose dependencies are met) becomes due.
    public mutating func nextDue(after now: Millis) -> Millis? {
        withSchedule(now: now) { index, _ in index.timers.peek.map(\.due).flatMap { $0 > now ? $0 : nil } }
    }

    /// Waiting jobs whose dependencies can never complete, with the reason.
    public mutating func blockedJobs(now: Millis) -> [(Job, String)] {
        withSchedule(now: now) { index, state in
            index.doomed.sorted().compactMap { id in
                guard let j = state[id], j.state.isWaiting, case .blocked(let why) = Scheduler.dependencies(of: j, in: state) else { return nil }
                return (j, why)
            }
        }
    }

    private mutating func unindex(_ job: Job) {
        if job.state == .processing { processingIds.remove(job.id) }
    }

    /// Pending and failed jobs.
    public var waiting: [Job] { waitingIds.compactMap { self[$0] } }
    public var processing: [Job] { processingIds.compactMap { self[$0] } }

    public func count(_ state: JobState) -> Int { counts[state] ?? 0 }

    /// Jobs in creation order (ties by id), the order `list` shows.
    public func ordered(state: JobState? = nil) -> [Job] {
        orderedPositions(state: state).map { all[$0] }
    }

    /// Positions in `all`, in creation order: sorting small keys instead of whole jobs keeps a
    /// snapshot of a million jobs from holding a second copy of every job while it is written.
    func orderedPositions(state: JobState? = nil) -> [Int] {
        struct Key { var created: Millis; var batch: Int; var at: Int }
        var keys: [Key] = []
        keys.reserveCapacity(state.map { count($0) } ?? all.count)
        for (at, j) in all.enumerated() where state == nil || j.state == state {
            keys.append(Key(created: j.createdAt, batch: j.batchIndex, at: at))
        }
        keys.sort {
            if $0.created != $1.created { return $0.created < $1.created }
            if $0.batch != $1.batch { return $0.batch < $1.batch }
            return all[$0.at].id < all[$1.at].id
        }
        return keys.map(\.at)
    }
}
