import Foundation
import Glibc
import XCTest

/// Hostile numbers at every door: job JSON fields, enqueue flags, `config set`, the CLI's numeric
/// flags, and a hand-edited config.json. A refused value exits 2 (never a signal), prints nothing
/// on stdout and exactly one `queuectl: error: ` line naming the key or flag, and leaves the home
/// byte-identical.
final class HostileInputTests: HomeTestCase {
    /// One refused input: the arguments, and the names of which at least one must be in the error
    /// (a flag's error may name the flag or the JSON key it feeds).
    struct Refused {
        var args: [String]
        var names: [String]
        /// For `config set`: spellings of the upper bound of the allowed range, one of which the
        /// error must show (after removing digit-group separators).
        var upper: [String] = []
    }

    static let huge = String(repeating: "9", count: 100_000)   // a 100,000-character value
    static let hugeJSONNumber = huge                            // the same, as a bare JSON number

    /// What a case's label shows: the arguments, with the 100,000-character value abbreviated.
    static func label(_ args: [String]) -> String {
        args.map { a in a.count > 200 ? String(a.prefix(40)) + "…(\(a.count) chars)" : a }.joined(separator: " ")
    }

    /// Runs the binary in this test's home, never waiting forever (Harness.runBounded).
    func runBounded(_ args: [String], seconds: Double = 30) -> Harness.Result {
        Harness.runBounded(args, home: home, seconds: seconds)
    }

    /// Puts the home back to `snapshot` after a case that wrongly changed it, so one wrongly
    /// accepted value (say, a config key) cannot change what the following cases see.
    func restore(_ snapshot: [String: Data]) {
        Harness.waitForCompaction(home: home)
        for (rel, _) in Harness.files(home) where snapshot[rel] == nil {
            try? FileManager.default.removeItem(atPath: home + "/" + rel)
        }
        for (rel, data) in snapshot {
            _ = FileManager.default.createFile(atPath: home + "/" + rel, contents: data)
        }
    }

    static func short(_ s: String) -> String { s.count > 400 ? String(s.prefix(400)) + "…" : s }

    /// Runs every case: exit 2, stdout empty, one error line naming the key, home unchanged.
    /// Each case that breaks the contract is one failure listing everything wrong with it.
    func assertRefused(_ cases: [Refused], file: StaticString = #filePath, line: UInt = #line) {
        for c in cases {
            let label = Self.label(c.args)
            let before = Harness.files(home)
            // A dashboard that wrongly accepts its port serves until killed: give up on it sooner.
            let r = runBounded(c.args, seconds: c.args.first == "dashboard" ? 5 : 30)
            var wrong: [String] = []
            if r.code != 2 { wrong.append("exit \(r.code), expected 2\(r.code > 2 && r.code < 32 ? " (killed by signal \(r.code)?)" : "")") }
            if !r.stdout.isEmpty { wrong.append("stdout not empty: \(Self.short(r.stdout))") }
            let lines = r.stderr.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty }
            if lines.count != 1 { wrong.append("\(lines.count) lines on stderr, expected 1") }
            if !r.stderr.hasPrefix("queuectl: error: ") { wrong.append("stderr does not start with 'queuectl: error: '") }
            if !c.names.contains(where: { r.stderr.contains($0) }) { wrong.append("the error does not name \(c.names.joined(separator: " or "))") }
            if !c.upper.isEmpty {
                // Digit groups may be written 1,000,000 or 1_000_000 or 1 000 000.
                var plain = r.stderr
                for sep in [",", "_", "\u{202F}", "\u{00A0}", "'"] { plain = plain.replacingOccurrences(of: sep, with: "") }
                let spaced = plain.replacingOccurrences(of: #"(?<=\d) (?=\d{3}\b)"#, with: "", options: .regularExpression)
                if !c.upper.contains(where: { plain.contains($0) || spaced.contains($0) }) {
                    wrong.append("the error does not show the allowed range (upper bound \(c.upper[0]))")
                }
            }
            let after = Harness.files(home)
            if after != before {
                let changed = Set(after.keys).union(before.keys).filter { after[$0] != before[$0] }.sorted()
                wrong.append("the home changed (\(changed.joined(separator: ", ")))")
                restore(before)
            }
            if !wrong.isEmpty {
                XCTFail("\(label): \(wrong.joined(separator: "; ")); stderr: \(Self.short(r.stderr))", file: file, line: line)
            }
        }
    }

    // MARK: - Cases

