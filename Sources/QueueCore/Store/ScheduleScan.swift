import Glibc

/// Finds the jobs waiting for a future time (delayed or backing off) by scanning job lines for
/// three keys, without decoding jobs: `status` stays fast with 100,000 jobs in the home.
/// Relies on the fixed key order of `Job.writeCompact` (id first, state before next_run_at and
/// run_at before next_run_at, all after `command`, whose quotes are escaped so the raw key
/// patterns cannot occur inside it).
enum ScheduleScan {
    struct Found { var id: String; var waiting: Bool; var due: Millis?; var state: JobState? = nil }

    static func find(_ pat: [UInt8], in buf: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> Int? {
        guard let base = buf.baseAddress, let first = pat.first else { return nil }
        var i = from
        while i + pat.count <= to {
            guard let p = memchr(base + i, Int32(first), to - i) else { return nil }
            let at = base.distance(to: p.assumingMemoryBound(to: UInt8.self))
            if at + pat.count > to { return nil }
            var same = true
            for k in 1..<pat.count where buf[at + k] != pat[k] { same = false; break }
            if same { return at }
            i = at + 1
        }
        return nil
    }

    static let idKey = JobSchema.recordStart
    static let stateKey = [0x22] + JobSchema.Key.state.stringField
    static let runAtKey = JobSchema.Key.runAt.field
    static let nextKey = JobSchema.Key.nextRunAt.field

    /// Where a job stands in creation order (created_at, batch_index, id), read from its record
    /// (`created_at` comes after `command`, whose quotes are escaped; `batch_index` after `cwd`).
    struct CreationKey: Comparable {
        var created: Millis, batch: Int, id: String
        static func < (a: CreationKey, b: CreationKey) -> Bool {
            if a.created != b.created { return a.created < b.created }
            if a.batch != b.batch { return a.batch < b.batch }
            return a.id < b.id
        }
        init(created: Millis, batch: Int, id: String) { (self.created, self.batch, self.id) = (created, batch, id) }
        init(_ job: Job) { self.init(created: job.createdAt, batch: job.batchIndex, id: job.id) }
    }
    static let createdKey = JobSchema.Key.createdAt.stringField
    static let batchKey = JobSchema.Key.batchIndex.field
    static let cwdKey = JobSchema.Key.cwd.stringField

    /// The time written at `at` in the canonical form `Clock.iso` writes (24 bytes), if it is one.
    static func canonicalTime(in buf: UnsafeBufferPointer<UInt8>, at: Int) -> Millis? {
        guard at >= 0, at + 24 <= buf.count else { return nil }
        return Clock.parseCanonical(String(decoding: UnsafeBufferPointer(rebasing: buf[at..<(at + 24)]), as: UTF8.self))
    }

    /// The creation key of the job object at `start..<end` (a record, or the `job` of a change line).
    static func creationKey(in buf: UnsafeBufferPointer<UInt8>, start: Int, end: Int) -> CreationKey? {
        guard let f = job(in: buf, start: start, end: end), let c = find(createdKey, in: buf, from: start, to: end),
              c + createdKey.count + 24 <= end, let created = canonicalTime(in: buf, at: c + createdKey.count) else { return nil }
        var batch = 0
        if let w = find(cwdKey, in: buf, from: c, to: end), let b = find(batchKey, in: buf, from: w, to: end) {
            var i = b + batchKey.count
            var v = 0
            while i < end, buf[i] >= 0x30, buf[i] <= 0x39, v < Int.max / 10 - 10 { v = v * 10 + Int(buf[i] - 0x30); i += 1 }
            batch = v
        }
        return CreationKey(created: created, batch: batch, id: f.id)
    }

    static let finishedStates: [(JobState, [UInt8])] = [JobState.completed, .dead, .cancelled].map { ($0, Array("\($0.rawValue)\"".utf8)) }

    /// The state of a finished job's record, read from its `state` key; nil for a live job.
    static func finishedState(_ record: UnsafeBufferPointer<UInt8>) -> JobState? {
        guard let k = find(stateKey, in: record, from: 0, to: record.count) else { return nil }
        let v = k + stateKey.count
        for (state, raw) in finishedStates where v + raw.count <= record.count {
            var same = true
            for i in 0..<raw.count where record[v + i] != raw[i] { same = false; break }
            if same { return state }
        }
        return nil
    }

    static let historyKey = JobSchema.Key.history.field + [0x5B]
    static let finishedAtKey = JobSchema.Key.finishedAt.field
    static let firstStartedKey = JobSchema.Key.firstStartedAt.field

    /// A record's own `finished_at`, nil when it is null or cannot be read this way. Found just
    /// before the last `,"history":[` (an `env` before it may hold any key; the attempts after
    /// it hold no `history` key), past an optional `first_started_at`.
    static func finishedAt(_ r: UnsafeBufferPointer<UInt8>) -> Millis? {
        func matches(_ pat: [UInt8], endingAt end: Int) -> Bool {
            guard end >= pat.count, end <= r.count else { return false }
            for k in 0..<pat.count where r[end - pat.count + k] != pat[k] { return false }
            return true
        }
        var last: Int? = nil
        var from = 0
        while let h = find(historyKey, in: r, from: from, to: r.count) { last = h; from = h + 1 }
        guard var end = last else { return nil }
        let quotedTime = 26  // "YYYY-MM-DDTHH:MM:SS.mmmZ"
        if end >= quotedTime, matches(firstStartedKey, endingAt: end - quotedTime) { end -= quotedTime + firstStartedKey.count }
        guard end >= quotedTime, r[end - 1] == 0x22, r[end - quotedTime] == 0x22, matches(finishedAtKey, endingAt: end - quotedTime) else { return nil }
        return canonicalTime(in: r, at: end - 25)
    }

    /// Reads one job object that starts at `start` (its `{"id":"`).
    static func job(in buf: UnsafeBufferPointer<UInt8>, start: Int, end: Int) -> Found? {
        guard start + idKey.count < end else { return nil }
        var i = start + idKey.count
        let idStart = i
        while i < end && buf[i] != 0x22 { i += 1 }
        let id = String(decoding: UnsafeBufferPointer(rebasing: buf[idStart..<i]), as: UTF8.self)
        guard let s = find(stateKey, in: buf, from: i, to: end) else { return nil }
        var j = s + stateKey.count
        let stStart = j
        while j < end && buf[j] != 0x22 { j += 1 }
        let state = JobState(rawValue: String(decoding: UnsafeBufferPointer(rebasing: buf[stStart..<j]), as: UTF8.self))
        guard let st = state, st.isWaiting else { return Found(id: id, waiting: false, due: nil, state: state) }
        func time(after key: [UInt8]) -> Millis? {
            guard let k = find(key, in: buf, from: j, to: end) else { return nil }
            let v = k + key.count
            guard v + 26 <= end, buf[v] == 0x22 else { return nil }
            return canonicalTime(in: buf, at: v + 1)
        }
        return Found(id: id, waiting: true, due: time(after: nextKey) ?? time(after: runAtKey), state: st)
    }
}

extension JSONStore {
    /// How many waiting jobs are not yet due, and when the next one is. Reads job lines, decodes none.
    public func scheduled(now: Millis) throws -> (count: Int, next: Millis?) {
        try lock(LOCK_SH)
        defer { unlock() }
        let view = try refresh(full: false)
        var due: [String: Millis] = [:]
        if view.snapshotExists, let known = DueIndexFile.read(home.dueIndex, generation: view.generation) {
            due = known.filter { $0.value > now }
        } else if view.snapshotExists, let snap = try Posix.readFile(view.snapshotPath) {
            // No index for this snapshot (an older home, or a crash mid-compaction): scan the jobs.
            snap.withUnsafeBufferPointer { buf in
                var start = 0
                while start < buf.count {
                    let nl = JournalFile.nextNewline(buf, from: start) ?? buf.count
                    if nl - start > 8, buf[start] == UInt8(ascii: "{"), buf[start + 1] == UInt8(ascii: "\""), buf[start + 2] == UInt8(ascii: "i"),
                       let f = ScheduleScan.job(in: buf, start: start, end: nl), f.waiting, let d = f.due, d > now {
                        due[f.id] = d
                    }
                    start = nl + 1
                }
            }
        }
        do {
            let jobKey = Array(",\"job\":".utf8)
            view.withChanges { buf in
                for r in JournalFile.lineRanges(buf, from: 0, to: buf.count) {
                    guard let k = ScheduleScan.find(jobKey, in: buf, from: r.lowerBound, to: r.upperBound) else {
                        // a deletion: {"id":"X","op":"del",…}
                        if let id = SnapshotFile.recordId(UnsafeBufferPointer(rebasing: buf[r])) { due[id] = nil }
                        continue
                    }
                    guard let f = ScheduleScan.job(in: buf, start: k + jobKey.count, end: r.upperBound) else { continue }
                    if f.waiting, let d = f.due, d > now { due[f.id] = d } else { due[f.id] = nil }
                }
            }
        }
        return (due.count, due.values.min())
    }
}
