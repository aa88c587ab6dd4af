import Foundation
import XCTest
@testable import QueueCore

/// The dashboard's overview, job list and DLQ read what they show without loading every job
/// (JSONStore.overview, recent; jobs.minutes for the chart). Checked against the whole state as
/// the oracle, across compactions of every kind.
final class DashboardReadTests: XCTestCase {
    typealias TempHome = StoreTests.TempHome

    /// Seeds 1-4, each run on its own: a failure or an error names its seed, and the next seed still runs.
    func testTheOverviewMatchesTheWholeStateWithoutLoadingIt() {
        func oneSeed(_ seed: UInt64) throws {
            let t = TempHome()
            var rng = SeededRNG(seed: seed)
            let s = t.store()
            s.compactThreshold = 1 << 40
            var made = 0
            for step in 0..<120 {
                try s.transaction { tx in
                    switch rng.int(10) {
                    case 0..<3:
                        for _ in 0...rng.int(3) {
                            made += 1
                            try tx.put(Job(id: "j\(made)", command: "true", maxRetries: rng.int(2), createdAt: 1_700_000_000_000 + Millis(made), cwd: "/"))
                        }
                    case 3..<6:  // a worker claims and finishes, at some minute of the last hour (or earlier)
                        guard var j = try tx.nextRunnable() else { return }
                        let at = tx.now - Millis(rng.int(70)) * 60_000 - Millis(rng.int(60_000))
                        Lifecycle.claim(&j, now: at, workerPid: 1, workerStart: nil)
                        try tx.put(j)
                        if rng.int(4) > 0 {
                            switch rng.int(4) {
                            case 0: Lifecycle.requeue(&j, now: at + 10, reason: "stopped")
                            default: Lifecycle.finish(&j, outcome: Outcome(exitCode: rng.int(3) == 0 ? 1 : 0), now: at + 10, config: Config())
                            }
                            j.nextRunAt = nil  // runnable again at once
                            try tx.put(j)
                        }
                    case 6:
                        guard let id = try tx.state.processingIds.sorted().first, var j = try tx.job(id) else { return }
                        Lifecycle.cancel(&j, now: tx.now, reason: "cancelled")
                        try tx.put(j)
                    default:
                        guard let j = try tx.state.all.filter({ $0.state == .dead }).sorted(by: { $0.id < $1.id }).first else { return }
                        var r = j
                        Lifecycle.retryFromDLQ(&r, now: tx.now)
                        try tx.put(r)
                    }
                }
                switch rng.int(12) {
                case 0: _ = try s.compactWaiting()   // beside the queue: the merge carries jobs.minutes on
                case 1: try s.compactNow()           // from the whole state: recomputed
                default: break
                }
                if step % 10 != 9 { continue }
                let now = Clock.nowMillis()
                let whole = try t.store().read { $0 }
                let reader = t.store()
                let d = try Dashboard(store: reader)
                let o = try d.overview(now: now, recent: 10)
                let m = Metrics.compute(whole, now: now)
                XCTAssertEqual(reader.fullLoads, 0, "seed \(seed) step \(step): the overview loaded every job")
                XCTAssertEqual(o.metrics.counts.filter { $0.value != 0 }, m.counts.filter { $0.value != 0 }, "seed \(seed) step \(step): counts")
                XCTAssertEqual(o.metrics.completedPerMinute, m.completedPerMinute, "seed \(seed) step \(step): attempts that succeeded, per minute")
                XCTAssertEqual(o.metrics.failedPerMinute, m.failedPerMinute, "seed \(seed) step \(step): attempts that failed, per minute")
                XCTAssertEqual(o.recent.map(\.id), whole.ordered().suffix(10).reversed().map(\.id), "seed \(seed) step \(step): newest jobs")
                for filter in [nil, JobState.completed, .dead] {
                    let all = Array(whole.ordered(state: filter).reversed())
                    for page in [1, 2, 1000] {
                        let (slice, total, shown) = try d.jobsPage(filter: filter, page: page)
                        let last = max(1, (all.count + 49) / 50)
                        XCTAssertTrue(total == all.count && shown == min(page, last), "seed \(seed) step \(step): page \(page) of \(filter?.rawValue ?? "all"): total \(total) of \(all.count), page \(shown) of \(last)")
                        XCTAssertEqual(slice.map(\.id), all.dropFirst((shown - 1) * 50).prefix(50).map(\.id), "seed \(seed) step \(step): page \(page) of \(filter?.rawValue ?? "all")")
                    }
                }
                XCTAssertEqual(reader.fullLoads, 0, "seed \(seed) step \(step): a job list loaded every job")
            }
        }
        for seed in [1, 2, 3, 4] as [UInt64] {
            do { try oneSeed(seed) } catch { XCTFail("seed \(seed): \(error)") }
        }
    }
}
