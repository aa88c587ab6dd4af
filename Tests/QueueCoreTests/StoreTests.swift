import Foundation
import XCTest
@testable import QueueCore

/// The JSONStore: transactions, journal, compaction, crash leftovers, corruption, concurrency.
final class StoreTests: XCTestCase {
    final class TempHome {
        let dir = Harness.makeTempDir()
        var home: Home { Home(path: dir + "/home") }
        deinit { try? FileManager.default.removeItem(atPath: dir) }
        func store() -> JSONStore { JSONStore(home: home) }
        func bytes(_ name: String) -> Data? { FileManager.default.contents(atPath: home.path + "/" + name) }
    }

    func job(_ id: String, _ state: JobState = .pending) -> Job {
        var j = Job(id: id, command: "echo \(id)", maxRetries: 3, createdAt: Clock.nowMillis(), cwd: "/")
        j.state = state
        return j
    }

    func add(_ store: JSONStore, _ ids: [String]) throws {
        try store.transaction { tx in for id in ids { try tx.put(job(id)) } }
    }

    /// The header's direct reading (every transaction does it) agrees with the JSON parser on
    /// every form, and leaves anything but the plain form to the parser.
    func testTheJournalHeaderIsReadDirectlyExactlyAsTheParserReadsIt() {
        let lines = [
            #"{"journal":"queuectl","generation":1}"#, #"{"journal":"queuectl","generation":0}"#,
            #"{"journal":"queuectl","generation":9223372036854775807}"#,
            #"{"journal":"queuectl","generation":9223372036854775808}"#,
            #"{"journal":"queuectl","generation":99999999999999999999}"#,
            #"{"journal":"queuectl","generation":007}"#, #"{"journal":"queuectl","generation":-3}"#,
            #"{"journal":"queuectl","generation":}"#, #"{"journal":"queuectl","generation":12x}"#,
            #"{"journal":"queuectl","generation":12"#, #"{"journal":"other","generation":12}"#,
            #"{"journal":"queuectl","generation":4,"follows":{"generation":3,"offset":10}}"#,
            #"{ "journal": "queuectl", "generation": 5 }"#, "",
        ]
        for l in lines {
            let bytes = Array(l.utf8)
            bytes.withUnsafeBufferPointer { b in
                let direct = JournalFile.plainHeaderGeneration(b)
                let parsed = (try? JSONParser.parse(bytes: b)).flatMap { v -> Int64? in
                    v["journal"]?.stringValue == "queuectl" ? v["generation"]?.intValue : nil
                }
                if let d = direct { XCTAssertEqual(d, parsed, l) }
                XCTAssertEqual(JournalFile.parseHeaderInfo(b)?.generation, parsed, l)
            }
        }
        XCTAssertEqual(Array(#"{"journal":"queuectl","generation":42}"#.utf8).withUnsafeBufferPointer { JournalFile.plainHeaderGeneration($0) }, 42)
    }

    func testWritesAndReadsBack() throws {
        let t = TempHome()
        try add(t.store(), ["a", "b"])
        let state = try t.store().read { $0 }
        XCTAssertEqual(state.count, 2)
        XCTAssertEqual(state["a"]?.command, "echo a")
        XCTAssertEqual(try t.store().counts()[.pending], 2)
    }

    func testASecondInstanceSeesChangesIncrementally() throws {
        let t = TempHome()
        let s1 = t.store(), s2 = t.store()
        try add(s1, ["a"])
        XCTAssertEqual(try s2.read { $0.count }, 1)
        try add(s1, ["b"])
        try s1.transaction { tx in
            var j = try XCTUnwrap(try tx.job("a"))
            j.state = .completed
            try tx.put(j)
        }
        let seen = try s2.read { $0 }
        XCTAssertEqual(seen.count, 2)
        XCTAssertEqual(seen["a"]?.state, .completed)
        XCTAssertTrue(seen.count(.completed) == 1 && seen.count(.pending) == 1)
    }

    func testCompactionKeepsEveryJobAndCachedReadersFollow() throws {
        let t = TempHome()
        let writer = t.store(), reader = t.store()
        writer.compactThreshold = 2000
        try add(writer, ["a"])
        XCTAssertEqual(try reader.read { $0.count }, 1)  // reader caches generation 1
        for i in 0..<40 { try add(writer, ["j\(i)"]) }  // several compactions
        try writer.transaction { tx in try tx.delete("a") }
        let snap = String(decoding: t.bytes("jobs.json") ?? Data(), as: UTF8.self)
        XCTAssertTrue(!snap.contains("\"generation\":1,"))
        let state = try reader.read { $0 }
        XCTAssertTrue(state.count == 40 && state["a"] == nil && state["j39"] != nil)
        XCTAssertEqual(try reader.counts()[.pending], 40)
        XCTAssertEqual(try t.store().counts()[.pending], 40)
        XCTAssertTrue(try t.store().transaction { tx in try tx.contains("j7") })
        XCTAssertTrue(try !t.store().transaction { tx in try tx.contains("a") })
    }

    func testAReaderFollowsAnotherProcesssCompactionWithoutReloadingEveryJob() throws {
        let t = TempHome()
        let writer = t.store(), reader = t.store()
        writer.compactThreshold = 4000
        try add(writer, (0..<5).map { "a\($0)" })
        XCTAssertEqual(try reader.read { $0.count }, 5)
        let loads = reader.fullLoads
        var compactions = 0
        for i in 0..<30 {
            let before = try String(contentsOfFile: t.home.journal, encoding: .utf8).prefix(60)
            try add(writer, ["b\(i)"])
            if try String(contentsOfFile: t.home.journal, encoding: .utf8).prefix(60) != before { compactions += 1 }
            let state = try reader.read { $0 }
            XCTAssertTrue(state.count == 6 + i && state["b\(i)"] != nil)
        }
        XCTAssertTrue(compactions >= 3)
        XCTAssertEqual(reader.fullLoads, loads, "the reader reloaded every job instead of following the kept journal")
        XCTAssertTrue(FileManager.default.fileExists(atPath: t.home.path + "/journal.\(compactions).jsonl"), "the folded journal is kept for one generation")
        // A reader that fell two compactions behind cannot follow: it reloads, and is still right.
        let late = t.store()
        XCTAssertEqual(try late.read { $0.count }, 35)
        for i in 0..<20 { try add(writer, ["c\(i)"]) }
        XCTAssertEqual(try late.read { $0.count }, 55)
    }

    func testATornJournalTailIsIgnoredAndCutOff() throws {
        let t = TempHome()
        try add(t.store(), ["a", "b"])
        let path = t.home.journal
        let h = try XCTUnwrap(FileHandle(forWritingAtPath: path))
        h.seekToEndOfFile()
        h.write(Data(#"{"id":"c","op":"put","from":null,"to":"pend"#.utf8))  // died mid-append
        h.closeFile()
        XCTAssertEqual(try t.store().read { $0.count }, 2)
        XCTAssertEqual(try t.store().counts()[.pending], 2)
        try add(t.store(), ["d"])
        let text = String(decoding: t.bytes("journal.jsonl") ?? Data(), as: UTF8.self)
        XCTAssertTrue(text.hasSuffix("}\n"))
        XCTAssertTrue(!text.contains("\"pend\n") && !text.contains("\"to\":\"pend{"))
        XCTAssertEqual(try t.store().read { Set($0.ids) }, ["a", "b", "d"])
    }

    func testACrashBetweenTempWriteAndRenameLosesNothing() throws {
        let t = TempHome()
        let s = t.store()
        s.compactThreshold = 1
        try add(s, ["a"])  // compacted into jobs.json
        let tmp = t.home.snapshot + ".tmp-99999"
        _ = FileManager.default.createFile(atPath: tmp, contents: Data("{\"meta\":garbage".utf8))
        XCTAssertEqual(try t.store().read { $0.count }, 1)
        try add(s, ["b"])  // compacts again and sweeps the leftover
        XCTAssertTrue(!FileManager.default.fileExists(atPath: tmp))
        XCTAssertEqual(try t.store().read { $0.count }, 2)
    }

    func testAStaleJournalAfterACrashedCompactionIsNotAppliedTwice() throws {
        let t = TempHome()
        let s = t.store()
        try add(s, ["a"])
        try s.transaction { tx in var j = try XCTUnwrap(try tx.job("a")); j.attempts = 1; try tx.put(j) }
        let oldJournal = try XCTUnwrap(t.bytes("journal.jsonl"))
        try s.compactNow()
        // Simulate dying after the rename of jobs.json but before the journal reset.
        try oldJournal.write(to: URL(fileURLWithPath: t.home.journal))
        let state = try t.store().read { $0 }
        XCTAssertTrue(state.count == 1 && state["a"]?.attempts == 1)
        try add(t.store(), ["b"])
        XCTAssertEqual(try t.store().read { $0.count }, 2)
        XCTAssertEqual(try t.store().counts()[.pending], 2)
    }

    /// Each content on its own: a failure names it, and the next content still runs.
    func testACorruptSnapshotIsRefusedAndNeverOverwritten() {
        func oneContent(_ content: String) throws {
            let label = content.debugDescription
            let t = TempHome()
            try add(t.store(), ["a", "b", "c"])
            try t.store().compactNow()
            var bad = Data(content.utf8)
            if content == "truncate" { bad = try XCTUnwrap(t.bytes("jobs.json"), "\(label): jobs.json").dropLast(20) }
            try bad.write(to: URL(fileURLWithPath: t.home.snapshot))
            func isCorrupt(_ body: () throws -> Void) {
                do { try body(); XCTFail("\(label): expected corrupt error") } catch let e as QueueError {
                    guard case .corrupt(let path, _) = e else { XCTFail("\(label): wrong error \(e)"); return }
                    XCTAssertTrue(path.hasSuffix("jobs.json"), "\(label): \(path)")
                    XCTAssertEqual(e.exitCode, 1, "\(label)")
                } catch { XCTFail("\(label): wrong error \(error)") }
            }
            isCorrupt { _ = try t.store().read { $0 } }
            isCorrupt { _ = try t.store().counts() }
            isCorrupt { try add(t.store(), ["d"]) }
            XCTAssertEqual(t.bytes("jobs.json"), bad, "\(label): jobs.json was overwritten")
        }
        for content in ["garbage\n", "", "{\"meta\":{\"format\":\"queuectl-jobs\"},\n\"jobs\":[\n]}\n", "truncate"] {
            do { try oneContent(content) } catch { XCTFail("\(content.debugDescription): \(error)") }
        }
    }

    /// The header line is read in one 4 KiB read when it fits, in a second read when it is longer
    /// (up to 64 KiB), and a line longer than that is refused, not guessed at.
    func testALongSnapshotHeaderIsReadWholeAndAnOverlongOneIsRefused() throws {
        for (pad, readable) in [(100, true), (5000, true), (70_000, false)] {
            let t = TempHome()
            try add(t.store(), ["a", "b", "c"])
            try t.store().compactNow()
            let original = try XCTUnwrap(t.bytes("jobs.json"))
            var text = try XCTUnwrap(String(data: original, encoding: .utf8))
            let range = try XCTUnwrap(text.range(of: "{\"meta\":{"))
            text.replaceSubrange(range, with: "{\"meta\":{\"pad\":\"" + String(repeating: "x", count: pad) + "\",")
            try Data(text.utf8).write(to: URL(fileURLWithPath: t.home.snapshot))
            if readable {
                XCTAssertEqual(try t.store().counts()[.pending], 3, "pad \(pad)")
                try add(t.store(), ["d"])  // an enqueue's light transaction reads the header too
                XCTAssertEqual(try t.store().read { $0.count }, 4, "pad \(pad)")
            } else {
                XCTAssertThrowsError(try t.store().counts(), "pad \(pad)") { error in
                    guard case .corrupt(_, let reason)? = error as? QueueError else { return XCTFail("\(error)") }
                    XCTAssertEqual(reason, "no header line")
                }
            }
        }
    }

    func testAFailedTransactionWritesNothing() throws {
        let t = TempHome()
        let s = t.store()
        try add(s, ["a"])
        let before = Harness.files(t.home.path)
        struct Boom: Error {}
        XCTAssertThrowsError(try s.transaction { tx in try tx.put(job("b")); throw Boom() }) { XCTAssertTrue($0 is Boom, "wrong error \($0)") }
        XCTAssertEqual(Harness.files(t.home.path), before)
        XCTAssertEqual(try s.read { $0.count }, 1)  // the cache did not keep the rolled-back job
    }

    func testTheIdIndexAnswersForEveryId() throws {
        let t = TempHome()
        let s = t.store()
        s.compactThreshold = 1
        let ids = (0..<500).map { "id-\(($0 * 7919) % 1000)-\($0)" }
        try add(s, ids)
        let fresh = t.store()
        let absent = ["0", "id-", "id-9999", "zzz", "id-0-0x", "A"]
        let (found, wrong) = try fresh.transaction { tx -> ([Bool], [Bool]) in
            (try ids.map { try tx.contains($0) }, try absent.map { try tx.contains($0) })
        }
        XCTAssertTrue(found.allSatisfy { $0 })
        XCTAssertTrue(wrong.allSatisfy { !$0 })
    }

    func testOneJobIsReadWithoutLoadingTheOthers() throws {
        let t = TempHome()
        let s = t.store()
        s.compactThreshold = 6000
        try add(s, (0..<40).map { "s\($0)" })  // folded into the snapshot
        try s.transaction { tx in
            var j = try XCTUnwrap(try tx.job("s3"))
            j.attempts = 7
            try tx.put(j)
            try tx.delete("s4")
            try tx.put(job("new"))
        }
        let everything = try t.store().read { $0 }
        for id in ["s0", "s3", "s4", "s39", "new", "nothere", "s"] {
            let fresh = t.store()
            XCTAssertEqual(try fresh.job(id), everything[id], "\(id)")
            XCTAssertEqual(fresh.fullLoads, 0, "\(id) was found by loading every job")
        }
        XCTAssertEqual(try t.store().job("s3")?.attempts, 7)
        // An index without offsets (written by an older queuectl) still answers, by a full read.
        let idx = try String(contentsOfFile: t.home.idIndex, encoding: .utf8)
        let old = idx.split(separator: "\n").map { $0.split(separator: "\t").first.map(String.init) ?? "" }.joined(separator: "\n") + "\n"
        try old.write(toFile: t.home.idIndex, atomically: false, encoding: .utf8)
        XCTAssertEqual(try t.store().job("s0"), everything["s0"])
        XCTAssertNil(try t.store().job("nothere"))
    }

    func testTheNewestJobsAreListedWithoutLoadingTheOthers() throws {
        let t = TempHome()
        let s = t.store()
        s.compactThreshold = 9000
        var made = 0
        for round in 0..<8 {
            try s.transaction { tx in
                for _ in 0..<12 {
                    made += 1
                    var j = job("r\(made)", JobState.allCases[(made * 7) % JobState.allCases.count])
                    j.createdAt = 1_000_000 + Millis(made / 3)  // ties broken by id
                    j.command = "echo \"quoted\",\"state\":\"dead\" \(made)"  // a state look-alike inside the command
                    try tx.put(j)
                }
                if round > 3 { try tx.delete("r\(made - 44)") }  // older jobs, folded into jobs.json by now
                if var old = try tx.job("r\(made - 40)") { old.state = .dead; try tx.put(old) }
            }
        }
        // Changes after the last compaction: jobs of the snapshot changed and deleted in the journal.
        try s.transaction { tx in
            for id in ["r3", "r50", "r90"] { if var j = try tx.job(id) { j.state = .failed; try tx.put(j) } }
            try tx.delete("r91")
            var late = job("late")
            late.createdAt = 1_000_001  // created now, but listed among the old ones
            try tx.put(late)
        }
        let head = String(decoding: t.bytes("jobs.json")?.prefix(120) ?? Data(), as: UTF8.self)
        XCTAssertTrue(String(decoding: t.bytes("journal.jsonl") ?? Data(), as: UTF8.self).contains("\"r50\""), "the journal should hold changes")
        XCTAssertTrue(!head.contains("\"generation\":1,"), "no compaction: the snapshot part was not exercised")
        let all = try t.store().read { $0 }
        for state in [nil] + JobState.allCases.map(Optional.some) {
            for limit in [0, 1, 5, 20, 500] {
                let fresh = t.store()
                let got = try XCTUnwrap(try fresh.recent(limit: limit, state: state))
                let want = all.ordered(state: state)
                XCTAssertEqual(got.jobs.map(\.id), want.suffix(limit).map(\.id), "state \(state?.rawValue ?? "any"), limit \(limit)")
                XCTAssertEqual(got.total, want.count)
                XCTAssertEqual(fresh.fullLoads, 0)
            }
        }
    }

    func testALightTransactionChangingAnExistingJobKeepsTheCountsRight() throws {
        let t = TempHome()
        let s = t.store()
        s.compactThreshold = 3000
        try add(s, (0..<20).map { "k\($0)" })  // some folded into the snapshot, some in the journal
        // Fresh stores do not load every job (as `queuectl cancel` does not): the change's
        // `from` must still be the job's real state, or the counts drift.
        for id in ["k0", "k19"] {
            try t.store().transaction { tx in
                var j = try XCTUnwrap(try tx.job(id))
                j.state = .cancelled
                try tx.put(j)
            }
        }
        try t.store().transaction { tx in  // a put without a lookup first
            var j = job("k5")
            j.state = .dead
            try tx.put(j)
        }
        let light = try t.store().counts()
        let real = try t.store().read { $0 }
        XCTAssertTrue(real.count(.cancelled) == 2 && real.count(.dead) == 1 && real.count(.pending) == 17)
        for st in JobState.allCases { XCTAssertEqual((light[st] ?? 0), real.count(st), "\(st)") }
    }

    func testFilesArePrivate() throws {
        let t = TempHome()
        try add(t.store(), ["a"])
        try t.store().compactNow()
        func mode(_ p: String) throws -> Int { (try FileManager.default.attributesOfItem(atPath: p)[.posixPermissions] as? Int) ?? -1 }
        XCTAssertEqual(try mode(t.home.path), 0o700)
        for name in ["jobs.json", "journal.jsonl", "jobs.ids", "queue.lock"] {
            XCTAssertEqual(try mode(t.home.path + "/" + name), 0o600, "\(name)")
        }
    }

    func testCountsAgreeWithTheJobsAfterMixedChanges() throws {
        let t = TempHome()
        let s = t.store()
        s.compactThreshold = 3000
        for i in 0..<30 {
            try s.transaction { tx in
                try tx.put(job("x\(i)", JobState.allCases[i % JobState.allCases.count]))
                if i % 4 == 0, i > 0 { try tx.delete("x\(i - 1)") }
            }
        }
        let state = try t.store().read { $0 }
        let light = try t.store().counts()
        for st in JobState.allCases {
            let real = state.all.filter { $0.state == st }.count
            XCTAssertEqual((light[st] ?? 0), real, "\(st)")
        }
    }

    func testFourProcessesEnqueueingAtOnceLoseNothing() throws {
        let t = TempHome()
        let bin = Harness.binary
        var procs: [Process] = []
        for p in 0..<4 {
            let proc = Process()
            proc.executableURL = URL(fileURLWithPath: "/bin/sh")
            proc.arguments = ["-c", "for i in $(seq 500); do \"$0\" --home \"$1\" enqueue \"{\\\"id\\\":\\\"p\(p)-$i\\\",\\\"command\\\":\\\"true\\\"}\" >/dev/null || exit 1; done", bin, t.home.path]
            try proc.run()
            procs.append(proc)
        }
        for p in procs { p.waitUntilExit(); XCTAssertEqual(p.terminationStatus, 0) }
        let state = try t.store().read { $0 }
        XCTAssertEqual(state.count, 2000)
        XCTAssertEqual(Set(state.ids).count, 2000)
        XCTAssertEqual(try t.store().counts()[.pending], 2000)
    }
}
