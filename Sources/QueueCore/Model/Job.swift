/// One run of a job's command.
public struct Attempt: Equatable {
    public var number: Int            // 1-based, counts every run of this job ever (names its log)
    public var startedAt: Millis
    public var finishedAt: Millis?
    public var exitCode: Int?
    public var signal: Int?
    public var error: String?
    public var workerPid: Int?
    /// The host of the worker that ran it (`Host.id`): its pid means something only there.
    public var workerHost: String?
    public var outputBytes: Int?

    public init(number: Int, startedAt: Millis, workerPid: Int?, workerHost: String? = nil) {
        self.number = number
        self.startedAt = startedAt
        self.workerPid = workerPid
        self.workerHost = workerHost
    }

    public var durationMs: Millis? { finishedAt.map { $0 - startedAt } }

    /// The attempt as JSON: what `writeCompact` writes, read back, so there is one writer.
    public var json: JSON {
        var w = ByteWriter(capacity: 256)
        writeCompact(to: &w)
        return (try? JSONParser.parse(bytes: w.bytes)) ?? .null
    }

    func writeCompact(to w: inout ByteWriter) {
        w.attemptKey(.number); w.int(number)
        w.attemptKey(.startedAt); w.time(startedAt)
        w.attemptKey(.finishedAt); w.time(finishedAt)
        w.attemptKey(.durationMs); w.optInt(durationMs)
        w.attemptKey(.exitCode); w.optInt(exitCode)
        w.attemptKey(.signal); w.optInt(signal)
        w.attemptKey(.error); if let e = error { w.str(e) } else { w.lit("null") }
        if let p = workerPid { w.attemptKey(.workerPid); w.int(p) }
        if let h = workerHost { w.attemptKey(.workerHost); w.str(h) }
        if let b = outputBytes { w.attemptKey(.outputBytes); w.int(b) }
        w.lit("}")
    }