    /// `enqueue '{"command":"true","KEY":RAW}'` (RAW is JSON text).
    static func json(_ key: String, _ raw: String) -> Refused {
        Refused(args: ["enqueue", "{\"command\":\"true\",\"\(key)\":\(raw)}"], names: [key])
    }

    static func jsonCases() -> [Refused] {
        var c: [Refused] = []
        let hugeString = "\"\(huge)\""
        for raw in ["5", "\"\"", "\"a\\nb\"", "[]", "{}", "true", hugeString] {
            c.append(json("label", raw))
        }
        for raw in ["-1", "1.5", "1e300", "-1e300", "1e999", "9223372036854775808", "9223372036854775807", "1000000001",
                    "\"NaN\"", "\"Infinity\"", "\"\"", hugeString, hugeJSONNumber] {
            c.append(json("max_retries", raw))
        }
        for raw in ["1.5", "1e300", "-1e300", "1e999", "-1e999", "9223372036854775808", "9223372036854775807",
                    "-9223372036854775809", "1000000001", "-1000000001", "\"-Infinity\"", "\"nan\"", hugeJSONNumber] {
            c.append(json("priority", raw))
        }
        for key in ["timeout", "delay"] {
            for raw in ["-1", "-0.001", "1e300", "-1e300", "1e999", "9223372036854775808", "9223372036854775807", "3155760001",
                        "\"NaN\"", "\"nan\"", "\"Infinity\"", "\"-Infinity\"", "\"inf\"", "\"\"", "\"100000000d\"", "\"1e300\"",
                        "\"-1\"", "\"3155760001\"", "\"36526d\"", hugeString, hugeJSONNumber] {
                c.append(json(key, raw))
            }
        }
        for raw in ["\"10000-01-01T00:00:00Z\"", "\"0000-01-01T00:00:00Z\"", "\"1969-12-31T23:59:59Z\"",
                    "\"1969-12-31T23:59:59.999Z\"", "\"9999-12-31T23:59:60Z\"", "\"9999-12-31T23:59:59-01:00\"",
                    "\"1970-01-01T00:59:59+01:00\"", "\"0000-01-01\"", "\"NaN\"", "\"\"", "1e300", "-1", hugeString] {
            c.append(json("run_at", raw))
        }
        for name in ["QUEUECTL_JOB_ID", "QUEUECTL_ATTEMPT", "QUEUECTL_HOME", "QUEUECTL_COMPACT_LOCK_FD", "QUEUECTL_X"] {
            c.append(Refused(args: ["enqueue", "{\"command\":\"true\",\"env\":{\"OK\":\"1\",\"\(name)\":\"x\"}}"], names: [name]))
        }
        return c
    }

    static func flagCases() -> [Refused] {
        var c: [Refused] = []
        func flag(_ f: String, _ v: String) -> Refused {
            let key = f.replacingOccurrences(of: "-", with: "_")
            return Refused(args: ["enqueue", "--" + f, v, "--", "true"], names: key == f ? [f] : [f, key])
        }
        for v in ["-1", "1e300", "-1e300", "NaN", "nan", "Infinity", "-Infinity", "", "100000000d", "3155760001", "36526d",
                  "9223372036854775808", "9223372036854775807", huge] {
            c.append(flag("delay", v))
            c.append(flag("timeout", v))
        }
        for v in ["-1", "1.5", "1e300", "-1e300", "9223372036854775808", "9223372036854775807", "1000000001", "", "NaN", huge] {
            c.append(flag("max-retries", v))
        }
        for v in ["1.5", "1e300", "-1e300", "9223372036854775808", "9223372036854775807", "-1000000001", "1000000001",
                  "Infinity", "", huge] {
            c.append(flag("priority", v))
        }
        for v in ["10000-01-01T00:00:00Z", "0000-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "9999-12-31T23:59:60Z", "", "NaN", huge] {
            c.append(flag("run-at", v))
        }
        for v in ["", String(repeating: "x", count: 201), "two\nlines", "tab\there", "bell\u{7}", huge] {
            c.append(flag("label", v))
        }
        return c
    }

