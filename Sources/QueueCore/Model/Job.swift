/// One run of a job's command.
public struct Attempt: Equatable {
    public var number: Int            // 1-based, counts every run of this job ever (names its log)
    public var startedAt: Millis
    public var finishedAt: Millis?
    public var exitCode: Int?
    public var signal: Int?
    public var error: String?
    public var workerPid: Int?
    public var outputBytes: Int?

    public init(number: Int, startedAt: Millis, workerPid: Int?) {
        self.number = number
        self.startedAt = startedAt
        self.workerPid = workerPid
    }

    public var durationMs: Millis? { finishedAt.map { $0 - startedAt } }

    /// The attempt as JSON: what `writeCompact` writes, read back, so there is one writer.
    public var json: JSON {
        var w = ByteWriter(capacity: 256)
        writeCompact(to: &w)
        return (try? JSONParser.parse(bytes: w.bytes)) ?? .null
    }

    func writeCompact(to w: inout ByteWriter) {
        w.lit("{\"number\":"); w.int(number)
        w.lit(",\"started_at\":"); w.time(startedAt)
        w.lit(",\"finished_at\":"); w.time(finishedAt)
        w.lit(",\"duration_ms\":"); w.optInt(durationMs)
        w.lit(",\"exit_code\":"); w.optInt(exitCode)
        w.lit(",\"signal\":"); w.optInt(signal)
        w.lit(",\"error\":"); if let e = error { w.str(e) } else { w.lit("null") }
        if let p = workerPid { w.lit(",\"worker_pid\":"); w.int(p) }
        if let b = outputBytes { w.lit(",\"output_bytes\":"); w.int(b) }
        w.lit("}")
    }

    init?(json: JSON) {
        guard let n = json["number"]?.intValue, let s = json["started_at"]?.stringValue.flatMap(Clock.parseISO) else {
            return nil
        }
        number = Int(n)
        startedAt = s
        finishedAt = json["finished_at"]?.stringValue.flatMap(Clock.parseISO)
        exitCode = json["exit_code"]?.intValue.map { Int($0) }
        signal = json["signal"]?.intValue.map { Int($0) }
        error = json["error"]?.stringValue
        workerPid = json["worker_pid"]?.intValue.map { Int($0) }
        outputBytes = json["output_bytes"]?.intValue.map { Int($0) }
    }
}

