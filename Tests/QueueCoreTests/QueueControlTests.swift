import Foundation
import XCTest
@testable import QueueCore

/// Named queues: the claim rule (which queues a worker may take from, and what fits under a
/// queue's parallel limit), the claim itself against a linear scan as an oracle, queues.jsonl's
/// lenient reading, and the parsers of every queue option through the built binary.
final class QueueControlTests: HomeTestCase {

    // MARK: - ClaimRule

    /// Settings from (name, parallel, paused) triples.
    static func settings(_ queues: [(String, Int, Bool)]) -> QueueSettings {
        var s = QueueSettings()
        for (name, parallel, paused) in queues {
            var q = QueueSettings.Queue()
            q.parallel = parallel
            q.paused = paused
            s[name] = q
        }
        return s
    }

    func testClaimRuleTable() {
        // none: no limit; one, two: limits 1 and 2; held: paused; heldTwo: paused with a limit.
        let settings = Self.settings([("one", 1, false), ("two", 2, false), ("held", 0, true), ("heldTwo", 2, true)])
        struct Row { var served: Set<String>?; var queue: String; var running: Int; var slots: Int; var serves: Bool; var fits: Bool }
        let rows: [Row] = [
            // Every queue served (nil), no limit: any width fits, whatever runs.
            Row(served: nil, queue: "none", running: 0, slots: 1, serves: true, fits: true),
            Row(served: nil, queue: "none", running: 50, slots: 3, serves: true, fits: true),
            Row(served: nil, queue: "default", running: 7, slots: 1000, serves: true, fits: true),
            // Limit 1.
            Row(served: nil, queue: "one", running: 0, slots: 1, serves: true, fits: true),
            Row(served: nil, queue: "one", running: 1, slots: 1, serves: true, fits: false),
            Row(served: nil, queue: "one", running: 0, slots: 2, serves: true, fits: false),   // wider than the limit: never
            Row(served: nil, queue: "one", running: 0, slots: 3, serves: true, fits: false),
            // Limit 2.
            Row(served: nil, queue: "two", running: 0, slots: 1, serves: true, fits: true),
            Row(served: nil, queue: "two", running: 0, slots: 2, serves: true, fits: true),
            Row(served: nil, queue: "two", running: 0, slots: 3, serves: true, fits: false),
            Row(served: nil, queue: "two", running: 1, slots: 1, serves: true, fits: true),
            Row(served: nil, queue: "two", running: 1, slots: 2, serves: true, fits: false),
            Row(served: nil, queue: "two", running: 2, slots: 1, serves: true, fits: false),
            Row(served: nil, queue: "two", running: 3, slots: 1, serves: true, fits: false),   // over (the limit was lowered)
            // Paused: neither served nor fitting, limit or not, running or not.
            Row(served: nil, queue: "held", running: 0, slots: 1, serves: false, fits: false),
            Row(served: nil, queue: "heldTwo", running: 0, slots: 1, serves: false, fits: false),
            Row(served: ["held"], queue: "held", running: 0, slots: 1, serves: false, fits: false),
            // Served sets.
            Row(served: ["two"], queue: "two", running: 1, slots: 1, serves: true, fits: true),
            Row(served: ["two"], queue: "one", running: 0, slots: 1, serves: false, fits: false),
            Row(served: ["two"], queue: "default", running: 0, slots: 1, serves: false, fits: false),
            Row(served: ["one", "none"], queue: "none", running: 9, slots: 3, serves: true, fits: true),
            Row(served: ["one", "none"], queue: "one", running: 1, slots: 1, serves: true, fits: false),
            Row(served: [], queue: "none", running: 0, slots: 1, serves: false, fits: false),
            Row(served: [], queue: "default", running: 0, slots: 1, serves: false, fits: false),
        ]
        for r in rows {
            let rule = ClaimRule(served: r.served, settings: settings, runningSlots: [r.queue: r.running, "other": 99])
            let label = "served \(r.served.map { $0.sorted().description } ?? "all"), queue \(r.queue) (\(settings[r.queue].parallel)\(settings[r.queue].paused ? ", paused" : "")), running \(r.running), slots \(r.slots)"
            XCTAssertEqual(rule.serves(r.queue), r.serves, "serves: " + label)
            XCTAssertEqual(rule.fits(queue: r.queue, slots: r.slots), r.fits, "fits: " + label)
        }
        // No running slots recorded for a queue counts as none.
        XCTAssertTrue(ClaimRule(settings: settings).fits(queue: "two", slots: 2))
        XCTAssertFalse(ClaimRule(settings: settings, runningSlots: ["one": 1]).fits(queue: "one", slots: 1))
        XCTAssertTrue(ClaimRule(settings: settings, runningSlots: ["one": 1]).fits(queue: "two", slots: 2), "another queue's slots do not count")
    }

