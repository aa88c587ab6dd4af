import Foundation
import Glibc
import XCTest
@testable import QueueCore

/// Background compaction (Sources/QueueCore/Store/Compaction.swift): the cut, the merge written
/// without the lock while other transactions go on, the swap that carries the journal written
/// meanwhile, and the readers that follow it.
final class CompactionTests: XCTestCase {
    typealias TempHome = StoreTests.TempHome


    /// No automatic compaction: the test decides when one runs.
    static let never = 1 << 40

    /// What the queue should hold, and the random changes that keep it in step with the store.
    final class Oracle {
        let home: Home
        let seed: UInt64
        var rng: SeededRNG
        var model: [String: Job] = [:]
        /// Ids that existed once and were deleted.
        var gone: Set<String> = []
        var made = 0
        /// A fixed "now" for the schedule: future times are an hour or more after it.
        let now: Millis = Clock.nowMillis()
        /// Distinct, increasing creation times (as one clock enqueueing one job at a time gives).
        let createdBase: Millis = 1_700_000_000_000

        init(home: Home, seed: UInt64) {
            self.home = home
            self.seed = seed
            rng = SeededRNG(seed: seed)
        }

        func int(_ r: ClosedRange<Int>) -> Int { Int.random(in: r, using: &rng) }
        func chance(_ percent: Int) -> Bool { int(0...99) < percent }

        func store() -> JSONStore {
            let s = JSONStore(home: home)
            s.compactThreshold = CompactionTests.never
            return s
        }

        func newJob() -> Job {
            made += 1
            let id = "j\(made)"
            // A command with a state look-alike: the merge and the scans must not be fooled by it.
            var j = Job(id: id, command: "echo \(id) \"x\",\"state\":\"dead\" \(int(0...999))", maxRetries: 3,
                        createdAt: createdBase + Millis(made) * 10, cwd: "/")
            j.priority = int(-2...2)
            if chance(20) { j.runAt = now + 3_600_000 + Millis(int(0...1_000_000)) }
            j.nextRunAt = j.runAt
            return j
        }

        func changed(_ old: Job) -> Job {
            var j = old
            j.state = JobState.allCases[int(0...(JobState.allCases.count - 1))]
            j.attempts += 1
            j.updatedAt += Millis(1 + int(0...5000))
            j.workerPid = j.state == .processing ? 4000 + int(0...999) : nil
            j.exitCode = j.state == .failed || j.state == .dead ? int(1...3) : (j.state == .completed ? 0 : nil)
            j.lastError = j.exitCode.map { $0 == 0 ? nil : "exit \($0) on attempt \(j.attempts)" } ?? nil
            if j.state.isWaiting {
                switch int(0...2) {
                case 0: j.nextRunAt = nil
                case 1: j.nextRunAt = now + 3_600_000 + Millis(int(0...1_000_000))  // backing off
                default: j.nextRunAt = now - Millis(int(1...100_000))                // due already
                }
            } else {
                j.nextRunAt = nil
            }
            return j
        }

        /// One transaction of 1-4 random changes (new job, changed state, deletion) on `s`.
        func randomTransaction(on s: JSONStore) throws {
            let n = int(1...4)
            try s.transaction { tx in
                for _ in 0..<n {
                    let ids = model.keys.sorted()
                    let r = int(0...99)
                    if r < 45 || ids.isEmpty {
                        let j = newJob()
                        XCTAssertTrue(try !tx.contains(j.id), "seed \(seed): new job \(j.id) already exists")
                        try tx.put(j)
                        model[j.id] = j
                    } else if r < 82 {
                        let id = ids[int(0...(ids.count - 1))]
                        let current = try tx.job(id)
                        XCTAssertEqual(current, model[id], "seed \(seed): transaction's view of \(id)")
                        let j = changed(model[id]!)
                        try tx.put(j)
                        model[id] = j
                    } else {
                        // Deletions as `purge` makes them, and more (any state), but not of a job
                        // waiting for a future time: see deletingAScheduledJobUnschedulesIt.
                        let deletable = ids.filter { !(model[$0]!.state.isWaiting && (model[$0]!.dueAt ?? 0) > now) }
                        guard !deletable.isEmpty else { continue }
                        let id = deletable[int(0...(deletable.count - 1))]
                        try tx.delete(id)
                        model[id] = nil
                        gone.insert(id)
                    }
                }
            }
        }

