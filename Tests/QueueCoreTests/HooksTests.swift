import Foundation
import XCTest
@testable import QueueCore

/// Hooks (config on_finish, on_idle): the runner a worker uses, and the config keys behind it.
/// Every wait is a deadline loop on a condition; every process a test starts is gone at its end.
final class HooksTests: HomeTestCase {
    final class LogLines {
        var lines: [String] = []
        func append(_ s: String) { lines.append(s) }
        func contains(_ s: String) -> Bool { lines.contains { $0.contains(s) } }
    }

    /// Calls `reap` until `done`, for at most `seconds` (generous: only a broken runner takes long).
    @discardableResult
    func reapUntil(_ hooks: Hooks, _ what: String, seconds: Double = 20, file: StaticString = #filePath, line: UInt = #line,
                   _ done: () -> Bool) -> Bool {
        let end = Clock.monotonic() + seconds
        while true {
            hooks.reap()
            if done() { return true }
            if Clock.monotonic() > end {
                XCTFail("not within \(seconds)s: \(what)", file: file, line: line)
                return false
            }
            Posix.sleep(seconds: 0.01)
        }
    }

    /// Waits for a file to hold a whole line (the hook writes it), returning its first line.
    func firstLine(_ path: String, seconds: Double = 20) -> String? {
        let end = Clock.monotonic() + seconds
        while Clock.monotonic() < end {
            if let d = FileManager.default.contents(atPath: path), let s = String(data: d, encoding: .utf8), s.hasSuffix("\n") {
                return String(s.split(separator: "\n").first ?? "")
            }
            Posix.sleep(seconds: 0.01)
        }
        return nil
    }

    /// This process's children that are zombies (exited, never reaped), from /proc.
    func zombieChildren() -> [Int] {
        let me = Int(getpid())
        return Posix.listDirectory("/proc").compactMap { name -> Int? in
            guard let pid = Int(name), let bytes = try? Posix.readFile("/proc/\(pid)/stat"),
                  let close = bytes.lastIndex(of: UInt8(ascii: ")")) else { return nil }
            let fields = String(decoding: bytes[(close + 1)...], as: UTF8.self).split(separator: " ")
            guard fields.count > 1, fields[0] == "Z", Int(fields[1]) == me else { return nil }
            return pid
        }
    }

    /// Waits until `pid` (with its start time) is gone or a zombie of someone else's.
    func assertGone(_ pid: Int, startTime: Int64?, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        let end = Clock.monotonic() + 20
        while Posix.isAlive(pid: pid, startTime: startTime) {
            if Clock.monotonic() > end {
                kill(pid_t(pid), SIGKILL)
                XCTFail("\(what) (pid \(pid)) still alive", file: file, line: line)
                return
            }
            Posix.sleep(seconds: 0.01)
        }
    }

    // MARK: - The runner

    func testHookSeesItsEnvironmentAndIsReaped() {
        XCTAssertEqual(zombieChildren(), [], "a zombie child before the test")
        let log = LogLines()
        let hooks = Hooks(log: log.append)
        XCTAssertNil(hooks.nextWake, "no hook runs")
        hooks.fire("on_finish for job1", command: #"printf '%s %s %s\n' "$QUEUECTL_JOB_ID" "$QUEUECTL_STATE" "${HOME:+home}" > "$OUT""#,
                   env: [("QUEUECTL_JOB_ID", "job1"), ("QUEUECTL_STATE", "completed"), ("OUT", dir + "/out")], timeout: 30, killGrace: 1)
        XCTAssertEqual(hooks.running, 1)
        let wake = hooks.nextWake
        XCTAssertNotNil(wake)
        XCTAssertLessThanOrEqual(wake ?? 99, 30, "the next wake is at most the timeout away")
        reapUntil(hooks, "the hook is reaped") { hooks.running == 0 }
        XCTAssertEqual(firstLine(dir + "/out"), "job1 completed home", "the hook sees the env given and this process's own")
        XCTAssertEqual(log.lines, [], "a hook that exits 0 is not logged")
        XCTAssertNil(hooks.nextWake)
        XCTAssertEqual(zombieChildren(), [], "the hook was reaped")
    }

