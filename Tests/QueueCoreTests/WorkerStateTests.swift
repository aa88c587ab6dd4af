import Foundation
import Glibc
import XCTest
@testable import QueueCore

/// A worker's state leaves the snapshot's finished jobs on disk (OmittedJobs): it must still
/// answer every question a worker asks exactly as a state that holds every job does.
final class WorkerStateTests: XCTestCase {
    typealias TempHome = StoreTests.TempHome

    static let never = 1 << 40

    /// What a worker asks before and after each change, answered by a store.
    struct Answers: Equatable {
        var next: String?
        var nextDue: Millis?
        var blocked: [String]
        var counts: [JobState: Int]
    }

    static func answers(_ s: JSONStore) throws -> Answers {
        try s.transaction { tx in
            let state = try tx.state
            var counts: [JobState: Int] = [:]
            for st in JobState.allCases { counts[st] = state.count(st) }
            return Answers(next: try tx.nextRunnable()?.id, nextDue: try tx.nextDue(),
                           blocked: try tx.blockedJobs().map(\.0.id).sorted(), counts: counts)
        }
    }

    /// Random commands (enqueue with dependencies on any job, dlq retry, cancel, purge) from one
    /// process and claims and results from a worker, with compactions of both kinds and worker
    /// restarts between them; after every step the worker answers as a fresh whole load does.
    /// Seeds 1-6, each run on its own: the first step where the answers differ, or an error, ends
    /// that seed, and the next seed still runs.
    func testAWorkerThatOmitsFinishedJobsAnswersLikeOneThatHoldsThemAll() {
        func oneSeed(_ seed: UInt64) throws {
            let t = TempHome()
            var rng = SeededRNG(seed: seed)
            func store(keepsFinished: Bool) -> JSONStore {
                let s = JSONStore(home: t.home)
                s.compactThreshold = WorkerStateTests.never
                s.keepsFinished = keepsFinished
                return s
            }
            var worker = store(keepsFinished: false)
            worker.finishedResidentLimit = 8  // reloads happen within the test
            let commands = store(keepsFinished: true)
            var made = 0
            var ids: [String] = []
            let config = Config()
            for step in 0..<400 {
                let now = Clock.nowMillis()
                switch rng.int(100) {
                case 0..<25:  // enqueue, sometimes after any earlier job (finished ones included)
                    try commands.transaction { tx in
                        for _ in 0...rng.int(2) {
                            made += 1
                            var j = Job(id: "j\(made)", command: "echo \"x\",\"state\":\"completed\"", maxRetries: rng.int(2),
                                        createdAt: 1_700_000_000_000 + Millis(made), cwd: "/")
                            j.priority = rng.int(3) - 1
                            if rng.int(5) == 0 { j.runAt = now + 3_600_000 + Millis(rng.int(100_000)); j.nextRunAt = j.runAt }
                            if !ids.isEmpty && rng.int(3) == 0 { j.dependsOn = [ids[rng.int(ids.count)]] }
                            try tx.put(j)
                            ids.append(j.id)
                        }
                    }
                case 25..<45:  // the worker claims
                    _ = try worker.transaction { tx -> String? in
                        guard var j = try tx.nextRunnable() else { return nil }
                        Lifecycle.claim(&j, now: tx.now, workerPid: 1, workerStart: nil)
                        try tx.put(j)
                        return j.id
                    }
                case 45..<65:  // the worker records a result
                    try worker.transaction { tx in
                        guard let id = try tx.state.processingIds.sorted().first, var j = try tx.job(id) else { return }
                        Lifecycle.finish(&j, outcome: Outcome(exitCode: rng.int(3) == 0 ? 1 : 0), now: tx.now, config: config)
                        // A retry an hour away: both answers below are asked at slightly different times.
                        if j.state == .failed { j.nextRunAt = tx.now + 3_600_000 + Millis(rng.int(100_000)) }
                        try tx.put(j)
                    }
                case 65..<70:  // dlq retry of a job the worker may hold only on disk
                    try commands.transaction { tx in
                        guard let j = try tx.state.all.filter({ $0.state == .dead }).sorted(by: { $0.id < $1.id }).first else { return }
                        var r = j
                        Lifecycle.retryFromDLQ(&r, now: tx.now)
                        try tx.put(r)
                    }
                case 70..<75:  // cancel a waiting job
                    try commands.transaction { tx in
                        guard let id = try tx.state.waitingIds.sorted().first, var j = try tx.job(id) else { return }
                        Lifecycle.cancel(&j, now: tx.now, reason: "cancelled")
                        try tx.put(j)
                    }
                case 75..<80:  // purge a finished job, or let the worker's retention purge them all
                    if rng.int(4) == 0 {
                        let purged = try Purge.run(store: worker, state: nil, olderThan: nil)
                        let left = try commands.read { s in s.all.filter { $0.state.isFinished }.count }
                        XCTAssertEqual(left, 0, "seed \(seed) step \(step): the worker's retention left \(left) finished jobs (purged \(purged.count))")
                    } else {
                        try commands.transaction { tx in
                            let finished = try tx.state.all.filter { $0.state.isFinished }.map(\.id).sorted()
                            if !finished.isEmpty { try tx.delete(finished[rng.int(finished.count)]) }
                        }
                    }
                case 80..<85:  // the worker cancels what can never run
                    try worker.transaction { tx in
                        for (var j, why) in try tx.blockedJobs() {
                            Lifecycle.cancel(&j, now: tx.now, reason: "not run: " + why)
                            try tx.put(j)
                        }
                    }
                case 85..<92:  // a compaction the worker follows
                    _ = try commands.compactWaiting()
                case 92..<96:  // a compaction that replaces the journal: the worker reloads
                    try commands.compactNow()
                default:  // the worker restarts
                    worker = store(keepsFinished: false)
                    worker.finishedResidentLimit = 8
                }
                let want = try WorkerStateTests.answers(store(keepsFinished: true))
                let got = try WorkerStateTests.answers(worker)
                XCTAssertEqual(got, want, "seed \(seed) step \(step)")
                if got != want { return }  // on to the next seed
                if !ids.isEmpty {
                    let id = ids[rng.int(ids.count)]
                    XCTAssertEqual(try worker.job(id), try store(keepsFinished: true).job(id), "seed \(seed) step \(step): job \(id)")
                }
            }
        }
        for seed in [1, 2, 3, 4, 5, 6] as [UInt64] {
            do { try oneSeed(seed) } catch { XCTFail("seed \(seed): \(error)") }
        }
    }

