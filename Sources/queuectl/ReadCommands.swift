import QueueCore

/// `list`, `show`, `status`, `dlq list`: read-only views.
enum ReadCommands {
    static func list(_ cmd: ParsedCommand, store: JSONStore, state forced: JobState? = nil) throws -> Int32 {
        let state = try forced ?? Commands.state(cmd)
        let limit = try Commands.int(cmd, "limit")
        let label = cmd.value("label")
        let queue = cmd.value("queue")
        var jobs: [Job]
        let total: Int
        // The newest jobs, or every job of one state (the DLQ), without loading the others.
        if label != nil || queue != nil {
            jobs = try store.read { $0.ordered(state: state) }.filter { (label == nil || $0.label == label) && (queue == nil || $0.queue == queue) }
            total = jobs.count
            if let n = limit, jobs.count > n { jobs = Array(jobs.suffix(n)) }
        } else if limit != nil || state != nil, let recent = try store.recent(limit: limit ?? Int.max, state: state) {
            (jobs, total) = recent
        } else {
            jobs = try store.read { $0.ordered(state: state) }
            total = jobs.count
            if let l = limit, jobs.count > l { jobs = Array(jobs.suffix(l)) }
        }
        if cmd.flag("json") {
            print(JSON.array(jobs.map(\.json)).pretty())
            return 0
        }
        if jobs.isEmpty {
            Terminal.err(forced == .dead ? "the dead letter queue is empty" : (state.map { "no \($0.rawValue) jobs" } ?? "no jobs") + (queue.map { " in queue \($0)" } ?? "") + (label.map { " with label \"\($0)\"" } ?? ""))
            return 0
        }
        let now = Clock.nowMillis()
        let labelled = jobs.contains { $0.label != nil }  // the column only when some job has one
        let queued = jobs.contains { $0.queue != QueueSettings.defaultQueue }  // likewise
        let rows = jobs.map { j -> [String] in
            [j.id, Terminal.state(j.state) + (j.paused && j.state.isLive ? (j.stopsRunning && j.state == .processing ? " (paused, stopped)" : " (paused)") : ""), "\(j.attempts)/\(j.maxRetries + 1)", String(j.priority), when(j, now: now)]
                + (queued ? [j.queue] : [])
                + (labelled ? [j.label ?? ""] : [])
                + [j.lastError.map { j.state == .completed ? "" : $0 } ?? "", j.command]
        }
        let head = ["ID", "STATE", "TRIES", "PRI", "WHEN"] + (queued ? ["QUEUE"] : []) + (labelled ? ["LABEL"] : []) + ["LAST ERROR", "COMMAND"]
        print(Terminal.table(head, rows, flex: head.count - 1))
        if total > jobs.count { Terminal.err("(\(total - jobs.count) older jobs not shown; raise --limit)") }
        return 0
    }

    /// The time that matters for the job's state: due, running since, or finished.
    static func when(_ j: Job, now: Millis) -> String {
        switch j.state {
        case .pending, .failed:
            if let d = j.dueAt, d > now { return "in " + Clock.humanDuration(Double(d - now) / 1000) }
            return j.state == .failed ? "retry now" : "ready"
        case .processing:
            return "for " + Clock.humanDuration(Double(now - (j.startedAt ?? now)) / 1000)
        default:
            return Clock.local(j.finishedAt ?? j.updatedAt)
        }
    }

    /// Why a waiting job's queue holds it back, if it does (a pause, a limit narrower than the job).
    static func queueNote(_ job: Job, _ settings: QueueSettings) -> String {
        guard job.state.isWaiting else { return "" }
        let q = settings[job.queue]
        if q.paused { return " (paused: 'queuectl resume --queue \(job.queue)')" }
        if q.parallel > 0 && job.slots > q.parallel {
            return " (waits: it needs \(job.slots) slots and the queue allows \(q.parallel); 'queuectl queue set \(job.queue) --parallel \(job.slots)')"
        }
        return ""
    }

    static func show(_ cmd: ParsedCommand, store: JSONStore) throws -> Int32 {
        let id = cmd.arguments[0]
        guard let job = try store.job(id) else {
            throw QueueError.notFound("no job with id \"\(id)\"; see 'queuectl list'")
        }
        if cmd.flag("json") {
            print(job.json.pretty())
            return 0
        }
        func t(_ m: Millis?) -> String { m.map { Clock.iso($0) } ?? "-" }
        var rows: [[String]] = [
            ["id", job.id], ["command", job.command], ["state", Terminal.state(job.state) + (job.paused && job.state.isLive ? " (paused\(job.stopsRunning ? ", stopped while running" : ""): 'queuectl resume \(job.id)')" : "")],
            ["queue", job.queue + (job.slots != 1 ? ", \(job.slots) slots" : "") + queueNote(job, try store.queueSettings())],
            ["attempts", "\(job.attempts) of \(job.maxRetries + 1)"], ["priority", String(job.priority)],
            ["created", t(job.createdAt)], ["updated", t(job.updatedAt)],
        ]
        if let r = job.runAt { rows.append(["run at", t(r)]) }
        if let n = job.nextRunAt, job.state.isWaiting { rows.append(["next run", t(n)]) }
        rows.append(["timeout", job.timeout.map { $0 == 0 ? "none" : Clock.humanDuration($0) } ?? "config job_timeout"])
        rows.append(["cwd", job.cwd])
        if !job.dependsOn.isEmpty { rows.append(["after", job.dependsOn.joined(separator: ", ")]) }
        if let l = job.label { rows.append(["label", l]) }
        if let p = job.workerPid { rows.append(["worker", "pid \(p)" + (job.workerHost.map { " on host " + Host.name(ofId: $0) } ?? "")]) }
        if let c = job.exitCode { rows.append(["exit code", String(c)]) }
        if let e = job.lastError { rows.append(["last error", e]) }
        for (k, v) in job.env { rows.append(["env", "\(k)=\(v)"]) }
        let w = rows.map { $0[0].count }.max() ?? 0
        for r in rows { print(Terminal.bold(r[0]) + String(repeating: " ", count: w - r[0].count + 2) + r[1]) }
        if !job.history.isEmpty {
            print("")
            let hrows = job.history.map { a -> [String] in
                [String(a.number), Clock.local(a.startedAt), a.durationMs.map { Clock.humanDuration(Double($0) / 1000) } ?? "running",
                 a.exitCode.map(String.init) ?? (a.signal.map { "sig \($0)" } ?? "-"), a.error ?? ""]
            }
            print(Terminal.table(["ATTEMPT", "STARTED", "DURATION", "EXIT", "ERROR"], hrows, flex: 4))
        }
        return 0
    }