    // MARK: - The claim against a linear scan

    static let queueNames = ["default", "gpu", "io"]

    /// The oracle: each queue's first due, unheld, dependency-ready waiting job in selection
    /// order; a queue contributes it only if the rule (written out here, not ClaimRule's) lets
    /// it start, and contributes nothing otherwise (no job behind it overtakes it). The best of
    /// those in selection order.
    static func linearNext(_ s: QueueState, now: Millis, rule: ClaimRule) -> Job? {
        var first: [String: Job] = [:]
        for id in s.waitingIds {
            guard let j = s[id], !j.paused, Scheduler.due(j) <= now else { continue }
            if !j.dependsOn.isEmpty { guard case .ready = Scheduler.dependencies(of: j, in: s) else { continue } }
            if let f = first[j.queue], !Scheduler.precedes(j, f) { continue }
            first[j.queue] = j
        }
        var best: Job? = nil
        for (q, j) in first {
            let setting = rule.settings.queues[q]
            guard rule.served == nil || rule.served!.contains(q), !(setting?.paused ?? false) else { continue }
            let limit = setting?.parallel ?? 0
            guard limit == 0 || (rule.runningSlots[q] ?? 0) + j.slots <= limit else { continue }
            if let b = best, !Scheduler.precedes(j, b) { continue }
            best = j
        }
        return best
    }

    static func randomRule(_ rng: inout SeededRNG, running: [String: Int]) -> ClaimRule {
        var settings = QueueSettings()
        for q in queueNames {
            var s = QueueSettings.Queue()
            s.parallel = [0, 0, 1, 2, 3][rng.int(5)]
            s.paused = rng.int(6) == 0
            settings[q] = s
        }
        var served: Set<String>? = nil
        if rng.int(3) == 0 { served = Set(queueNames.filter { _ in rng.int(2) == 0 }) }
        return ClaimRule(served: served, settings: settings, runningSlots: running)
    }