    /// `config set KEY VALUE`: out-of-range values, with the spellings of each key's upper bound.
    static func configCases() -> [Refused] {
        let bad: [(key: String, values: [String], upper: [String])] = [
            ("max_retries", ["-1", "1.5", "1000000001", "1e300", "-1e300", "9223372036854775808", "NaN", "Infinity", "", huge],
             ["1000000000", "1e9", "1e+09", "1e+9"]),
            ("backoff_base", ["0", "0.5", "-1", "1000001", "1e300", "Infinity", "nan", "", huge],
             ["1000000", "1e6", "1e+06", "1e+6"]),
            ("backoff_max", ["-1", "3155760001", "100000000d", "36526d", "1e300", "Infinity", "NaN", "", huge],
             ["3155760000", "3.15576e9", "3.15576e+09", "100 years", "100y", "36525d"]),
            ("job_timeout", ["-1", "3155760001", "100000000d", "1e300", "-Infinity", "NaN", "", huge],
             ["3155760000", "3.15576e9", "3.15576e+09", "100 years", "100y", "36525d"]),
            ("poll_interval", ["0", "0.001", "-1", "3601", "2h", "1e300", "NaN", "", huge],
             ["3600", "1h", "3.6e3", "3.6e+03"]),
            ("lease_timeout", ["0", "0.5", "-1", "86401", "2d", "1e300", "Infinity", "NaN", "", huge],
             ["86400", "1d", "24h", "8.64e4"]),
            ("kill_grace", ["-1", "3601", "2h", "1e300", "Infinity", "NaN", "", huge],
             ["3600", "1h", "3.6e3", "3.6e+03"]),
            ("log_max_bytes", ["-1", "-5", "1.5", "1099511627777", "1e300", "9223372036854775808", "NaN", "", huge],
             ["1099511627776", "1 TiB", "1TiB", "1.099511627776e12", "1.099511627776e+12"]),
            ("retention", ["-1", "3155760001", "100000000d", "1e300", "Infinity", "NaN", "", huge],
             ["3155760000", "3.15576e9", "3.15576e+09", "100 years", "100y", "36525d"]),
            ("journal_max_bytes", ["0", "4095", "1073741825", "1.5", "1e300", "-1", "NaN", "", huge],
             ["1073741824", "1 GiB", "1GiB", "1.073741824e9", "1.073741824e+09"]),
            ("fsync", ["2", "-1", "0.5", "1e300", "NaN", "", huge],
             ["1"]),
        ]
        var c: [Refused] = []
        for b in bad {
            for v in b.values {
                c.append(Refused(args: ["config", "set", b.key, v], names: [b.key], upper: b.upper))
            }
        }
        // The dashed alias goes through the same check.
        c.append(Refused(args: ["config", "set", "max-retries", "1e300"], names: ["max_retries", "max-retries"]))
        return c
    }

    /// The CLI's own numeric flags. `ran` is a job that ran once (so `logs` reaches --attempt).
    static func commandFlagCases() -> [Refused] {
        var c: [Refused] = []
        for v in ["-1", "1e300", "-1e300", "100000000d", "3155760001", "36526d", "NaN", "Infinity", "-Infinity", "", huge] {
            c.append(Refused(args: ["purge", "--older-than", v], names: ["older-than", "older_than"]))
            c.append(Refused(args: ["wait", "ran", "--timeout", v], names: ["timeout"]))
        }
        for v in ["-1", "1.5", "1000000001", "9223372036854775808", "9223372036854775807", "1e300", "NaN", "", huge] {
            c.append(Refused(args: ["list", "--limit", v], names: ["limit"]))
        }
        // --detach: a value wrongly accepted starts workers in the background (stopped in tearDown)
        // instead of a supervisor in the foreground that never exits.
        for v in ["0", "-1", "1025", "1.5", "1e300", "9223372036854775808", "NaN", "", huge] {
            c.append(Refused(args: ["worker", "start", "--count", v, "--detach"], names: ["count"]))
        }
        for v in ["0", "-1", "1.5", "1e300", "9223372036854775808", "NaN", "", huge] {
            c.append(Refused(args: ["logs", "ran", "--attempt", v], names: ["attempt"]))
        }
        for v in ["-1", "65536", "1.5", "1e300", "9223372036854775808", "NaN", "", huge] {
            c.append(Refused(args: ["dashboard", "--port", v], names: ["port"]))
        }
        return c
    }

    // MARK: - Tests

    /// A home with one job that ran (completed, attempt 1 exists) and one cancelled job; no workers.
    func makeHomeWithAFinishedJob() throws {
        XCTAssertEqual(q("config", "set", "poll_interval", "0.1").code, 0)
        XCTAssertEqual(q("enqueue", "--id", "ran", "--", "true").code, 0)
        XCTAssertEqual(q("enqueue", "--id", "fin", "--delay", "1h", "--", "true").code, 0)
        XCTAssertEqual(q("cancel", "fin").code, 0)
        let started = q("worker", "start", "--count", "1", "--detach")
        XCTAssertEqual(started.code, 0, started.stderr)
        let waited = runBounded(["wait", "ran", "--timeout", "30s"], seconds: 40)
        XCTAssertEqual(waited.code, 0, "job 'ran' should complete: \(waited.stderr)")
        XCTAssertEqual(q("worker", "stop").code, 0)
        Harness.waitForCompaction(home: home)
        XCTAssertEqual(jobJSON("ran")["state"] as? String, "completed")
    }

