import Glibc

/// `wait`: block until jobs are finished, woken by changes to the home (inotify), not by polling.
public enum WaitForJobs {
    public struct Progress {
        public var total: Int
        public var completed: Int
        public var failed: Int        // dead or cancelled (or purged)
        public var done: Int { completed + failed }
    }

    public enum Outcome: Equatable { case allCompleted, someFailed([String]), timedOut }

    /// Waits for `ids`, or for every job unfinished right now when `ids` is empty.
    public static func run(store: JSONStore, ids: [String], timeout: Double?, progress: (Progress) -> Void) throws -> Outcome {
        // Named jobs are looked up one by one (no load of the others); "every unfinished job"
        // needs them all, and then the state is kept and refreshed from the journal.
        let targets: [String]
        if ids.isEmpty {
            targets = try store.read { Array($0.waitingIds) + Array($0.processingIds) }
        } else {
            for id in ids where try store.job(id) == nil {
                throw QueueError.notFound("no job with id \"\(id)\"; see 'queuectl list'")
            }
            targets = ids
        }
        func current() throws -> [String: JobState?] {
            if ids.isEmpty { return try store.read { s in Dictionary(uniqueKeysWithValues: targets.map { ($0, s[$0]?.state) }) } }
            var out: [String: JobState?] = [:]
            for id in targets { out[id] = try store.job(id)?.state }
            return out
        }
        let watch = HomeWatch(home: store.home)
        let deadline = timeout.map { Clock.monotonic() + $0 }
        var last: Progress? = nil
        while true {
            let states = try current()
            var p = Progress(total: targets.count, completed: 0, failed: 0)
            var failed: [String] = []
            for id in targets {
                guard let st = states[id] ?? nil else { p.failed += 1; failed.append(id); continue }  // purged
                if st == .completed { p.completed += 1 } else if st.isFinished { p.failed += 1; failed.append(id) }
            }
            if last == nil || last!.done != p.done { progress(p) }
            last = p
            if p.done == p.total { return failed.isEmpty ? .allCompleted : .someFailed(failed) }
            var wait = 1.0  // fallback look, in case a change was missed
            if let d = deadline {
                let left = d - Clock.monotonic()
                if left <= 0 { return .timedOut }
                wait = min(wait, left)
            }
            var fds = [pollfd(readable: watch?.fd)]
            Posix.poll(&fds, seconds: wait + 0.001)
            watch?.drain()
        }
    }
}
