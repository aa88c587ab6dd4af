import Foundation
import Glibc
import XCTest
@testable import QueueCore

/// What users type (issue 12): a plain command for `enqueue`, job-field flags over JSON input,
/// `config` = `config show`, `worker start -c N` and `--drain`, `init`, the exit codes 0/1/2, and a
/// "did you mean: <the whole corrected command line>" for near misses.
///
/// Every run is bounded (a wrongly accepted spelling that starts a foreground supervisor fails its
/// case instead of hanging the suite) and every worker started is stopped.
final class SpellingTests: HomeTestCase {
    // MARK: - Running the binary

    /// Runs the binary with `--home home` first, giving up after `seconds` (Harness.runBounded).
    @discardableResult
    func run(_ args: [String], home: String, stdin: String? = nil, cwd: String? = nil,
             env: [String: String] = [:], seconds: Double = 30) -> Harness.Result {
        Harness.runBounded(args, home: home, stdin: stdin, cwd: cwd, env: env, seconds: seconds)
    }

    /// `run` in this test's home.
    @discardableResult
    func b(_ args: String..., stdin: String? = nil, cwd: String? = nil, seconds: Double = 30) -> Harness.Result {
        run(args, home: home, stdin: stdin, cwd: cwd, seconds: seconds)
    }

    /// `show ID --json` in `home`, as a dictionary (empty when the job is not there).
    func job(_ id: String, in home: String) -> [String: Any] {
        let r = run(["show", id, "--json"], home: home)
        guard r.code == 0 else { return [:] }
        return (Harness.json(r.stdout) as? [String: Any]) ?? [:]
    }

    static func short(_ s: String) -> String { s.count > 600 ? String(s.prefix(600)) + "…" : s }

    /// stderr with the user's own `--home DIR` taken out, wherever the suggestion repeats it, so a
    /// suggestion can be compared with the line the user would have typed without it.
    static func withoutHome(_ text: String, home: String) -> String {
        var t = text
        for h in ["'\(home)'", home] {
            t = t.replacingOccurrences(of: " --home \(h)", with: "")
            t = t.replacingOccurrences(of: "--home \(h) ", with: "")
        }
        return t
    }

    /// The command line after "did you mean: " (to the end of its line), or nil.
    static func suggestion(_ stderr: String) -> String? {
        guard let r = stderr.range(of: "did you mean: ") else { return nil }
        return String(stderr[r.upperBound...].prefix { $0 != "\n" })
    }

    /// Runs a suggested command line as a shell would read it (`queuectl` = the built binary), in
    /// `home` even if the suggestion left `--home` out, so its quoting is checked for real.
    func runSuggestion(_ line: String, home: String) -> Harness.Result {
        guard line.hasPrefix("queuectl ") else { return Harness.Result(code: -1, stdout: "", stderr: "not a queuectl line: \(line)") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "queuectl() { \"$QUEUECTL_BIN\" \"$@\"; }; " + line]
        var e = ProcessInfo.processInfo.environment
        e["QUEUECTL_BIN"] = Harness.binary
        e["QUEUECTL_HOME"] = home
        e["HOME"] = dir
        e["NO_COLOR"] = "1"
        p.environment = e
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        do { try p.run() } catch { return Harness.Result(code: -1, stdout: "", stderr: "\(error)") }
        // Enqueue prints a line or two: the pipes cannot fill up.
        p.waitUntilExit()
        let o = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let r = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return Harness.Result(code: p.terminationStatus, stdout: o, stderr: r)
    }

    /// Problems with a refused command: stdout empty, exactly one `queuectl: error: ` line.
    static func errorShapeProblems(_ r: Harness.Result) -> [String] {
        var wrong: [String] = []
        if !r.stdout.isEmpty { wrong.append("stdout not empty: \(short(r.stdout))") }
        let lines = r.stderr.split(separator: "\n", omittingEmptySubsequences: true)
        if lines.count != 1 { wrong.append("\(lines.count) lines on stderr, expected 1") }
        if !r.stderr.hasPrefix("queuectl: error: ") { wrong.append("stderr does not start with 'queuectl: error: '") }
        return wrong
    }

    func assertRefused(_ r: Harness.Result, code: Int32, _ message: String, home: String? = nil, _ label: String,
                       file: StaticString = #filePath, line: UInt = #line) {
        var wrong = Self.errorShapeProblems(r)
        if r.code != code { wrong.insert("exit \(r.code), expected \(code)", at: 0) }
        let h = home ?? self.home
        if !Self.withoutHome(r.stderr, home: h).contains(message) { wrong.append("stderr lacks \"\(message)\"") }
        if !wrong.isEmpty { XCTFail("\(label): \(wrong.joined(separator: "; ")); stderr: \(Self.short(r.stderr))", file: file, line: line) }
    }

    // MARK: - The table

    enum Out {
        case exact(String)
        case empty
        case contains(String)
        case regex(String)
        /// The same stdout as these arguments print (run after the case, in the same home).
        case sameAs([String])
    }

    struct Spelling {
        var args: [String]
        var code: Int32
        var out: Out
        /// For a refused command: a part of its one stderr line (after `--home DIR` is taken out).
        var err: String? = nil
        var stdin: String? = nil
        /// Further checks in the case's home; returns what is wrong.
        var then: ((_ t: SpellingTests, _ home: String, _ r: Harness.Result) -> [String])? = nil
    }

