import Foundation
import XCTest

/// Integration: the built binary against a temporary home.
final class CLITests: HomeTestCase {
    func testEveryInputFormEnqueues() throws {
        XCTAssertEqual(q("enqueue", #"{"id":"job1","command":"sleep 2"}"#).stdout, "job1\n")
        let file = dir + "/jobs.json"
        try #"[{"id":"arr1","command":"true"},{"id":"arr2","command":"true","priority":3}]"#.write(toFile: file, atomically: true, encoding: .utf8)
        XCTAssertEqual(q("enqueue", "--file", file).stdout, "arr1\narr2\n")
        try "{\"id\":\"l1\",\"command\":\"a\"}\n{\"id\":\"l2\",\"command\":\"b\"}\n".write(toFile: dir + "/jobs.jsonl", atomically: true, encoding: .utf8)
        XCTAssertEqual(q("enqueue", "-f", dir + "/jobs.jsonl").stdout, "l1\nl2\n")
        XCTAssertEqual(q("enqueue", "--file", "-", stdin: #"{"id":"in1","command":"cat"}"#).stdout, "in1\n")
        XCTAssertEqual(q("enqueue", "--id", "c1", "--command", "echo hi", "--priority", "5", "--max-retries", "1").stdout, "c1\n")
        XCTAssertEqual(q("enqueue", "--id", "d1", "--", "echo", "a b", "it's").stdout, "d1\n")
        let generated = q("enqueue", "-c", "true").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertFalse(generated.isEmpty)

        XCTAssertEqual(jobJSON("d1")["command"] as? String, #"echo 'a b' 'it'\''s'"#)
        let c1 = jobJSON("c1")
        XCTAssertEqual(c1["priority"] as? Int, 5)
        XCTAssertEqual(c1["max_retries"] as? Int, 1)
        XCTAssertEqual(jobJSON("arr2")["priority"] as? Int, 3)
        XCTAssertNotNil(jobJSON(generated)["id"])
    }

    /// The command is the one the line runs, even when an earlier word names another command
    /// (main first tries a table holding only the first command named, then the whole table).
    func testTheCommandIsTheOneTheLineRunsWhateverWordsNameOtherCommands() throws {
        // `list` here is the home's directory, relative to the working directory.
        let status = Harness.run(["--home", "list", "status", "--json"], home: nil, cwd: dir)
        XCTAssertEqual(status.code, 0, status.stderr)
        XCTAssertTrue(status.stdout.contains("\"counts\""), status.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/list/journal.jsonl"), "the home is ./list")
        // A command named as a job's command, as an option's value, and after `--`.
        XCTAssertEqual(q("enqueue", "--id", "s", "status").stdout, "s\n")
        XCTAssertEqual(jobJSON("s")["command"] as? String, "status")
        XCTAssertEqual(q("enqueue", "--id", "w", "--queue", "worker", "--", "list").stdout, "w\n")
        XCTAssertEqual(jobJSON("w")["queue"] as? String, "worker")
        // Help, the version and errors read the whole table.
        XCTAssertTrue(q("enqueue", "--help").stdout.contains("queuectl enqueue"))
        XCTAssertTrue(Harness.run(["--help"], home: nil).stdout.contains("completion"))
        let typo = q("list", "--stat", "pending")
        XCTAssertEqual(typo.code, 2)
        XCTAssertTrue(typo.stderr.contains("did you mean: queuectl"), typo.stderr)
        let unknown = q("lsit")
        XCTAssertTrue(unknown.stderr.contains("did you mean: queuectl"), unknown.stderr)
        XCTAssertTrue(unknown.stderr.contains("list"), unknown.stderr)
    }

    func testShowHasTheSpecFieldsAndTheEnqueuingDirectory() throws {
        let cwd = dir + "/work dir"
        try FileManager.default.createDirectory(atPath: cwd, withIntermediateDirectories: true)
        q("enqueue", #"{"id":"j","command":"true","timeout":5,"run_at":"2030-01-01T00:00:00Z"}"#, cwd: cwd)
        let j = jobJSON("j")
        for key in ["id", "command", "state", "attempts", "max_retries", "created_at", "updated_at", "priority",
                    "run_at", "next_run_at", "timeout", "exit_code", "last_error"] {
            XCTAssertTrue(j.keys.contains(key), "missing \(key)")
        }
        XCTAssertEqual(j["state"] as? String, "pending")
        XCTAssertEqual(j["attempts"] as? Int, 0)
        XCTAssertEqual(j["max_retries"] as? Int, 3)
        XCTAssertEqual(j["timeout"] as? Int, 5)
        XCTAssertEqual(j["run_at"] as? String, "2030-01-01T00:00:00.000Z")
        XCTAssertTrue(j["exit_code"] is NSNull)
        XCTAssertEqual(j["cwd"] as? String, cwd)
        let created = try XCTUnwrap(j["created_at"] as? String)
        XCTAssertNotNil(created.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"#, options: .regularExpression), created)
    }

    func testListFiltersAndLimits() throws {
        for i in 1...5 { q("enqueue", "--id", "j\(i)", "-c", "true") }
        XCTAssertEqual((Harness.json(q("list", "--json").stdout) as? [Any])?.count, 5)
        let limited = Harness.json(q("list", "--json", "--limit", "2").stdout) as? [[String: Any]]
        XCTAssertEqual(limited?.map { $0["id"] as? String }, ["j4", "j5"])
        XCTAssertEqual((Harness.json(q("list", "--state", "pending", "--json").stdout) as? [Any])?.count, 5)
        XCTAssertEqual((Harness.json(q("list", "--state", "dead", "--json").stdout) as? [Any])?.count, 0)
        let table = q("list").stdout
        XCTAssertTrue(table.contains("ID") && table.contains("j3"))
        XCTAssertFalse(table.contains("\u{1B}["), "no colour when not a terminal")
    }

    func testStatusCountsEveryState() throws {
        q("enqueue", "-c", "true")
        let s = try XCTUnwrap(Harness.json(q("status", "--json").stdout) as? [String: Any])
        let counts = try XCTUnwrap(s["counts"] as? [String: Int])
        XCTAssertEqual(counts, ["pending": 1, "processing": 0, "completed": 0, "failed": 0, "dead": 0, "cancelled": 0])
        XCTAssertEqual((s["workers"] as? [Any])?.count, 0)
        XCTAssertTrue(q("status").stdout.contains("no workers running"))
    }

    /// A background compaction that failed leaves its reason in the home; `status` shows it until
    /// a compaction succeeds.
    func testStatusShowsAFailedCompactionUntilOneSucceeds() throws {
        XCTAssertEqual(q("enqueue", "--id", "a", "--", "true").code, 0)
        let failed = home + "/compaction.failed"
        try "cannot write jobs.json: No space left on device\n".write(toFile: failed, atomically: true, encoding: .utf8)
        let shown = q("status")
        XCTAssertTrue(shown.stdout.contains("could not be folded into jobs.json (cannot write jobs.json: No space left on device)"), shown.stdout)
        let json = Harness.json(q("status", "--json").stdout) as? [String: Any]
        XCTAssertEqual(json?["compaction_failure"] as? String, "cannot write jobs.json: No space left on device")
        XCTAssertEqual(q("compact").code, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: failed))
        XCTAssertFalse(q("status").stdout.contains("could not be folded"))
        XCTAssertTrue(Harness.json(q("status", "--json").stdout).map { ($0 as? [String: Any])?["compaction_failure"] is NSNull } ?? false)
    }

    func testConfigKeysAndAliases() throws {
        XCTAssertEqual(q("config", "set", "max-retries", "5").code, 0)
        XCTAssertEqual(q("config", "get", "max_retries").stdout, "5\n")
        XCTAssertEqual(q("config", "set", "backoff_max", "10m").code, 0)
        XCTAssertEqual(q("config", "get", "backoff-max").stdout, "600\n")
        q("enqueue", "--id", "x", "-c", "true")
        XCTAssertEqual(jobJSON("x")["max_retries"] as? Int, 5, "new jobs take the configured max_retries")
        XCTAssertEqual(q("config", "unset", "max-retries").code, 0)
        XCTAssertEqual(q("config", "get", "max_retries").stdout, "3\n")
        let show = try XCTUnwrap(Harness.json(q("config", "show", "--json").stdout) as? [String: Any])
        XCTAssertEqual(show["backoff_max"] as? Int, 600)
        XCTAssertEqual(q("config", "set", "backoff_base", "0").code, 2)
        XCTAssertEqual(q("config", "set", "max_retries", "-1").code, 2)
        XCTAssertEqual(q("config", "set", "max_retries", "1.5").code, 2)
        XCTAssertEqual(q("config", "get", "nope").code, 2)
    }

    func testDLQCommands() {
        XCTAssertEqual(q("dlq", "list", "--json").stdout.trimmingCharacters(in: .whitespacesAndNewlines), "[]")
        q("enqueue", "--id", "p", "-c", "true")
        let r = q("dlq", "retry", "p")
        XCTAssertEqual(r.code, 1)
        XCTAssertTrue(r.stderr.contains("not dead"), r.stderr)
        XCTAssertEqual(q("dlq", "retry").code, 2)
        XCTAssertEqual(q("dlq", "retry", "--all").code, 0)
    }

    func testHelpAndVersion() {
        XCTAssertTrue(q("--version").stdout.hasPrefix("queuectl "))
        let commands: [[String]] = [[], ["enqueue"], ["worker"], ["worker", "start"], ["worker", "stop"], ["worker", "status"],
                                    ["status"], ["list"], ["show"], ["logs"], ["wait"], ["cancel"], ["dlq"], ["dlq", "list"],
                                    ["dlq", "retry"], ["purge"], ["metrics"], ["dashboard"], ["config"], ["config", "set"], ["completion"]]
        for c in commands {
            let r = Harness.run(c + ["--help"], home: home)
            XCTAssertEqual(r.code, 0, "\(c) --help")
            XCTAssertTrue(r.stdout.contains("Usage: queuectl"), "\(c) --help: \(r.stdout)")
        }
        let typo = q("statsu")
        XCTAssertEqual(typo.code, 2)
        XCTAssertTrue(typo.stderr.hasSuffix("/home status\n") && typo.stderr.contains("did you mean: queuectl --home "), typo.stderr)
    }

    func testCompletionsComeFromTheCommandTable() {
        let bash = q("completion", "bash").stdout
        XCTAssertTrue(bash.contains("complete -F _queuectl queuectl"))
        XCTAssertTrue(bash.contains("--max-retries") && bash.contains("worker/start") && bash.contains("--detach"))
        XCTAssertTrue(q("completion", "fish").stdout.contains("-a enqueue"))
        XCTAssertTrue(q("completion", "zsh").stdout.contains("bashcompinit"))
        XCTAssertEqual(q("completion", "tcsh").code, 2)
    }
}

/// Every bad input: exit code, one clear line on stderr, nothing on stdout, home untouched.
final class BadInputTests: HomeTestCase {
    func testBadInputsAreRefusedAndChangeNothing() throws {
        XCTAssertEqual(q("enqueue", #"{"id":"existing","command":"true"}"#).code, 0)
        q("enqueue", #"{"id":"other","command":"true"}"#)
        let cases: [(args: [String], stdin: String?, code: Int32, message: String)] = [
            (["enqueue", #"{"command":"#], nil, 2, "invalid JSON"),
            (["enqueue", "{not json"], nil, 2, "invalid JSON"),  // not starting with { or [ it would be a command
            (["enqueue", #"{"command":""}"#], nil, 2, "\"command\" must not be empty"),
            (["enqueue", #"{"command":"   "}"#], nil, 2, "must not be empty"),
            (["enqueue", #"{"id":"x"}"#], nil, 2, "\"command\" is required"),
            (["enqueue", #"{"command":"true","retries":3}"#], nil, 2, "unknown key \"retries\""),
            (["enqueue", #"{"command":42}"#], nil, 2, "\"command\" must be a string"),
            (["enqueue", #"{"command":"true","priority":"high"}"#], nil, 2, "\"priority\" must be a whole number"),
            (["enqueue", #"{"id":"../etc","command":"true"}"#], nil, 2, "not a valid id"),
            (["enqueue", #"{"id":"-x","command":"true"}"#], nil, 2, "not a valid id"),
            (["enqueue", "{\"id\":\"\(String(repeating: "a", count: 129))\",\"command\":\"true\"}"], nil, 2, "not a valid id"),
            (["enqueue", #"[{"id":"d","command":"a"},{"id":"d","command":"b"}]"#], nil, 2, "duplicate id"),
            (["enqueue", #"{"id":"existing","command":"true"}"#], nil, 1, "already exists"),
            (["enqueue", #"{"command":"true","max_retries":-1}"#], nil, 2, "\"max_retries\" must be between 0 and 1000000000"),
            (["enqueue", #"{"command":"true","timeout":-5}"#], nil, 2, "\"timeout\" must be between 0 and 3155760000 seconds"),
            (["enqueue", #"{"command":"true","run_at":"next tuesday"}"#], nil, 2, "\"run_at\" is not a date"),
            (["enqueue", #"{"command":"true","run_at":"2030-01-01T00:00:00Z","delay":"5s"}"#], nil, 2, "not both"),
            (["enqueue", #"{"command":"true","depends_on":["ghost"]}"#], nil, 2, "unknown job \"ghost\""),
            (["enqueue", "--file", "-"], "{\"id\":\"a\",\"command\":\"x\",\"depends_on\":[\"b\"]}\n{\"id\":\"b\",\"command\":\"x\",\"depends_on\":[\"a\"]}\n", 2, "dependency cycle"),
            (["enqueue", "--file", "-"], "{\"id\":\"ok1\",\"command\":\"x\"}\n{\"id\":\"ok2\",\"command\":\"\"}\n", 2, "job 2"),
            (["enqueue", "[]"], nil, 2, "holds no jobs"),
            (["enqueue"], nil, 2, "give a job"),
            (["enqueue", "--bogus"], nil, 2, "unknown option '--bogus'"),
            (["enqueue", "--priority"], nil, 2, "needs a value"),
            (["enqueue", "--priority", "x", "-c", "true"], nil, 2, "expected a whole number"),
            (["enqueue", "--file", "/nonexistent/jobs.json"], nil, 2, "cannot read /nonexistent/jobs.json"),
            (["list", "--state", "bogus"], nil, 2, "unknown state 'bogus'"),
            (["list", "--limit", "-1"], nil, 2, "invalid value '-1' for --limit"),
            (["show", "ghost"], nil, 1, "no job with id \"ghost\""),
            (["show"], nil, 2, "missing argument ID"),
            (["cancel", "ghost"], nil, 1, "no job with id"),
            (["purge", "--state", "pending"], nil, 2, "only finished jobs"),
            (["wait", "ghost"], nil, 1, "no job with id"),
            (["nonsense"], nil, 2, "unknown command 'nonsense'"),
        ]
        let before = Harness.files(home)
        for c in cases {
            let r = Harness.run(c.args, home: home, stdin: c.stdin)
            let label = c.args.joined(separator: " ")
            XCTAssertEqual(r.code, c.code, "\(label): exit code; stderr: \(r.stderr)")
            XCTAssertEqual(r.stdout, "", "\(label): stdout should be empty")
            let lines = r.stderr.split(separator: "\n")
            XCTAssertEqual(lines.count, 1, "\(label): one line on stderr, got: \(r.stderr)")
            XCTAssertTrue(r.stderr.hasPrefix("queuectl: error: "), "\(label): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(c.message), "\(label): expected '\(c.message)' in: \(r.stderr)")
            XCTAssertEqual(Harness.files(home), before, "\(label): the home changed")
        }
    }
}