    func testFailingHooksAreLoggedWithTheirCode() {
        let log = LogLines()
        let hooks = Hooks(log: log.append)
        hooks.fire("on_finish for job1", command: "exit 3", env: [], timeout: 30, killGrace: 1)
        hooks.fire("on_idle", command: "no-such-command-queuectl-test 2>/dev/null", env: [], timeout: 30, killGrace: 1)
        XCTAssertEqual(hooks.running, 2)
        reapUntil(hooks, "both hooks end") { hooks.running == 0 }
        XCTAssertTrue(log.lines.contains("hook on_finish for job1 exited with 3"), "\(log.lines)")
        XCTAssertTrue(log.contains("hook on_idle exited with 127"), "\(log.lines)")
        XCTAssertEqual(log.lines.count, 2, "\(log.lines)")
        hooks.fire("on_idle", command: "true\u{0}rm -rf /", env: [], timeout: 30, killGrace: 1)
        hooks.fire("on_idle", command: "true", env: [("A=B", "c")], timeout: 30, killGrace: 1)
        XCTAssertEqual(hooks.running, 0, "refused, not started cut short")
        XCTAssertEqual(log.lines.count, 4, "\(log.lines)")
        XCTAssertEqual(zombieChildren(), [])
    }

    /// A hook past its timeout is killed with its whole group: a background child goes too, and
    /// one that ignores SIGTERM ends by the SIGKILL after the grace.
    func testHangingHookIsKilledWithItsGroup() throws {
        let variants = [
            ("plain", "echo $$ > \"$OUT\"; exec sleep 60"),
            ("grandchild", "sleep 60 & echo $! > \"$OUT\"; wait"),
            ("ignores TERM", "trap '' TERM; sleep 60 & echo $! > \"$OUT\"; wait"),
        ]
        for (name, command) in variants {
            let log = LogLines()
            let hooks = Hooks(log: log.append)
            let out = dir + "/pid-\(name.replacingOccurrences(of: " ", with: "-"))"
            let started = Clock.monotonic()
            hooks.fire("on_finish for \(name)", command: command, env: [("OUT", out)], timeout: 0.5, killGrace: 0.5)
            let pid = try XCTUnwrap(firstLine(out).flatMap { Int($0) }, "\(name): the hook wrote no pid")
            let startTime = Posix.processStartTime(pid)
            XCTAssertTrue(Posix.isAlive(pid: pid, startTime: startTime), "\(name): the sleep runs")
            reapUntil(hooks, "\(name): the hook is killed and reaped") { hooks.running == 0 }
            XCTAssertGreaterThanOrEqual(Clock.monotonic() - started, 0.5, "\(name): not before its timeout")
            assertGone(pid, startTime: startTime, "\(name): the hook's sleep")
            XCTAssertEqual(log.lines, ["hook on_finish for \(name) killed after 500ms (hook_timeout)"], name)
            XCTAssertEqual(zombieChildren(), [], name)
        }
    }

    func testFinishKillsRunningHooks() throws {
        let log = LogLines()
        let hooks = Hooks(log: log.append)
        let out = dir + "/pid"
        hooks.fire("on_idle", command: "sleep 60 & echo $! > \"$OUT\"; wait", env: [("OUT", out)], timeout: 3600, killGrace: 2)
        hooks.fire("on_finish for quick", command: "exit 0", env: [], timeout: 3600, killGrace: 2)
        let pid = try XCTUnwrap(firstLine(out).flatMap { Int($0) }, "the hook wrote no pid")
        let startTime = Posix.processStartTime(pid)
        let started = Clock.monotonic()
        hooks.finish(within: 0.3)
        XCTAssertEqual(hooks.running, 0)
        XCTAssertLessThan(Clock.monotonic() - started, 10, "finish waits its time, then kills")
        assertGone(pid, startTime: startTime, "the hook's background sleep")
        XCTAssertEqual(log.lines, ["hook on_idle killed as its worker stopped"])
        XCTAssertEqual(zombieChildren(), [])
    }

