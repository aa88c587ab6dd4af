import Glibc

/// `queuectl dashboard`: routes, security checks and the JSON API. Pages are in DashboardPages.
/// The overview, the job lists and a job's page read what they show without loading every job
/// (JSONStore.overview, recent, job); what needs every job (metrics, `/api/jobs` by offset) and
/// the changes load them into a scratch store that is dropped after the request, so the
/// dashboard never holds the whole queue in memory between requests.
public final class Dashboard {
    let store: JSONStore
    public let token: String
    var allowedHosts: Set<String> = []

    public init(store: JSONStore) throws {
        self.store = store
        self.token = try Dashboard.loadToken(store.home)
    }

    /// The per-home secret that state-changing requests must carry (created 0600 on first use).
    static func loadToken(_ home: Home) throws -> String {
        try home.create()
        let path = home.dashboardToken
        if let b = try Posix.readFile(path) {
            let t = String(decoding: b, as: UTF8.self).trimmingSpaces()
            if t.count >= 32 { return t }
        }
        var raw = [UInt8](repeating: 0, count: 24)
        let fd = try Posix.open("/dev/urandom", O_RDONLY)
        defer { fd.close() }
        guard read(fd.rawValue, &raw, raw.count) == raw.count else { throw QueueError.system("cannot read /dev/urandom") }
        let t = raw.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
        try Posix.atomicWrite(path: path, text: t + "\n")
        return t
    }

    /// Hosts a browser may name in the Host header (anything else is DNS rebinding).
    public func allow(host: String, port: Int) {
        for h in ["127.0.0.1", "localhost", "[::1]", host] { allowedHosts.insert("\(h):\(port)") }
    }

    public func handle(_ r: HTTPRequest) -> HTTPResponse {
        guard let host = r.headers["host"], allowedHosts.contains(host.lowercased()) else {
            return HTTPResponse(status: 403, body: "forbidden: unexpected Host header\n")
        }
        do {
            if r.method == "POST" {
                guard r.form["token"] == token || r.headers["x-queuectl-token"] == token else {
                    return HTTPResponse(status: 403, body: "forbidden: missing or wrong token\n")
                }
                return try post(r)
            }
            guard r.method == "GET" || r.method == "HEAD" else {
                return HTTPResponse(status: 405, body: "method not allowed\n", headers: [("Allow", "GET, POST")])
            }
            return try get(r)
        } catch let e as QueueError {
            let status = e.httpStatus
            return api(r.path) ? json(.object([("error", .string(e.description))]), status: status)
                               : html(DashboardPages.message(title: "Error", text: e.description, token: token), status: status)
        } catch {
            return HTTPResponse(status: 500, body: "internal error\n")
        }
    }

    func api(_ path: String) -> Bool { path.hasPrefix("/api/") }

    func json(_ v: JSON, status: Int = 200) -> HTTPResponse {
        HTTPResponse(status: status, contentType: "application/json", body: v.pretty() + "\n")
    }

    func html(_ body: String, status: Int = 200) -> HTTPResponse {
        HTTPResponse(status: status, contentType: "text/html; charset=utf-8", body: body)
    }

    func notFound() -> HTTPResponse { HTTPResponse(status: 404, body: "not found\n") }

    /// `/jobs/ID` and `/api/jobs/ID[/logs]` — ids are validated, so no path can escape logs/.
    func jobId(_ s: Substring) -> String? {
        let id = String(s)
        return JobInput.isValidId(id) ? id : nil
    }

