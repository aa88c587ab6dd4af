import Glibc

/// One read-modify-write. Reads see the transaction's own changes.
public final class Transaction {
    unowned let store: JSONStore
    var view: JSONStore.View
    /// The changes, serialised only at commit (a large batch goes straight into a snapshot).
    enum Change { case put(Job, from: JobState?), delete(String, from: JobState) }
    var changes: [Change] = []
    /// The full state, once something asked for it (mutated in place).
    var fullState: QueueState?
    /// Light mode: ids put or deleted by this transaction.
    private var lightIds: [String: Bool] = [:]
    /// Light mode: the state each job had in the files before this transaction, for the jobs it
    /// looked up (nil: known not to exist). A change's `from` must be right, or the counts that
    /// are kept from the journal's transitions drift.
    private var lightBase: [String: JobState?] = [:]
    private var indexFd: FileDescriptor??  // nil: not opened yet; .some(nil): there is none
    /// Light mode: the journal's id filter, once an id was looked up (.some(nil): none usable).
    private(set) var idFilter: JournalIdFilter??

    deinit { indexFd??.close() }
    public let config: Config
    public let now: Millis
    /// Whether commit waits for the disk (fdatasync). Only a worker's claim turns this off: a
    /// claim lost in a crash leaves the job pending, so it simply runs again (at-least-once).
    public var durable = true
    public var storeHome: Home { store.home }

    init(store: JSONStore, view: JSONStore.View, config: Config, state: QueueState?) {
        self.store = store
        self.view = view
        self.config = config
        self.now = Clock.nowMillis()
        self.fullState = state
    }

    /// Every job, loading them if this transaction has not yet. Do not keep the returned value
    /// across a `put`: a second reference makes the next change copy every job.
    public var state: QueueState {
        get throws {
            if let s = fullState { return s }
            var s = try store.loadFull(self)
            // Replay this transaction's own light-mode changes onto the freshly loaded state.
            s.reserveCapacity(s.count + pendingJobs.count)
            for c in changes {
                switch c {
                case .put(let j, _): s.put(j)
                case .delete(let id, _): s.remove(id)
                }
            }
            fullState = s
            return s
        }
    }

    private var pendingJobs: [String: Job] = [:]

    /// Scheduling questions, answered on the transaction's own state in place: going through
    /// `state` would hand out a second reference, and the next `put` would copy every job.
    private func loadFullState() throws {
        if fullState == nil { fullState = try state }
    }

    public func nextRunnable(rule: ClaimRule = ClaimRule()) throws -> Job? {
        try loadFullState()
        return fullState!.nextRunnable(now: now, rule: rule)
    }

    /// The claim rule of a worker serving `served` (nil: every queue), from the queues' settings
    /// and the running jobs' slots as they are under this transaction's lock.
    public func claimRule(served: Set<String>?) throws -> ClaimRule {
        try loadFullState()
        return ClaimRule(served: served, settings: try store.queueSettings(), runningSlots: fullState!.runningSlots())
    }

    /// Pending, failed and running jobs of a queue.
    public func liveCount(queue: String) throws -> Int {
        try loadFullState()
        return fullState!.liveCount(queue: queue)
    }

    public func nextDue() throws -> Millis? {
        try loadFullState()
        return fullState!.nextDue(after: now)
    }

    /// Every finished job's id, state and finish time (`purge`, retention), including those a
    /// worker's state leaves on disk.
    public func eachFinished(_ body: (String, JobState, Millis) -> Void) throws {
        try loadFullState()
        try fullState!.eachFinished(body)
    }

    public func blockedJobs() throws -> [(Job, String)] {
        try loadFullState()
        return fullState!.blockedJobs(now: now)
    }

    /// One job. Without the full state loaded, it is looked up in the files (journal, then the
    /// snapshot through `jobs.ids`), so `cancel ID` does not load every job either.
    public func job(_ id: String) throws -> Job? {
        if let s = fullState { return s.job(id) }
        if lightIds[id] != nil { return pendingJobs[id] }
        if let found = try store.lookup(id) {
            lightBase[id] = .some(found?.state)
            return found
        }
        return try state.job(id)
    }

    /// Whether an id is taken, without loading jobs when the home's index can answer.
    public func contains(_ id: String) throws -> Bool {
        if let s = fullState { return s.stateOf(id) != nil }
        if let known = lightIds[id] { return known }
        if idFilter == nil { idFilter = .some(store.loadIdFilter(for: view)) }
        let op = store.lastChange(of: id, in: view, filter: idFilter ?? nil)?.0
        if let op = op {
            if op == .del { lightBase[id] = .some(nil) }
            return op == .put
        }
        if view.snapshotExists {
            if indexFd == nil { indexFd = .some(Posix.openQuietly(store.home.idIndex)) }
            guard let opened = indexFd, let fd = opened, let inIndex = IdIndexFile.contains(id, fd: fd, generation: view.generation) else {
                return try state.stateOf(id) != nil  // index missing or stale: ask the jobs themselves
            }
            if !inIndex { lightBase[id] = .some(nil) }
            return inIndex
        }
        lightBase[id] = .some(nil)
        return false
    }

    /// Adds or replaces a job (updated_at is the caller's to set).
    public func put(_ job: Job) throws {
        let from: JobState?
        if fullState != nil {
            from = fullState?.stateOf(job.id)
            fullState?.put(job, isNew: from == nil)
        } else {
            if let pending = pendingJobs[job.id] {
                from = pending.state
            } else if let base = lightBase[job.id] {
                from = base
            } else {
                // Not looked up by this transaction: learn its state from the files first.
                _ = try self.job(job.id)
                if fullState != nil { return try put(job) }  // the files could not answer: every job is loaded now
                from = lightBase[job.id] ?? nil
            }
            lightIds[job.id] = true
        }
        pendingJobs[job.id] = job
        changes.append(.put(job, from: from))
    }

    /// Deletes a job. `state`: its state as the caller read it from the files (retention's scan),
    /// so a worker's state need not look up each finished job it left on disk.
    public func delete(_ id: String, state known: JobState? = nil) throws {
        try loadFullState()
        if let k = known { fullState?.learn(id, state: k) }
        guard let old = fullState?.stateOf(id) else { return }
        fullState?.remove(id)
        pendingJobs[id] = nil
        changes.append(.delete(id, from: old))
    }

    /// Sizes the transaction's tables for `n` more jobs (a large enqueue batch).
    public func reserve(_ n: Int) {
        pendingJobs.reserveCapacity(n)
        lightIds.reserveCapacity(n)
        lightBase.reserveCapacity(n)
        changes.reserveCapacity(n)
        if let current = fullState?.count { fullState?.reserveCapacity(current + n) }
    }

    func rollback() {
        changes.removeAll()
        // The state was moved out of the store's cache and may hold half the changes: reload next time.
        fullState = nil
        store.dropCache()
    }
}