    /// `show ID --json`'s KEY in the case's home must equal `want` (compared as text).
    static func field(_ id: String, _ key: String, _ want: String) -> (SpellingTests, String, Harness.Result) -> [String] {
        { t, home, r in
            let actualId = id == "$OUT" ? r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) : id
            let j = t.job(actualId, in: home)
            guard !j.isEmpty else { return ["no job \"\(actualId)\" to check \(key) of"] }
            let got = j[key].map { "\($0)" } ?? "(absent)"
            return got == want ? [] : ["job \(actualId): \(key) is \(got), expected \(want)"]
        }
    }

    static let generatedId = #"^[A-Za-z0-9._-]+\n$"#

    func spellings(jsonl: String, single: String) -> [Spelling] {
        let jsonCommand = #"{"command":"true"}"#
        let bracket = "[ -f x ] && echo y"
        return [
            // 1. A plain argument is the command; `{` or `[` first means JSON.
            Spelling(args: ["enqueue", "echo hi"], code: 0, out: .regex(Self.generatedId), then: Self.field("$OUT", "command", "echo hi")),
            Spelling(args: ["enqueue", "ls -la /tmp | wc -l"], code: 0, out: .regex(Self.generatedId),
                     then: Self.field("$OUT", "command", "ls -la /tmp | wc -l")),
            Spelling(args: ["enqueue", #"  {"id":"ws","command":"true"}"#], code: 0, out: .exact("ws\n"), then: Self.field("ws", "command", "true")),
            Spelling(args: ["enqueue", bracket], code: 2, out: .empty, err: "did you mean: queuectl enqueue -- '[ -f x ] && echo y'"),
            Spelling(args: ["enqueue", "--", bracket], code: 0, out: .regex(Self.generatedId), then: Self.field("$OUT", "command", bracket)),
            Spelling(args: ["enqueue", "--command", bracket], code: 0, out: .regex(Self.generatedId), then: Self.field("$OUT", "command", bracket)),
            Spelling(args: ["enqueue", "echo", "hi"], code: 2, out: .empty, err: "did you mean: queuectl enqueue -- echo hi"),
            Spelling(args: ["enqueue", "--command", jsonCommand], code: 2, out: .empty,
                     err: #"did you mean: queuectl enqueue '{"command":"true"}'"#),
            // Current spellings that keep working.
            Spelling(args: ["enqueue", "--command", "echo x"], code: 0, out: .regex(Self.generatedId), then: Self.field("$OUT", "command", "echo x")),
            Spelling(args: ["enqueue", "-c", "echo x"], code: 0, out: .regex(Self.generatedId), then: Self.field("$OUT", "command", "echo x")),
            Spelling(args: ["enqueue", "--", "echo", "a", "b"], code: 0, out: .regex(Self.generatedId), then: Self.field("$OUT", "command", "echo a b")),
            Spelling(args: ["enqueue", "--id", "named", "--", "true"], code: 0, out: .exact("named\n")),
            Spelling(args: ["enqueue", #"{"id":"j1","command":"sleep 2"}"#], code: 0, out: .exact("j1\n")),
            Spelling(args: ["enqueue", "--file", jsonl], code: 0, out: .exact("l1\nl2\n")),
            Spelling(args: ["enqueue", "-f", jsonl], code: 0, out: .exact("l1\nl2\n")),
            Spelling(args: ["enqueue", "--file", "-"], code: 0, out: .exact("in1\n"), stdin: #"{"id":"in1","command":"cat"}"#),
            // 2. Job-field flags apply to JSON input.
            Spelling(args: ["enqueue", #"{"id":"a","command":"false","max_retries":1}"#, "--max-retries", "3"], code: 0, out: .exact("a\n"),
                     then: Self.field("a", "max_retries", "3")),
            Spelling(args: ["enqueue", "--file", single, "--priority", "7"], code: 0, out: .exact("one\n"), then: Self.field("one", "priority", "7")),
            Spelling(args: ["enqueue", "--file", jsonl, "--max-retries", "0"], code: 0, out: .exact("l1\nl2\n"), then: Self.field("l2", "max_retries", "0")),
            Spelling(args: ["enqueue", "--id", "x", #"[{"command":"a"},{"command":"b"}]"#], code: 2, out: .empty, err: "--id"),
            Spelling(args: ["enqueue", "--id", "x", "--file", jsonl], code: 2, out: .empty, err: "--id"),
            // 6. Exit codes.
            Spelling(args: ["enqueue", #"{"id":"seed","command":"true"}"#], code: 1, out: .empty, err: "already exists"),
            Spelling(args: ["enqueue", #"[{"id":"d","command":"a"},{"id":"d","command":"b"}]"#], code: 2, out: .empty, err: "duplicate id"),
            Spelling(args: ["show", "nosuchid"], code: 1, out: .empty, err: "nosuchid"),
            Spelling(args: ["nonsense"], code: 2, out: .empty, err: "unknown command"),
            // 7. Near misses: the whole corrected line.
            Spelling(args: ["enqueue", "--max-retry", "3", "--", "true"], code: 2, out: .empty,
                     err: "did you mean: queuectl enqueue --max-retries 3 -- true"),
            Spelling(args: ["wroker", "start"], code: 2, out: .empty, err: "did you mean: queuectl worker start"),
            Spelling(args: ["worker", "--start"], code: 2, out: .empty, err: "did you mean: queuectl worker start"),
            Spelling(args: ["--status"], code: 2, out: .empty, err: "did you mean: queuectl status"),
            Spelling(args: ["config", "set", "max_retry", "5"], code: 2, out: .empty, err: "did you mean: queuectl config set max_retries 5"),
            Spelling(args: ["lsit"], code: 2, out: .empty, err: "did you mean: queuectl list"),
            // Reading commands.
            Spelling(args: ["list"], code: 0, out: .contains("seed")),
            Spelling(args: ["list", "--state", "pending"], code: 0, out: .contains("seed")),
            Spelling(args: ["list", "--json"], code: 0, out: .regex(#"^\[\n[\s\S]*"id": "seed"[\s\S]*\]\n$"#)),
            Spelling(args: ["status"], code: 0, out: .contains("pending")),
            Spelling(args: ["status", "--json"], code: 0, out: .regex(#"^\{[\s\S]*"counts"[\s\S]*"pending": 1[\s\S]*\}\n$"#)),
            Spelling(args: ["show", "seed"], code: 0, out: .contains("seed")),
            Spelling(args: ["show", "seed", "--json"], code: 0, out: .contains(#""id": "seed""#)),
            Spelling(args: ["logs", "seed"], code: 0, out: .empty),
            Spelling(args: ["dlq", "list"], code: 0, out: .empty),
            Spelling(args: ["dlq", "list", "--json"], code: 0, out: .exact("[]\n")),
            Spelling(args: ["worker", "status"], code: 0, out: .empty),
            // 3. config.
            Spelling(args: ["config", "show"], code: 0, out: .contains("max_retries")),
            Spelling(args: ["config"], code: 0, out: .sameAs(["config", "show"])),
            Spelling(args: ["config", "list"], code: 0, out: .sameAs(["config", "show"])),
            Spelling(args: ["config", "get"], code: 0, out: .sameAs(["config", "show"])),
            Spelling(args: ["config", "get", "max-retries"], code: 0, out: .exact("3\n")),
            Spelling(args: ["config", "get", "max_retries"], code: 0, out: .exact("3\n")),
            Spelling(args: ["config", "set", "max_retries", "4"], code: 0, out: .empty,
                     then: { t, home, _ in
                         let g = t.run(["config", "get", "max_retries"], home: home).stdout
                         return g == "4\n" ? [] : ["config get max_retries printed \(g.debugDescription) after the set"]
                     }),
            Spelling(args: ["config", "set", "max-retries", "5"], code: 0, out: .empty),
            // 4. worker start: the range of --count, and -c for it.
            Spelling(args: ["worker", "start", "--count", "0"], code: 2, out: .empty, err: "between 1 and 1024"),
            Spelling(args: ["worker", "start", "-c", "0"], code: 2, out: .empty, err: "between 1 and 1024"),
            Spelling(args: ["worker", "start", "-c", "1025", "--detach"], code: 2, out: .empty, err: "between 1 and 1024"),
            Spelling(args: ["worker", "start", "--help"], code: 0, out: .contains("-c, --count")),
            // 5. init on an existing home.
            Spelling(args: ["init"], code: 0, out: .exact("$HOME\n")),
            // Help and version.
            Spelling(args: ["--version"], code: 0, out: .regex(#"^queuectl \d+\.\d+\.\d+\S*\n$"#)),
            Spelling(args: ["--help"], code: 0, out: .contains("Usage: queuectl")),
            Spelling(args: ["enqueue", "--help"], code: 0, out: .contains("Usage: queuectl enqueue")),
        ]
    }

    /// Each spelling in a fresh home holding one pending job "seed": its exit code, its stdout, and
    /// for a refused one a single `queuectl: error:` line with the expected part and an untouched
    /// home. Each case that breaks the contract is one failure listing everything wrong with it.
    func testSpellingsTable() throws {
        let jsonl = dir + "/jobs.jsonl"
        try "{\"id\":\"l1\",\"command\":\"exit 1\"}\n{\"id\":\"l2\",\"command\":\"exit 1\"}\n".write(toFile: jsonl, atomically: true, encoding: .utf8)
        let single = dir + "/one.json"
        try #"{"id":"one","command":"true","priority":1}"#.write(toFile: single, atomically: true, encoding: .utf8)
        let cases = spellings(jsonl: jsonl, single: single)
        XCTAssertGreaterThanOrEqual(cases.count, 30)
        for (n, c) in cases.enumerated() {
            let caseHome = dir + "/case\(n)"
            let seeded = run(["enqueue", "--id", "seed", "--", "true"], home: caseHome)
            XCTAssertEqual(seeded.code, 0, "seeding case \(n): \(seeded.stderr)")
            Harness.waitForCompaction(home: caseHome)
            let before = Harness.files(caseHome)
            let r = run(c.args, home: caseHome, stdin: c.stdin, cwd: dir)
            let label = "queuectl " + c.args.map(ShellWordsForTests.quote).joined(separator: " ")
            var wrong: [String] = []
            if r.code != c.code { wrong.append("exit \(r.code), expected \(c.code)") }
            switch c.out {
            case .exact(let s):
                let want = s.replacingOccurrences(of: "$HOME", with: caseHome)
                if r.stdout != want { wrong.append("stdout \(Self.short(r.stdout).debugDescription), expected \(want.debugDescription)") }
            case .empty:
                if !r.stdout.isEmpty { wrong.append("stdout should be empty: \(Self.short(r.stdout).debugDescription)") }
            case .contains(let s):
                if !r.stdout.contains(s) { wrong.append("stdout lacks \(s.debugDescription): \(Self.short(r.stdout).debugDescription)") }
            case .regex(let p):
                if r.stdout.range(of: p, options: .regularExpression) == nil {
                    wrong.append("stdout does not match /\(p)/: \(Self.short(r.stdout).debugDescription)")
                }
            case .sameAs(let other):
                let ref = run(other, home: caseHome)
                if ref.code != 0 || ref.stdout.isEmpty { wrong.append("reference \(other.joined(separator: " ")) failed: \(ref.stderr)") }
                if r.stdout != ref.stdout {
                    wrong.append("stdout differs from '\(other.joined(separator: " "))': \(Self.short(r.stdout).debugDescription) vs \(Self.short(ref.stdout).debugDescription)")
                }
            }
            if let e = c.err {
                wrong += Self.errorShapeProblems(r).filter { !$0.hasPrefix("stdout") }
                if !Self.withoutHome(r.stderr, home: caseHome).contains(e) { wrong.append("stderr lacks \(e.debugDescription)") }
                Harness.waitForCompaction(home: caseHome)
                if Harness.files(caseHome) != before { wrong.append("a refused command changed the home") }
            }
            if wrong.isEmpty, let then = c.then { wrong += then(self, caseHome, r) }
            if FileManager.default.fileExists(atPath: Home(path: caseHome).pidFile()) {
                run(["worker", "stop", "--force", "--timeout", "5"], home: caseHome)
                wrong.append("left workers running")
            }
            Harness.waitForCompaction(home: caseHome)
            if !wrong.isEmpty {
                XCTFail("\(label): \(wrong.joined(separator: "; ")); stderr: \(Self.short(r.stderr))")
            }
        }
    }

    // MARK: - 1. A plain argument is the command

    func testAPlainArgumentIsTheCommandAndSuggestionsRunAsPrinted() throws {
        let plain = b("enqueue", "echo hi")
        XCTAssertEqual(plain.code, 0, plain.stderr)
        let id = plain.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertNotNil(plain.stdout.range(of: Self.generatedId, options: .regularExpression), "one id on stdout: \(plain.stdout.debugDescription)")
        XCTAssertEqual(job(id, in: home)["command"] as? String, "echo hi")
        XCTAssertEqual(job(id, in: home)["state"] as? String, "pending")

        // Each refused spelling: one error line whose suggestion, pasted into a shell, does what was meant.
        let bracket = "[ -f x ] && echo y"
        let meant: [(args: [String], suggestion: String, id: String?, key: String, value: String)] = [
            (["enqueue", bracket], "queuectl enqueue -- '[ -f x ] && echo y'", nil, "command", bracket),
            (["enqueue", "echo", "hi"], "queuectl enqueue -- echo hi", nil, "command", "echo hi"),
            (["enqueue", "--command", #"{"id":"fromjson","command":"true"}"#],
             #"queuectl enqueue '{"id":"fromjson","command":"true"}'"#, "fromjson", "command", "true"),
            (["enqueue", "--max-retry", "3", "--", "true"], "queuectl enqueue --max-retries 3 -- true", nil, "max_retries", "3"),
        ]
        for m in meant {
            let label = m.args.joined(separator: " ")
            Harness.waitForCompaction(home: home)
            let before = Harness.files(home)
            let r = b(m.args)
            assertRefused(r, code: 2, "did you mean: " + m.suggestion, label)
            XCTAssertEqual(Harness.files(home), before, "\(label): the home changed")
            guard let line = Self.suggestion(r.stderr) else { continue }
            let again = runSuggestion(line, home: home)
            XCTAssertEqual(again.code, 0, "\(label): the suggested line \(line) failed: \(again.stderr)")
            let newId = m.id ?? again.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            XCTAssertEqual(job(newId, in: home)[m.key].map { "\($0)" }, m.value, "\(label): the suggested line \(line) enqueued the wrong job")
        }
        // The two spellings the bracket error points to are accepted.
        for args in [["enqueue", "--", bracket], ["enqueue", "--command", bracket]] {
            let r = b(args)
            XCTAssertEqual(r.code, 0, "\(args): \(r.stderr)")
            XCTAssertEqual(job(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines), in: home)["command"] as? String, bracket)
        }
    }

    func b(_ args: [String]) -> Harness.Result { run(args, home: home) }

    // MARK: - 2. Job-field flags over JSON input

    func testFlagsOverrideTheKeysOfASingleJSONJob() throws {
        XCTAssertEqual(b("enqueue", "--id", "seed", "--", "true").code, 0)
        let r = b("enqueue", #"{"id":"a","command":"false","max_retries":1}"#, "--max-retries", "3")
        XCTAssertEqual(r.code, 0, r.stderr)
        XCTAssertEqual(r.stdout, "a\n")
        XCTAssertEqual(job("a", in: home)["max_retries"] as? Int, 3)

        let cwd = dir + "/elsewhere"
        try FileManager.default.createDirectory(atPath: cwd, withIntermediateDirectories: true)
        let all = b("enqueue", #"{"id":"b","command":"false","max_retries":1,"priority":1,"timeout":2,"delay":"5s","cwd":"/"}"#,
                    "--max-retries", "4", "--priority", "7", "--timeout", "9", "--delay", "1h", "--cwd", cwd, "--after", "seed")
        XCTAssertEqual(all.code, 0, all.stderr)
        XCTAssertEqual(all.stdout, "b\n")
        let j = job("b", in: home)
        XCTAssertEqual(j["max_retries"] as? Int, 4)
        XCTAssertEqual(j["priority"] as? Int, 7)
        XCTAssertEqual(j["timeout"] as? Int, 9)
        XCTAssertEqual(j["cwd"] as? String, cwd)
        XCTAssertEqual(j["depends_on"] as? [String], ["seed"])
        let next = try XCTUnwrap(Self.date(j["next_run_at"] ?? j["run_at"]), "b has no next_run_at: \(j)")
        XCTAssertGreaterThan(next.timeIntervalSinceNow, 30 * 60, "--delay 1h should replace the JSON's delay of 5s")

        let at = b("enqueue", #"{"id":"c","command":"true","run_at":"2030-01-01T00:00:00Z"}"#, "--run-at", "2031-06-01T00:00:00Z")
        XCTAssertEqual(at.code, 0, at.stderr)
        XCTAssertEqual(job("c", in: home)["run_at"] as? String, "2031-06-01T00:00:00.000Z")

        // --id renames a single job, inline or from a file.
        let renamed = b("enqueue", #"{"id":"old","command":"true"}"#, "--id", "new")
        XCTAssertEqual(renamed.code, 0, renamed.stderr)
        XCTAssertEqual(renamed.stdout, "new\n")
        XCTAssertTrue(job("old", in: home).isEmpty, "--id should replace the JSON's id")
        let one = dir + "/one.json"
        try #"{"id":"fileold","command":"true","max_retries":1}"#.write(toFile: one, atomically: true, encoding: .utf8)
        let fromFile = b("enqueue", "--file", one, "--id", "filenew", "--max-retries", "6")
        XCTAssertEqual(fromFile.code, 0, fromFile.stderr)
        XCTAssertEqual(fromFile.stdout, "filenew\n")
        XCTAssertEqual(job("filenew", in: home)["max_retries"] as? Int, 6)
        let fromStdin = b("enqueue", "--file", "-", "--priority", "3", stdin: #"{"id":"piped","command":"true","priority":-1}"#)
        XCTAssertEqual(fromStdin.code, 0, fromStdin.stderr)
        XCTAssertEqual(job("piped", in: home)["priority"] as? Int, 3)
    }

    func testFlagsAreDefaultsForABatchAndTheJobsOwnKeyWins() throws {
        XCTAssertEqual(b("enqueue", "--id", "seed", "--", "true").code, 0)
        // Inline array.
        let inline = b("enqueue", #"[{"id":"i1","command":"true"},{"id":"i2","command":"true","priority":9,"max_retries":2}]"#,
                       "--priority", "4", "--max-retries", "0")
        XCTAssertEqual(inline.code, 0, inline.stderr)
        XCTAssertEqual(inline.stdout, "i1\ni2\n")
        XCTAssertEqual(job("i1", in: home)["priority"] as? Int, 4)
        XCTAssertEqual(job("i1", in: home)["max_retries"] as? Int, 0)
        XCTAssertEqual(job("i2", in: home)["priority"] as? Int, 9)
        XCTAssertEqual(job("i2", in: home)["max_retries"] as? Int, 2)

        // A JSON Lines file and a JSON array file.
        let lines = dir + "/batch.jsonl"
        try """
        {"id":"f1","command":"exit 1"}
        {"id":"f2","command":"exit 1","max_retries":2,"timeout":3,"depends_on":["i1"]}
        {"id":"f3","command":"exit 1"}

        """.write(toFile: lines, atomically: true, encoding: .utf8)
        let fromLines = b("enqueue", "--file", lines, "--max-retries", "0", "--timeout", "60", "--after", "seed")
        XCTAssertEqual(fromLines.code, 0, fromLines.stderr)
        XCTAssertEqual(fromLines.stdout, "f1\nf2\nf3\n")
        for id in ["f1", "f3"] {
            let j = job(id, in: home)
            XCTAssertEqual(j["max_retries"] as? Int, 0, id)
            XCTAssertEqual(j["timeout"] as? Int, 60, id)
            XCTAssertEqual(j["depends_on"] as? [String], ["seed"], id)
        }
        let f2 = job("f2", in: home)
        XCTAssertEqual(f2["max_retries"] as? Int, 2)
        XCTAssertEqual(f2["timeout"] as? Int, 3)
        XCTAssertEqual(f2["depends_on"] as? [String], ["i1"])

        let array = dir + "/batch.json"
        try #"[{"id":"a1","command":"true"},{"id":"a2","command":"true","priority":-2}]"#.write(toFile: array, atomically: true, encoding: .utf8)
        let fromArray = b("enqueue", "--file", array, "--priority", "5")
        XCTAssertEqual(fromArray.code, 0, fromArray.stderr)
        XCTAssertEqual(job("a1", in: home)["priority"] as? Int, 5)
        XCTAssertEqual(job("a2", in: home)["priority"] as? Int, -2)

        // --id cannot name every job of a batch: refused, nothing written.
        Harness.waitForCompaction(home: home)
        let before = Harness.files(home)
        for args in [["enqueue", "--id", "x", #"[{"command":"a"},{"command":"b"}]"#],
                     ["enqueue", "--id", "x", "--file", lines],
                     ["enqueue", "--id", "x", "--file", array]] {
            assertRefused(b(args), code: 2, "--id", args.joined(separator: " "))
        }
        XCTAssertEqual(Harness.files(home), before, "a refused --id changed the home")
    }

    /// A JSON Lines batch larger than journal_max_bytes takes the streamed path: the flags are
    /// defaults there too, and --id is refused there too.
    func testFlagsAreDefaultsForALargeStreamedBatch() throws {
        XCTAssertEqual(b("config", "set", "journal_max_bytes", "4096").code, 0)
        var text = ""
        for i in 0..<120 {
            let own = i == 7 ? ",\"max_retries\":2,\"priority\":-3" : ""
            text += "{\"id\":\"s\(i)\",\"command\":\"exit 1 # padding to make the batch larger than the journal bound\"\(own)}\n"
        }
        XCTAssertGreaterThan(text.utf8.count, 4096 * 2)
        let file = dir + "/big.jsonl"
        try text.write(toFile: file, atomically: true, encoding: .utf8)

        Harness.waitForCompaction(home: home)
        let before = Harness.files(home)
        assertRefused(b("enqueue", "--id", "x", "--file", file), code: 2, "--id", "--id with a large JSON Lines batch")
        Harness.waitForCompaction(home: home)
        XCTAssertEqual(Harness.files(home), before, "a refused --id changed the home")

        let r = b("enqueue", "--file", file, "--max-retries", "0", "--priority", "5")
        XCTAssertEqual(r.code, 0, r.stderr)
        XCTAssertEqual(r.stdout.split(separator: "\n").count, 120)
        for id in ["s0", "s6", "s119"] {
            XCTAssertEqual(job(id, in: home)["max_retries"] as? Int, 0, id)
            XCTAssertEqual(job(id, in: home)["priority"] as? Int, 5, id)
        }
        XCTAssertEqual(job("s7", in: home)["max_retries"] as? Int, 2)
        XCTAssertEqual(job("s7", in: home)["priority"] as? Int, -3)
    }

    static func date(_ v: Any?) -> Date? {
        guard let s = v as? String else { return nil }
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.date(from: s)
    }

    // MARK: - 3. config = config show

    func testConfigListAndGetWithoutAKeyPrintWhatConfigShowPrints() {
        XCTAssertEqual(b("config", "set", "max_retries", "4").code, 0)
        XCTAssertEqual(b("config", "set", "backoff_max", "10m").code, 0)
        let show = b("config", "show")
        XCTAssertEqual(show.code, 0, show.stderr)
        XCTAssertTrue(show.stdout.contains("max_retries") && show.stdout.contains("600"), show.stdout)
        for args in [["config"], ["config", "list"], ["config", "get"]] {
            let r = b(args)
            XCTAssertEqual(r.code, 0, "\(args.joined(separator: " ")): \(r.stderr)")
            XCTAssertEqual(r.stdout, show.stdout, "\(args.joined(separator: " ")) should print exactly what 'config show' prints")
        }
    }

    // MARK: - 5. init

    func testInitCreatesThePrivateHomeAndPrintsItsAbsolutePath() throws {
        let fresh = dir + "/fresh"
        XCTAssertFalse(FileManager.default.fileExists(atPath: fresh))
        let first = run(["init"], home: fresh)
        XCTAssertEqual(first.code, 0, first.stderr)
        XCTAssertEqual(first.stdout, fresh + "\n")
        var st = stat()
        XCTAssertEqual(stat(fresh, &st), 0, "init did not create \(fresh)")
        XCTAssertTrue((st.st_mode & S_IFMT) == S_IFDIR, "the home is not a directory")
        XCTAssertEqual(st.st_mode & 0o777, 0o700, "the home's mode is \(String(st.st_mode & 0o777, radix: 8)), expected 700")

        Harness.waitForCompaction(home: fresh)
        let files = Harness.files(fresh)
        let again = run(["init"], home: fresh)
        XCTAssertEqual(again.code, 0, again.stderr)
        XCTAssertEqual(again.stdout, first.stdout, "a second init prints the same")
        XCTAssertEqual(Harness.files(fresh), files, "a second init changes nothing")
        XCTAssertEqual(run(["status", "--json"], home: fresh).code, 0, "the new home is usable")

        // A relative --home is printed as an absolute path.
        let base = URL(fileURLWithPath: dir).resolvingSymlinksInPath().path
        let rel = run(["init"], home: "relative-home", cwd: dir)
        XCTAssertEqual(rel.code, 0, rel.stderr)
        XCTAssertEqual(rel.stdout, base + "/relative-home\n")
        XCTAssertTrue(rel.stdout.hasPrefix("/"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/relative-home"))

        // The home from $QUEUECTL_HOME, with no --home.
        let viaEnv = dir + "/from-env"
        let e = Harness.run(["init"], home: nil, env: ["QUEUECTL_HOME": viaEnv])
        XCTAssertEqual(e.code, 0, e.stderr)
        XCTAssertEqual(e.stdout, viaEnv + "\n")
        XCTAssertTrue(FileManager.default.fileExists(atPath: viaEnv))
    }

    // MARK: - 6. Exit codes

    func testExitCodeZeroOnSuccess() {
        for args in [["enqueue", "--id", "ok", "--", "true"], ["enqueue", "echo plain"], ["show", "ok"], ["list"], ["status"],
                     ["config"], ["config", "get", "max_retries"], ["init"], ["--version"], ["--help"]] {
            let r = b(args)
            XCTAssertEqual(r.code, 0, "\(args.joined(separator: " ")): \(r.stderr)")
        }
    }

    func testExitCodeOneWhenTheOperationFails() throws {
        XCTAssertEqual(b("enqueue", "--id", "taken", "--", "true").code, 0)
        let jsonl = dir + "/conflict.jsonl"
        try "{\"id\":\"fresh1\",\"command\":\"true\"}\n{\"id\":\"taken\",\"command\":\"true\"}\n".write(toFile: jsonl, atomically: true, encoding: .utf8)
        Harness.waitForCompaction(home: home)
        let before = Harness.files(home)
        let cases: [(args: [String], message: String)] = [
            (["enqueue", #"{"id":"taken","command":"true"}"#], "already exists"),
            (["enqueue", "--id", "taken", "--", "true"], "already exists"),
            (["enqueue", "--id", "taken", "echo plain"], "already exists"),
            (["enqueue", "--file", jsonl], "already exists"),
            (["show", "nosuchid"], "nosuchid"),
            (["logs", "nosuchid"], "nosuchid"),
            (["cancel", "nosuchid"], "nosuchid"),
        ]
        for c in cases {
            assertRefused(b(c.args), code: 1, c.message, c.args.joined(separator: " "))
        }
        Harness.waitForCompaction(home: home)
        XCTAssertEqual(Harness.files(home), before, "a failed operation changed the home")
    }

    func testExitCodeTwoOnUsageErrors() throws {
        XCTAssertEqual(b("enqueue", "--id", "taken", "--", "true").code, 0)
        let jsonl = dir + "/dup.jsonl"
        try "{\"id\":\"d\",\"command\":\"a\"}\n{\"id\":\"d\",\"command\":\"b\"}\n".write(toFile: jsonl, atomically: true, encoding: .utf8)
        Harness.waitForCompaction(home: home)
        let before = Harness.files(home)
        let cases: [(args: [String], message: String)] = [
            (["enqueue", #"[{"id":"d","command":"a"},{"id":"d","command":"b"}]"#], "duplicate id"),
            (["enqueue", "--file", jsonl], "duplicate id"),
            (["nonsense"], "unknown command"),
            (["enqueue", "echo", "hi"], "did you mean"),
            (["enqueue", "--id", "x", #"[{"command":"a"},{"command":"b"}]"#], "--id"),
            (["worker", "start", "--count", "0"], "between 1 and 1024"),
            (["config", "set", "max_retry", "5"], "did you mean"),
            (["show"], "ID"),
        ]
        for c in cases {
            assertRefused(b(c.args), code: 2, c.message, c.args.joined(separator: " "))
        }
        Harness.waitForCompaction(home: home)
        XCTAssertEqual(Harness.files(home), before, "a usage error changed the home")
    }

    // MARK: - 8. worker start --drain

    /// Runs `worker start --drain ARGS` in the foreground, bounded; returns the result and how long it took.
    func drain(_ extra: [String], seconds: Double = 60) -> (Harness.Result, Double) {
        let start = Date()
        let r = run(["worker", "start", "--drain"] + extra, home: home, seconds: seconds)
        return (r, Date().timeIntervalSince(start))
    }

    func assertNoWorkersLeft(file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertFalse(FileManager.default.fileExists(atPath: Home(path: home).pidFile()), "workers.pid left behind", file: file, line: line)
        let w = Harness.json(b("worker", "status", "--json").stdout) as? [String: Any]
        XCTAssertTrue(w?["supervisor"] is NSNull, "a supervisor is still listed: \(String(describing: w))", file: file, line: line)
    }

    func fastConfig() {
        XCTAssertEqual(b("config", "set", "poll_interval", "0.1").code, 0)
        XCTAssertEqual(b("config", "set", "backoff_base", "1").code, 0)
    }

    func testDrainExitsZeroWhenEveryJobCompleted() {
        fastConfig()
        for i in 1...3 { XCTAssertEqual(b("enqueue", "--id", "ok\(i)", "--", "true").code, 0) }
        XCTAssertEqual(b("enqueue", "--id", "flaky", "--max-retries", "2", "--",
                         "sh", "-c", "[ \"$QUEUECTL_ATTEMPT\" -ge 2 ]").code, 0)
        let (r, _) = drain(["-c", "2"])
        XCTAssertEqual(r.code, 0, "drain: \(r.stderr)")
        for id in ["ok1", "ok2", "ok3", "flaky"] {
            XCTAssertEqual(job(id, in: home)["state"] as? String, "completed", id)
        }
        XCTAssertEqual(job("flaky", in: home)["attempts"] as? Int, 2, "a failed attempt awaiting its retry is waited for")
        assertNoWorkersLeft()
    }

    func testDrainExitsOneWhenAJobDied() {
        fastConfig()
        XCTAssertEqual(b("enqueue", "--id", "ok", "--", "true").code, 0)
        XCTAssertEqual(b("enqueue", "--id", "bad", "--max-retries", "0", "--", "exit 3").code, 0)
        let (r, _) = drain(["--count", "2"])
        XCTAssertEqual(r.code, 1, "drain with a job that went dead: \(r.stderr)")
        XCTAssertEqual(job("bad", in: home)["state"] as? String, "dead")
        XCTAssertEqual(job("bad", in: home)["exit_code"] as? Int, 3)
        XCTAssertEqual(job("ok", in: home)["state"] as? String, "completed")
        assertNoWorkersLeft()

        // The dead job stays in the queue; a later drain that runs only a completing job exits 0.
        XCTAssertEqual(b("enqueue", "--id", "later", "--", "true").code, 0)
        let (again, _) = drain([])
        XCTAssertEqual(again.code, 0, "a drain whose own jobs all completed: \(again.stderr)")
        XCTAssertEqual(job("later", in: home)["state"] as? String, "completed")
        assertNoWorkersLeft()
    }

    func testDrainLeavesAJobDelayedPastTheDrainWaitPending() {
        fastConfig()
        // Only a delayed job: nothing to run, exit 0 at once.
        XCTAssertEqual(b("enqueue", "--id", "tomorrow", "--delay", "1h", "--", "true").code, 0)
        let (empty, took) = drain([], seconds: 120)
        XCTAssertEqual(empty.code, 0, "drain with only a delayed job: \(empty.stderr)")
        XCTAssertLessThan(took, 60, "drain waited for a job delayed by an hour")
        XCTAssertEqual(job("tomorrow", in: home)["state"] as? String, "pending")
        assertNoWorkersLeft()

        XCTAssertEqual(b("enqueue", "--id", "now", "--", "true").code, 0)
        let (r, took2) = drain(["-c", "2"], seconds: 120)
        XCTAssertEqual(r.code, 0, "drain: \(r.stderr)")
        XCTAssertLessThan(took2, 60)
        XCTAssertEqual(job("now", in: home)["state"] as? String, "completed")
        XCTAssertEqual(job("tomorrow", in: home)["state"] as? String, "pending")
        XCTAssertEqual(job("tomorrow", in: home)["attempts"] as? Int, 0)
        assertNoWorkersLeft()
    }

    func testDrainWaitWaitsForAJobDueWithinIt() {
        fastConfig()
        XCTAssertEqual(b("enqueue", "--id", "soon", "--delay", "1s", "--", "true").code, 0)
        XCTAssertEqual(b("enqueue", "--id", "late", "--delay", "1h", "--", "true").code, 0)
        let (r, took) = drain(["--drain-wait", "5s"], seconds: 120)
        XCTAssertEqual(r.code, 0, "drain --drain-wait 5s: \(r.stderr)")
        XCTAssertLessThan(took, 60)
        XCTAssertEqual(job("soon", in: home)["state"] as? String, "completed", "a job due within the drain wait is run")
        XCTAssertEqual(job("late", in: home)["state"] as? String, "pending", "a job due after the drain wait is left")
        assertNoWorkersLeft()
    }

    /// `--drain --detach` returns while a job still runs (the job waits for a file the test makes
    /// only afterwards); the supervisor then exits by itself once drained, and `wait` returns 0.
    func testDrainDetachReturnsAtOnceAndTheSupervisorExitsWhenDrained() {
        fastConfig()
        let go = dir + "/go"
        XCTAssertEqual(b("enqueue", "--id", "d1", "--", "true").code, 0)
        XCTAssertEqual(b("enqueue", "--id", "held", "--", "sh", "-c", "while [ ! -e \"$1\" ]; do sleep 0.05; done", "sh", go).code, 0)
        let started = b("worker", "start", "--drain", "--detach", "-c", "2", seconds: 30)
        guard started.code == 0 else {
            _ = FileManager.default.createFile(atPath: go, contents: nil)
            return XCTFail("worker start --drain --detach -c 2 did not return 0 while a job was held: exit \(started.code); \(started.stderr)")
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: Home(path: home).pidFile()), "the supervisor should be running while the held job runs")
        XCTAssertNotEqual(job("held", in: home)["state"] as? String, "completed")
        _ = FileManager.default.createFile(atPath: go, contents: nil)
        let deadline = Date().addingTimeInterval(30)
        while FileManager.default.fileExists(atPath: Home(path: home).pidFile()) && Date() < deadline { usleep(50_000) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: Home(path: home).pidFile()), "the drained supervisor did not exit within 30 s")
        let waited = b("wait", "--timeout", "30s", seconds: 40)
        XCTAssertEqual(waited.code, 0, "wait after the drain: \(waited.stderr)")
        XCTAssertEqual(job("d1", in: home)["state"] as? String, "completed")
        XCTAssertEqual(job("held", in: home)["state"] as? String, "completed")
        assertNoWorkersLeft()
    }
}

/// How a shell would need an argument written: for test labels only.
enum ShellWordsForTests {
    static func quote(_ s: String) -> String {
        let safe = !s.isEmpty && s.allSatisfy { ($0.isASCII && ($0.isLetter || $0.isNumber)) || "-_./=:,@%+".contains($0) }
        return safe ? s : "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