        var newestFirst: [Job] {
            model.values.sorted {
                if $0.createdAt != $1.createdAt { return $0.createdAt < $1.createdAt }
                if $0.batchIndex != $1.batchIndex { return $0.batchIndex < $1.batchIndex }
                return $0.id < $1.id
            }
        }

        /// `state` holds exactly the model's jobs, field for field.
        func matches(_ state: QueueState, _ label: String) {
            XCTAssertEqual(Set(state.ids), Set(model.keys), "\(label): ids")
            let wrong = model.values.filter { state[$0.id] != $0 }.map(\.id).sorted()
            XCTAssertTrue(wrong.isEmpty, "\(label): jobs differ from the model: \(wrong.prefix(8))")
        }

        /// Everything a fresh process can ask, answered as the model says.
        func verify(_ label: String) throws {
            matches(try store().read { $0 }, "\(label), fresh read")

            let counts = try store().counts()
            for st in JobState.allCases {
                let want = model.values.filter { $0.state == st }.count
                XCTAssertEqual((counts[st] ?? 0), want, "\(label): counts[\(st)]")
            }

            // One job without loading the others: the journal, the tail, or jobs.ids into the new snapshot.
            let present = model.keys.sorted()
            var probe: [String] = ["never-existed"]
            for _ in 0..<min(5, present.count) { probe.append(present[int(0...(present.count - 1))]) }
            let goneIds = gone.sorted()
            for _ in 0..<min(3, goneIds.count) { probe.append(goneIds[int(0...(goneIds.count - 1))]) }
            for id in probe {
                let fresh = store()
                XCTAssertEqual(try fresh.job(id), model[id], "\(label): job(\(id))")
                XCTAssertEqual(fresh.fullLoads, 0, "\(label): job(\(id)) had to load every job (jobs.ids does not match the snapshot)")
            }
            let fresh = store()
            let answers = try fresh.transaction { tx in try probe.map { try tx.contains($0) } }
            XCTAssertEqual(answers, probe.map { model[$0] != nil }, "\(label): contains \(probe)")
            XCTAssertEqual(fresh.fullLoads, 0, "\(label): contains had to load every job")

            if let r = try store().recent(limit: 5, state: nil) {
                XCTAssertEqual(r.jobs.map(\.id), newestFirst.suffix(5).map(\.id), "\(label): recent(5)")
                XCTAssertEqual(r.jobs, Array(newestFirst.suffix(5)), "\(label): recent(5) jobs")
                XCTAssertEqual(r.total, model.count, "\(label): recent total")
            }
            for st in [JobState.pending, .failed, .completed] {
                if let r = try store().recent(limit: 3, state: st) {
                    let want = newestFirst.filter { $0.state == st }
                    XCTAssertEqual(r.jobs.map(\.id), want.suffix(3).map(\.id), "\(label): recent(3, \(st))")
                    XCTAssertEqual(r.total, want.count, "\(label): recent total \(st)")
                }
            }

            // jobs.due: the waiting jobs not yet due.
            let later = model.values.filter { $0.state.isWaiting && ($0.dueAt ?? 0) > now }
            let sched = try store().scheduled(now: now)
            XCTAssertEqual(sched.count, later.count, "\(label): scheduled count")
            XCTAssertEqual(sched.next, later.compactMap(\.dueAt).min(), "\(label): next due")
        }
    }

    // MARK: - 1. The oracle