    /// Only 0, 1 and 2 reach a hook (stdin /dev/null, stdout and stderr our fd 2), even a
    /// descriptor this process holds without close-on-exec.
    func testHookGetsOnlyTheStandardDescriptors() throws {
        var leak: [Int32] = [-1, -1]
        XCTAssertEqual(pipe(&leak), 0)  // no O_CLOEXEC: inherited by exec unless closed
        defer { close(leak[0]); close(leak[1]) }
        let errPath = dir + "/stderr"
        let errFd = open(errPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        XCTAssertGreaterThanOrEqual(errFd, 0)
        let savedErr = dup(2)
        XCTAssertGreaterThanOrEqual(savedErr, 0)
        fflush(stderr)
        dup2(errFd, 2)
        let log = LogLines()
        let hooks = Hooks(log: log.append)
        // Looked at from here once the hook is `sleep` (the shell's own descriptors are its business).
        hooks.fire("on_idle", command: "echo to-stdout; echo to-stderr >&2; echo $$ > \"$OUT\"; exec sleep 60",
                   env: [("OUT", dir + "/pid")], timeout: 30, killGrace: 1)
        dup2(savedErr, 2)  // the hook holds its own copy
        close(savedErr)
        close(errFd)
        defer { hooks.finish(within: 0) }
        let pid = try XCTUnwrap(firstLine(dir + "/pid").flatMap { Int($0) }, "the hook wrote no pid")
        let end = Clock.monotonic() + 20
        func isSleep() -> Bool { ((try? Posix.readFile("/proc/\(pid)/cmdline")) ?? nil)?.starts(with: Array("sleep".utf8)) ?? false }
        while !isSleep() {
            guard Clock.monotonic() < end else { return XCTFail("the hook never became sleep") }
            Posix.sleep(seconds: 0.01)
        }
        func target(_ fd: String) -> String? {
            var buf = [CChar](repeating: 0, count: 4096)
            let n = readlink("/proc/\(pid)/fd/\(fd)", &buf, buf.count - 1)
            return n > 0 ? String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : nil
        }
        XCTAssertEqual(Posix.listDirectory("/proc/\(pid)/fd").sorted(), ["0", "1", "2"], "the hook's descriptors")
        XCTAssertEqual(target("0"), "/dev/null")
        XCTAssertEqual(target("1"), errPath)
        XCTAssertEqual(target("2"), errPath)
        XCTAssertEqual(try String(contentsOfFile: errPath, encoding: .utf8), "to-stdout\nto-stderr\n", "stdout and stderr go to the caller's fd 2")
        XCTAssertEqual(log.lines, [])
    }

    // MARK: - Config

    func testCommandKeysReadLeniently() {
        let huge = String(repeating: "x", count: 5000)
        let json = JSON.object([("on_finish", .double(5)), ("on_idle", .string(huge)), ("hook_timeout", .string("10")), ("kill_grace", .double(1))])
        let c = Config(json: json, path: "config.json")
        XCTAssertNil(c.onFinish)
        XCTAssertNil(c.onIdle)
        XCTAssertEqual(c.hookTimeout, 30, "a string for a number key is refused as before")
        XCTAssertEqual(c.killGrace, 1)
        XCTAssertEqual(c.problems.count, 3, "\(c.problems)")
        XCTAssertTrue(c.problems.allSatisfy { $0.count < 200 }, "a long value is not quoted whole: \(c.problems)")
        for bad in [JSON.string(""), .string(" \n"), .string("a\u{0}b"), .null, .array([]), .bool(true)] {
            let c = Config(json: .object([("on_finish", bad)]), path: "config.json")
            XCTAssertNil(c.onFinish, "\(bad)")
            XCTAssertEqual(c.problems.count, 1, "\(bad): \(c.problems)")
        }
        var good = Config(json: .object([("on-finish", .string("echo a\necho b")), ("hook_timeout", .double(5))]), path: "config.json")
        XCTAssertEqual(good.problems, [])
        XCTAssertEqual(good.onFinish, "echo a\necho b")
        XCTAssertEqual(good.hookTimeout, 5)
        XCTAssertEqual(Config(json: good.json, path: "x"), good, "json round-trips")
        XCTAssertNotEqual(good, Config())
        if let k = Config.key(named: "on_finish") { good.unset(k) }
        XCTAssertNil(good.onFinish)
    }

    func testConfigSetGetShowUnsetOfACommand() throws {
        let command = #"echo "$QUEUECTL_JOB_ID $QUEUECTL_STATE" >> /tmp/done"#
        let set = q("config", "set", "on_finish", command)
        XCTAssertEqual(set.code, 0, set.stderr)
        XCTAssertEqual(q("config", "get", "on_finish").stdout, command + "\n")
        XCTAssertEqual(q("config", "get", "on-finish").stdout, command + "\n")
        let unsetGet = q("config", "get", "on_idle")
        XCTAssertEqual(unsetGet.code, 0)
        XCTAssertEqual(unsetGet.stdout, "", "an unset command prints nothing")
        XCTAssertTrue(unsetGet.stderr.contains("not set"), unsetGet.stderr)

        let multi = "for f in a b; do\n  echo $f\ndone"
        XCTAssertEqual(q("config", "set", "on_idle", multi).code, 0)
        XCTAssertEqual(q("config", "get", "on_idle").stdout, multi + "\n", "newlines are kept")
        XCTAssertEqual(q("config", "set", "hook_timeout", "2m").code, 0)

        let shown = q("config", "show")
        XCTAssertEqual(shown.code, 0, shown.stderr)
        let row = shown.stdout.split(separator: "\n").first { $0.hasPrefix("on_finish ") }.map(String.init) ?? ""
        XCTAssertTrue(row.contains(command), "the value as is: \(row)")
        let json = try XCTUnwrap(Harness.json(q("config", "show", "--json").stdout) as? [String: Any])
        XCTAssertEqual(json["on_finish"] as? String, command)
        XCTAssertEqual(json["on_idle"] as? String, multi)
        XCTAssertEqual(json["hook_timeout"] as? Int, 120)

        XCTAssertEqual(q("config", "unset", "on_finish").code, 0)
        XCTAssertEqual(q("config", "get", "on_finish").stdout, "")
        let after = try XCTUnwrap(Harness.json(q("config", "show", "--json").stdout) as? [String: Any])
        XCTAssertTrue(after["on_finish"] is NSNull, "an unset command is null in JSON")
        let table = q("config", "show").stdout.split(separator: "\n").first { $0.hasPrefix("on_finish ") }.map(String.init) ?? ""
        XCTAssertTrue(table.contains("(none)"), table)
        let file = try XCTUnwrap(Harness.json(String(contentsOfFile: home + "/config.json", encoding: .utf8)) as? [String: Any])
        XCTAssertNil(file["on_finish"], "unset removes it from config.json")
        XCTAssertEqual(file["on_idle"] as? String, multi)
    }

    func testConfigSetRefusesBadCommandsAndLeavesConfigAlone() throws {
        XCTAssertEqual(q("config", "set", "on_finish", "echo kept").code, 0)
        let before = Harness.files(home)
        let cases: [(String, String, String)] = [
            ("on_finish", "", "config unset on_finish"),
            ("on_idle", "  \n ", "config unset on_idle"),
            ("on_finish", String(repeating: "x", count: 4097), "4097 bytes"),
            ("hook_timeout", "0", "between 1 and 3600"),
            ("hook_timeout", "3601", "between 1 and 3600"),
        ]
        for (key, value, says) in cases {
            let r = q("config", "set", key, value)
            XCTAssertEqual(r.code, 2, "\(key) = \(value.prefix(20)): \(r.stderr)")
            let lines = r.stderr.split(separator: "\n")
            XCTAssertEqual(lines.count, 1, "one line: \(r.stderr.prefix(300))")
            XCTAssertTrue(r.stderr.contains(says), "\(key): \(r.stderr.prefix(300))")
            XCTAssertLessThan(r.stderr.utf8.count, 300, "the value is not echoed whole")
            XCTAssertEqual(r.stdout, "")
        }
        XCTAssertEqual(Harness.files(home), before, "nothing in the home changed")
        XCTAssertEqual(q("config", "set", "on_finish", String(repeating: "x", count: 4096)).code, 0, "4096 bytes is allowed")
    }

    func testHandEditedCommandKeysWarnAndAreIgnored() throws {
        XCTAssertEqual(q("init").code, 0)
        let huge = String(repeating: "y", count: 5000)
        for text in [#"{"on_finish":5,"on_idle":"\#(huge)","hook_timeout":"x"}"#, #"{"on_finish":"","on_idle":["a"]}"#] {
            try text.write(toFile: home + "/config.json", atomically: true, encoding: .utf8)
            let r = q("config", "show", "--json")
            XCTAssertEqual(r.code, 0, r.stderr)
            let warnings = r.stderr.split(separator: "\n").filter { $0.hasPrefix("queuectl: warning:") && $0.contains("config.json") }
            XCTAssertTrue(warnings.contains { $0.contains("on_finish") }, r.stderr)
            XCTAssertTrue(warnings.contains { $0.contains("on_idle") }, r.stderr)
            XCTAssertFalse(r.stderr.contains(huge), "the long value is not printed")
            let json = try XCTUnwrap(Harness.json(r.stdout) as? [String: Any])
            XCTAssertTrue(json["on_finish"] is NSNull)
            XCTAssertTrue(json["on_idle"] is NSNull)
            XCTAssertEqual(json["hook_timeout"] as? Int, 30)
            let status = q("status")
            XCTAssertEqual(status.code, 0, status.stderr)
            XCTAssertTrue(status.stdout.contains("on_finish"), "status mentions the bad key: \(status.stdout)")
        }
    }
}
