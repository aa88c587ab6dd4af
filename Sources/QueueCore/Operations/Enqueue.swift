/// Adds validated jobs to the queue, all or nothing.
public enum Enqueue {
    /// Validates every job (keys, types, ids, duplicates in the batch and the home, dependencies,
    /// cycles) and writes them in one transaction. On any error nothing is written.
    @discardableResult
    public static func run(store: JSONStore, values: [JSON], cwd: String) throws -> [Job] {
        try store.transaction { tx in
            var jobs: [Job] = []
            jobs.reserveCapacity(values.count)
            var batchIds: [String: Int] = [:]
            batchIds.reserveCapacity(values.count)
            tx.reserve(values.count)
            for (n, v) in values.enumerated() {
                let job = try JobInput.job(from: v, index: n, total: values.count, config: tx.config, now: tx.now, cwd: cwd)
                var label: String { values.count > 1 ? "job \(n + 1) (\"\(job.id)\")" : "job \"\(job.id)\"" }
                if let first = batchIds[job.id] {
                    throw QueueError.invalidJob("\(label): duplicate id, also used by job \(first + 1) of this batch")
                }
                if try tx.contains(job.id) {
                    throw QueueError.invalidJob("\(label): id already exists in this queue; pick another id or leave \"id\" out to get one generated")
                }
                batchIds[job.id] = n
                jobs.append(job)
            }
            try checkDependencies(jobs, batchIds: batchIds, tx: tx)
            for job in jobs { try tx.put(job) }
            return jobs
        }
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
        try checkCycles(jobs.filter { !$0.dependsOn.isEmpty }.map { ($0.id, $0.dependsOn) })
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
