/// `jobs.minutes`: how many attempts ended in each recent minute, succeeded and failed, as of one
/// snapshot (a `generation G` line, then `minute ok failed` lines; a minute is Unix millis / 60,000),
/// so the dashboard's throughput chart reads this file and the journal, never every job's history.
/// Each compaction adds the attempts its folded changes ended and drops minutes older than two hours.
enum ThroughputFile {
    struct Minutes: Equatable {
        var ok: [Int64: Int] = [:]
        var failed: [Int64: Int] = [:]

        mutating func add(minute: Int64, ok succeeded: Bool) {
            if succeeded { ok[minute, default: 0] += 1 } else { failed[minute, default: 0] += 1 }
        }

        /// A change that takes a job out of `processing` ended its attempt: with a result, or back
        /// to pending when interrupted (cancelling a running job records no attempt end).
        mutating func add(from: JobState?, to: JobState?, updatedAt: Millis) {
            guard from == .processing, let t = to, t != .processing, t != .cancelled, updatedAt >= 0 else { return }
            add(minute: updatedAt / 60_000, ok: t == .completed)
        }

        /// Per minute of the hour up to `now`, oldest first (the dashboard's 60 bars).
        func lastHour(now: Millis) -> (ok: [Int], failed: [Int]) {
            let current = now / 60_000
            var o = [Int](repeating: 0, count: 60), f = o
            for k in 0..<60 {
                let m = current - Int64(59 - k)
                o[k] = ok[m] ?? 0
                f[k] = failed[m] ?? 0
            }
            return (o, f)
        }
    }

    static let keptMinutes: Int64 = 120

    /// Every attempt of every job that ended in the kept window (a snapshot written from the whole state).
    static func of(_ state: QueueState, now: Millis) -> Minutes {
        var m = Minutes()
        let oldest = now / 60_000 - keptMinutes
        for j in state.all {
            for a in j.history {
                guard let end = a.finishedAt, end / 60_000 >= oldest else { continue }
                m.add(minute: end / 60_000, ok: a.exitCode == 0 && a.signal == nil && a.error == nil)
            }
        }
        return m
    }

    static func encode(_ m: Minutes, generation: Int64, now: Millis) -> [[UInt8]] {
        var w = ByteWriter(capacity: 64 + 24 * (m.ok.count + m.failed.count))
        w.raw("generation \(generation)\n")
        let oldest = now / 60_000 - keptMinutes
        for minute in Set(m.ok.keys).union(m.failed.keys).sorted() where minute >= oldest {
            w.int(minute); w.lit(" "); w.int(m.ok[minute] ?? 0); w.lit(" "); w.int(m.failed[minute] ?? 0); w.lit("\n")
        }
        return [w.bytes]
    }

    /// nil when the file is missing, damaged or of another generation.
    static func read(_ path: String, generation: Int64) -> Minutes? {
        guard let bytes = try? Posix.readFile(path) else { return nil }
        var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: true)
        guard let first = lines.first, String(decoding: first, as: UTF8.self) == "generation \(generation)" else { return nil }
        lines.removeFirst()
        var m = Minutes()
        for l in lines {
            let f = l.split(separator: 0x20).map { Int64(String(decoding: $0, as: UTF8.self)) }
            guard f.count == 3, let minute = f[0], let ok = f[1], let failed = f[2],
                  (0...Int64(Int32.max)).contains(ok), (0...Int64(Int32.max)).contains(failed) else { return nil }
            m.ok[minute] = Int(ok)
            m.failed[minute] = Int(failed)
        }
        return m
    }
}
