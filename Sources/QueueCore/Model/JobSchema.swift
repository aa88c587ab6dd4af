/// The job record's keys, declared once, in the order its one writer uses (`Job.writeCompact`;
/// `Job.json` reads that output back) and the byte scanners rely on (ScheduleScan, RecentJobs,
/// OmittedJobs: `id` first; `state` before the times; `command` before `created_at`; `cwd` before
/// `batch_index` and `env`; `finished_at`, then `first_started_at`, just before `history`).
/// The writer names each key through `Key`, the decoder switches over `Key` exhaustively (a new
/// case does not compile until it is read back), and the scanners take their byte patterns from
/// it. `JobSchemaTests` fails if the written order differs from the declared one;
/// `Tests/fixtures/home-v1` is a home in this format that every later version must read.
public enum JobSchema {
    public enum Key: String, CaseIterable {
        case id, command, state, attempts
        case maxRetries = "max_retries", createdAt = "created_at", updatedAt = "updated_at", priority
        case runAt = "run_at", nextRunAt = "next_run_at", timeout
        case exitCode = "exit_code", lastError = "last_error", cwd
        case batchIndex = "batch_index", env
        case dependsOn = "depends_on", label, queue, slots, paused, stopsRunning = "stops_running", order, workerPid = "worker_pid", workerStart = "worker_start"
        case workerHost = "worker_host", jobPgid = "job_pgid", jobStart = "job_start"
        case startedAt = "started_at", finishedAt = "finished_at", firstStartedAt = "first_started_at", history

        /// Written only when it holds something.
        public var isOptional: Bool {
            switch self {
            case .batchIndex, .env, .dependsOn, .label, .queue, .slots, .paused, .stopsRunning, .order, .workerPid, .workerStart, .workerHost, .jobPgid, .jobStart, .firstStartedAt: true
            default: false
            }
        }

        /// `,"name":` — how the key follows another in a record (what the scanners look for).
        public var field: [UInt8] { Array(",\"\(rawValue)\":".utf8) }
        /// `,"name":"` — the key of a string or time value.
        public var stringField: [UInt8] { field + [0x22] }
    }

    /// The keys of one attempt in `history`, in order.
    public enum AttemptKey: String, CaseIterable {
        case number, startedAt = "started_at", finishedAt = "finished_at", durationMs = "duration_ms"
        case exitCode = "exit_code", signal, error, workerPid = "worker_pid", workerHost = "worker_host", outputBytes = "output_bytes"
    }

    public static var keys: [String] { Key.allCases.map(\.rawValue) }
    public static var optionalKeys: Set<String> { Set(Key.allCases.filter(\.isOptional).map(\.rawValue)) }
    public static var attemptKeys: [String] { AttemptKey.allCases.map(\.rawValue) }
    /// `{"id":"` — how every record (and every journal line) begins.
    public static let recordStart: [UInt8] = Array("{\"id\":\"".utf8)
}

extension ByteWriter {
    /// Writes `,"name":` for a record's key (the first key opens the record instead).
    @inline(__always) mutating func key(_ k: JobSchema.Key) {
        if k == .id { lit("{\"id\":"); return }
        bytes.append(0x2C); bytes.append(0x22); raw(k.rawValue); bytes.append(0x22); bytes.append(0x3A)
    }

    @inline(__always) mutating func attemptKey(_ k: JobSchema.AttemptKey) {
        bytes.append(k == .number ? 0x7B : 0x2C); bytes.append(0x22); raw(k.rawValue); bytes.append(0x22); bytes.append(0x3A)
    }
}