    init?(json: JSON) {
        guard case .object(let pairs) = json else { return nil }
        var n: Int64?, s: Millis?
        func t(_ v: JSON) -> Millis? { v.stringValue.flatMap(Clock.parseISO) }
        for (k, v) in pairs {
            guard let key = JobSchema.AttemptKey(rawValue: k) else { continue }
            switch key {
            case .number: n = v.intValue
            case .startedAt: s = t(v)
            case .finishedAt: finishedAt = t(v)
            case .durationMs: break  // derived from the two times
            case .exitCode: exitCode = v.intValue.map { Int($0) }
            case .signal: signal = v.intValue.map { Int($0) }
            case .error: error = v.stringValue
            case .workerPid: workerPid = v.intValue.map { Int($0) }
            case .workerHost: workerHost = v.stringValue
            case .outputBytes: outputBytes = v.intValue.map { Int($0) }
            }
        }
        guard let n, let s else { return nil }
        number = Int(n)
        startedAt = s
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
    public var lastError: String? { get { extras?.lastError } set { setExtra { $0.lastError = newValue } } }
    public var cwd: String
    public var env: [(String, String)] = []    // extra environment for the command
    public var dependsOn: [String] = []
    /// A tag the user gave it (`--label`), shown in listings and used to filter them.
    public var label: String? { get { extras?.label } set { setExtra { $0.label = newValue } } }
    /// The named queue it belongs to (`--queue`): its parallel limit and pause apply (QueueSettings).
    public var queue: String { get { extras?.queue ?? QueueSettings.defaultQueue } set { setExtra { $0.queue = newValue == QueueSettings.defaultQueue ? nil : newValue } } }
    /// How much of its queue's parallel limit it takes while it runs (`--slots`, default 1).
    public var slots: Int { get { extras.map { Int($0.slots) } ?? 1 } set { setExtra { $0.slots = Int32(clamping: max(1, newValue)) } } }
    /// Held by `pause ID`: not claimed while waiting (a running attempt goes on; its retry waits).
    public var paused: Bool { get { extras?.paused ?? false } set { setExtra { $0.paused = newValue; if !newValue { $0.stopsRunning = false } } } }
    /// With `paused` (`pause ID --jobs`): while it runs, its worker keeps its process group stopped.
    public var stopsRunning: Bool { get { extras?.stopsRunning ?? false } set { setExtra { $0.stopsRunning = newValue && $0.paused } } }
    /// Set by `move`: replaces the due time as the second key of the selection order (after priority).
    public var order: Millis? { get { extras?.order } set { setExtra { $0.order = newValue } } }
    public var workerPid: Int? { get { _workerPid == Int32.min ? nil : Int(_workerPid) } set { _workerPid = newValue.map { Int32(clamping: $0) } ?? Int32.min } } // while processing
    /// The running attempt's process group (its leader's pid) and the leader's start time,
    /// recorded by the worker when it spawned it, in the claim's transaction: cancel and recovery
    /// signal this group, and only while the leader with this start time is alive.
    public var jobPgid: Int? { get { _jobPgid == Int32.min ? nil : Int(_jobPgid) } set { _jobPgid = newValue.map { Int32(clamping: $0) } ?? Int32.min } }
    public var jobStart: Int64? { get { _jobStart == Int64.min ? nil : _jobStart } set { _jobStart = newValue ?? Int64.min } }
    public var workerStart: Int64? { get { _workerStart == Int64.min ? nil : _workerStart } set { _workerStart = newValue ?? Int64.min } } // the worker's /proc start time, to detect pid reuse
    public var workerHost: String? { get { extras?.workerHost } set { setExtra { $0.workerHost = newValue } } } // the worker's host (Host.id): its pid means nothing elsewhere
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
    /// Strings most waiting jobs do not have, out of line (8 bytes instead of 48): a worker holds
    /// every live job, and each byte of a Job is a megabyte at a million jobs. Copied on write.
    private var extras: Extras?

    private final class Extras {
        var lastError: String?, workerHost: String?, label: String?, queue: String?
        var order: Millis?
        var slots: Int32 = 1
        var paused = false, stopsRunning = false
        init(_ e: Extras? = nil) {
            (lastError, workerHost, label, queue) = (e?.lastError, e?.workerHost, e?.label, e?.queue)
            (order, slots, paused, stopsRunning) = (e?.order, e?.slots ?? 1, e?.paused ?? false, e?.stopsRunning ?? false)
        }
        var isEmpty: Bool { lastError == nil && workerHost == nil && label == nil && queue == nil && order == nil && slots == 1 && !paused }
    }

    private mutating func setExtra(_ change: (Extras) -> Void) {
        if !isKnownUniquelyReferenced(&extras) { extras = Extras(extras) }  // shared, or none yet
        guard let box = extras else { return }
        change(box)
        if box.isEmpty { extras = nil }
    }

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

    /// Takes what a user gives a job at enqueue from `other` (its command, limits, directory,
    /// environment, dependencies, label, queue and slots; not its id, state or schedule): what
    /// `edit` replaces and `restart --as-new` copies. One list, so a new field is added once.
    public mutating func takeUserFields(of other: Job) {
        command = other.command
        maxRetries = other.maxRetries
        priority = other.priority
        timeout = other.timeout
        cwd = other.cwd
        env = other.env
        dependsOn = other.dependsOn
        label = other.label
        queue = other.queue
        slots = other.slots
    }

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
        w.key(.id); w.str(id)
        w.key(.command); w.str(command)
        w.key(.state); w.lit("\""); w.raw(state.rawValue); w.lit("\"")
        w.key(.attempts); w.int(attempts)
        w.key(.maxRetries); w.int(maxRetries)
        w.key(.createdAt); w.time(createdAt)
        w.key(.updatedAt); w.time(updatedAt)
        w.key(.priority); w.int(priority)
        w.key(.runAt); w.time(runAt)
        w.key(.nextRunAt); w.time(nextRunAt)
        w.key(.timeout); if let t = timeout { w.raw(JSON.format(t)) } else { w.lit("null") }
        w.key(.exitCode); w.optInt(exitCode)
        w.key(.lastError); if let e = lastError { w.str(e) } else { w.lit("null") }
        w.key(.cwd); w.str(cwd)
        if batchIndex != 0 { w.key(.batchIndex); w.int(batchIndex) }
        if !env.isEmpty { w.key(.env); w.json(JSON.object(env.map { ($0.0, .string($0.1)) })) }
        if !dependsOn.isEmpty { w.key(.dependsOn); w.json(JSON.array(dependsOn.map { .string($0) })) }
        if let l = label { w.key(.label); w.str(l) }
        if let q = extras?.queue { w.key(.queue); w.str(q) }
        if slots != 1 { w.key(.slots); w.int(slots) }
        if paused { w.key(.paused); w.lit("true") }
        if stopsRunning { w.key(.stopsRunning); w.lit("true") }
        if let o = order { w.key(.order); w.int(Int(o)) }
        if let p = workerPid { w.key(.workerPid); w.int(p) }
        if let s = workerStart { w.key(.workerStart); w.int(s) }
        if let h = workerHost { w.key(.workerHost); w.str(h) }
        if let g = jobPgid { w.key(.jobPgid); w.int(g) }
        if let s = jobStart { w.key(.jobStart); w.int(s) }
        w.key(.startedAt); w.time(startedAt)
        w.key(.finishedAt); w.time(finishedAt)
        if let f = firstStartedAt { w.key(.firstStartedAt); w.time(f) }
        w.key(.history); w.lit("[")
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
            guard let key = JobSchema.Key(rawValue: k) else { continue }  // a later version's key
            switch key {
            case .id: id = v.stringValue
            case .command: command = v.stringValue
            case .state: state = v.stringValue.flatMap(JobState.init(rawValue:))
            case .createdAt: created = t(v)
            case .updatedAt: updated = t(v)
            case .maxRetries: maxRetries = Int(v.intValue ?? 3)
            case .attempts: attempts = Int(v.intValue ?? 0)
            case .priority: priority = Int(v.intValue ?? 0)
            case .batchIndex: batchIndex = Int(v.intValue ?? 0)
            case .runAt: runAt = t(v)
            case .nextRunAt: nextRunAt = t(v)
            case .timeout: timeout = v.doubleValue
            case .exitCode: exitCode = v.intValue.map { Int($0) }
            case .lastError: lastError = v.stringValue
            case .cwd: cwd = v.stringValue ?? "/"
            case .env: env = v.objectValue?.compactMap { k, v in v.stringValue.map { (k, $0) } } ?? []
            case .dependsOn: dependsOn = v.arrayValue?.compactMap(\.stringValue) ?? []
            case .label: label = v.stringValue
            case .queue: if let q = v.stringValue, QueueSettings.isValidName(q) { queue = q }
            case .slots: slots = Int(clamping: v.intValue ?? 1)
            case .paused: paused = v.boolValue ?? false
            case .stopsRunning: stopsRunning = v.boolValue ?? false  // `paused` comes first (JobSchema order)
            case .order: order = v.intValue
            case .workerPid: workerPid = v.intValue.map { Int($0) }
            case .workerStart: workerStart = v.intValue
            case .workerHost: workerHost = v.stringValue
            case .jobPgid: jobPgid = v.intValue.map { Int($0) }
            case .jobStart: jobStart = v.intValue
            case .startedAt: startedAt = t(v)
            case .finishedAt: finishedAt = t(v)
            case .firstStartedAt: firstStartedAt = t(v)
            case .history: history = v.arrayValue?.compactMap(Attempt.init(json:)) ?? []
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
