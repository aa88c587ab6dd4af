import XCTest
@testable import QueueCore

/// The scheduler's incremental indexes against the plain linear scan as an oracle: random
/// sequences of enqueue, claim, finish, retry, cancel, purge and the passing of time; after
/// every step both must pick the same next job, the same next due time, and the same blocked jobs.
final class ScheduleIndexTests: XCTestCase {

    // The oracle: every waiting job examined on every question.
    static func linearNext(_ s: QueueState, now: Millis) -> Job? {
        var best: Job? = nil
        for id in s.waitingIds {
            guard let j = s[id], Scheduler.due(j) <= now else { continue }
            if !j.dependsOn.isEmpty, case .ready = Scheduler.dependencies(of: j, in: s) {} else if !j.dependsOn.isEmpty { continue }
            if let b = best, !Scheduler.precedes(j, b) { continue }
            best = j
        }
        return best
    }

    static func linearNextDue(_ s: QueueState, after now: Millis) -> Millis? {
        var best: Millis? = nil
        for id in s.waitingIds {
            guard let j = s[id] else { continue }
            if !j.dependsOn.isEmpty, case .ready = Scheduler.dependencies(of: j, in: s) {} else if !j.dependsOn.isEmpty { continue }
            let d = Scheduler.due(j)
            if d > now && (best == nil || d < best!) { best = d }
        }
        return best
    }

    static func linearBlocked(_ s: QueueState) -> [String] {
        s.waitingIds.filter { id in
            guard let j = s[id], !j.dependsOn.isEmpty, case .blocked = Scheduler.dependencies(of: j, in: s) else { return false }
            return true
        }.sorted()
    }

    /// Seeds 1-8, each run on its own: the first step where the index and the scan disagree ends
    /// that seed, and the next seed still runs.
    func testTheIndexesAgreeWithTheLinearScan() {
        func oneSeed(_ seed: UInt64) {
            var rng = SeededRNG(seed: seed)
            var state = QueueState()
            var now: Millis = 1_000_000
            var made = 0
            let config = Config()
            for step in 0..<1500 {
                switch rng.int(100) {
                case 0..<30:  // enqueue, sometimes delayed, sometimes after other jobs
                    made += 1
                    var j = Job(id: "j\(made)", command: "true", maxRetries: rng.int(3), createdAt: now - Millis(rng.int(5)), cwd: "/")
                    j.priority = rng.int(4) - 1
                    j.batchIndex = rng.int(3)
                    if rng.int(4) == 0 { j.runAt = now + Millis(rng.int(5000)); j.nextRunAt = j.runAt }
                    if made > 1 && rng.int(5) == 0 { j.dependsOn = ["j\(1 + rng.int(made - 1))"] }
                    state.put(j)
                case 30..<50:  // a worker claims what the index offers
                    if var j = state.nextRunnable(now: now) {
                        Lifecycle.claim(&j, now: now, workerPid: 1, workerStart: nil)
                        state.put(j)
                    }
                case 50..<70:  // a running job ends: completed, retried later, or dead
                    if let id = state.processingIds.sorted().first, var j = state[id] {
                        var o = Outcome(exitCode: rng.int(3) == 0 ? 1 : 0)
                        if rng.int(10) == 0 { o.error = "worker lost" }
                        Lifecycle.finish(&j, outcome: o, now: now, config: config)
                        state.put(j)
                    }
                case 70..<75:  // dlq retry
                    if let j = state.all.first(where: { $0.state == .dead }) {
                        var r = j
                        Lifecycle.retryFromDLQ(&r, now: now)
                        state.put(r)
                    }
                case 75..<80:  // cancel a waiting job
                    if let id = state.waitingIds.sorted().first, var j = state[id] {
                        Lifecycle.cancel(&j, now: now, reason: "cancelled")
                        state.put(j)
                    }
                case 80..<84:  // purge a finished job
                    if let j = state.all.first(where: { $0.state.isFinished }) { state.remove(j.id) }
                case 84..<88:  // cancel what the index says is blocked, as a worker does
                    for (var j, why) in state.blockedJobs(now: now) {
                        Lifecycle.cancel(&j, now: now, reason: "not run: " + why)
                        state.put(j)
                    }
                default:  // time passes
                    now += Millis(rng.int(2000))
                }
                let want = ScheduleIndexTests.linearNext(state, now: now)?.id
                let got = state.nextRunnable(now: now)?.id
                XCTAssertEqual(got, want, "seed \(seed) step \(step): index picks \(got ?? "nothing"), scan picks \(want ?? "nothing")")
                XCTAssertEqual(state.nextDue(after: now), ScheduleIndexTests.linearNextDue(state, after: now), "seed \(seed) step \(step): next due")
                XCTAssertEqual(state.blockedJobs(now: now).map(\.0.id), ScheduleIndexTests.linearBlocked(state), "seed \(seed) step \(step): blocked")
                if got != want { return }  // on to the next seed
            }
        }
        for seed in [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64] { oneSeed(seed) }
    }

    func testTheHeapPopsInOrder() {
        var h = BinaryHeap<Int>(<)
        for v in [5, 3, 9, 1, 7, 3, 8] { h.push(v) }
        var out: [Int] = []
        while let v = h.pop() { out.append(v) }
        XCTAssertEqual(out, [1, 3, 3, 5, 7, 8, 9])
        h.replace(with: [4, 2, 6])
        XCTAssertEqual(h.peek, 2)
    }
}
