import Glibc
import QueueCore

/// `worker start|stop|status` and `logs`.
enum WorkerCommands {
    /// One line per job event, with local time; stderr (a terminal, or the home's workers.log).
    static func logger() -> (String) -> Void {
        return { line in
            fputs(Clock.local(Clock.nowMillis()) + " [" + String(getpid()) + "] " + line + "\n", stderr)
            fflush(stderr)
        }
    }

    /// `a,b` → the queue names, each checked; nil when the option is absent.
    static func queueNames(_ text: String?, option: String) throws -> Set<String>? {
        guard let text else { return nil }
        let names = text.split(separator: ",", omittingEmptySubsequences: false).map { String($0.filter { $0 != " " }) }
        for n in names where !QueueSettings.isValidName(n) {
            throw QueueError.usage("invalid queue name '\(n.prefix(40))' in --\(option): \(QueueSettings.nameRule); separate names with commas, e.g. --\(option) gpu,default")
        }
        return Set(names)
    }

    static func start(_ cmd: ParsedCommand, store: JSONStore) throws -> Int32 {
        let count = try Commands.int(cmd, "count", min: 1, max: 1024) ?? 1
        let drainWait = try OperationCommands.duration(cmd, "drain-wait")
        if drainWait != nil && !cmd.flag("drain") { throw QueueError.usage("--drain-wait goes with --drain") }
        let supervisor = Supervisor(store: store, count: count, log: logger())
        if cmd.flag("drain") { supervisor.drainWait = drainWait ?? 0 }
        supervisor.queues = try queueNames(cmd.value("queues"), option: "queues")
        try supervisor.acquire()
        if !cmd.flag("detach") {
            return supervisor.run(ready: {})
        }
        // Detach: the child becomes the supervisor in its own session, logging to workers.log; the
        // parent returns once the workers are up (or reports why they are not).
        let logPath = store.home.workersLog()
        supervisor.logPath = logPath
        let (r, w) = try Posix.makePipe()
        let pid = ForkedChild.start {
            r.close()
            setsid()
            // The log is appended to by this host's supervisor only (O_APPEND is safe here).
            let devNull = Posix.openQuietly("/dev/null", O_RDWR)
            let logFd = Posix.openQuietly(logPath, O_WRONLY | O_CREAT | O_APPEND) ?? devNull
            if let d = devNull { dup2(d.rawValue, 0) }
            if let l = logFd { dup2(l.rawValue, 1); dup2(l.rawValue, 2) }
            supervisor.closeInheritedDescriptors(keep: [w])
            supervisor.closeInChildren = [w]
            return supervisor.run(ready: {
                _ = write(w.rawValue, "ok\n", 3)
                w.close()
            })
        }
        if pid < 0 { throw QueueError.system("cannot fork: \(Posix.describe(errno))") }
        w.close()
        // The parent's copy of the lock must go, or the lock would outlive the supervisor.
        supervisor.releaseLockInParent()
        var buf = [UInt8](repeating: 0, count: 16)
        var n = 0
        n = Posix.retryingEINTR { read(r.rawValue, &buf, buf.count) }
        r.close()
        guard n > 0 else { throw QueueError.failed("the workers did not start; see \(logPath)") }
        Terminal.err("started \(count) worker\(count == 1 ? "" : "s") (supervisor pid \(pid)); log: \(logPath)")
        print(pid)
        return 0
    }

    static func stop(_ cmd: ParsedCommand, store: JSONStore) throws -> Int32 {
        var timeout = 60.0
        if let t = cmd.value("timeout") {
            guard let d = Clock.parseDuration(t), Clock.millis(seconds: d) != nil else {
                throw QueueError.usage("invalid value '\(t.prefix(40))' for --timeout: expected seconds or a duration like 30s, between 0 and \(Clock.maxDurationText)")
            }
            timeout = d
        }
        if cmd.value("host") != nil && cmd.flag("all-hosts") {
            throw QueueError.usage("--host and --all-hosts cannot be used together; pick one")
        }
        let target: WorkerControl.Target = cmd.flag("all-hosts") ? .allHosts : cmd.value("host").map { .host($0) } ?? .thisHost
        switch try WorkerControl.stop(home: store.home, target: target, timeout: timeout, force: cmd.flag("force"), progress: { Terminal.err($0) }) {
        case .notRunning:
            switch target {
            case .thisHost: Terminal.err("no workers are running for \(store.home.path) on this host (\(Host.current.name)); see 'queuectl worker status' for other hosts")
            case .host(let h): Terminal.err("no workers are running for \(store.home.path) on host \(h)")
            case .allHosts: Terminal.err("no workers are running for \(store.home.path) on any host")
            }
        case .stopped: Terminal.err("workers stopped")
        case .forced: Terminal.err("workers stopped; interrupted jobs are pending again")
        }
        return 0
    }