    func testAWorkerHoldsOnlyLiveJobsAndTheFinishedOnesSinceItsLoad() throws {
        let t = TempHome()
        let s = t.store()
        try s.transaction { tx in
            for n in 0..<50 {
                var j = Job(id: "f\(n)", command: "true", maxRetries: 0, createdAt: 1_000 + Millis(n), cwd: "/")
                j.state = n % 5 == 0 ? .dead : .completed
                j.finishedAt = 2_000
                try tx.put(j)
            }
            var live = Job(id: "live", command: "true", maxRetries: 0, createdAt: 5_000, cwd: "/")
            live.dependsOn = ["f1"]
            try tx.put(live)
            var doomed = Job(id: "doomed", command: "true", maxRetries: 0, createdAt: 5_001, cwd: "/")
            doomed.dependsOn = ["f0"]
            try tx.put(doomed)
        }
        try s.compactNow()
        let worker = t.store()
        worker.keepsFinished = false
        let answers = try WorkerStateTests.answers(worker)
        XCTAssertEqual(answers.next, "live", "a completed dependency on disk lets its dependent run")
        XCTAssertEqual(answers.blocked, ["doomed"], "a dead dependency on disk blocks its dependent")
        XCTAssertTrue(answers.counts[.completed] == 40 && answers.counts[.dead] == 10 && answers.counts[.pending] == 2, "\(answers.counts)")
        XCTAssertEqual(try worker.read { $0.all.map(\.id).sorted() }, ["doomed", "live"], "only live jobs are in memory")
        XCTAssertEqual(try worker.job("f3")?.state, .completed, "a finished job is still found by id")
        // A job finished since the load stays in memory until the next reload.
        try worker.transaction { tx in
            guard var j = try tx.job("live") else { return }
            Lifecycle.claim(&j, now: tx.now, workerPid: 1, workerStart: nil)
            Lifecycle.finish(&j, outcome: Outcome(exitCode: 0), now: tx.now, config: Config())
            try tx.put(j)
        }
        XCTAssertEqual(try worker.read { $0.all.map(\.id).sorted() }, ["doomed", "live"])
        XCTAssertEqual(try t.store().counts()[.completed], 41, "the worker's change carried the right `from`")
    }

