/// Execution statistics computed from the jobs and their attempt histories.
public struct Metrics {
    public var counts: [JobState: Int] = [:]
    public var completedPerMinute: [Int] = Array(repeating: 0, count: 60)   // oldest first; last = this minute
    public var failedPerMinute: [Int] = Array(repeating: 0, count: 60)      // failed attempts
    public var successRate: Double?          // completed / (completed + dead), over finished jobs
    public var attemptsPerJob: Double?       // mean attempts of finished jobs
    public var runTimeP50: Double?           // seconds, over finished attempts
    public var runTimeP95: Double?
    public var runTimeMax: Double?
    public var waitP50: Double?              // enqueue → first start, seconds
    public var waitP95: Double?
    public var totalAttempts = 0
    public var totalSucceeded = 0
    public var totalFailed = 0
    public var runTimes: [Double] = []

    public static func compute(_ state: QueueState, now: Millis) -> Metrics {
        var m = Metrics()
        m.counts = state.counts
        var waits: [Double] = []
        var finishedAttempts = 0, finishedJobs = 0
        // One bucket per clock minute, the current one last (as jobs.minutes keeps them).
        let currentMinute = now / 60_000
        for j in state.all {
            if let f = j.firstStartedAt { waits.append(Double(f - j.createdAt) / 1000) }
            if j.state == .completed || j.state == .dead {
                finishedJobs += 1
                finishedAttempts += j.history.count
            }
            for a in j.history {
                guard let end = a.finishedAt else { continue }
                m.totalAttempts += 1
                let ok = a.exitCode == 0 && a.signal == nil && a.error == nil
                if ok { m.totalSucceeded += 1 } else { m.totalFailed += 1 }
                m.runTimes.append(Double(end - a.startedAt) / 1000)
                let age = currentMinute - end / 60_000
                if age >= 0 && age < 60 {
                    let bucket = 59 - Int(age)
                    if ok { m.completedPerMinute[bucket] += 1 } else { m.failedPerMinute[bucket] += 1 }
                }
            }
        }
        let done = state.count(.completed), dead = state.count(.dead)
        if done + dead > 0 { m.successRate = Double(done) / Double(done + dead) }
        if finishedJobs > 0 { m.attemptsPerJob = Double(finishedAttempts) / Double(finishedJobs) }
        m.runTimes.sort()
        waits.sort()
        m.runTimeP50 = percentile(m.runTimes, 0.50)
        m.runTimeP95 = percentile(m.runTimes, 0.95)
        m.runTimeMax = m.runTimes.last
        m.waitP50 = percentile(waits, 0.50)
        m.waitP95 = percentile(waits, 0.95)
        return m
    }

    /// Nearest-rank percentile of sorted values.
    public static func percentile(_ sorted: [Double], _ p: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let rank = Int((p * Double(sorted.count)).rounded(.up))
        return sorted[min(sorted.count - 1, max(0, rank - 1))]
    }

    public var json: JSON {
        func d(_ v: Double?) -> JSON { v.map { .double(($0 * 1000).rounded() / 1000) } ?? .null }
        return .object([
            ("counts", .object(JobState.allCases.map { ($0.rawValue, .int(Int64(counts[$0] ?? 0))) })),
            ("completed_per_minute", .array(completedPerMinute.map { .int(Int64($0)) })),
            ("failed_per_minute", .array(failedPerMinute.map { .int(Int64($0)) })),
            ("success_rate", d(successRate)),
            ("attempts_per_job", d(attemptsPerJob)),
            ("attempts_total", .int(Int64(totalAttempts))),
            ("attempts_succeeded", .int(Int64(totalSucceeded))),
            ("attempts_failed", .int(Int64(totalFailed))),
            ("run_time_seconds", .object([("p50", d(runTimeP50)), ("p95", d(runTimeP95)), ("max", d(runTimeMax))])),
            ("queue_wait_seconds", .object([("p50", d(waitP50)), ("p95", d(waitP95))])),
        ])
    }
}
