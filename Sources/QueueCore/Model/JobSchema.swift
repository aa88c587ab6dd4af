/// The job record's keys, in the order its one writer uses (`Job.writeCompact`; `Job.json` reads
/// that output back) and the byte scanners rely on (ScheduleScan, RecentJobs, OmittedJobs:
/// `id` first; `state` before the times; `command` before `created_at`; `cwd` before
/// `batch_index` and `env`; `finished_at`, then `first_started_at`, just before `history`).
/// Optional keys are left out when empty. `JobSchemaTests` fails if a writer's order or a key
/// changes; `Tests/fixtures/home-v1` is a home in this format that every later version must read.
public enum JobSchema {
    public static let keys: [String] = [
        "id", "command", "state", "attempts", "max_retries", "created_at", "updated_at", "priority",
        "run_at", "next_run_at", "timeout", "exit_code", "last_error", "cwd", "batch_index", "env",
        "depends_on", "worker_pid", "worker_start", "worker_host", "job_pgid", "job_start",
        "started_at", "finished_at", "first_started_at", "history",
    ]

    /// Keys written only when they hold something.
    public static let optionalKeys: Set<String> = [
        "batch_index", "env", "depends_on", "worker_pid", "worker_start", "worker_host", "job_pgid",
        "job_start", "first_started_at",
    ]

    /// The keys of one attempt in `history`, in order.
    public static let attemptKeys: [String] = [
        "number", "started_at", "finished_at", "duration_ms", "exit_code", "signal", "error", "worker_pid", "output_bytes",
    ]
}
