/// The worker's indexes for choosing the next job in O(log n) (ARCHITECTURE.md, "A job run"):
/// a min-heap of waiting jobs by due time (`timers`), one heap of due jobs per named queue in
/// selection order (`ready`), reverse dependency edges, and the jobs whose dependencies can
/// never complete. A claim looks at the top of each queue's heap only: a paused queue, or one
/// at its limit, costs nothing however many jobs it holds. Held jobs (`pause ID`) are not indexed.
///
/// Both heaps are lazy: a change to a job pushes a new entry and leaves the old one behind,
/// recognised as stale by its version; stale entries are dropped when they reach the top, and
/// the heaps are rebuilt once they hold more stale entries than live ones.
struct ScheduleIndex {
    struct Entry {
        var priority: Int32
        var batch: Int32
        var due: Millis
        /// The selection key after priority: the due time, or the position `move` gave the job.
        var rank: Millis
        var created: Millis
        var id: String
        var version: UInt32
        var queue: UInt32  // position in `queueNames`
    }

    private(set) var timers = BinaryHeap<Entry> { $0.due < $1.due || ($0.due == $1.due && ScheduleIndex.precedes($0, $1)) }
    /// Due jobs, one heap per queue (by position in `queueNames`).
    private(set) var ready: [BinaryHeap<Entry>] = []
    private(set) var queueNames: [String] = []
    private var queueIndex: [String: UInt32] = [:]
    var readyCount: Int { ready.reduce(0) { $0 + $1.count } }
    /// dependency id → ids of the jobs that depend on it (kept while the dependent exists).
    private var dependents: [String: [String]] = [:]
    /// Waiting jobs found blocked by a dead, cancelled or missing dependency.
    private(set) var doomed: Set<String> = []

    /// Selection order: higher priority, then earlier rank (due time or `move`), then earlier creation (Scheduler.precedes).
    static func precedes(_ a: Entry, _ b: Entry) -> Bool {
        if a.priority != b.priority { return a.priority > b.priority }
        if a.rank != b.rank { return a.rank < b.rank }
        if a.created != b.created { return a.created < b.created }
        if a.batch != b.batch { return a.batch < b.batch }
        return a.id < b.id
    }

    private mutating func entry(_ j: Job, version: UInt32) -> Entry {
        let q: UInt32
        if let known = queueIndex[j.queue] { q = known } else {
            q = UInt32(queueNames.count)
            queueNames.append(j.queue)
            queueIndex[j.queue] = q
            ready.append(BinaryHeap<Entry>(ScheduleIndex.precedes))
        }
        // Validated values stay far inside 32 bits; clamped, never trapped.
        return Entry(priority: Int32(clamping: j.priority), batch: Int32(clamping: j.batchIndex), due: Scheduler.due(j),
                     rank: Scheduler.rank(j), created: j.createdAt, id: j.id, version: version, queue: q)
    }

    /// A job was added or changed (at `version`); `state` already holds it.
    mutating func didPut(_ job: Job, version: UInt32, in state: QueueState) {
        if !job.dependsOn.isEmpty {
            for d in job.dependsOn where !(dependents[d]?.contains(job.id) ?? false) { dependents[d, default: []].append(job.id) }
        }
        place(job, version: version, in: state)
        wakeDependents(of: job.id, in: state)
    }

    /// A job was deleted: what depended on it is re-examined (it is now blocked).
    mutating func didRemove(_ id: String, in state: QueueState) {
        doomed.remove(id)
        wakeDependents(of: id, in: state)
    }

    private mutating func place(_ job: Job, version: UInt32, in state: QueueState) {
        doomed.remove(job.id)
        guard job.state.isWaiting, !job.paused else { return }
        if !job.dependsOn.isEmpty {
            switch Scheduler.dependencies(of: job, in: state) {
            case .ready: break
            case .waiting: return               // woken when a dependency changes
            case .blocked: doomed.insert(job.id); return
            }
        }
        timers.push(entry(job, version: version))
    }

