import Glibc

extension JSONStore {
    /// What the dashboard's overview shows, read without loading every job: the counts (snapshot
    /// header and the journal's transitions), the newest jobs and the running ones (`recent`),
    /// and attempts per minute over the last hour (`jobs.minutes` and the journal).
    public struct Overview {
        public var counts: [JobState: Int]
        public var recent: [Job]
        public var processing: [Job]
        public var completedPerMinute: [Int]
        public var failedPerMinute: [Int]
    }

    /// nil when the files cannot answer this way (a process that keeps every job, or a home whose
    /// snapshot has no `jobs.minutes` of its generation yet): then the caller loads the jobs.
    public func overview(now: Millis, recent k: Int) throws -> Overview? {
        guard !keepsState else { return nil }
        let counts: [JobState: Int]
        let minutes: ThroughputFile.Minutes?
        do {
            try lock(LOCK_SH)
            defer { unlock() }
            let view = try refresh(full: false)
            counts = try lightCounts(view)
            minutes = try throughput(view)
        }
        guard let m = minutes, let newest = try self.recent(limit: k, state: nil),
              let running = try self.recent(limit: max(0, counts[.processing] ?? 0), state: .processing) else { return nil }
        let hour = m.lastHour(now: now)
        return Overview(counts: counts, recent: newest.jobs, processing: running.jobs,
                        completedPerMinute: hour.ok, failedPerMinute: hour.failed)
    }

    /// Attempts ended per minute: the snapshot's `jobs.minutes` plus the changes made since it,
    /// whose `from`/`to` and `updated_at` are read from each line without decoding the job.
    func throughput(_ view: View) throws -> ThroughputFile.Minutes? {
        var m = ThroughputFile.Minutes()
        if view.snapshotExists {
            guard let kept = ThroughputFile.read(home.throughput, generation: view.generation) else { return nil }
            m = kept
        }
        let updatedKey = JobSchema.Key.updatedAt.stringField
        let jobKey = Array(",\"job\":".utf8)
        try view.withChanges { buf in
            for (n, r) in JournalFile.lineRanges(buf, from: 0, to: buf.count).enumerated() {
                let line = UnsafeBufferPointer(rebasing: buf[r])
                let e = try JournalFile.scan(line, path: home.journal, lineNo: n + 1)
                guard e.from == .processing, let j = ScheduleScan.find(jobKey, in: line, from: 0, to: line.count),
                      let u = ScheduleScan.find(updatedKey, in: line, from: j, to: line.count),
                      let at = ScheduleScan.canonicalTime(in: line, at: u + updatedKey.count)
                else { continue }
                m.add(from: e.from, to: e.to, updatedAt: at)
            }
        }
        return m
    }
}