    /// A home with one job in it: its store files all exist, so a refused command that writes
    /// nothing leaves it byte-identical.
    func makeHome() {
        XCTAssertEqual(q("enqueue", "--id", "seed", "--", "true").code, 0)
        Harness.waitForCompaction(home: home)
    }

    func testJobJSONFieldsRefuseHostileNumbers() throws {
        makeHome()
        let cases = Self.jsonCases()
        XCTAssertGreaterThanOrEqual(cases.count, 40)
        assertRefused(cases)
    }

    func testEnqueueFlagsRefuseHostileNumbers() throws {
        makeHome()
        let cases = Self.flagCases()
        XCTAssertGreaterThanOrEqual(cases.count, 40)
        assertRefused(cases)
    }

    func testConfigSetRefusesOutOfRangeValuesAndNamesTheRange() throws {
        makeHome()
        XCTAssertEqual(q("config", "set", "max_retries", "7").code, 0)   // a config.json that must stay as it is
        let cases = Self.configCases()
        XCTAssertGreaterThanOrEqual(cases.count, 40)
        assertRefused(cases)
        XCTAssertEqual(q("config", "get", "max_retries").stdout, "7\n")
    }

    func testCommandFlagsRefuseHostileNumbers() throws {
        try makeHomeWithAFinishedJob()
        let cases = Self.commandFlagCases()
        XCTAssertGreaterThanOrEqual(cases.count, 40)
        assertRefused(cases)
        let workers = Harness.json(q("worker", "status", "--json").stdout) as? [String: Any]
        XCTAssertTrue(workers?["supervisor"] is NSNull, "a refused --count must not leave workers running: \(String(describing: workers))")
    }

