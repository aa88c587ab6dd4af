/// One line of `queue list` (and the dashboard's queue table): a queue's settings and its jobs
/// per state. Every queue that a setting or a job names is listed; `default` always is.
public struct QueueSummary {
    public var name: String
    public var settings: QueueSettings.Queue
    public var counts: [JobState: Int]
    /// Slots taken by its running jobs.
    public var runningSlots: Int
    /// Its jobs held by `pause ID`.
    public var heldJobs: Int

    public var json: JSON {
        .object([
            ("name", .string(name)), ("parallel", .int(Int64(settings.parallel))), ("paused", .bool(settings.paused)),
            ("stops_running", .bool(settings.stopsRunning)), ("running_slots", .int(Int64(runningSlots))),
            ("held_jobs", .int(Int64(heldJobs))),
            ("counts", .object(JobState.allCases.map { ($0.rawValue, .int(Int64(counts[$0] ?? 0))) })),
        ])
    }

    /// Reads every job (a listing, like `list`).
    public static func all(store: JSONStore) throws -> [QueueSummary] {
        let settings = try store.queueSettings()
        var byName: [String: QueueSummary] = [:]
        func entry(_ n: String) -> QueueSummary { byName[n] ?? QueueSummary(name: n, settings: settings[n], counts: [:], runningSlots: 0, heldJobs: 0) }
        for n in settings.names + [QueueSettings.defaultQueue] { byName[n] = entry(n) }
        try store.read { state in
            for j in state.all {
                var s = entry(j.queue)
                s.counts[j.state, default: 0] += 1
                if j.state == .processing { s.runningSlots += j.slots }
                if j.paused && j.state.isLive { s.heldJobs += 1 }
                byName[j.queue] = s
            }
        }
        return byName.keys.sorted().compactMap { byName[$0] }
    }
}