/// A job as stored and shown. Field names in JSON are snake_case, as README documents them.
public struct Job: Equatable {
    public var id: String
    public var command: String
    public var state: JobState
    // Small numbers kept in 32 bits beside `state` (validated inputs stay far below 2^31; a
    // larger value is clamped, never trapped): 16 bytes less per job in a worker's memory.
    // Pids and exit codes too (Linux pids stay below 2^22; `.min` = nil). Seven of them fill the
    // room between `state` and `createdAt` exactly.
    private var _attempts: Int32 = 0, _maxRetries: Int32 = 0, _priority: Int32 = 0, _batchIndex: Int32 = 0
    private var _exitCode = Int32.min, _workerPid = Int32.min, _jobPgid = Int32.min
    public var attempts: Int { get { Int(_attempts) } set { _attempts = Int32(clamping: newValue) } } // attempts in the current cycle (reset by `dlq retry`)
    public var maxRetries: Int { get { Int(_maxRetries) } set { _maxRetries = Int32(clamping: newValue) } }
    public var createdAt: Millis
    public var updatedAt: Millis
    public var priority: Int { get { Int(_priority) } set { _priority = Int32(clamping: newValue) } }
    public var batchIndex: Int { get { Int(_batchIndex) } set { _batchIndex = Int32(clamping: newValue) } } // position in its enqueue batch: order among equal created_at
    public var runAt: Millis? { get { _runAt == Millis.min ? nil : _runAt } set { _runAt = newValue ?? Millis.min } } // user's "not before"
    public var nextRunAt: Millis? { get { _nextRunAt == Millis.min ? nil : _nextRunAt } set { _nextRunAt = newValue ?? Millis.min } } // earliest next start (run_at, then backoff)
    public var timeout: Double? { get { _timeout.isNaN ? nil : _timeout } set { _timeout = newValue ?? .nan } } // nil = configured job_timeout; 0 = none
    public var exitCode: Int? { get { _exitCode == Int32.min ? nil : Int(_exitCode) } set { _exitCode = newValue.map { Int32(clamping: $0) } ?? Int32.min } }
    public var lastError: String?
    public var cwd: String
    public var env: [(String, String)] = []    // extra environment for the command
    public var dependsOn: [String] = []
    public var workerPid: Int? { get { _workerPid == Int32.min ? nil : Int(_workerPid) } set { _workerPid = newValue.map { Int32(clamping: $0) } ?? Int32.min } } // while processing
    /// The running attempt's process group (its leader's pid) and the leader's start time,
    /// recorded by the worker when it spawned it, in the claim's transaction: cancel and recovery
    /// signal this group, and only while the leader with this start time is alive.
    public var jobPgid: Int? { get { _jobPgid == Int32.min ? nil : Int(_jobPgid) } set { _jobPgid = newValue.map { Int32(clamping: $0) } ?? Int32.min } }
    public var jobStart: Int64? { get { _jobStart == Int64.min ? nil : _jobStart } set { _jobStart = newValue ?? Int64.min } }
    public var workerStart: Int64? { get { _workerStart == Int64.min ? nil : _workerStart } set { _workerStart = newValue ?? Int64.min } } // the worker's /proc start time, to detect pid reuse
    public var workerHost: String?             // the worker's host (Host.id): its pid means nothing elsewhere
    public var startedAt: Millis? { get { _startedAt == Millis.min ? nil : _startedAt } set { _startedAt = newValue ?? Millis.min } } // start of the current/last attempt
    public var firstStartedAt: Millis? { get { _firstStartedAt == Millis.min ? nil : _firstStartedAt } set { _firstStartedAt = newValue ?? Millis.min } }
    public var finishedAt: Millis? { get { _finishedAt == Millis.min ? nil : _finishedAt } set { _finishedAt = newValue ?? Millis.min } }
    public var history: [Attempt] = []
    // The optional numbers above are stored without Optional's extra byte (which pads each to 16
    // bytes): a worker holds every live job, and at a million jobs this is 72 MB. `.min` / NaN = nil.
    private var _runAt = Millis.min, _nextRunAt = Millis.min, _startedAt = Millis.min
    private var _firstStartedAt = Millis.min, _finishedAt = Millis.min, _workerStart = Int64.min
    private var _jobStart = Int64.min
    private var _timeout = Double.nan

    public init(id: String, command: String, state: JobState = .pending, maxRetries: Int, createdAt: Millis, cwd: String) {
        self.id = id
        self.command = command
        self.state = state
        self.createdAt = createdAt
        self.updatedAt = createdAt
        self.cwd = cwd
        self.maxRetries = maxRetries
    }

    public static func == (a: Job, b: Job) -> Bool { a.json == b.json }

    /// When it may next start (nil: now).
    public var dueAt: Millis? { nextRunAt ?? runAt }

    /// The record as JSON (`show --json`, the API): what `writeCompact` writes, read back, so
    /// the store and the output share one writer and one key order (JobSchema).
    public var json: JSON {
        var w = ByteWriter(capacity: 512)
        writeCompact(to: &w)
        return (try? JSONParser.parse(bytes: w.bytes)) ?? .null
    }