    func get(_ r: HTTPRequest) throws -> HTTPResponse {
        let now = Clock.nowMillis()
        let parts = r.path.split(separator: "/", omittingEmptySubsequences: true)
        switch (parts.count, parts.first) {
        case (0, _):
            let o = try overview(now: now, recent: 10)
            return html(DashboardPages.overview(recent: o.recent, workers: o.workers, metrics: o.metrics, queues: try store.queueSettings(), now: now, token: token))
        case (1, "queues"):
            let s = scratch()
            return html(DashboardPages.queues(try QueueSummary.all(store: s), settings: try s.queueSettings(), token: token))
        case (1, "jobs"):
            let filter = try r.query["state"].flatMap { $0.isEmpty ? nil : $0 }.map(parseState)
            let asked = max(1, min(1_000_000, Int(r.query["page"] ?? "1") ?? 1))
            let (slice, total, page) = try jobsPage(filter: filter, page: asked)
            return html(DashboardPages.jobs(slice: slice, total: total, filter: filter, page: page, now: now, token: token))
        case (2, "jobs"):
            guard let id = jobId(parts[1]), let job = try store.job(id) else { return notFound() }
            return html(DashboardPages.job(job, logs: logs(job), token: token))
        case (1, "dlq"):
            let (dead, total) = try newest(DashboardPages.dlqShown, state: .dead)
            return html(DashboardPages.dlq(dead: dead, total: total, token: token))
        case (1, "workers"):
            return html(DashboardPages.workers(try overview(now: now, recent: 0).workers, now: now, token: token))
        case (1, "config"):
            return html(DashboardPages.config(try store.config(), token: token))
        case (2, "static") where parts[1] == "style.css":
            return HTTPResponse(status: 200, contentType: "text/css; charset=utf-8", body: DashboardPages.css)
        case (2, "static") where parts[1] == "app.js":
            return HTTPResponse(status: 200, contentType: "text/javascript; charset=utf-8", body: DashboardPages.js)
        case (1, "metrics"):
            return HTTPResponse(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8",
                                body: Prometheus.render(Metrics.compute(try scratch().read { $0 }, now: now)))
        case (_, "api"):
            return try getAPI(r, Array(parts.dropFirst()), now: now)
        default:
            return notFound()
        }
    }

    func getAPI(_ r: HTTPRequest, _ parts: [Substring], now: Millis) throws -> HTTPResponse {
        switch (parts.count, parts.first) {
        case (1, "status"):
            let o = try overview(now: now, recent: 0)
            let counts = JSON.object(JobState.allCases.map { ($0.rawValue, .int(Int64(o.metrics.counts[$0] ?? 0))) })
            return json(.object([("counts", counts), ("total", .int(Int64(o.metrics.counts.values.reduce(0, +)))),
                                 ("workers", .array(o.workers.map { w in
                                     .object([("host", .string(w.host)), ("slot", .int(Int64(w.slot))), ("pid", .int(Int64(w.pid))), ("job", w.job.map { .string($0.id) } ?? .null)])
                                 }))]))
        case (1, "jobs"):
            let filter = try r.query["state"].flatMap { $0.isEmpty ? nil : $0 }.map(parseState)
            let limit = min(1000, max(0, Int(r.query["limit"] ?? "100") ?? 100))
            let offset = max(0, Int(r.query["offset"] ?? "0") ?? 0)
            let jobs = try scratch().read { $0.ordered(state: filter) }
            let slice = offset < jobs.count ? Array(jobs[offset..<min(jobs.count, offset + limit)]) : []
            return json(.object([("total", .int(Int64(jobs.count))), ("offset", .int(Int64(offset))), ("jobs", .array(slice.map(\.json)))]))
        case (2, "jobs"):
            guard let id = jobId(parts[1]), let job = try store.job(id) else {
                return json(.object([("error", .string("no such job"))]), status: 404)
            }
            return json(job.json)
        case (3, "jobs") where parts[2] == "logs":
            guard let id = jobId(parts[1]), let job = try store.job(id) else {
                return json(.object([("error", .string("no such job"))]), status: 404)
            }
            return json(.array(logs(job).map { .object([("attempt", .int(Int64($0.0))), ("output", .string($0.1))]) }))
        case (1, "metrics"):
            return json(Metrics.compute(try scratch().read { $0 }, now: now).json)
        case (1, "queues"):
            return json(.array(try QueueSummary.all(store: scratch()).map(\.json)))
        default:
            return json(.object([("error", .string("not found"))]), status: 404)
        }
    }