    static func status(_ cmd: ParsedCommand, store: JSONStore) throws -> Int32 {
        let counts = try store.counts()
        let now = Clock.nowMillis()
        let scheduled = try store.scheduled(now: now)
        let hosts = WorkerControl.hosts(home: store.home, processing: [], leases: false)  // light: no job is read, nothing written
        let live = hosts.first { $0.supervisor.isThisHost }?.supervisor
        let total = counts.values.reduce(0, +)
        // A background compaction that failed left its reason (the queue works on meanwhile).
        let compactionFailure = ((try? Posix.readFile(store.home.compactionFailure)) ?? nil)
            .map { String(decoding: $0, as: UTF8.self).trimmingTrailingNewlines }
        let configProblems = try store.config().problems  // a hand-edited config.json: defaults in use
        let queues = try store.queueSettings()  // limits and pauses only: per-queue counts are 'queue list'
        if cmd.flag("json") {
            let c = JSON.object(JobState.allCases.map { ($0.rawValue, .int(Int64(counts[$0] ?? 0))) })
            let workers = JSON.array(live?.workers.map { .object([("slot", .int(Int64($0.slot))), ("pid", .int(Int64($0.pid)))]) } ?? [])
            let sched = JSON.object([("count", .int(Int64(scheduled.count))), ("next_due", scheduled.next.map { .string(Clock.iso($0)) } ?? .null)])
            let fs = FileSystemKind.of(store.home.path)
            print(JSON.object([("counts", c), ("total", .int(Int64(total))), ("scheduled", sched), ("workers", workers),
                               ("supervisor_pid", live.map { .int(Int64($0.supervisorPid)) } ?? .null),
                               ("supervisor_host", live.map { .string($0.hostName) } ?? .null),
                               ("hosts", .array(hosts.map { WorkerCommands.hostJSON($0, jobs: false) })),
                               ("file_system", .string(fs.name)),
                               ("queues", queues.json),
                               ("compaction_failure", compactionFailure.map { .string($0) } ?? .null),
                               ("config_problems", .array(configProblems.map { .string($0) })),
                               ("wakeup", .string(live.map { $0.wakeup.isEmpty ? fs.wakeup : $0.wakeup } ?? fs.wakeup))]).pretty())
            return 0
        }
        let rows = JobState.allCases.map { [Terminal.state($0), String(counts[$0] ?? 0)] }
        print(Terminal.table(["STATE", "JOBS"], rows))
        print(Terminal.bold("total") + String(repeating: " ", count: 7) + String(total))
        if let next = scheduled.next {
            print("\n\(scheduled.count) waiting for a later time; the next is due in \(Clock.humanDuration(Double(next - now) / 1000)) (\(Clock.local(next)))")
        }
        if !queues.names.isEmpty {
            let parts = queues.names.map { n -> String in
                let q = queues[n]
                return n + (q.parallel > 0 ? " at most \(q.parallel) at once" : "") + (q.paused ? (q.stopsRunning ? " (paused, its running jobs stopped)" : " (paused)") : "")
            }
            print("\nqueues: " + parts.joined(separator: "; ") + "; see 'queuectl queue list'")
        }
        for p in configProblems { print("\nconfig: \(p)") }
        if let why = compactionFailure {
            print("\nthe journal could not be folded into jobs.json (\(why)); work goes on in the journal, and the next compaction tries again")
        }
        if hosts.isEmpty {
            print("\nno workers running; start them with 'queuectl worker start'")
        }
        for h in hosts {
            let p = h.supervisor
            print("\(h.supervisor.hostName == hosts.first?.supervisor.hostName ? "\n" : "")\(p.workers.count) worker\(p.workers.count == 1 ? "" : "s") running on host \(p.hostName)\(p.isThisHost ? " (this host)" : "") (supervisor pid \(p.supervisorPid)\(p.wakeup == "poll" ? ", polling: the home is on a network file system" : "")); see 'queuectl worker status'")
        }
        return 0
    }
}

extension String {
    var trimmingTrailingNewlines: String {
        var s = self
        while s.hasSuffix("\n") { s.removeLast() }
        return s
    }
}