    /// Random jobs over three queues (priorities, slots, delays, dependencies, holds, moves),
    /// random limits, pauses and served sets. After every step, for the rule of the step's
    /// settings with the real running slots and for one with random running slots, the claim
    /// picks what the scan picks; running slots and live counts per queue agree with a count.
    func testTheClaimAgreesWithTheLinearScan() {
        func oneSeed(_ seed: UInt64) {
            var rng = SeededRNG(seed: seed)
            var state = QueueState()
            var now: Millis = 1_000_000
            var made = 0
            let config = Config()
            var rule = Self.randomRule(&rng, running: [:])
            func waiting() -> [Job] { state.waitingIds.sorted().compactMap { state[$0] } }
            for step in 0..<1200 {
                switch rng.int(100) {
                case 0..<28:  // enqueue
                    made += 1
                    var j = Job(id: "j\(made)", command: "true", maxRetries: rng.int(2), createdAt: now - Millis(rng.int(5)), cwd: "/")
                    j.priority = rng.int(3) - 1
                    j.batchIndex = rng.int(3)
                    j.queue = Self.queueNames[rng.int(3)]
                    j.slots = 1 + rng.int(3)
                    if rng.int(5) == 0 { j.runAt = now + Millis(rng.int(4000)); j.nextRunAt = j.runAt }
                    if made > 1 && rng.int(6) == 0 { j.dependsOn = ["j\(1 + rng.int(made - 1))"] }
                    if rng.int(10) == 0 { j.paused = true }
                    state.put(j)
                case 28..<48:  // a worker claims under the current rule
                    rule.runningSlots = state.runningSlots()
                    if var j = state.nextRunnable(now: now, rule: rule) {
                        Lifecycle.claim(&j, now: now, workerPid: 1, workerStart: nil)
                        state.put(j)
                    }
                case 48..<62:  // a running job ends
                    let running = state.processingIds.sorted()
                    if !running.isEmpty, var j = state[running[rng.int(running.count)]] {
                        Lifecycle.finish(&j, outcome: Outcome(exitCode: rng.int(3) == 0 ? 1 : 0), now: now, config: config)
                        state.put(j)
                    }
                case 62..<70:  // pause ID / resume ID
                    let w = waiting()
                    if !w.isEmpty { var j = w[rng.int(w.count)]; j.paused.toggle(); state.put(j) }
                case 70..<78:  // move --first, or --before another job of its queue
                    let w = waiting()
                    if !w.isEmpty {
                        var j = w[rng.int(w.count)]
                        let others = w.filter { $0.queue == j.queue && $0.id != j.id && $0.priority <= j.priority }
                        if rng.int(2) == 0 || others.isEmpty {
                            j.order = -now - Millis(step)
                        } else {
                            j.order = Scheduler.rank(others[rng.int(others.count)]) - 1
                        }
                        state.put(j)
                    }
                case 78..<82:  // cancel
                    let w = waiting()
                    if !w.isEmpty { var j = w[rng.int(w.count)]; Lifecycle.cancel(&j, now: now, reason: "cancelled"); state.put(j) }
                case 82..<88:  // queue set / pause --queue / another worker's --queues
                    rule = Self.randomRule(&rng, running: [:])
                case 88..<90:  // purge a finished job
                    if let j = state.all.first(where: { $0.state.isFinished }) { state.remove(j.id) }
                default:
                    now += Millis(rng.int(1500))
                }
                var slots: [String: Int] = [:], live: [String: Int] = [:]
                for j in state.all {
                    if j.state == .processing { slots[j.queue, default: 0] += j.slots }
                    if j.state.isLive { live[j.queue, default: 0] += 1 }
                }
                XCTAssertEqual(state.runningSlots(), slots, "seed \(seed) step \(step): running slots")
                for q in Self.queueNames {
                    XCTAssertEqual(state.liveCount(queue: q), live[q] ?? 0, "seed \(seed) step \(step): live jobs of \(q)")
                }
                rule.runningSlots = slots
                var other = Self.randomRule(&rng, running: [:])
                for q in Self.queueNames where rng.int(2) == 0 { other.runningSlots[q] = rng.int(4) }
                for (name, r) in [("current", rule), ("random", other)] {
                    let want = Self.linearNext(state, now: now, rule: r)?.id
                    let got = state.nextRunnable(now: now, rule: r)?.id
                    XCTAssertEqual(got, want, "seed \(seed) step \(step), \(name) rule: the claim picks \(got ?? "nothing"), the scan \(want ?? "nothing")")
                    if got != want { return }
                }
            }
        }
        for seed in [11, 12, 13, 14, 15, 16, 17, 18] as [UInt64] { oneSeed(seed) }
    }

    // MARK: - queues.jsonl

    static func read(_ text: String) -> QueueSettings { QueuesFile.lastSettings(in: Array(text.utf8)) }
    static func parallel(_ s: QueueSettings, _ q: String) -> Int { s[q].parallel }

