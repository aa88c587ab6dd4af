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
        let targets: [String] = try store.read { state in
            if ids.isEmpty { return Array(state.waitingIds) + Array(state.processingIds) }
            for id in ids where state[id] == nil {
                throw QueueError.notFound("no job with id \"\(id)\"; see 'queuectl list'")
            }
            return ids
        }
        let watch = HomeWatch(home: store.home)
        let deadline = timeout.map { Clock.monotonic() + $0 }
        var last: Progress? = nil
        while true {
            let (p, failed) = try store.read { state -> (Progress, [String]) in
                var p = Progress(total: targets.count, completed: 0, failed: 0)
                var failed: [String] = []
                for id in targets {
                    guard let j = state[id] else { p.failed += 1; failed.append(id); continue }
                    if j.state == .completed { p.completed += 1 } else if j.state.isFinished { p.failed += 1; failed.append(id) }
                }
                return (p, failed)
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
            var fds = [pollfd(fd: watch?.fd ?? -1, events: Int16(POLLIN), revents: 0)]
            Posix.poll(&fds, timeoutMs: Int32(wait * 1000) + 1)
            watch?.drain()
        }
    }
}
