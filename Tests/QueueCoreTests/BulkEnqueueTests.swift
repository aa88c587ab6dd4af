import Foundation
import XCTest

/// `queuectl enqueue --file` with a JSON Lines input larger than `journal_max_bytes`: the batch is
/// streamed (Sources/QueueCore/Operations/BulkEnqueue.swift, Store/BatchAppend.swift,
/// Store/SnapshotMerge.swift) straight into a new jobs.json, all or nothing. Smaller inputs,
/// arrays and pretty-printed input take the old path (Operations/Enqueue.swift), which must give
/// the same answers; so most tests run the same input twice:
///   - "big" home (`self.home`): `journal_max_bytes` = 4096 (the minimum); every input below is
///     ~10–17 KB, i.e. ABOVE the bound → JSON Lines take the streamed path;
///   - "small" home (`dir/small`): `journal_max_bytes` = 1 MiB; the same input is BELOW the bound
///     → old path.
/// Every input's size is asserted against the bound it is meant to be above or below.
///
/// Documented wording differences between the paths (the exit code is the same for both):
///   - an id that already exists in the home: the old path names the job by its number
///     (`job 200 ("x"): id already exists …`), the streamed path checks ids after reading every
///     line, in sorted order, and says `job "x": id already exists …`;
///   - a dependency on an unknown job: old `job "b77": depends on unknown job "ghost"`, streamed
///     `depends on unknown job "ghost"` (the dependent job is not named).
final class BulkEnqueueTests: HomeTestCase {
    /// The minimum `journal_max_bytes`; inputs above it (JSON Lines) are streamed.
    static let bound = 4096
    /// The default `journal_max_bytes`; the same inputs are below it (old path).
    static let defaultBound = 1_048_576

    // MARK: Helpers

    var small: String { dir + "/small" }

    @discardableResult
    func run(_ h: String, _ args: [String], stdin: String? = nil) -> Harness.Result {
        Harness.run(args, home: h, stdin: stdin)
    }

    /// A home whose journal bound puts our inputs above it (streamed) or below it (old path).
    func makeHome(_ h: String, streamed: Bool) {
        let value = streamed ? BulkEnqueueTests.bound : BulkEnqueueTests.defaultBound
        let r = run(h, ["config", "set", "journal_max_bytes", String(value)])
        XCTAssertEqual(r.code, 0, r.stderr)
        XCTAssertEqual(run(h, ["config", "get", "journal_max_bytes"]).stdout, "\(value)\n")
    }

    func enqueueOne(_ h: String, _ json: String, file: StaticString = #filePath, line: UInt = #line) {
        let r = run(h, ["enqueue", json])
        XCTAssertEqual(r.code, 0, "enqueue \(json): \(r.stderr)", file: file, line: line)
    }

    /// `n` lines `{"id":"<prefix><i>","command":"echo <i>"}`; `edit[i]` replaces line i (1-based).
    func plainLines(_ n: Int, prefix: String = "b", edit: [Int: String] = [:]) -> [String] {
        (1...n).map { edit[$0] ?? "{\"id\":\"\(prefix)\($0)\",\"command\":\"echo \($0)\"}" }
    }

    func text(_ lines: [String]) -> String { lines.joined(separator: "\n") + "\n" }

    /// Writes the input to a file of its own and checks it is above the streamed bound (and below
    /// the default one, so the small home takes the old path with the very same bytes).
    func writeInput(_ content: String, _ name: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        let path = dir + "/" + name
        XCTAssertNoThrow(try content.write(toFile: path, atomically: true, encoding: .utf8))
        assertAboveBound(content, file: file, line: line)
        return path
    }

    func assertAboveBound(_ content: String, file: StaticString = #filePath, line: UInt = #line) {
        let n = content.utf8.count
        XCTAssertGreaterThan(n, BulkEnqueueTests.bound, "input must be above journal_max_bytes (4096) in the big home", file: file, line: line)
        XCTAssertLessThan(n, BulkEnqueueTests.defaultBound, "input must be below journal_max_bytes (1 MiB) in the small home", file: file, line: line)
    }

    func outIds(_ r: Harness.Result) -> [String] { r.stdout.split(separator: "\n").map(String.init) }

    func listJobs(_ h: String, _ extra: [String] = [], file: StaticString = #filePath, line: UInt = #line) -> [[String: Any]] {
        let r = run(h, ["list", "--json"] + extra)
        XCTAssertEqual(r.code, 0, r.stderr, file: file, line: line)
        guard let jobs = Harness.json(r.stdout) as? [[String: Any]] else {
            XCTFail("list --json is not an array of objects: \(r.stdout.prefix(300))", file: file, line: line)
            return []
        }
        return jobs
    }

    func listIds(_ h: String, _ extra: [String] = [], file: StaticString = #filePath, line: UInt = #line) -> [String] {
        listJobs(h, extra, file: file, line: line).map { ($0["id"] as? String) ?? "?" }
    }