    func testAWorkerNeverWritesItsPartialStateAsASnapshot() throws {
        let t = TempHome()
        let s = t.store()
        try s.transaction { tx in
            var j = Job(id: "done", command: "true", maxRetries: 0, createdAt: 1_000, cwd: "/")
            j.state = .completed
            try tx.put(j)
        }
        try s.compactNow()
        let worker = t.store()
        worker.keepsFinished = false
        worker.compactThreshold = 1  // every transaction is "too big" for the journal
        try worker.transaction { tx in
            try tx.put(Job(id: "new", command: "true", maxRetries: 0, createdAt: 2_000, cwd: "/"))
        }
        XCTAssertThrowsError(try worker.compactNow()) { XCTAssertTrue($0 is QueueError, "wrong error \($0)") }
        let all = try t.store().read { $0.ids.sorted() }
        XCTAssertEqual(all, ["done", "new"], "nothing was lost: \(all)")
    }

    /// A worker holds every live job: at a million pending jobs each byte of a job is a MB.
    func testAJobInMemoryStaysAt216Bytes() {
        XCTAssertTrue(MemoryLayout<Job>.size <= 216, "Job is \(MemoryLayout<Job>.size) bytes")
    }

    /// The out-of-line strings are copied on write: a copy of a job never sees the other's change.
    func testAJobsRareStringsAreCopiedOnWrite() {
        var a = Job(id: "a", command: "true", maxRetries: 0, createdAt: 0, cwd: "/")
        a.label = "one"
        var b = a
        b.label = "two"
        b.lastError = "boom"
        XCTAssertEqual(a.label, "one")
        XCTAssertNil(a.lastError)
        XCTAssertEqual(b.label, "two")
        b.label = nil
        b.lastError = nil
        XCTAssertNil(b.label)
        XCTAssertEqual(a.label, "one")
    }

    /// Retention reads a record's own `finished_at`, whatever keys its `env` holds.
    func testTheFinishTimeScanIsNotFooledByEnvironmentKeys() throws {
        var j = Job(id: "e", command: "true", maxRetries: 0, createdAt: 1_000, cwd: "/")
        j.env = [("finished_at", "2001-01-01T00:00:00.000Z"), ("history", "[")]
        j.state = .completed
        j.finishedAt = 1_700_000_000_123
        j.history = [Attempt(number: 1, startedAt: 1_600_000_000_000, workerPid: 1)]
        j.history[0].finishedAt = 1_600_000_000_500
        for first in [nil, 1_650_000_000_000] as [Millis?] {
            j.firstStartedAt = first
            var w = ByteWriter(capacity: 512)
            j.writeCompact(to: &w)
            let at = w.bytes.withUnsafeBufferPointer { ScheduleScan.finishedAt($0) }
            XCTAssertEqual(at, 1_700_000_000_123, "\(String(decoding: w.bytes, as: UTF8.self))")
            XCTAssertEqual(w.bytes.withUnsafeBufferPointer { ScheduleScan.finishedState($0) }, .completed)
        }
    }
}