    func post(_ r: HTTPRequest) throws -> HTTPResponse {
        let parts = r.path.split(separator: "/", omittingEmptySubsequences: true)
        switch (parts.count, parts.first) {
        case (2, "dlq") where parts[1] == "retry":   // the page's forms
            let form = r.form
            if form["all"] != nil {
                try DeadLetters.retry(store: scratch(), ids: [], all: true)
            } else {
                guard let id = form["id"].flatMap({ jobId(Substring($0)) }) else { throw QueueError.usage("give a job id") }
                try DeadLetters.retry(store: scratch(), ids: [id], all: false)
            }
            return HTTPResponse(status: 303, body: "", headers: [("Location", "/dlq")])
        case (2, "jobs") where parts[1] == "restart":   // the job page's form
            guard let id = r.form["id"].flatMap({ jobId(Substring($0)) }) else { throw QueueError.usage("give a job id") }
            try Restart.run(store: scratch(), ids: [id], failed: false, asNew: false)
            return HTTPResponse(status: 303, body: "", headers: [("Location", "/jobs/" + id)])
        case (4, "api") where parts[1] == "jobs" && parts[3] == "restart":
            guard let id = jobId(parts[2]) else { return json(.object([("error", .string("bad id"))]), status: 400) }
            let ids = try Restart.run(store: scratch(), ids: [id], failed: false, asNew: r.query["as_new"] == "1")
            return json(.object([("restarted", .array(ids.map { .string($0) }))]))
        case (2, "queues") where parts[1] == "pause" || parts[1] == "resume":   // the queue table's forms
            guard let name = r.form["name"] else { throw QueueError.usage("give a queue name") }
            try Pause.queue(store: scratch(), name: name, paused: parts[1] == "pause", stopRunning: r.form["jobs"] == "1")
            return HTTPResponse(status: 303, body: "", headers: [("Location", "/queues")])
        case (2, "jobs") where parts[1] == "pause" || parts[1] == "resume":   // the job page's form
            guard let id = r.form["id"].flatMap({ jobId(Substring($0)) }) else { throw QueueError.usage("give a job id") }
            try Pause.jobs(store: scratch(), ids: [id], paused: parts[1] == "pause", stopRunning: r.form["jobs"] == "1")
            return HTTPResponse(status: 303, body: "", headers: [("Location", "/jobs/" + id)])
        case (4, "api") where parts[1] == "queues" && (parts[3] == "pause" || parts[3] == "resume"):
            let name = String(parts[2])
            let running = try Pause.queue(store: scratch(), name: name, paused: parts[3] == "pause", stopRunning: r.query["jobs"] == "1")
            return json(.object([("queue", .string(name)), ("paused", .bool(parts[3] == "pause")), ("running", .int(Int64(running)))]))
        case (4, "api") where parts[1] == "jobs" && (parts[3] == "pause" || parts[3] == "resume"):
            guard let id = jobId(parts[2]) else { return json(.object([("error", .string("bad id"))]), status: 400) }
            let jobs = try Pause.jobs(store: scratch(), ids: [id], paused: parts[3] == "pause", stopRunning: r.query["jobs"] == "1")
            return json(.object([(parts[3] == "pause" ? "paused" : "resumed", .array(jobs.map { .string($0.id) }))]))
        case (4, "api") where parts[1] == "jobs" && parts[3] == "retry":
            guard let id = jobId(parts[2]) else { return json(.object([("error", .string("bad id"))]), status: 400) }
            let ids = try DeadLetters.retry(store: scratch(), ids: [id], all: false)
            return json(.object([("retried", .array(ids.map { .string($0) }))]))
        case (2, "api") where parts[1] == "retry-all":
            let ids = try DeadLetters.retry(store: scratch(), ids: [], all: true)
            return json(.object([("retried", .array(ids.map { .string($0) }))]))
        default:
            return HTTPResponse(status: 404, body: "not found\n")
        }
    }

    func parseState(_ s: String) throws -> JobState {
        guard let st = JobState(rawValue: s) else { throw QueueError.usage("unknown state '\(s)'") }
        return st
    }