    func show(_ h: String, _ id: String, file: StaticString = #filePath, line: UInt = #line) -> [String: Any] {
        let r = run(h, ["show", id, "--json"])
        XCTAssertEqual(r.code, 0, "show \(id): \(r.stderr)", file: file, line: line)
        return (Harness.json(r.stdout) as? [String: Any]) ?? [:]
    }

    struct Status: Equatable {
        var counts: [String: Int]
        var total: Int
        var scheduled: Int
    }

    func status(_ h: String, file: StaticString = #filePath, line: UInt = #line) -> Status {
        let r = run(h, ["status", "--json"])
        XCTAssertEqual(r.code, 0, r.stderr, file: file, line: line)
        let s = (Harness.json(r.stdout) as? [String: Any]) ?? [:]
        return Status(counts: (s["counts"] as? [String: Int]) ?? [:], total: (s["total"] as? Int) ?? -1,
                      scheduled: ((s["scheduled"] as? [String: Any])?["count"] as? Int) ?? -1)
    }

    /// Leftover batch files of the streamed path (`jobs.batch.tmp-*`).
    func batchTemps(_ h: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: h)) ?? []).filter { $0.hasPrefix("jobs.batch") }
    }

    /// What a job is, without what differs between two runs (times, generated ids, cwd).
    /// Generated ids start with "j"; no id given in these tests does.
    func summary(_ job: [String: Any]) -> String {
        let id = (job["id"] as? String) ?? "?"
        let shownId = id.hasPrefix("j") ? "<generated>" : id
        let deps = (job["depends_on"] as? [String]) ?? []
        return "\(shownId)|\(job["command"] as? String ?? "?")|\(job["state"] as? String ?? "?")|prio \(job["priority"] as? Int ?? -999)"
            + "|run_at \(job["run_at"] is String ? "set" : "null")|deps \(deps.joined(separator: ","))"
    }

    /// A refused command: exit 2 (bad input), or 1 for a conflict with the queue (an id already
    /// taken), as README's table says; nothing on stdout, one error line on stderr.
    func assertRefused(_ r: Harness.Result, _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        let want: Int32 = r.stderr.contains("id already exists in this queue") ? 1 : 2
        XCTAssertEqual(r.code, want, "\(label): exit code; stderr: \(r.stderr)", file: file, line: line)
        XCTAssertEqual(r.stdout, "", "\(label): stdout should be empty", file: file, line: line)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "\(label): one line on stderr, got: \(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stderr.hasPrefix("queuectl: error: "), "\(label): \(r.stderr)", file: file, line: line)
    }

    // MARK: 1. A mixed batch, a second batch, a single job, a compaction

    /// 300 JSON Lines (~13 KB, ABOVE journal_max_bytes = 4096 → streamed): given and generated
    /// ids, priorities, delays, dependencies on earlier/later lines and on jobs already in the home
    /// (one in jobs.json, one only in the journal). The same file in the small home (BELOW its
    /// 1 MiB bound → old path) gives the same jobs.
    func testStreamedMixedBatchThenSecondBatchSingleJobAndCompact() throws {
        let n = 300
        func lineJSON(_ i: Int) -> String {
            var fields: [String] = []
            if i % 7 != 0 { fields.append("\"id\":\"s\(i)\"") }  // every 7th: generated id
            fields.append("\"command\":\"echo \(i)\"")
            if i % 4 == 0 { fields.append("\"priority\":\(i % 9 - 4)") }
            if i % 10 == 0 { fields.append("\"delay\":\"1h\"") }  // 30 delayed jobs
            switch i {
            case 3: fields.append("\"depends_on\":[\"s298\"]")              // a later line
            case 20: fields.append("\"depends_on\":[\"s5\",\"s250\"]")      // an earlier and a later line
            case 100: fields.append("\"depends_on\":[\"prefile\",\"pre\"]") // jobs.json / journal of the home
            case 299: fields.append("\"depends_on\":\"s1\"")                // a single id as a string
            default: break
            }
            return "{" + fields.joined(separator: ",") + "}"
        }
        let lines = (1...n).map(lineJSON)
        let givenIds = (1...n).filter { $0 % 7 != 0 }.map { "s\($0)" }
        let path = writeInput(text(lines), "mixed.jsonl")  // above 4096: streamed in the big home

        var firstBatch: [String: [String]] = [:]
        for (h, streamed) in [(home, true), (small, false)] {
            makeHome(h, streamed: streamed)
            enqueueOne(h, #"{"id":"prefile","command":"true"}"#)
            XCTAssertEqual(run(h, ["compact"]).code, 0)  // prefile is in jobs.json
            enqueueOne(h, #"{"id":"pre","command":"true"}"#)  // pre only in the journal

            let r = run(h, ["enqueue", "--file", path])
            XCTAssertEqual(r.code, 0, "\(h): \(r.stderr)")
            XCTAssertEqual(r.stderr, "", "not a terminal: no summary line")
            let ids = outIds(r)
            firstBatch[h] = ids
            XCTAssertEqual(ids.count, n, "one id per line, in input order")
            XCTAssertEqual(Set(ids).count, n, "ids are unique")
            for i in 1...n {
                guard ids.count == n else { break }
                if i % 7 != 0 {
                    XCTAssertEqual(ids[i - 1], "s\(i)", "line \(i)")
                } else {
                    XCTAssertTrue(ids[i - 1].hasPrefix("j") && !givenIds.contains(ids[i - 1]), "line \(i): generated id \(ids[i - 1])")
                }
            }
            XCTAssertEqual(batchTemps(h), [], "no batch file left behind")

            // Delayed jobs are pending (and scheduled); jobs waiting for dependencies are pending.
            let s = status(h)
            XCTAssertEqual(s.counts, ["pending": n + 2, "processing": 0, "completed": 0, "failed": 0, "dead": 0, "cancelled": 0])
            XCTAssertEqual(s.total, n + 2)
            XCTAssertEqual(s.scheduled, n / 10, "the 30 delayed jobs are scheduled")

            // show: first, middle, last, a generated one, dependencies.
            let first = show(h, "s1")
            XCTAssertEqual(first["command"] as? String, "echo 1")
            XCTAssertEqual(first["state"] as? String, "pending")
            XCTAssertTrue(first["run_at"] is NSNull)
            let middle = show(h, "s150")
            XCTAssertEqual(middle["command"] as? String, "echo 150")
            XCTAssertTrue(middle["run_at"] is String, "s150 was delayed by 1h")
            XCTAssertEqual(middle["priority"] as? Int, 0)
            let last = show(h, "s300")
            XCTAssertEqual(last["command"] as? String, "echo 300")
            XCTAssertEqual(last["priority"] as? Int, 300 % 9 - 4)
            XCTAssertTrue(last["run_at"] is String)
            if ids.count == n {
                XCTAssertEqual(show(h, ids[6])["command"] as? String, "echo 7", "generated id of line 7")
            }
            XCTAssertEqual(show(h, "s3")["depends_on"] as? [String], ["s298"])
            XCTAssertEqual(show(h, "s20")["depends_on"] as? [String], ["s5", "s250"])
            XCTAssertEqual(show(h, "s100")["depends_on"] as? [String], ["prefile", "pre"])
            XCTAssertEqual(show(h, "s299")["depends_on"] as? [String], ["s1"])
            XCTAssertEqual(show(h, "s8")["priority"] as? Int, 8 % 9 - 4)

            // list: creation order, the batch after what was there; --limit gives the last ones.
            XCTAssertEqual(listIds(h), ["prefile", "pre"] + ids)
            XCTAssertEqual(listIds(h, ["--limit", "5"]), Array(ids.suffix(5)))
            let table = run(h, ["list", "--limit", "5"]).stdout
            XCTAssertTrue(table.contains(ids.last ?? "?") && !table.contains("s295 "), table)
        }
        // Both paths hold the same jobs.
        XCTAssertEqual(listJobs(home).map(summary), listJobs(small).map(summary))
        XCTAssertEqual(status(home), status(small))
        // The streamed batch went straight into the new jobs.json.
        let snapshot = try String(contentsOfFile: home + "/jobs.json", encoding: .utf8)
        XCTAssertTrue(snapshot.contains("\"id\":\"s1\"") && snapshot.contains("\"id\":\"s300\""), "the batch is in jobs.json")

        // A second streamed batch into the now non-empty home (~9 KB, ABOVE 4096), with --json:
        // dependencies on the first batch and on a later line.
        var second = plainLines(250, prefix: "t")
        second[0] = #"{"id":"t1","command":"echo 1","depends_on":["t250","s150"]}"#
        second[99] = #"{"id":"t100","command":"echo 100","depends_on":["s300"]}"#
        let path2 = writeInput(text(second), "second.jsonl")
        var secondJSON: [String: [[String: Any]]] = [:]
        for h in [home, small] {
            let r = run(h, ["enqueue", "--file", path2, "--json"])
            XCTAssertEqual(r.code, 0, r.stderr)
            let jobs = (Harness.json(r.stdout) as? [[String: Any]]) ?? []
            secondJSON[h] = jobs
            XCTAssertEqual(jobs.map { $0["id"] as? String ?? "?" }, (1...250).map { "t\($0)" }, "--json: the jobs in input order")
            XCTAssertEqual(jobs.first?["depends_on"] as? [String], ["t250", "s150"])
            XCTAssertEqual(listIds(h).count, n + 2 + 250)
            XCTAssertEqual(listIds(h, ["--limit", "5"]), (246...250).map { "t\($0)" })
            XCTAssertEqual(batchTemps(h), [])
        }
        // --json prints the same job objects on both paths (times aside).
        func strip(_ jobs: [[String: Any]]) -> [NSDictionary] {
            jobs.map { j in
                var j = j
                j["created_at"] = nil
                j["updated_at"] = nil
                return j as NSDictionary
            }
        }
        XCTAssertEqual(strip(secondJSON[home] ?? []), strip(secondJSON[small] ?? []))
        XCTAssertEqual(secondJSON[home]?.first?.keys.sorted(), secondJSON[small]?.first?.keys.sorted())

        // A single enqueue after it.
        for h in [home, small] {
            let r = run(h, ["enqueue", "--id", "single1", "--after", "t250", "-c", "true"])
            XCTAssertEqual(r.code, 0, r.stderr)
            XCTAssertEqual(r.stdout, "single1\n")
            XCTAssertEqual(listIds(h, ["--limit", "1"]), ["single1"])
            XCTAssertEqual(show(h, "single1")["depends_on"] as? [String], ["t250"])
        }

        // compact: everything still readable, same order, same counts.
        let beforeCompact = listIds(home)
        let statusBefore = status(home)
        XCTAssertEqual(beforeCompact.count, n + 2 + 250 + 1)
        let c = run(home, ["compact"])
        XCTAssertEqual(c.code, 0, c.stderr)
        XCTAssertEqual(listIds(home), beforeCompact)
        XCTAssertEqual(status(home), statusBefore)
        XCTAssertEqual(statusBefore.counts["pending"], n + 2 + 250 + 1)
        XCTAssertEqual(statusBefore.scheduled, n / 10)
        for id in ["prefile", "pre", "s1", "s150", "s300", "t1", "t125", "t250", "single1"] {
            XCTAssertEqual(show(home, id)["id"] as? String, id)
        }
        XCTAssertEqual(show(home, "s20")["depends_on"] as? [String], ["s5", "s250"])
        XCTAssertEqual(listJobs(home).map(summary), listJobs(small).map(summary), "after compact, the same jobs as the old path's home")
        XCTAssertEqual(batchTemps(home), [])
    }

    // MARK: 2. All or nothing

    /// Each invalid input: 300 JSON Lines (~10 KB, ABOVE 4096 in the big home → streamed; BELOW
    /// 1 MiB in the small home → old path). Both refuse it with exit 2 and one stderr line naming
    /// the problem, and neither home changes (every file, jobs.json included; `list --json`; no
    /// `jobs.batch.tmp-*`).
    func testInvalidBatchesAreRefusedWholeOnBothPaths() throws {
        struct Case {
            var name: String
            var lines: [String]
            /// Substrings both paths' messages must contain.
            var mustContain: [String]
            /// Whether the two messages are identical (else: the documented wording difference).
            var identical: Bool
        }
        let cases: [Case] = [
            // (a) invalid JSON on line 150 (a bad literal inside the line).
            Case(name: "a-invalid-json", lines: plainLines(300, edit: [150: #"{"id":"bad","command":tru}"#]),
                 mustContain: ["invalid JSON on line 150"], identical: true),
            // (a') invalid JSON on line 150: an object left open. A line that is not one whole
            // object sends the streamed path back to the ordinary reader, so both answer alike
            // (the reader reads on into line 151 before it knows).
            Case(name: "a-unterminated", lines: plainLines(300, edit: [150: #"{"id":"bad","command":"true""#]),
                 mustContain: ["invalid JSON on line 15"], identical: true),
            // (b) a job with an unknown key on line 120.
            Case(name: "b-unknown-key", lines: plainLines(300, edit: [120: #"{"id":"x120","command":"true","retries":3}"#]),
                 mustContain: [#"job 120 ("x120"): unknown key "retries""#], identical: true),
            // (c) the same id on lines 10 and 300.
            Case(name: "c-duplicate", lines: plainLines(300, edit: [300: #"{"id":"b10","command":"again"}"#]),
                 mustContain: [#"job 300 ("b10"): duplicate id, also used by job 10 of this batch"#], identical: true),
            // (d) an id already in the home: in jobs.json (after compact) …
            Case(name: "d-exists-in-snapshot", lines: plainLines(300, edit: [200: #"{"id":"inSnapshot","command":"x"}"#]),
                 mustContain: [#""inSnapshot""#, "id already exists in this queue"], identical: false),
            // … and only in the journal (enqueued singly just before).
            Case(name: "d-exists-in-journal", lines: plainLines(300, edit: [200: #"{"id":"inJournal","command":"x"}"#]),
                 mustContain: [#""inJournal""#, "id already exists in this queue"], identical: false),
            // (e) a dependency on an unknown job.
            Case(name: "e-unknown-dependency", lines: plainLines(300, edit: [77: #"{"id":"b77","command":"x","depends_on":["b1","ghost"]}"#]),
                 mustContain: [#"depends on unknown job "ghost""#], identical: false),
            // (f) a cycle inside the batch: b5 → b250 → b100 → b5.
            Case(name: "f-cycle", lines: plainLines(300, edit: [
                5: #"{"id":"b5","command":"x","depends_on":["b250"]}"#,
                100: #"{"id":"b100","command":"x","depends_on":["b5"]}"#,
                250: #"{"id":"b250","command":"x","depends_on":["b100"]}"#,
            ]), mustContain: ["dependency cycle: b5 -> b250 -> b100 -> b5"], identical: true),
        ]

        for (h, streamed) in [(home, true), (small, false)] {
            makeHome(h, streamed: streamed)
            enqueueOne(h, #"{"id":"inSnapshot","command":"true"}"#)
            XCTAssertEqual(run(h, ["compact"]).code, 0)
            enqueueOne(h, #"{"id":"inJournal","command":"true"}"#)
        }
        XCTAssertTrue(try String(contentsOfFile: home + "/jobs.json", encoding: .utf8).contains("\"id\":\"inSnapshot\""))
        XCTAssertFalse(try String(contentsOfFile: home + "/jobs.json", encoding: .utf8).contains("\"id\":\"inJournal\""),
                       "precondition: inJournal is only in the journal")

        let before = [home: Harness.files(home), small: Harness.files(small)]
        let listBefore = [home: run(home, ["list", "--json"]).stdout, small: run(small, ["list", "--json"]).stdout]
        XCTAssertEqual(listIds(home), ["inSnapshot", "inJournal"])

        for c in cases {
            let path = writeInput(text(c.lines), c.name + ".jsonl")  // above 4096: streamed in the big home
            var results: [String: Harness.Result] = [:]
            for h in [home, small] {
                let label = "\(c.name) (\(h == home ? "streamed" : "old path"))"
                let r = run(h, ["enqueue", "--file", path])
                results[h] = r
                assertRefused(r, label)
                for s in c.mustContain {
                    XCTAssertTrue(r.stderr.contains(s), "\(label): expected '\(s)' in: \(r.stderr)")
                }
                XCTAssertEqual(Harness.files(h), before[h], "\(label): the home changed")
                XCTAssertEqual(run(h, ["list", "--json"]).stdout, listBefore[h], "\(label): the jobs changed")
                XCTAssertEqual(batchTemps(h), [], "\(label): batch file left behind")
            }
            let big = results[home]!, old = results[small]!
            XCTAssertEqual(big.code, old.code, "\(c.name): same exit code on both paths")
            if c.identical {
                XCTAssertEqual(big.stderr, old.stderr, "\(c.name): same message on both paths")
            }
        }

        // An unterminated object: the same line number above and below the bound.
        let unterminated = dir + "/a-unterminated.jsonl"
        XCTAssertEqual(run(home, ["enqueue", "--file", unterminated]).stderr, run(small, ["enqueue", "--file", unterminated]).stderr)

        // After all that, the homes still take a valid batch.
        let ok = writeInput(text(plainLines(300)), "ok.jsonl")
        for h in [home, small] {
            let r = run(h, ["enqueue", "--file", ok])
            XCTAssertEqual(r.code, 0, r.stderr)
            XCTAssertEqual(listIds(h), ["inSnapshot", "inJournal"] + (1...300).map { "b\($0)" })
        }
    }

    /// (d) continued: an id that existed but was purged can be used again, and a dependency on a
    /// purged job is refused; checked for a job purged while only in the journal and for one that
    /// is still in jobs.ids/jobs.json with its deletion in the journal. Every input is ~10 KB:
    /// ABOVE 4096 (big home, streamed), BELOW 1 MiB (small home, old path). Purge needs no worker:
    /// a cancelled job is finished.
    func testPurgedIdsCanBeUsedAgainAndCannotBeDependedOn() throws {
        let dependOnFile = writeInput(text(plainLines(300, edit: [50: #"{"id":"b50","command":"x","depends_on":["goneFile"]}"#])), "dep-file.jsonl")
        let dependOnJournal = writeInput(text(plainLines(300, edit: [50: #"{"id":"b50","command":"x","depends_on":["goneJournal"]}"#])), "dep-journal.jsonl")
        let reuse = writeInput(text(plainLines(300, edit: [1: #"{"id":"goneFile","command":"new file"}"#,
                                                          300: #"{"id":"goneJournal","command":"new journal"}"#])), "reuse.jsonl")
        let reuseAgain = writeInput(text(plainLines(300, prefix: "c", edit: [150: #"{"id":"goneFile","command":"third"}"#])), "reuse-again.jsonl")

        for (h, streamed) in [(home, true), (small, false)] {
            let label = streamed ? "streamed" : "old path"
            makeHome(h, streamed: streamed)
            // goneFile: written into jobs.json by a compaction, then cancelled and purged (the
            // deletion is in the journal, the id still in jobs.ids).
            enqueueOne(h, #"{"id":"goneFile","command":"true"}"#)
            XCTAssertEqual(run(h, ["compact"]).code, 0)
            XCTAssertEqual(run(h, ["cancel", "goneFile"]).code, 0)
            // goneJournal: created, cancelled and purged in the journal only.
            enqueueOne(h, #"{"id":"goneJournal","command":"true"}"#)
            XCTAssertEqual(run(h, ["cancel", "goneJournal"]).code, 0)
            let p = run(h, ["purge", "--state", "cancelled"])
            XCTAssertEqual(p.code, 0, p.stderr)
            XCTAssertEqual(run(h, ["show", "goneFile"]).code, 1, "\(label): purged")
            XCTAssertEqual(run(h, ["show", "goneJournal"]).code, 1, "\(label): purged")
            XCTAssertEqual(listIds(h), [])
            let ids = (try? String(contentsOfFile: h + "/jobs.ids", encoding: .utf8)) ?? ""
            XCTAssertTrue(ids.contains("goneFile\t"), "\(label) precondition: goneFile still in jobs.ids, deleted in the journal: \(ids)")
            XCTAssertFalse(ids.contains("goneJournal"), "\(label) precondition: goneJournal never reached jobs.ids")

            // A dependency on a purged job: unknown, nothing written.
            let before = Harness.files(h)
            for (input, id) in [(dependOnFile, "goneFile"), (dependOnJournal, "goneJournal")] {
                let r = run(h, ["enqueue", "--file", input])
                assertRefused(r, "\(label): depends on purged \(id)")
                XCTAssertTrue(r.stderr.contains("depends on unknown job \"\(id)\""), "\(label): \(r.stderr)")
                XCTAssertEqual(Harness.files(h), before, "\(label): the home changed")
            }

            // The purged ids can be used again.
            let r = run(h, ["enqueue", "--file", reuse])
            XCTAssertEqual(r.code, 0, "\(label): \(r.stderr)")
            XCTAssertEqual(outIds(r).first, "goneFile")
            XCTAssertEqual(outIds(r).last, "goneJournal")
            XCTAssertEqual(show(h, "goneFile")["command"] as? String, "new file")
            XCTAssertEqual(show(h, "goneFile")["state"] as? String, "pending")
            XCTAssertEqual(show(h, "goneJournal")["command"] as? String, "new journal")
            XCTAssertEqual(listIds(h).count, 300)
            XCTAssertEqual(status(h).counts["pending"], 300)
            XCTAssertEqual(status(h).counts["cancelled"], 0)

            // Now it exists again: refused.
            let again = run(h, ["enqueue", "--file", reuseAgain])
            assertRefused(again, "\(label): goneFile exists again")
            XCTAssertTrue(again.stderr.contains("\"goneFile\"") && again.stderr.contains("id already exists"), again.stderr)

            // Purged once more, then created again by a single enqueue (a delete then a put in
            // the journal): taken.
            XCTAssertEqual(run(h, ["cancel", "goneFile"]).code, 0)
            XCTAssertEqual(run(h, ["purge", "--state", "cancelled"]).code, 0)
            enqueueOne(h, #"{"id":"goneFile","command":"single"}"#)
            let before2 = Harness.files(h)
            let third = run(h, ["enqueue", "--file", reuseAgain])
            assertRefused(third, "\(label): goneFile deleted and created again")
            XCTAssertTrue(third.stderr.contains("\"goneFile\"") && third.stderr.contains("id already exists"), third.stderr)
            XCTAssertEqual(Harness.files(h), before2)
            XCTAssertEqual(show(h, "goneFile")["command"] as? String, "single")
            XCTAssertEqual(batchTemps(h), [])
        }
        XCTAssertEqual(listJobs(home).map(summary), listJobs(small).map(summary))
    }

    /// An existing id whose place in sorted order is in the middle of the batch's and the home's
    /// ids (the streamed path checks them in one sorted pass): found; ids differing only in case
    /// or by a suffix are not conflicts. Inputs ~10–20 KB: ABOVE 4096 (streamed), BELOW 1 MiB.
    func testSortedIdCheckFindsAConflictAmongInterleavedIds() throws {
        let existing = writeInput(text((100...399).map { "{\"id\":\"e\($0)\",\"command\":\"x\"}" }), "existing.jsonl")
        var interleaved: [String] = []
        for i in 100...399 {
            interleaved.append("{\"id\":\"e\(i)a\",\"command\":\"x\"}")
            interleaved.append("{\"id\":\"E\(i)\",\"command\":\"x\"}")
        }
        let conflicting = writeInput(text(interleaved + [#"{"id":"e250","command":"x"}"#, #"{"id":"e-1","command":"x"}"#]), "conflicting.jsonl")
        let fine = writeInput(text(interleaved), "fine.jsonl")
        for (h, streamed) in [(home, true), (small, false)] {
            makeHome(h, streamed: streamed)
            XCTAssertEqual(run(h, ["enqueue", "--file", existing]).code, 0)
            XCTAssertEqual(run(h, ["compact"]).code, 0)
            let before = Harness.files(h)
            let r = run(h, ["enqueue", "--file", conflicting])
            assertRefused(r, streamed ? "streamed" : "old path")
            XCTAssertTrue(r.stderr.contains("\"e250\"") && r.stderr.contains("id already exists"), r.stderr)
            XCTAssertEqual(Harness.files(h), before)
            let ok = run(h, ["enqueue", "--file", fine])
            XCTAssertEqual(ok.code, 0, ok.stderr)
            XCTAssertEqual(outIds(ok).count, 600)
            XCTAssertEqual(listIds(h).count, 900)
            XCTAssertEqual(show(h, "E250")["id"] as? String, "E250")
        }
    }

    /// Which path an input takes, seen from outside: an id that already exists is reported by the
    /// old path with the job's number (`job 200 ("taken"): …`), by the streamed path without it
    /// (`job "taken": …`, the ids are checked after every line was read). This pins that JSON
    /// Lines above the bound (file and stdin) ARE streamed, and that the same lines below the
    /// bound, an array above it and pretty-printed objects above it are NOT. If the streamed
    /// message gains the job number, update `streamedWording` (the other tests do not depend on it).
    func testWhichPathEachInputTakes() throws {
        let streamedWording = #"queuectl: error: job "taken": id already exists in this queue"#
        let oldWording = #"queuectl: error: job 200 ("taken"): id already exists in this queue"#
        let lines = plainLines(300, edit: [200: #"{"id":"taken","command":"x"}"#])
        let jsonl = text(lines)  // ~10 KB: above 4096, below 1 MiB
        let jsonlPath = writeInput(jsonl, "probe.jsonl")
        let arrayPath = writeInput("[\n" + lines.joined(separator: ",\n") + "\n]\n", "probe-array.json")
        let prettyPath = writeInput(lines.map { $0.replacingOccurrences(of: ",", with: ",\n  ") }.joined(separator: "\n") + "\n", "probe-pretty.json")
        for (h, streamed) in [(home, true), (small, false)] {
            makeHome(h, streamed: streamed)
            enqueueOne(h, #"{"id":"taken","command":"true"}"#)
        }
        func probe(_ h: String, _ args: [String], stdin: String? = nil) -> String {
            let r = run(h, args, stdin: stdin)
            assertRefused(r, args.joined(separator: " "))
            return r.stderr
        }
        XCTAssertTrue(probe(home, ["enqueue", "--file", jsonlPath]).hasPrefix(streamedWording), "JSON Lines above the bound: streamed")
        XCTAssertTrue(probe(home, ["enqueue", "--file", "-"], stdin: jsonl).hasPrefix(streamedWording), "stdin above the bound: streamed")
        XCTAssertTrue(probe(small, ["enqueue", "--file", jsonlPath]).hasPrefix(oldWording), "below the bound: old path")
        XCTAssertTrue(probe(small, ["enqueue", "--file", "-"], stdin: jsonl).hasPrefix(oldWording), "stdin below the bound: old path")
        XCTAssertTrue(probe(home, ["enqueue", "--file", arrayPath]).hasPrefix(oldWording), "an array above the bound: old path")
        XCTAssertTrue(probe(home, ["enqueue", "--file", prettyPath]).hasPrefix(oldWording), "pretty-printed above the bound: old path")
        XCTAssertEqual(listIds(home), ["taken"])
        XCTAssertEqual(listIds(small), ["taken"])
    }

    // MARK: 3. stdin

    /// `--file -`: the same JSON Lines from stdin (~10 KB, ABOVE 4096 → streamed in the big home;
    /// BELOW 1 MiB → old path in the small one). Errors name "stdin".
    func testStdinTakesTheSameJSONLines() throws {
        let good = text(plainLines(300))
        assertAboveBound(good)
        let bad = text(plainLines(300, prefix: "x", edit: [150: #"{"id":"x150","command":tru}"#]))
        assertAboveBound(bad)
        let unknownDep = text(plainLines(300, prefix: "y", edit: [9: #"{"id":"y9","command":"x","depends_on":["ghost"]}"#]))
        assertAboveBound(unknownDep)
        var messages: [String: String] = [:]
        for (h, streamed) in [(home, true), (small, false)] {
            makeHome(h, streamed: streamed)
            let r = run(h, ["enqueue", "--file", "-"], stdin: good)
            XCTAssertEqual(r.code, 0, r.stderr)
            XCTAssertEqual(outIds(r), (1...300).map { "b\($0)" })
            XCTAssertEqual(listIds(h), (1...300).map { "b\($0)" })
            XCTAssertEqual(status(h).counts["pending"], 300)
            XCTAssertEqual(show(h, "b150")["command"] as? String, "echo 150")

            let before = Harness.files(h)
            let e = run(h, ["enqueue", "--file", "-"], stdin: bad)
            assertRefused(e, "stdin")
            XCTAssertTrue(e.stderr.contains("stdin: invalid JSON on line 150"), e.stderr)
            messages[h] = e.stderr
            let d = run(h, ["enqueue", "--file", "-"], stdin: unknownDep)
            assertRefused(d, "stdin")
            XCTAssertTrue(d.stderr.contains("depends on unknown job \"ghost\""), d.stderr)
            XCTAssertEqual(Harness.files(h), before)
            XCTAssertEqual(batchTemps(h), [])
        }
        XCTAssertEqual(messages[home], messages[small])
    }

    // MARK: 4. Arrays and pretty-printed input above the bound

    /// A JSON array of 300 objects (one per line, ~11 KB) and 300 pretty-printed objects (~16 KB):
    /// both ABOVE 4096 but not JSON Lines, so they take the old path in the big home too; the
    /// answers are the same as in the small home (BELOW 1 MiB).
    func testArrayAndPrettyPrintedInputAboveTheBoundStillWork() throws {
        let array = "[\n" + plainLines(300, prefix: "a").joined(separator: ",\n") + "\n]\n"
        let arrayPath = writeInput(array, "array.json")
        let oneLineArray = "[" + plainLines(300, prefix: "o").joined(separator: ",") + "]"
        let oneLinePath = writeInput(oneLineArray, "array-one-line.json")
        let pretty = (1...300).map { "{\n  \"id\": \"p\($0)\",\n  \"command\": \"echo \($0)\",\n  \"priority\": \($0 % 5)\n}" }.joined(separator: "\n") + "\n"
        let prettyPath = writeInput(pretty, "pretty.json")
        let badArray = "[\n" + plainLines(300, prefix: "q", edit: [300: #"{"id":"q10","command":"dup"}"#]).joined(separator: ",\n") + "\n]\n"
        let badArrayPath = writeInput(badArray, "bad-array.json")

        var errors: [String: String] = [:]
        for (h, streamed) in [(home, true), (small, false)] {
            makeHome(h, streamed: streamed)
            let a = run(h, ["enqueue", "--file", arrayPath])
            XCTAssertEqual(a.code, 0, a.stderr)
            XCTAssertEqual(outIds(a), (1...300).map { "a\($0)" })
            let o = run(h, ["enqueue", "--file", oneLinePath])
            XCTAssertEqual(o.code, 0, o.stderr)
            XCTAssertEqual(outIds(o), (1...300).map { "o\($0)" })
            let p = run(h, ["enqueue", "--file", prettyPath])
            XCTAssertEqual(p.code, 0, p.stderr)
            XCTAssertEqual(outIds(p), (1...300).map { "p\($0)" })
            XCTAssertEqual(show(h, "p299")["priority"] as? Int, 299 % 5)
            XCTAssertEqual(listIds(h), (1...300).map { "a\($0)" } + (1...300).map { "o\($0)" } + (1...300).map { "p\($0)" })
            XCTAssertEqual(status(h).counts["pending"], 900)

            let before = Harness.files(h)
            let bad = run(h, ["enqueue", "--file", badArrayPath])
            assertRefused(bad, "array with a duplicate")
            XCTAssertTrue(bad.stderr.contains(#"job 300 ("q10"): duplicate id, also used by job 10 of this batch"#), bad.stderr)
            XCTAssertEqual(Harness.files(h), before)
            errors[h] = bad.stderr
            XCTAssertEqual(batchTemps(h), [])
        }
        XCTAssertEqual(errors[home], errors[small])
        XCTAssertEqual(listJobs(home).map(summary), listJobs(small).map(summary))
    }

    /// Input whose first line is one object (so it is taken for JSON Lines) but which also holds
    /// pretty-printed objects, or two objects on one line. The old path reads it as a sequence of
    /// objects; above the bound (~6 KB > 4096) the streamed path hands it back to that reader when
    /// a line is not one whole object, so the answer is the same. A refusal writes nothing.
    func testConcatenatedObjectsGiveTheSameAnswerAboveAndBelowTheBound() throws {
        let mixed = #"{"id":"first","command":"x"}"# + "\n"
            + (1...100).map { "{\n  \"id\": \"m\($0)\",\n  \"command\": \"echo \($0)\"\n}" }.joined(separator: "\n") + "\n"
        let mixedPath = writeInput(mixed, "mixed-pretty.json")
        let twoOnALine = text(plainLines(300, prefix: "w", edit: [50: #"{"id":"w50","command":"a"} {"id":"w50b","command":"b"}"#]))
        let twoPath = writeInput(twoOnALine, "two-on-a-line.jsonl")

        for (input, count) in [(mixedPath, 101), (twoPath, 301)] {
            let (big, smallHome) = (dir + "/big-" + String(count), dir + "/small-" + String(count))
            makeHome(big, streamed: true)
            makeHome(smallHome, streamed: false)
            let old = run(smallHome, ["enqueue", "--file", input])
            XCTAssertEqual(old.code, 0, "old path: \(old.stderr)")
            XCTAssertEqual(outIds(old).count, count)

            let before = Harness.files(big)
            let r = run(big, ["enqueue", "--file", input])
            if r.code != 0 {
                assertRefused(r, "streamed: \(input)")
                XCTAssertEqual(Harness.files(big), before, "a refused batch writes nothing")
                XCTAssertEqual(batchTemps(big), [])
            }
            XCTAssertEqual(r.code, old.code, "\(input): same answer above and below the bound; got: \(r.stderr)")
            XCTAssertEqual(outIds(r), outIds(old))
        }
    }
}
