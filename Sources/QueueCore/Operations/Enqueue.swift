/// Adds validated jobs to the queue, all or nothing.
public enum Enqueue {
    /// Validates every job (keys, types, ranges, ids, duplicates in the batch and the home,
    /// dependencies, cycles) and writes them in one transaction. On any error nothing is written.
    /// What the input alone decides is checked before the lock is taken, so a bad value never
    /// touches the home; only what needs the queue (ids taken, dependencies) is checked under it.
    @discardableResult
    public static func run(store: JSONStore, values: [JSON], cwd: String) throws -> [Job] {
        let config = try store.config()
        let now = Clock.nowMillis()
        var jobs: [Job] = []
        jobs.reserveCapacity(values.count)
        var batchIds: [String: Int] = [:]
        // Sizing the tables pays only for a batch; for one job it costs more than it saves.
        if values.count > 1 { batchIds.reserveCapacity(values.count) }
        for (n, v) in values.enumerated() {
            let job = try JobInput.job(from: v, index: n, total: values.count, config: config, now: now, cwd: cwd)
            if let first = batchIds[job.id] {
                throw QueueError.invalidJob("\(label(job, n, of: values.count)): duplicate id, also used by job \(first + 1) of this batch")
            }
            batchIds[job.id] = n
            jobs.append(job)
        }
        try checkCycles(jobs.filter { !$0.dependsOn.isEmpty }.map { ($0.id, $0.dependsOn) })
        return try store.transaction { tx in
            if values.count > 1 { tx.reserve(values.count) }
            for (n, job) in jobs.enumerated() where try tx.contains(job.id) {
                throw QueueError.conflict("\(label(job, n, of: jobs.count)): id already exists in this queue; pick another id or leave \"id\" out to get one generated")
            }
            try checkDependencies(jobs, batchIds: batchIds, tx: tx)
            for job in jobs { try tx.put(job) }
            return jobs
        }
    }

    static func label(_ job: Job, _ n: Int, of total: Int) -> String {
        total > 1 ? "job \(n + 1) (\"\(job.id)\")" : "job \"\(job.id)\""
    }

    static func checkDependencies(_ jobs: [Job], batchIds: [String: Int], tx: Transaction) throws {
        guard jobs.contains(where: { !$0.dependsOn.isEmpty }) else { return }
        for job in jobs {
            for dep in job.dependsOn where batchIds[dep] == nil {
                guard try tx.contains(dep) else {
                    throw QueueError.invalidJob("job \"\(job.id)\": depends on unknown job \"\(dep)\"")
                }
            }
        }
    }

    /// Existing jobs cannot depend on new ids, so a cycle can only be inside the batch: `deps`
    /// are the batch's jobs that have dependencies.
    static func checkCycles(_ deps: [(id: String, on: [String])]) throws {
        let byId = Dictionary(deps.map { ($0.id, $0.on) }, uniquingKeysWith: { a, _ in a })
        var done: Set<String> = []
        var onPath: [String] = []
        func visit(_ id: String) throws {
            if done.contains(id) { return }
            if let k = onPath.firstIndex(of: id) {
                throw QueueError.invalidJob("dependency cycle: " + (onPath[k...] + [id]).joined(separator: " -> "))
            }
            guard let on = byId[id] else { return }
            onPath.append(id)
            for d in on { try visit(d) }
            onPath.removeLast()
            done.insert(id)
        }
        for (id, _) in deps { try visit(id) }
    }
}