    private mutating func wakeDependents(of id: String, in state: QueueState) {
        guard let ds = dependents[id] else { return }
        var alive: [String] = []
        for d in ds {
            guard let j = state[d] else { continue }
            alive.append(d)
            if let v = state.version(of: d) { place(j, version: v, in: state) }
        }
        dependents[id] = alive.isEmpty ? nil : alive
    }

    /// Moves every waiting job due by `now` into the ready heap; drops stale tops.
    mutating func promote(now: Millis, in state: QueueState) {
        while let top = timers.peek, top.due <= now {
            timers.pop()
            if isCurrent(top, in: state) { ready[Int(top.queue)].push(top) }
        }
        for q in ready.indices { while let top = ready[q].peek, !isCurrent(top, in: state) { ready[q].pop() } }
        while let top = timers.peek, !isCurrent(top, in: state) { timers.pop() }
        let live = state.count(.pending) + state.count(.failed)
        if timers.count + readyCount > 2 * live + 1024 { rebuild(in: state, now: now) }
    }

    /// The first job in selection order that `rule` lets a worker take: the best of the tops of
    /// the queues it serves, each top taken only if it fits (a queue's jobs start in order, so a
    /// wide job at the top is not overtaken by a narrower one behind it).
    func best(under rule: ClaimRule, in state: QueueState) -> Entry? {
        var best: Entry? = nil
        for (q, heap) in ready.enumerated() {
            guard let top = heap.peek, rule.serves(queueNames[q]), let j = state[top.id],
                  rule.fits(queue: queueNames[q], slots: j.slots) else { continue }
            if let b = best, !ScheduleIndex.precedes(top, b) { continue }
            best = top
        }
        return best
    }

    /// Whether a heap entry still describes a waiting job as it is now.
    func isCurrent(_ e: Entry, in state: QueueState) -> Bool {
        guard let v = state.version(of: e.id), v == e.version, let j = state[e.id] else { return false }
        // A dependency purged after the job became ready blocks it without changing its version.
        return j.state.isWaiting && !doomed.contains(e.id)
    }

    private mutating func rebuild(in state: QueueState, now: Millis) {
        var t: [Entry] = [], r: [Entry] = []
        for id in state.waitingIds {
            guard let j = state[id], !j.paused, let v = state.version(of: id), !doomed.contains(id) else { continue }
            if !j.dependsOn.isEmpty, case .ready = Scheduler.dependencies(of: j, in: state) {} else if !j.dependsOn.isEmpty { continue }
            let e = entry(j, version: v)
            if e.due <= now { r.append(e) } else { t.append(e) }
        }
        timers.replace(with: t)
        var byQueue = [[Entry]](repeating: [], count: ready.count)
        for e in r { byQueue[Int(e.queue)].append(e) }
        for q in ready.indices { ready[q].replace(with: byQueue[q]) }
    }
}

/// An array-backed binary heap: `before(a, b)` means a comes out first.
struct BinaryHeap<Element> {
    private(set) var items: [Element] = []
    let before: (Element, Element) -> Bool

    init(_ before: @escaping (Element, Element) -> Bool) { self.before = before }

    var count: Int { items.count }
    var peek: Element? { items.first }

    mutating func replace(with elements: [Element]) {
        items = elements
        var i = items.count / 2 - 1
        while i >= 0 { down(i); i -= 1 }
    }

    mutating func push(_ e: Element) {
        items.append(e)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard before(items[i], items[parent]) else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    @discardableResult
    mutating func pop() -> Element? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        if !items.isEmpty { down(0) }
        return top
    }

    private mutating func down(_ start: Int) {
        var i = start
        while true {
            let l = 2 * i + 1, r = l + 1
            var best = i
            if l < items.count && before(items[l], items[best]) { best = l }
            if r < items.count && before(items[r], items[best]) { best = r }
            if best == i { return }
            items.swapAt(i, best)
            i = best
        }
    }
}