    /// Seeds 1, 2, 3, 7, 42 and 1234, each run on its own: a failure or an error names its seed,
    /// and the next seed still runs.
    func testRandomChangesDuringCompactionsMatchAModel() {
        func oneSeed(_ seed: UInt64) throws {
            let t = TempHome()
            let o = Oracle(home: t.home, seed: seed)
            let writer = o.store(), second = o.store(), compactor = o.store()
            let reader = o.store(), lagger = o.store()

            // Nothing to fold in an empty home.
            XCTAssertNil(try compactor.compactBeside(), "seed \(seed): an empty home compacted")
            try o.randomTransaction(on: writer)  // lays down the empty snapshot of generation 1
            var generation: Int64 = 1
            var unfolded = true  // changes (or a snapshot tail) that a compaction would fold
            XCTAssertEqual(try reader.read { $0.count }, o.model.count, "seed \(seed): first read")
            var readerLoads = reader.fullLoads
            var compactions = 0, withTail = 0, replaced = 0, followUps = 0

            /// Compacts through `compactor` holding compact.lock, its `between` closure making `k` transactions
            /// on `between` (and, when `replace`, a full compaction by another instance) during it.
            func compact(_ label: String, k: Int, on between: JSONStore?, replace: Bool) throws {
                _ = try reader.read { $0.count }  // the reader is at the journal's end before the cut
                let lockFd = try XCTUnwrap(compactor.tryCompactionLock(), "\(label): compact.lock is free")
                defer { lockFd.close() }
                let before = unfolded
                var ran = false
                let got = try compactor.compactBeside(between: {
                    ran = true
                    if let s = between { for _ in 0..<k { try o.randomTransaction(on: s) } }
                    if replace { try second.compactNow() }  // like `purge`: the journal is replaced meanwhile
                })
                if !before {
                    XCTAssertNil(got, "\(label): nothing new, yet it compacted")
                    XCTAssertTrue(!ran, "\(label): nothing to do, yet it wrote a snapshot")
                    XCTAssertEqual(reader.fullLoads, readerLoads, "\(label): the reader reloaded every job")
                    try o.verify(label)
                    return
                }
                XCTAssertTrue(ran, "\(label)")
                let tailed = between != nil && k > 0
                if replace {
                    XCTAssertNil(got, "\(label): the journal was replaced during the compaction, its work is stale")
                    generation += 1
                    unfolded = false
                    replaced += 1
                } else {
                    XCTAssertEqual(got, generation + 1, "\(label): generation")
                    generation += 1
                    compactions += 1
                    unfolded = tailed
                    if tailed { withTail += 1 }
                    let head = String(decoding: t.bytes("jobs.json")?.prefix(400) ?? Data(), as: UTF8.self)
                    XCTAssertTrue(head.contains("\"generation\":\(generation),"), "\(label): \(head)")
                    XCTAssertTrue(head.contains("\"cut\":{\"generation\":\(generation - 1),"), "\(label): the new snapshot continues in journal.\(generation - 1).jsonl")
                    XCTAssertTrue(FileManager.default.fileExists(atPath: t.home.journal(generation: generation - 1)), "\(label): the folded journal is kept")
                }
                // A reader that was caught up before the compaction follows it, without reloading every job.
                o.matches(try reader.read { $0 }, "\(label), long-lived reader")
                if replace {
                    readerLoads = reader.fullLoads  // no `follows` after a full compaction: it reloads
                } else {
                    XCTAssertEqual(reader.fullLoads, readerLoads, "\(label): the long-lived reader reloaded every job instead of following")
                }
                o.matches(try writer.read { $0 }, "\(label), long-lived writer")
                try o.verify(label)
            }

            for step in 0..<90 {
                // Changes before the cut: the long-lived writer, or a fresh (light) process.
                try o.randomTransaction(on: o.chance(60) ? writer : o.store())
                unfolded = true
                if step % 6 != 5 { continue }
                let n = step / 6
                let label = "seed \(seed) step \(step)"
                // Who changes the queue during the compaction: another instance, the compactor's own
                // instance, the long-lived writer, a fresh process, or nobody.
                let who = [second, compactor, writer, o.store(), nil][n % 5]
                try compact(label, k: who == nil ? 0 : o.int(1...3), on: who, replace: n % 7 == 6)
                if n % 3 == 1 {
                    // Two in a row: the second folds the first one's tail (or finds nothing)...
                    try compact(label + " again", k: 0, on: nil, replace: false)
                    followUps += 1
                    // ...and a third has nothing left to fold.
                    try compact(label + " a third time", k: 0, on: nil, replace: false)
                }
                if n % 3 == 2 {
                    // A reader that fell behind by several compactions reloads, and is still right.
                    o.matches(try lagger.read { $0 }, "\(label), lagging reader")
                }
            }
            // `queuectl compact`'s entry point: waits for compact.lock, then folds what is left.
            try o.randomTransaction(on: writer)
            unfolded = true
            XCTAssertEqual(try writer.compactWaiting(), generation + 1, "seed \(seed): compactWaiting")
            generation += 1
            XCTAssertNil(try writer.compactWaiting(), "seed \(seed): nothing new after compactWaiting")
            try o.verify("seed \(seed) after compactWaiting")

            XCTAssertTrue(compactions >= 10 && withTail >= 5 && replaced >= 1 && followUps >= 3, "seed \(seed): the run did not exercise enough: \(compactions) compactions, \(withTail) with a tail, \(replaced) replaced")
            XCTAssertTrue(o.model.count > 20 && !o.gone.isEmpty, "seed \(seed): \(o.model.count) jobs, \(o.gone.count) deleted")
        }
        for seed in [1, 2, 3, 7, 42, 1234] as [UInt64] {
            do { try oneSeed(seed) } catch { XCTFail("seed \(seed): \(error)") }
        }
    }