    /// The bounds themselves are accepted, and the far-future job they make is shown normally.
    func testBoundaryValuesAreAccepted() throws {
        let accepted: [[String]] = [
            ["enqueue", "--id", "d0", "--delay", "0", "--", "true"],
            ["enqueue", #"{"id":"j0","command":"true","delay":0}"#],
            ["enqueue", #"{"id":"j0s","command":"true","delay":"0s"}"#],
            ["enqueue", #"{"id":"far","command":"true","run_at":"9999-12-31T23:59:59Z"}"#],
            ["enqueue", #"{"id":"far2","command":"true","run_at":"9999-12-31T23:59:59.999Z"}"#],
            ["enqueue", #"{"id":"epoch","command":"true","run_at":"1970-01-01T00:00:00Z"}"#],
            ["enqueue", #"{"id":"low","command":"true","priority":-1000000000}"#],
            ["enqueue", "--id", "lowf", "--priority", "-1000000000", "--", "true"],
            ["enqueue", #"{"id":"high","command":"true","priority":1000000000,"max_retries":1000000000}"#],
            ["enqueue", #"{"id":"t100y","command":"true","timeout":3155760000}"#],
            ["enqueue", "--id", "t100yf", "--timeout", "36525d", "--", "true"],
            ["enqueue", #"{"id":"d100y","command":"true","delay":"36525d"}"#],
            ["config", "set", "poll_interval", "3600"],
            ["config", "set", "poll_interval", "0.01"],
            ["config", "set", "journal_max_bytes", "4096"],
            ["config", "set", "journal_max_bytes", "1073741824"],
            ["config", "set", "backoff_base", "1000000"],
            ["config", "set", "backoff_max", "3155760000"],
            ["config", "set", "job_timeout", "36525d"],
            ["config", "set", "kill_grace", "3600"],
            ["config", "set", "log_max_bytes", "1099511627776"],
            ["config", "set", "retention", "0"],
            ["config", "set", "max_retries", "1000000000"],
            ["config", "set", "fsync", "0"],
            ["list", "--limit", "0"],
            ["list", "--limit", "1000000000"],
            ["purge", "--older-than", "36525d"],
        ]
        for args in accepted {
            let r = runBounded(args)
            XCTAssertEqual(r.code, 0, "\(Self.label(args)): should be accepted; stderr: \(Self.short(r.stderr))")
        }
        XCTAssertEqual(jobJSON("far")["run_at"] as? String, "9999-12-31T23:59:59.000Z")
        XCTAssertEqual(jobJSON("far2")["run_at"] as? String, "9999-12-31T23:59:59.999Z")
        XCTAssertEqual(jobJSON("lowf")["priority"] as? Int, -1_000_000_000)
        XCTAssertEqual(jobJSON("high")["max_retries"] as? Int, 1_000_000_000)
        XCTAssertEqual(q("config", "get", "poll_interval").stdout, "0.01\n")
        XCTAssertEqual(q("config", "get", "journal_max_bytes").stdout, "1073741824\n")
        for args in [["list"], ["list", "--json"], ["status"], ["status", "--json"], ["show", "far"], ["config", "show"], ["metrics"]] {
            let r = runBounded(args)
            XCTAssertEqual(r.code, 0, "\(args.joined(separator: " ")) after the boundary values: \(Self.short(r.stderr))")
        }
    }

    /// A hand-edited config.json with absurd values is not fatal: every bad key is warned about
    /// (naming config.json), its default is used, and `status` mentions it.
    func testHandEditedAbsurdConfigIsNotFatal() throws {
        makeHome()
        let bad = ["backoff_base", "max_retries", "log_max_bytes", "poll_interval"]
        try #"{"backoff_base":1e300,"max_retries":1e300,"log_max_bytes":-5,"poll_interval":"x"}"#
            .write(toFile: home + "/config.json", atomically: true, encoding: .utf8)

        func assertWarns(_ r: Harness.Result, _ what: String) {
            let warnings = r.stderr.split(separator: "\n").filter { $0.hasPrefix("queuectl: warning:") && $0.contains("config.json") }
            for k in bad {
                XCTAssertTrue(warnings.contains { $0.contains(k) }, "\(what): no 'queuectl: warning:' line naming config.json and \(k); stderr: \(Self.short(r.stderr))")
            }
            XCTAssertFalse(r.stderr.contains("queuectl: error:"), "\(what): \(Self.short(r.stderr))")
        }

        let shown = runBounded(["config", "show", "--json"])
        XCTAssertEqual(shown.code, 0, "config show: \(Self.short(shown.stderr))")
        assertWarns(shown, "config show")
        let values = Harness.json(shown.stdout) as? [String: Any]
        XCTAssertEqual(values?["backoff_base"] as? Double, 2, "the default is used for a bad value")
        XCTAssertEqual(values?["max_retries"] as? Double, 3)
        XCTAssertEqual(values?["log_max_bytes"] as? Double, 10_485_760)
        XCTAssertEqual(values?["poll_interval"] as? Double, 1)

        let got = runBounded(["config", "get", "max_retries"])
        XCTAssertEqual(got.code, 0, Self.short(got.stderr))
        XCTAssertEqual(got.stdout, "3\n", "warnings go to stderr, the value to stdout")

        let enq = runBounded(["enqueue", "--id", "a", "--", "true"])
        XCTAssertEqual(enq.code, 0, "enqueue: \(Self.short(enq.stderr))")
        XCTAssertEqual(enq.stdout, "a\n")
        assertWarns(enq, "enqueue")
        XCTAssertEqual(jobJSON("a")["max_retries"] as? Int, 3, "a new job takes the default max_retries, not the bad one")

        let status = runBounded(["status"])
        XCTAssertEqual(status.code, 0, "status: \(Self.short(status.stderr))")
        for k in bad {
            XCTAssertTrue(status.stdout.contains(k), "status should mention the bad key \(k): \(Self.short(status.stdout))")
        }
        let statusJSON = runBounded(["status", "--json"])
        XCTAssertEqual(statusJSON.code, 0, Self.short(statusJSON.stderr))
        XCTAssertNotNil(Harness.json(statusJSON.stdout), "status --json stays valid JSON: \(Self.short(statusJSON.stdout))")

        for args in [["list"], ["show", "a"], ["metrics"], ["worker", "status"]] {
            let r = runBounded(args)
            XCTAssertEqual(r.code, 0, "\(args.joined(separator: " ")): \(Self.short(r.stderr))")
        }
        // `config set` still works on such a file.
        let set = runBounded(["config", "set", "backoff_base", "3"])
        XCTAssertEqual(set.code, 0, "config set on a hand-edited config.json: \(Self.short(set.stderr))")
        XCTAssertEqual(runBounded(["config", "get", "backoff_base"]).stdout, "3\n")
    }
}
