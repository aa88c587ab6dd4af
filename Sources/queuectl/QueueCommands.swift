import QueueCore

/// `queue list|set`, `pause`, `resume`, `move`: the controls of named queues.
enum QueueCommands {
    static func list(_ cmd: ParsedCommand, store: JSONStore) throws -> Int32 {
        let queues = try QueueSummary.all(store: store)
        if cmd.flag("json") {
            print(JSON.array(queues.map(\.json)).pretty())
            return 0
        }
        let rows = queues.map { q -> [String] in
            let c = { (s: JobState) in String(q.counts[s] ?? 0) }
            let limit = q.settings.parallel == 0 ? "-" : "\(q.runningSlots)/\(q.settings.parallel)"
            let state = q.settings.paused ? (q.settings.stopsRunning ? "paused (jobs stopped)" : "paused") : "active"
            return [q.name, state, limit, c(.pending), c(.processing), c(.failed), c(.completed), c(.dead), c(.cancelled), q.heldJobs == 0 ? "" : String(q.heldJobs)]
        }
        print(Terminal.table(["QUEUE", "STATE", "SLOTS", "PENDING", "RUNNING", "FAILED", "COMPLETED", "DEAD", "CANCELLED", "HELD"], rows, flex: 0))
        return 0
    }

    static func set(_ cmd: ParsedCommand, store: JSONStore) throws -> Int32 {
        let name = cmd.arguments[0]
        guard QueueSettings.isValidName(name) else { throw QueueError.usage("invalid queue name '\(name.prefix(40))': \(QueueSettings.nameRule)") }
        guard let parallel = try Commands.int(cmd, "parallel", min: 0, max: QueueSettings.maxParallel) else {
            throw QueueError.usage("say what to set, e.g. 'queuectl queue set \(name) --parallel 2' (0 = no limit beyond the workers)")
        }
        try store.updateQueueSettings { $0[name].parallel = parallel }
        Terminal.err(parallel == 0 ? "queue \(name): no parallel limit beyond the workers" : "queue \(name): at most \(parallel) slot\(parallel == 1 ? "" : "s") running at once, on every host")
        return 0
    }

    static func pause(_ cmd: ParsedCommand, store: JSONStore, paused: Bool) throws -> Int32 {
        let verb = paused ? "pause" : "resume"
        if let q = cmd.value("queue") {
            guard cmd.arguments.isEmpty else { throw QueueError.usage("give --queue NAME or job ids, not both") }
            let stop = paused && cmd.flag("jobs")
            let running = try Pause.queue(store: store, name: q, paused: paused, stopRunning: stop)
            let poll = Clock.humanDuration((try? store.config().pollInterval) ?? 1)
            if paused {
                Terminal.err("queue \(q) paused: no new job starts" + (stop ? (running > 0 ? "; its \(running) running job\(running == 1 ? " is" : "s are") stopped within poll_interval (\(poll))" : "") : (running > 0 ? "; \(running) running job\(running == 1 ? "" : "s") go on ('pause --queue \(q) --jobs' stops them too)" : "")))
            } else {
                Terminal.err("queue \(q) resumed" + (running > 0 ? "; stopped jobs continue within poll_interval (\(poll))" : ""))
            }
            return 0
        }
        guard !cmd.arguments.isEmpty else { throw QueueError.usage("name the jobs to \(verb), or give --queue NAME; see 'queuectl \(verb) --help'") }
        let stop = paused && cmd.flag("jobs")
        let jobs = try Pause.jobs(store: store, ids: cmd.arguments, paused: paused, stopRunning: stop)
        for j in jobs { print(j.id) }
        let running = jobs.filter { $0.state == .processing }.count
        if running > 0 {
            let poll = Clock.humanDuration((try? store.config().pollInterval) ?? 1)
            let them = running == 1 ? "it" : "them"
            if !paused || stop {
                Terminal.err("\(running) running job\(running == 1 ? " is" : "s are") \(paused ? "stopped" : "continued") by \(running == 1 ? "its worker" : "their workers") within poll_interval (\(poll))")
            } else {
                Terminal.err("\(running) running job\(running == 1 ? " goes" : "s go") on (a retry waits until resumed); 'queuectl pause --jobs \(jobs.filter { $0.state == .processing }.map(\.id).joined(separator: " "))' stops \(them) too")
            }
        }
        return 0
    }

    static func move(_ cmd: ParsedCommand, store: JSONStore) throws -> Int32 {
        let id = cmd.arguments[0]
        let place: Move.Place
        switch (cmd.flag("first"), cmd.value("before")) {
        case (true, nil): place = .first
        case (false, let other?): place = .before(other)
        case (true, _?): throw QueueError.usage("give --first or --before OTHER, not both")
        case (false, nil): throw QueueError.usage("say where: 'queuectl move \(id) --first' or 'queuectl move \(id) --before OTHER'")
        }
        let job = try Move.run(store: store, id: id, to: place)
        print(job.id)
        return 0
    }
}