    // MARK: - 3. A missing kept journal

    func testASnapshotWhoseKeptJournalIsMissingIsCorruptNotSilentlyShort() throws {
        let t = TempHome()
        let s = JSONStore(home: t.home)
        s.compactThreshold = Self.never
        func add(_ ids: [String], on store: JSONStore) throws {
            try store.transaction { tx in
                for id in ids { try tx.put(Job(id: id, command: "echo \(id)", maxRetries: 3, createdAt: Clock.nowMillis(), cwd: "/")) }
            }
        }
        try add((0..<10).map { "base\($0)" }, on: s)
        let other = JSONStore(home: t.home)
        other.compactThreshold = Self.never
        let g = try XCTUnwrap(try s.compactBeside(between: { try add(["during1", "during2"], on: other) }))
        let kept = t.home.journal(generation: g - 1)
        XCTAssertTrue(FileManager.default.fileExists(atPath: kept))
        XCTAssertEqual(try JSONStore(home: t.home).read { $0.count }, 12)

        let aside = t.dir + "/kept-aside.jsonl"
        try FileManager.default.moveItem(atPath: kept, toPath: aside)
        let before = Harness.files(t.home.path)
        do {
            let n = try JSONStore(home: t.home).read { $0.count }
            XCTFail("read returned \(n) jobs although the changes made during the compaction are missing")
        } catch let e as QueueError {
            guard case .corrupt(let path, let reason) = e else { XCTFail("wrong error \(e)"); return }
            XCTAssertEqual(path, t.home.snapshot)
            XCTAssertTrue(reason.contains(kept), "the message should name \(kept): \(reason)")
            XCTAssertTrue(e.description.contains("journal.\(g - 1).jsonl"))
            XCTAssertEqual(e.exitCode, 1)
        }
        XCTAssertEqual(Harness.files(t.home.path), before, "nothing was written while the home is damaged")

        // Put back, nothing was lost.
        try FileManager.default.moveItem(atPath: aside, toPath: kept)
        let state = try JSONStore(home: t.home).read { $0 }
        XCTAssertTrue(state.count == 12 && state["during1"] != nil && state["during2"] != nil)
    }

    // MARK: - The schedule after a deletion

    /// `scheduled(now:)` (status's "scheduled") reads jobs.due and then the changes since the
    /// snapshot; a deletion line has no "state" key, so ScheduleScan.job returns nil for it and
    /// the deleted job stays counted until the next compaction rewrites jobs.due.
    func testDeletingAScheduledJobUnschedulesIt() {
        func oneCase(foldedFirst: Bool) throws {
            let label = "foldedFirst \(foldedFirst)"
            let t = TempHome()
            let s = JSONStore(home: t.home)
            s.compactThreshold = Self.never
            let now = Clock.nowMillis()
            var j = Job(id: "later", command: "true", maxRetries: 3, createdAt: now, cwd: "/")
            j.runAt = now + 3_600_000
            j.nextRunAt = j.runAt
            try s.transaction { tx in try tx.put(j) }
            if foldedFirst { XCTAssertTrue(try s.compactBeside() != nil, "\(label): the first merge") }  // then it is in jobs.due
            XCTAssertEqual(try JSONStore(home: t.home).scheduled(now: now).count, 1, "\(label): scheduled before the deletion")
            try s.transaction { tx in try tx.delete("later") }
            XCTAssertEqual(try JSONStore(home: t.home).read { $0.count }, 0, "\(label): jobs after the deletion")
            let after = try JSONStore(home: t.home).scheduled(now: now)
            XCTAssertTrue(after.count == 0 && after.next == nil, "\(label): the deleted job is still scheduled: \(after)")
            XCTAssertTrue(try s.compactBeside() != nil, "\(label): the merge")
            XCTAssertEqual(try JSONStore(home: t.home).scheduled(now: now).count, 0, "\(label): jobs.due after the merge")
        }
        for foldedFirst in [false, true] {
            do { try oneCase(foldedFirst: foldedFirst) } catch { XCTFail("foldedFirst \(foldedFirst): \(error)") }
        }
    }

    // MARK: - Creation order of the merged snapshot