    static func status(_ cmd: ParsedCommand, store: JSONStore) throws -> Int32 {
        let processing = try store.read { $0.processing }
        let hosts = WorkerControl.hosts(home: store.home, processing: processing)
        if cmd.flag("json") {
            print(workersJSON(hosts).pretty())
            return 0
        }
        guard !hosts.isEmpty else {
            Terminal.err("no workers are running for \(store.home.path); start them with 'queuectl worker start'")
            return 0
        }
        let now = Clock.nowMillis()
        let poll = Clock.humanDuration((try? store.config().pollInterval) ?? 1)
        for (n, h) in hosts.enumerated() {
            let p = h.supervisor
            let wake = p.wakeup == "poll" ? "wake-up poll every \(poll) (\(p.fileSystem): inotify cannot see other machines' writes)"
                                          : "wake-up \(p.wakeup.isEmpty ? "inotify" : p.wakeup) (\(p.fileSystem))"
            let lease = h.leaseAge.map { ", lease renewed \(Clock.humanDuration($0)) ago" } ?? ""
            if n > 0 { print("") }
            let serves = p.queues.map { ", serving queue\($0.count == 1 ? "" : "s") \($0.joined(separator: ","))" } ?? ""
            print("host \(p.hostName)\(p.isThisHost ? " (this host)" : ""): supervisor pid \(p.supervisorPid), up since \(Clock.local(p.startedAt)), \(p.workers.count) worker\(p.workers.count == 1 ? "" : "s")\(serves), \(wake)\(lease)\(p.logPath.map { ", log \($0)" } ?? "")")
            let rows = h.workers.map { w -> [String] in
                guard let j = w.job else { return [String(w.slot), String(w.pid), Terminal.dim("idle"), "", ""] }
                return [String(w.slot), String(w.pid), j.id, "for " + Clock.humanDuration(Double(now - (j.startedAt ?? now)) / 1000), j.command]
            }
            let table = Terminal.table(["WORKER", "PID", "JOB", "RUNNING", "COMMAND"], rows, flex: 4)
            print(table.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n"))
        }
        return 0
    }

    /// `worker status --json`: this host's supervisor and workers at the top (as before hosts
    /// existed), and every host's under `hosts`.
    static func workersJSON(_ hosts: [WorkerControl.HostWorkers]) -> JSON {
        let here = hosts.first { $0.supervisor.isThisHost }
        return .object([
            ("supervisor", here.map { supervisorJSON($0.supervisor) } ?? .null),
            ("file_system", here.map { .string($0.supervisor.fileSystem) } ?? .null),
            ("wakeup", here.map { .string($0.supervisor.wakeup) } ?? .null),
            ("workers", .array(here?.workers.map(workerJSON) ?? [])),
            ("hosts", .array(hosts.map { hostJSON($0) })),
        ])
    }

    static func supervisorJSON(_ p: PidFile) -> JSON {
        .object([("pid", .int(Int64(p.supervisorPid))), ("started_at", .string(Clock.iso(p.startedAt))),
                 ("host", .string(p.hostName)), ("host_id", .string(p.hostId))])
    }

    /// `jobs`: each worker's job is known (`status` reads no job, so it leaves the key out).
    static func hostJSON(_ h: WorkerControl.HostWorkers, jobs: Bool = true) -> JSON {
        let p = h.supervisor
        return .object([
            ("host", .string(p.hostName)), ("host_id", .string(p.hostId)), ("this_host", .bool(p.isThisHost)),
            ("supervisor_pid", .int(Int64(p.supervisorPid))), ("started_at", .string(Clock.iso(p.startedAt))),
            ("file_system", .string(p.fileSystem)), ("wakeup", .string(p.wakeup)),
            ("queues", p.queues.map { .array($0.map { .string($0) }) } ?? .null),
            ("lease_age_seconds", h.leaseAge.map { .double($0) } ?? .null),
            ("workers", .array(h.workers.map { jobs ? workerJSON($0) : .object([("slot", .int(Int64($0.slot))), ("pid", .int(Int64($0.pid)))]) })),
        ])
    }

    static func workerJSON(_ w: WorkerControl.WorkerInfo) -> JSON {
        .object([("slot", .int(Int64(w.slot))), ("pid", .int(Int64(w.pid))), ("job", w.job.map { .string($0.id) } ?? .null)])
    }

    static func logs(_ cmd: ParsedCommand, store: JSONStore) throws -> Int32 {
        let id = cmd.arguments[0]
        guard var job = try store.job(id) else { throw QueueError.notFound("no job with id \"\(id)\"; see 'queuectl list'") }
        guard let last = job.history.last?.number else {
            Terminal.err("job \"\(id)\" has not run yet (\(job.state.rawValue))")
            return 0
        }
        let n = try Commands.int(cmd, "attempt", min: 1) ?? last
        guard job.history.contains(where: { $0.number == n }) else {
            throw QueueError.notFound("job \"\(id)\" has no attempt \(n); it has attempts 1 to \(last)")
        }
        let path = store.home.logFile(job: id, attempt: n)
        var offset = 0
        func pump() {
            guard let fd = try? Posix.open(path, O_RDONLY) else { return }
            defer { fd.close() }
            if let bytes = try? Posix.readAll(fd: fd, from: offset, path: path), !bytes.isEmpty {
                offset += bytes.count
                bytes.withUnsafeBytes { _ = fwrite($0.baseAddress, 1, $0.count, stdout) }
                fflush(stdout)
            }
        }
        pump()
        if !Posix.exists(path) && !(cmd.flag("follow") && job.state == .processing) {
            Terminal.err("(attempt \(n) of \(id) printed nothing)")
        }
        guard cmd.flag("follow") else { return 0 }
        // Follow while this attempt is running: wake on changes to the log, or every 200 ms.
        let ino = FileDescriptor(returned: inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK)))
        defer { ino?.close() }
        if let ino { inotify_add_watch(ino.rawValue, store.home.logDirectory(job: id), UInt32(IN_MODIFY | IN_CLOSE_WRITE)) }
        while job.state == .processing && job.history.last?.number == n {
            var fds = [pollfd(readable: ino)]
            Posix.poll(&fds, timeoutMs: 200)
            var drain = [UInt8](repeating: 0, count: 4096)
            while let ino, read(ino.rawValue, &drain, drain.count) > 0 {}
            pump()
            guard let j = try store.job(id) else { break }
            job = j
        }
        pump()
        return 0
    }
}