    /// A store for one request that needs every job or changes them; dropped after it, so the
    /// dashboard's own store never keeps the whole state (which would turn its light reads off).
    func scratch() -> JSONStore { JSONStore(home: store.home) }

    struct OverviewData { var recent: [Job]; var workers: [WorkerControl.WorkerInfo]; var metrics: Metrics }

    /// Counts, the newest jobs, the workers and the last hour's attempts per minute.
    func overview(now: Millis, recent k: Int) throws -> OverviewData {
        if let o = try store.overview(now: now, recent: k) {
            var m = Metrics()
            m.counts = o.counts
            m.completedPerMinute = o.completedPerMinute
            m.failedPerMinute = o.failedPerMinute
            return OverviewData(recent: o.recent.reversed(), workers: WorkerControl.allWorkers(home: store.home, processing: o.processing), metrics: m)
        }
        let state = try scratch().read { $0 }  // the files cannot answer that way (an older home)
        return OverviewData(recent: Array(state.ordered().suffix(k).reversed()), workers: WorkerControl.allWorkers(home: store.home, processing: state.processing),
                            metrics: Metrics.compute(state, now: now))
    }

    /// The `n` newest jobs (of `state`), newest first, and how many there are in all.
    func newest(_ n: Int, state: JobState?) throws -> ([Job], Int) {
        if let r = try store.recent(limit: n, state: state) { return (r.jobs.reversed(), r.total) }
        let all = try scratch().read { $0.ordered(state: state) }
        return (all.suffix(n).reversed(), all.count)
    }

    /// A page of the job list (newest first), the total, and the page shown (the last one if
    /// `page` is past it): reads the newest page × 50 jobs, never every job.
    func jobsPage(filter: JobState?, page: Int) throws -> ([Job], Int, Int) {
        let per = DashboardPages.jobsPerPage
        var (jobs, total) = try newest(page * per, state: filter)
        let last = max(1, (total + per - 1) / per)
        if page > last { (jobs, total) = try newest(last * per, state: filter) }
        let p = min(page, last)
        return (Array(jobs.dropFirst((p - 1) * per).prefix(per)), total, p)
    }

    /// Output of every attempt (at most 256 KiB each, the tail when longer).
    func logs(_ job: Job) -> [(Int, String)] {
        job.history.map { a in
            let path = store.home.logFile(job: job.id, attempt: a.number)
            guard var bytes = (try? Posix.readFile(path)) ?? nil else { return (a.number, "") }
            if bytes.count > 256 * 1024 { bytes = Array(bytes.suffix(256 * 1024)) }
            return (a.number, String(decoding: bytes, as: UTF8.self))
        }
    }
}

/// `/metrics` in the Prometheus text exposition format.
enum Prometheus {
    static func render(_ m: Metrics) -> String {
        var out = "# HELP queuectl_jobs Jobs in each state.\n# TYPE queuectl_jobs gauge\n"
        for s in JobState.allCases { out += "queuectl_jobs{state=\"\(s.rawValue)\"} \(m.counts[s] ?? 0)\n" }
        out += "# HELP queuectl_attempts_total Attempts finished, by result.\n# TYPE queuectl_attempts_total counter\n"
        out += "queuectl_attempts_total{result=\"success\"} \(m.totalSucceeded)\n"
        out += "queuectl_attempts_total{result=\"failure\"} \(m.totalFailed)\n"
        out += "# HELP queuectl_attempt_duration_seconds Run time of finished attempts.\n# TYPE queuectl_attempt_duration_seconds histogram\n"
        let bounds: [Double] = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800]
        var sum = 0.0
        for b in bounds {
            out += "queuectl_attempt_duration_seconds_bucket{le=\"\(JSON.format(b))\"} \(m.runTimes.filter { $0 <= b }.count)\n"
        }
        for t in m.runTimes { sum += t }
        out += "queuectl_attempt_duration_seconds_bucket{le=\"+Inf\"} \(m.runTimes.count)\n"
        out += "queuectl_attempt_duration_seconds_sum \(sum)\n"
        out += "queuectl_attempt_duration_seconds_count \(m.runTimes.count)\n"
        return out
    }
}