    /// `recent` (and `list --limit`) reads jobs.json backwards from its end, trusting the file to
    /// be in creation order (created_at, batch_index, id), as a full compaction writes it
    /// (QueueState.orderedPositions). The merge must keep it so, also for jobs created in the
    /// same millisecond out of id order, by a machine whose clock is behind, or under an id that
    /// was deleted and created again since the last compaction.
    func testTheMergedSnapshotKeepsCreationOrderForRecent() {
        func oneScenario(_ scenario: String) throws {
            let t = TempHome()
            let s = JSONStore(home: t.home)
            s.compactThreshold = Self.never
            func job(_ id: String, _ created: Millis) -> Job { Job(id: id, command: "true", maxRetries: 3, createdAt: created, cwd: "/") }
            try s.transaction { tx in for i in 0..<10 { try tx.put(job("x\(i)", 1_000_000 + Millis(i) * 10)) } }
            XCTAssertTrue(try s.compactBeside() != nil, "\(scenario): the first merge")
            try s.transaction { tx in
                switch scenario {
                case "sameMillisecond":  // two enqueues in one millisecond, the later one with the smaller id
                    try tx.put(job("y-b", 2_000_000))
                    try tx.put(job("y-a", 2_000_000))
                case "clockSkew":  // another machine's clock is a little behind
                    try tx.put(job("y1", 2_000_000))
                    try tx.put(job("y2", 1_999_990))
                case "clockFarBehind":  // ... or far behind: older than jobs already in jobs.json
                    try tx.put(job("y1", 2_000_000))
                    try tx.put(job("y2", 1_000_045))
                default:  // "recreated": purged, then enqueued again under the same id, before a compaction
                    try tx.delete("x0")
                    try tx.put(job("x0", 2_000_000))
                }
            }
            let all = try JSONStore(home: t.home).read { $0 }
            func check(_ when: String) throws {
                for limit in 1...7 {
                    let got = try XCTUnwrap(try JSONStore(home: t.home).recent(limit: limit, state: nil), "\(scenario), \(when), limit \(limit): recent")
                    XCTAssertEqual(got.jobs.map(\.id), all.ordered().suffix(limit).map(\.id), "\(scenario), \(when), limit \(limit)")
                }
            }
            try check("changes in the journal")
            XCTAssertTrue(try s.compactBeside() != nil, "\(scenario): the second merge")
            try check("after a background compaction")
            XCTAssertEqual(try JSONStore(home: t.home).read { $0 }.ordered().map(\.id), all.ordered().map(\.id), "\(scenario): creation order of a whole read")
            try s.compactNow()  // a full compaction sorts every job
            try check("after a full compaction")
        }
        for scenario in ["sameMillisecond", "clockSkew", "clockFarBehind", "recreated"] {
            do { try oneScenario(scenario) } catch { XCTFail("\(scenario): \(error)") }
        }
    }
}

// MARK: - 2. A crash at every step (the built binary)

/// `queuectl compact` killed at each failpoint: every acknowledged job is still there, with its
/// state, and the queue goes on (enqueue, compact) as if nothing happened.
final class CLICompactionTests: HomeTestCase {
    static let failpoints = ["compact.cut", "compact.written", "compact.kept", "compact.renamed", "compact.truncated", "compact.swapped"]

    func testCrashAtCut() throws { try crashAndRecover(at: "compact.cut") }
    func testCrashAtWritten() throws { try crashAndRecover(at: "compact.written") }
    func testCrashAtKept() throws { try crashAndRecover(at: "compact.kept") }
    func testCrashAtRenamed() throws { try crashAndRecover(at: "compact.renamed") }
    func testCrashAtTruncated() throws { try crashAndRecover(at: "compact.truncated") }
    func testCrashAtSwapped() throws { try crashAndRecover(at: "compact.swapped") }

    func testEveryFailpointIsCovered() throws {
        let source = try String(contentsOf: Harness.repoRoot.appendingPathComponent("Sources/QueueCore/Store/Compaction.swift"), encoding: .utf8)
        let named = source.components(separatedBy: "Failpoint.hit(\"").dropFirst().map { $0.prefix { $0 != "\"" } }.map(String.init)
        XCTAssertEqual(named, Self.failpoints, "a failpoint was added or renamed: give it a crash test")
    }

    private var expected: [String: String] = [:]

    private func enqueue(_ id: String, file: StaticString = #filePath, line: UInt = #line) {
        let r = q("enqueue", "--id", id, "--", "true")
        XCTAssertEqual(r.code, 0, "enqueue \(id): \(r.stderr)", file: file, line: line)
        XCTAssertEqual(r.stdout, id + "\n", file: file, line: line)
        expected[id] = "pending"
    }

