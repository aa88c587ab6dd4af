/// `edit`: changes a job that is waiting (pending, or failed and waiting for its retry), with
/// the same validation as `enqueue`: the new fields are laid over the job's own, the whole is
/// validated as an input job would be, and only what a user gives at enqueue changes — the id,
/// the state, the attempts and the history stay. A running or finished job is refused with what
/// to do instead.
public enum Edit {
    /// `fields`: job keys and values, as `enqueue`'s flags give them. Returns the edited job.
    @discardableResult
    public static func run(store: JSONStore, id: String, fields: [(String, JSON)]) throws -> Job {
        guard !fields.isEmpty else { throw QueueError.usage("say what to change, e.g. --command CMD or --priority N, or --editor for every field; see 'queuectl edit --help'") }
        if let k = fields.first(where: { $0.0 == "id" })?.0 { throw QueueError.usage("--\(k) cannot be edited: a job keeps its id; 'queuectl restart \(id) --as-new' copies it under a new one") }
        // What the user gave at enqueue, with the new fields over it.
        return try apply(store: store, id: id, expectedUpdatedAt: nil) { JobInput.merging(fields, into: inputForm(of: $0), override: true) }
    }

    /// `edit ID --editor`: `input` (an object of enqueue's keys) replaces the job's input form
    /// whole, so a key left out goes back to its default (`cwd` to the job's own directory; the
    /// due time stays unless `run_at` or `delay` is given). `expectedUpdatedAt`: the job's
    /// `updated_at` when the input was read; if it changed since (claimed, cancelled, edited),
    /// nothing is applied.
    @discardableResult
    public static func run(store: JSONStore, id: String, replacingWith input: JSON, expectedUpdatedAt: Millis?) throws -> Job {
        var input = input
        if case .object(var pairs) = input {
            if let given = input["id"] {
                guard given.stringValue == id else { throw QueueError.invalidJob("job (\"\(id)\"): \"id\" cannot be edited: a job keeps its id; 'queuectl restart \(id) --as-new' copies it under a new one") }
            } else {
                pairs.insert(("id", .string(id)), at: 0)  // else validation would make up an id
                input = .object(pairs)
            }
        }
        return try apply(store: store, id: id, expectedUpdatedAt: expectedUpdatedAt) { _ in input }
    }

    /// Refuses a job that is not waiting, saying what to do instead.
    static func checkEditable(_ job: Job) throws {
        let id = job.id
        switch job.state {
        case .pending, .failed: break
        case .processing:
            throw QueueError.conflict("job \"\(id)\" is running and cannot be edited; cancel it ('queuectl cancel \(id)') or let it finish, then 'queuectl restart \(id) --as-new' and edit the copy")
        case .completed, .dead, .cancelled:
            throw QueueError.conflict("job \"\(id)\" is \(job.state.rawValue) and cannot be edited; 'queuectl restart \(id) --as-new' copies it, and the copy can be edited")
        }
    }

    /// Both edits: `makeInput` gives the job's new input form from its record, which is then
    /// validated as enqueue's input and applied, in one transaction.
    private static func apply(store: JSONStore, id: String, expectedUpdatedAt: Millis?, makeInput: (Job) -> JSON) throws -> Job {
        let config = try store.config()
        let now = Clock.nowMillis()
        return try store.transaction { tx in
            guard var job = try tx.job(id) else { throw QueueError.notFound("no job with id \"\(id)\"; see 'queuectl list'") }
            if let t = expectedUpdatedAt, job.updatedAt != t {
                throw QueueError.conflict("job \(id) changed while it was being edited (now \(job.state.rawValue)); nothing applied — run 'queuectl edit \(id) --editor' again")
            }
            try checkEditable(job)
            let input = makeInput(job)
            let edited = try JobInput.job(from: input, index: 0, total: 1, config: config, now: now, cwd: job.cwd)
            for d in edited.dependsOn {
                guard d != id else { throw QueueError.invalidJob("job \"\(id)\": cannot depend on itself") }
                guard try tx.contains(d) else { throw QueueError.invalidJob("job \"\(id)\": depends on unknown job \"\(d)\"") }
            }
            try checkNoCycle(id: id, dependsOn: edited.dependsOn, tx: tx)
            job.takeUserFields(of: edited)
            if input["run_at"] != nil || input["delay"] != nil {
                job.runAt = edited.runAt
                job.nextRunAt = edited.runAt
            }
            job.updatedAt = tx.now
            try tx.put(job)
            return job
        }
    }

    /// The job's user-given fields as enqueue's JSON input.
    static func inputForm(of j: Job) -> JSON {
        var pairs: [(String, JSON)] = [("id", .string(j.id)), ("command", .string(j.command)),
                                       ("max_retries", .int(Int64(j.maxRetries))), ("priority", .int(Int64(j.priority))),
                                       ("cwd", .string(j.cwd))]
        if let t = j.timeout { pairs.append(("timeout", .double(t))) }
        if !j.env.isEmpty { pairs.append(("env", .object(j.env.map { ($0.0, .string($0.1)) }))) }
        if !j.dependsOn.isEmpty { pairs.append(("depends_on", .array(j.dependsOn.map { .string($0) }))) }
        if let l = j.label { pairs.append(("label", .string(l))) }
        if j.queue != QueueSettings.defaultQueue { pairs.append(("queue", .string(j.queue))) }
        if j.slots != 1 { pairs.append(("slots", .int(Int64(j.slots)))) }
        return .object(pairs)
    }

    /// A new dependency must not lead back to the job: follow the existing edges from it.
    static func checkNoCycle(id: String, dependsOn: [String], tx: Transaction) throws {
        var seen: Set<String> = []
        var stack = dependsOn.map { [id, $0] }
        while let path = stack.popLast() {
            guard let last = path.last, seen.insert(last).inserted, let j = try tx.job(last) else { continue }
            for d in j.dependsOn {
                if d == id { throw QueueError.invalidJob("dependency cycle: " + (path + [id]).joined(separator: " -> ")) }
                stack.append(path + [d])
            }
        }
    }
}