    func testQueuesFileLastGoodLineWins() {
        let gpu2 = #"{"gpu":{"parallel":2,"paused":false,"stops_running":false}}"#
        let both = #"{"gpu":{"parallel":3,"paused":false,"stops_running":false},"io":{"parallel":0,"paused":true,"stops_running":true}}"#
        XCTAssertEqual(Self.read(""), QueueSettings(), "empty file")
        XCTAssertEqual(Self.read("\n\n"), QueueSettings(), "empty lines")

        let one = Self.read(gpu2 + "\n")
        XCTAssertEqual(one.names, ["gpu"])
        XCTAssertEqual(one["gpu"].parallel, 2)
        XCTAssertFalse(one["gpu"].paused)

        let last = Self.read(gpu2 + "\n" + both + "\n")
        XCTAssertEqual(last.names, ["gpu", "io"], "the last line wins")
        XCTAssertEqual(last["gpu"].parallel, 3)
        XCTAssertTrue(last["io"].paused && last["io"].stopsRunning)
        XCTAssertEqual(Self.read(both + "\n" + gpu2 + "\n"), one, "the last line is the whole settings: io is no longer set")

        // A torn last line (no newline) is not a line, even when it parses.
        XCTAssertEqual(Self.read(gpu2 + "\n" + #"{"gpu":{"parallel":9"#), one, "torn mid-object")
        XCTAssertEqual(Self.read(gpu2 + "\n" + #"{"gpu":{"parallel":9}}"#), one, "complete object, no newline")
        XCTAssertEqual(Self.read(gpu2 + "\n" + #"{"gpu":{"parallel":9}} "#), one, "complete object and a space, no newline")

        // A damaged line is skipped: the previous good one holds.
        for garbage in ["not json", #"{"gpu":"#, "[1,2]", "5", "\"x\"", "null", "\u{0}\u{1}"] {
            XCTAssertEqual(Self.read(gpu2 + "\n" + garbage + "\n"), one, "garbage line \(garbage.debugDescription)")
        }
        XCTAssertEqual(Self.read(gpu2 + "\n" + "garbage\n" + "\n"), one, "garbage then an empty line")
        XCTAssertEqual(Self.read("garbage\n"), QueueSettings(), "nothing good at all")
        XCTAssertEqual(Self.read(both + "\n" + gpu2 + "\n" + "{oops\n"), one, "the last good line, not the first")
        // A good line after garbage wins.
        XCTAssertEqual(Self.read("garbage\n" + gpu2 + "\n"), one)
        // CRLF, as a hand edit might leave.
        XCTAssertEqual(Self.read(gpu2 + "\r\n")["gpu"].parallel, 2)
    }

    /// Hostile values in a line that parses: each bad entry is ignored (its queue unset), the
    /// good ones in the same line are kept.
    func testQueuesFileIgnoresHostileValues() {
        let line = #"{"a":{"parallel":-1},"b":{"parallel":1e12},"c":{"parallel":"x"},"d":{"paused":"yes"},"e":{"parallel":2.5},"#
            + #""f":5,"g":{"stops_running":true},"h":{"parallel":100001},"a/b":{"parallel":2},".x":{"parallel":2},"":{"parallel":2},"#
            + #""\#(String(repeating: "n", count: 65))":{"parallel":2},"ok":{"parallel":100000,"paused":true,"stops_running":true},"zero":{"parallel":0}}"#
        let s = Self.read(line + "\n")
        XCTAssertEqual(s.names, ["ok"], "only the good entry is set")
        for q in ["a", "b", "c", "d", "e", "f", "g", "h", "a/b", ".x", "", "zero"] {
            XCTAssertEqual(s[q], QueueSettings.Queue(), "queue \(q.debugDescription) should have no setting")
        }
        XCTAssertEqual(s["ok"].parallel, 100_000)
        XCTAssertTrue(s["ok"].paused && s["ok"].stopsRunning)
        // The settings as written read back the same.
        XCTAssertEqual(Self.read(s.json.serialized() + "\n"), s)
    }

    /// Every change is seen at once by another store on the same home (another process or
    /// host: its own cache), through the appends and through the rewrite past 64 KiB.
    func testQueuesFileChangesAreSeenAtOnceThroughTheRewrite() throws {
        let h = Home(path: home)
        try h.create()
        let writer = JSONStore(home: h), reader = JSONStore(home: h)
        var expected = QueueSettings()
        var rewrites = 0, lastSize = 0
        for i in 0..<500 {
            let name = "q\(i % 9)", parallel = i % 40, paused = i % 3 == 0
            let written = try writer.updateQueueSettings { $0[name].parallel = parallel; $0[name].paused = paused }
            expected[name].parallel = parallel
            expected[name].paused = paused
            XCTAssertEqual(written, expected, "change \(i): as written")
            XCTAssertEqual(try reader.queueSettings(), expected, "change \(i): as another store reads it")
            let size = (try? FileManager.default.attributesOfItem(atPath: h.queues)[.size] as? Int) ?? 0
            if size < lastSize { rewrites += 1 }
            lastSize = size
            XCTAssertLessThanOrEqual(size, JSONStore.queuesFileRewriteBytes + 4096, "change \(i): queues.jsonl keeps growing")
        }
        XCTAssertGreaterThan(rewrites, 0, "500 changes of ~9 queues never crossed 64 KiB: the rewrite was not exercised")
        XCTAssertEqual(try JSONStore(home: h).queueSettings(), expected)
    }

    // MARK: - Pause and restart

    /// A job held by `pause ID` that then finishes (cancelled here) is refused by `resume`, with
    /// the hint that `restart` runs it again: restarted, it must run, not sit held.
    func testARestartedJobIsNotHeldByAnEarlierPause() {
        XCTAssertEqual(q("enqueue", "--id", "h", "--", "true").code, 0)
        XCTAssertEqual(q("pause", "h").code, 0)
        XCTAssertEqual(q("cancel", "h").code, 0)
        let r = q("resume", "h")
        XCTAssertEqual(r.code, 1)
        XCTAssertTrue(r.stderr.contains("'queuectl restart h' runs it again"), r.stderr)
        XCTAssertEqual(q("restart", "h").code, 0)
        let drain = Harness.runBounded(["worker", "start", "--drain", "-c", "1"], home: home, seconds: 30)
        XCTAssertEqual(drain.code, 0, drain.stderr)
        let job = jobJSON("h")
        XCTAssertEqual(job["state"] as? String, "completed", "restarted h did not run: it is \(job["state"] ?? "?")\(job["paused"] != nil ? ", still held (\"paused\": true)" : "")")
    }

    // MARK: - The parsers, through the binary

    /// Each refused: exit 2, nothing on stdout, one error line naming the option or key, and the
    /// home byte for byte as it was (journal and queues.jsonl included).
    func testQueueOptionsRefuseBadValues() {
        XCTAssertEqual(q("enqueue", "--id", "seed", "--", "true").code, 0)
        XCTAssertEqual(q("queue", "set", "seedq", "--parallel", "1").code, 0)
        Harness.waitForCompaction(home: home)
        XCTAssertTrue(FileManager.default.fileExists(atPath: home + "/queues.jsonl"))
        let long = String(repeating: "a", count: 65)
        var cases: [(args: [String], names: [String])] = []
        for v in ["", long, "a/b", ".x", "a b", "_x"] {
            cases.append((["enqueue", "--queue", v, "--", "true"], ["--queue"]))
        }
        cases.append((["enqueue", "-q", "a/b", "--", "true"], ["--queue"]))
        for v in ["0", "1001", "x", "-1", "1.5", ""] {
            cases.append((["enqueue", "--slots", v, "--", "true"], ["--slots"]))
        }
        for raw in ["5", "\"\"", "\"a/b\"", "\"\(long)\"", "true", "[]"] {
            cases.append((["enqueue", "{\"command\":\"true\",\"queue\":\(raw)}"], ["queue"]))
        }
        for raw in ["0", "\"2\"", "2.5", "1001", "-1", "true"] {
            cases.append((["enqueue", "{\"command\":\"true\",\"slots\":\(raw)}"], ["slots"]))
        }
        for v in ["-1", "100001", "abc", "1.5", ""] {
            cases.append((["queue", "set", "x", "--parallel", v], ["--parallel"]))
        }
        cases.append((["queue", "set", "a/b", "--parallel", "1"], ["queue name"]))
        cases.append((["queue", "set", "x"], ["--parallel"]))
        for v in ["a,,b", "", ",a", "a,", "a/b", long] {
            cases.append((["worker", "start", "--queues", v], ["--queues"]))
        }
        cases.append((["worker", "start", "-q", "a,,b"], ["--queues"]))
        assertRefused(cases)
    }

    /// A refused queue name is shown in the error; a name with a newline must not make it two
    /// lines (the error is one line, whatever the input).
    func testAQueueNameWithANewlineIsRefusedOnOneLine() {
        XCTAssertEqual(q("enqueue", "--id", "seed", "--", "true").code, 0)
        Harness.waitForCompaction(home: home)
        assertRefused([(["enqueue", "--queue", "a\nb", "--", "true"], ["--queue"]),
                       (["enqueue", "{\"command\":\"true\",\"queue\":\"a\\nb\"}"], ["queue"]),
                       (["queue", "set", "a\nb", "--parallel", "1"], ["queue name"]),
                       (["worker", "start", "--queues", "gpu,a\nb"], ["--queues"]),
                       (["pause", "--queue", "a\nb"], ["queue name"])])
    }

    func assertRefused(_ cases: [(args: [String], names: [String])], file: StaticString = #filePath, line: UInt = #line) {
        for c in cases {
            let label = c.args.joined(separator: " ").debugDescription
            let before = Harness.files(home)
            let r = Harness.runBounded(c.args, home: home, seconds: 10)
            let lines = r.stderr.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty }
            var wrong: [String] = []
            if r.code != 2 { wrong.append("exit \(r.code), expected 2") }
            if !r.stdout.isEmpty { wrong.append("stdout: \(r.stdout)") }
            if lines.count != 1 { wrong.append("\(lines.count) lines on stderr") }
            if !c.names.contains(where: { r.stderr.contains($0) }) { wrong.append("the error names none of \(c.names)") }
            if Harness.files(home) != before { wrong.append("the home changed") }
            if !wrong.isEmpty { XCTFail("\(label): \(wrong.joined(separator: "; ")); stderr: \(r.stderr)", file: file, line: line) }
        }
    }

    /// The bounds themselves are accepted.
    func testQueueOptionBoundsAreAccepted() {
        let name64 = "q" + String(repeating: "9", count: 63)
        for args in [["enqueue", "--id", "a1", "--queue", name64, "--slots", "1000", "--", "true"],
                     ["enqueue", "--id", "a2", "-q", "a.b_c-D", "--slots", "1", "--", "true"],
                     ["enqueue", #"{"id":"a3","command":"true","queue":"9x","slots":2}"#],
                     ["queue", "set", name64, "--parallel", "100000"],
                     ["queue", "set", "x", "--parallel", "0"]] {
            let r = q(args)
            XCTAssertEqual(r.code, 0, "\(args): \(r.stderr)")
        }
        XCTAssertEqual(jobJSON("a1")["queue"] as? String, name64)
        XCTAssertEqual(jobJSON("a1")["slots"] as? Int, 1000)
        XCTAssertEqual(jobJSON("a3")["queue"] as? String, "9x")
        XCTAssertEqual(jobJSON("a3")["slots"] as? Int, 2)
        let list = Harness.json(q("queue", "list", "--json").stdout) as? [[String: Any]] ?? []
        XCTAssertEqual(list.first { $0["name"] as? String == name64 }?["parallel"] as? Int, 100_000)
    }

    func q(_ args: [String]) -> Harness.Result { Harness.run(args, home: home) }
}