    private func cancel(_ id: String, file: StaticString = #filePath, line: UInt = #line) {
        let r = q("cancel", id)
        XCTAssertEqual(r.code, 0, "cancel \(id): \(r.stderr)", file: file, line: line)
        expected[id] = "cancelled"
    }

    /// `list --json`, `status --json` and `show` agree with what was acknowledged.
    private func verify(_ label: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let list = q("list", "--json")
        XCTAssertEqual(list.code, 0, "\(label): list: \(list.stderr)", file: file, line: line)
        let jobs = try XCTUnwrap(Harness.json(list.stdout) as? [[String: Any]], "\(label): list --json: \(list.stdout.prefix(300))", file: file, line: line)
        var seen: [String: String] = [:]
        for j in jobs { seen[j["id"] as? String ?? "?"] = j["state"] as? String ?? "?" }
        XCTAssertEqual(jobs.count, expected.count, "\(label): list --json count", file: file, line: line)
        XCTAssertEqual(seen, expected, "\(label): list --json", file: file, line: line)

        let status = q("status", "--json")
        XCTAssertEqual(status.code, 0, "\(label): status: \(status.stderr)", file: file, line: line)
        let s = try XCTUnwrap(Harness.json(status.stdout) as? [String: Any], "\(label): status --json", file: file, line: line)
        let counts = try XCTUnwrap(s["counts"] as? [String: Int], file: file, line: line)
        for st in JobState.allCases {
            XCTAssertEqual(counts[st.rawValue] ?? -1, expected.values.filter { $0 == st.rawValue }.count, "\(label): status counts[\(st)]", file: file, line: line)
        }
        XCTAssertEqual(s["total"] as? Int, expected.count, "\(label): status total", file: file, line: line)

        for id in expected.keys.sorted() where ["a1", "a9", "a30", "b1", "b2", "b20", "c5"].contains(id) {
            let r = q("show", id, "--json")
            XCTAssertEqual(r.code, 0, "\(label): show \(id): \(r.stderr)", file: file, line: line)
            let j = (Harness.json(r.stdout) as? [String: Any]) ?? [:]
            XCTAssertEqual(j["state"] as? String, expected[id], "\(label): show \(id)", file: file, line: line)
        }
        for id in ["a3", "a7"] {
            XCTAssertEqual(q("show", id).code, 1, "\(label): purged \(id) came back", file: file, line: line)
        }
    }

    private func crashAndRecover(at failpoint: String) throws {
        XCTAssertEqual(q("config", "set", "journal_max_bytes", "1000000").code, 0)
        for i in 1...30 { enqueue("a\(i)") }
        let first = q("compact")
        XCTAssertEqual(first.code, 0, first.stderr)
        XCTAssertTrue(first.stderr.contains("compacted into jobs.json generation"), first.stderr)
        // Changes to jobs of the snapshot (a state change, deletions), then new jobs.
        cancel("a3")
        cancel("a7")
        XCTAssertEqual(q("purge", "--state", "cancelled").code, 0)
        expected["a3"] = nil
        expected["a7"] = nil
        cancel("a9")
        for i in 1...20 { enqueue("b\(i)") }
        cancel("b2")
        try verify("before the crash")

        let crash = Harness.run(["compact"], home: home, env: ["QUEUECTL_FAILPOINT": failpoint])
        XCTAssertEqual(crash.code, 70, "compact should have died at \(failpoint): \(crash.stderr)")
        try verify("after a crash at \(failpoint)")

        for i in 1...5 { enqueue("c\(i)") }
        try verify("enqueued after a crash at \(failpoint)")
        let newest = Harness.json(q("list", "--json", "--limit", "5").stdout) as? [[String: Any]]
        XCTAssertEqual(newest?.compactMap { $0["id"] as? String }, ["c1", "c2", "c3", "c4", "c5"], "list --limit 5 after a crash at \(failpoint)")

        let again = q("compact")
        XCTAssertEqual(again.code, 0, again.stderr)
        XCTAssertTrue(again.stderr.contains("compacted into jobs.json generation"), again.stderr)
        try verify("compacted after a crash at \(failpoint)")
        let leftovers = ((try? FileManager.default.contentsOfDirectory(atPath: home)) ?? []).filter { $0.contains(".tmp-") }
        XCTAssertEqual(leftovers, [], "the crashed compactor's temporary files were not swept")
        let idle = q("compact")
        XCTAssertEqual(idle.code, 0, idle.stderr)
        XCTAssertTrue(idle.stderr.contains("nothing to compact"), idle.stderr)
        try verify("at the end, crash at \(failpoint)")
    }
}