    /// Compact JSON of the record, written directly as bytes (no intermediate `JSON` value): the
    /// store serialises every job on compaction, so this is on the hot path. It is the record's
    /// one writer (`json` reads its output back), in JobSchema's key order.
    public func writeCompact(to w: inout ByteWriter) {
        w.lit("{\"id\":"); w.str(id)
        w.lit(",\"command\":"); w.str(command)
        w.lit(",\"state\":\""); w.raw(state.rawValue); w.lit("\"")
        w.lit(",\"attempts\":"); w.int(attempts)
        w.lit(",\"max_retries\":"); w.int(maxRetries)
        w.lit(",\"created_at\":"); w.time(createdAt)
        w.lit(",\"updated_at\":"); w.time(updatedAt)
        w.lit(",\"priority\":"); w.int(priority)
        w.lit(",\"run_at\":"); w.time(runAt)
        w.lit(",\"next_run_at\":"); w.time(nextRunAt)
        w.lit(",\"timeout\":"); if let t = timeout { w.raw(JSON.format(t)) } else { w.lit("null") }
        w.lit(",\"exit_code\":"); w.optInt(exitCode)
        w.lit(",\"last_error\":"); if let e = lastError { w.str(e) } else { w.lit("null") }
        w.lit(",\"cwd\":"); w.str(cwd)
        if batchIndex != 0 { w.lit(",\"batch_index\":"); w.int(batchIndex) }
        if !env.isEmpty { w.lit(",\"env\":"); w.json(JSON.object(env.map { ($0.0, .string($0.1)) })) }
        if !dependsOn.isEmpty { w.lit(",\"depends_on\":"); w.json(JSON.array(dependsOn.map { .string($0) })) }
        if let p = workerPid { w.lit(",\"worker_pid\":"); w.int(p) }
        if let s = workerStart { w.lit(",\"worker_start\":"); w.int(s) }
        if let h = workerHost { w.lit(",\"worker_host\":"); w.str(h) }
        if let g = jobPgid { w.lit(",\"job_pgid\":"); w.int(g) }
        if let s = jobStart { w.lit(",\"job_start\":"); w.int(s) }
        w.lit(",\"started_at\":"); w.time(startedAt)
        w.lit(",\"finished_at\":"); w.time(finishedAt)
        if let f = firstStartedAt { w.lit(",\"first_started_at\":"); w.time(f) }
        w.lit(",\"history\":[")
        for (n, a) in history.enumerated() {
            if n > 0 { w.lit(",") }
            a.writeCompact(to: &w)
        }
        w.lit("]}")
    }

    /// Decodes a stored record in one pass over its keys. Stored records were validated on the
    /// way in, so this only guards against a damaged file; it returns nil rather than guessing.
    public init?(json: JSON) {
        guard case .object(let pairs) = json else { return nil }
        var id: String?, command: String?, state: JobState?, created: Millis?
        self.id = ""; self.command = ""; self.state = .pending; self.createdAt = 0; self.updatedAt = 0
        self.cwd = "/"; self.maxRetries = 3
        var updated: Millis?
        func t(_ v: JSON) -> Millis? { v.stringValue.flatMap(Clock.parseISO) }
        for (k, v) in pairs {
            switch k {
            case "id": id = v.stringValue
            case "command": command = v.stringValue
            case "state": state = v.stringValue.flatMap(JobState.init(rawValue:))
            case "created_at": created = t(v)
            case "updated_at": updated = t(v)
            case "max_retries": maxRetries = Int(v.intValue ?? 3)
            case "attempts": attempts = Int(v.intValue ?? 0)
            case "priority": priority = Int(v.intValue ?? 0)
            case "batch_index": batchIndex = Int(v.intValue ?? 0)
            case "run_at": runAt = t(v)
            case "next_run_at": nextRunAt = t(v)
            case "timeout": timeout = v.doubleValue
            case "exit_code": exitCode = v.intValue.map { Int($0) }
            case "last_error": lastError = v.stringValue
            case "cwd": cwd = v.stringValue ?? "/"
            case "env": env = v.objectValue?.compactMap { k, v in v.stringValue.map { (k, $0) } } ?? []
            case "depends_on": dependsOn = v.arrayValue?.compactMap(\.stringValue) ?? []
            case "worker_pid": workerPid = v.intValue.map { Int($0) }
            case "worker_start": workerStart = v.intValue
            case "worker_host": workerHost = v.stringValue
            case "job_pgid": jobPgid = v.intValue.map { Int($0) }
            case "job_start": jobStart = v.intValue
            case "started_at": startedAt = t(v)
            case "finished_at": finishedAt = t(v)
            case "first_started_at": firstStartedAt = t(v)
            case "history": history = v.arrayValue?.compactMap(Attempt.init(json:)) ?? []
            default: break
            }
        }
        guard let i = id, let c = command, let st = state, let cr = created else { return nil }
        self.id = i
        self.command = c
        self.state = st
        self.createdAt = cr
        self.updatedAt = updated ?? cr
    }
}
