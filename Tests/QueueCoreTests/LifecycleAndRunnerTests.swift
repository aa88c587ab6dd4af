import Foundation
import Glibc
import XCTest
@testable import QueueCore

/// The state transitions (Lifecycle) as a table, and the runner used as a library: what each
/// outcome makes of a job, and what each kind of command makes of an outcome.
final class LifecycleTableTests: XCTestCase {
    static let now: Millis = 1_800_000_000_000

    struct Row {
        var name: String
        var attemptsBefore: Int
        var maxRetries: Int
        var outcome: Outcome
        var base: Double = 2
        var result: Lifecycle.Result
        var state: JobState
        var lastError: String?
    }

    static func outcome(exit: Int? = nil, signal: Int? = nil, timeout: Double? = nil, error: String? = nil) -> Outcome {
        var o = Outcome(exitCode: exit, signal: signal)
        if let t = timeout { o.timedOut = true; o.timeoutSeconds = t }
        o.error = error
        return o
    }

    static let rows: [Row] = [
        Row(name: "success", attemptsBefore: 0, maxRetries: 3, outcome: outcome(exit: 0), result: .completed, state: .completed, lastError: nil),
        Row(name: "first failure, retries left", attemptsBefore: 0, maxRetries: 2, outcome: outcome(exit: 3), result: .retry(at: now + 2_000), state: .failed, lastError: "exit code 3"),
        Row(name: "second failure waits base^2", attemptsBefore: 1, maxRetries: 2, outcome: outcome(exit: 3), result: .retry(at: now + 4_000), state: .failed, lastError: "exit code 3"),
        Row(name: "out of retries", attemptsBefore: 2, maxRetries: 2, outcome: outcome(exit: 3), result: .dead, state: .dead, lastError: "exit code 3"),
        Row(name: "no retries at all", attemptsBefore: 0, maxRetries: 0, outcome: outcome(exit: 1), result: .dead, state: .dead, lastError: "exit code 1"),
        Row(name: "timeout", attemptsBefore: 0, maxRetries: 1, outcome: outcome(timeout: 5), result: .retry(at: now + 2_000), state: .failed, lastError: "timed out after 5s"),
        Row(name: "killed by a signal", attemptsBefore: 0, maxRetries: 0, outcome: outcome(signal: 9), result: .dead, state: .dead, lastError: "killed by signal 9 (SIGKILL)"),
        Row(name: "command not found", attemptsBefore: 0, maxRetries: 0, outcome: outcome(exit: 127), result: .dead, state: .dead, lastError: "command not found (exit code 127)"),
        Row(name: "cannot execute", attemptsBefore: 0, maxRetries: 0, outcome: outcome(exit: 126), result: .dead, state: .dead, lastError: "command could not be executed (exit code 126)"),
        Row(name: "worker lost", attemptsBefore: 0, maxRetries: 1, outcome: outcome(error: "worker lost"), result: .retry(at: now + 2_000), state: .failed, lastError: "worker lost"),
        Row(name: "exit 0 but an error (log unwritable) is a failure", attemptsBefore: 0, maxRetries: 0, outcome: outcome(exit: 0, error: "cannot write the log"), result: .dead, state: .dead, lastError: "cannot write the log"),
        Row(name: "backoff saturates at backoff_max", attemptsBefore: 40, maxRetries: 100, outcome: outcome(exit: 1), base: 1_000_000, result: .retry(at: now + 3_600_000), state: .failed, lastError: "exit code 1"),
    ]

    func testFinish() {
        for i in LifecycleTableTests.rows.indices {
            let row = LifecycleTableTests.rows[i]
            let name = "row \(i), \(row.name)"
            var c = Config()
            c.values["backoff_base"] = row.base
            var j = Job(id: "j", command: "x", maxRetries: row.maxRetries, createdAt: LifecycleTableTests.now - 10_000, cwd: "/")
            j.attempts = row.attemptsBefore
            Lifecycle.claim(&j, now: LifecycleTableTests.now - 1_000, workerPid: 7, workerStart: 70)
            j.jobPgid = 8
            XCTAssertTrue(j.state == .processing && j.attempts == row.attemptsBefore + 1 && j.history.count == 1, "\(name)")
            let result = Lifecycle.finish(&j, outcome: row.outcome, now: LifecycleTableTests.now, config: c)
            XCTAssertEqual(result, row.result, "\(name)")
            XCTAssertEqual(j.state, row.state, "\(name)")
            XCTAssertEqual(j.lastError, row.lastError, "\(name)")
            XCTAssertTrue(j.workerPid == nil && j.workerStart == nil && j.jobPgid == nil && j.jobStart == nil, "\(name): the claim is cleared")
            XCTAssertEqual(j.history.last?.finishedAt, LifecycleTableTests.now, "\(name): the attempt is closed")
            XCTAssertEqual(j.finishedAt, (row.state.isFinished ? LifecycleTableTests.now : nil), "\(name)")
            if case .retry(let at) = row.result { XCTAssertEqual(j.nextRunAt, at, "\(name)") } else { XCTAssertNil(j.nextRunAt, "\(name)") }
        }
    }

    func testRequeueRetryFromDLQAndCancel() {
        let now = LifecycleTableTests.now
        var j = Job(id: "j", command: "x", maxRetries: 1, createdAt: now - 10_000, cwd: "/")
        Lifecycle.claim(&j, now: now - 1_000, workerPid: 7, workerStart: 70)
        Lifecycle.requeue(&j, now: now, reason: "interrupted")
        XCTAssertTrue(j.state == .pending && j.attempts == 0 && j.lastError == "interrupted" && j.history.last?.finishedAt == now)
        Lifecycle.claim(&j, now: now, workerPid: 7, workerStart: 70)
        XCTAssertEqual(j.history.map(\.number), [1, 2], "an interrupted attempt keeps its number; the next is a new one")
        Lifecycle.finish(&j, outcome: Outcome(exitCode: 1), now: now, config: Config())
        Lifecycle.claim(&j, now: now, workerPid: 7, workerStart: 70)
        Lifecycle.finish(&j, outcome: Outcome(exitCode: 1), now: now, config: Config())
        XCTAssertEqual(j.state, .dead)
        Lifecycle.retryFromDLQ(&j, now: now + 5)
        XCTAssertTrue(j.state == .pending && j.attempts == 0 && j.nextRunAt == nil && j.runAt == nil && j.finishedAt == nil)
        Lifecycle.cancel(&j, now: now + 6, reason: "cancelled by the user")
        XCTAssertTrue(j.state == .cancelled && j.finishedAt == now + 6 && j.lastError == "cancelled by the user")
    }
}

final class JobRunnerTests: XCTestCase {
    final class Dir {
        let path = Harness.makeTempDir()
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    /// A process's start time is field 22 of /proc/PID/stat, counted after the command name's
    /// last ')' (the name may hold spaces and parentheses): the same answer as splitting the line.
    func testTheStartTimeIsReadAfterTheCommandNameWhateverItHolds() throws {
        let d = Dir()
        let odd = d.path + "/a) b (c"
        XCTAssertEqual(link("/bin/sleep", odd) == 0 || symlink("/bin/sleep", odd) == 0, true)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: odd)
        p.arguments = ["30"]
        try p.run()
        defer { p.terminate(); p.waitUntilExit() }
        for pid in [Int(getpid()), Int(p.processIdentifier)] {
            let text = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
            let afterName = text[text.index(after: try XCTUnwrap(text.lastIndex(of: ")")))...]
            let want = Int64(afterName.split(separator: " ")[19])
            XCTAssertNotNil(want)
            XCTAssertEqual(Posix.processStartTime(pid), want, "pid \(pid): \(text.prefix(60))")
        }
        XCTAssertNil(Posix.processStartTime(Int(Int32.max)), "no such process")
    }

    static func request(_ command: String, dir: Dir, timeout: Double = 0, logMax: Int = 1 << 20, env: [(String, String)] = [], cwd: String? = nil) -> RunRequest {
        var j = Job(id: "r", command: command, maxRetries: 0, createdAt: 0, cwd: cwd ?? dir.path)
        j.env = env
        return RunRequest(job: j, attempt: 1, logPath: dir.path + "/log", timeout: timeout, killGrace: 0.2, logMaxBytes: logMax)
    }

    static func log(_ dir: Dir) -> String { String(decoding: FileManager.default.contents(atPath: dir.path + "/log") ?? Data(), as: UTF8.self) }

    /// A command of plain words runs without the shell, and nothing a job can observe changes:
    /// each command runs both ways and gives the same exit code, signal and output. The table
    /// holds commands the planner takes directly and ones it must leave to the shell.
    func testACommandRunsTheSameWithOrWithoutTheShell() throws {
        let d = Dir()
        let bin = d.path + "/bin"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        func script(_ name: String, _ text: String, mode: Int) throws {
            try text.write(toFile: bin + "/" + name, atomically: true, encoding: .utf8)
            chmod(bin + "/" + name, mode_t(mode))
        }
        try script("withshebang", "#!/bin/sh\necho \"$0 args: $# $1 $2\"; exit 4\n", mode: 0o755)
        try script("noshebang", "echo no shebang \"$1\"; exit 5\n", mode: 0o755)
        try script("notexec", "#!/bin/sh\necho never\n", mode: 0o644)
        try "data".write(toFile: d.path + "/file.txt", atomically: true, encoding: .utf8)
        let path = "PATH=\(bin):/usr/bin:/bin"
        let cases: [(command: String, direct: Bool)] = [
            ("env", true),                               // the environment, PWD included
            ("ls -a", true), ("cat file.txt", true), ("cat missing.txt", true), ("wc -c file.txt", true),
            ("sleep 0", true), ("sh -c exit", true), ("head -c 3 /dev/zero", true),
            ("withshebang a b", true), ("\(bin)/withshebang x", true), ("./bin/withshebang rel", true),
            ("bin/withshebang rel", true),
            ("noshebang z", true),                       // the kernel cannot run it: the shell does
            ("notexec", false), ("./bin/notexec", false), // found but not executable: 126 from sh
            ("no-such-program x", false), ("./no/such", false),   // 127 from sh
            ("true", false), ("echo -n hi", false), ("cd /", false), ("exit 3", false), ("kill -0 1", false),
            ("A=1 env", false), ("echo $HOME", false), ("ls *.txt", false), ("cat file.txt | wc -c", false),
            ("env > out", false), ("ls 'file.txt'", false), ("ls ~", false), ("sleep 0; env", false),
            ("ls\tfile.txt", false), ("ls # comment", false),
        ]
        var env = JobRunner.inheritedEnvironment.filter { !$0.hasPrefix("PATH=") && !$0.hasPrefix("PWD=") }
        env.append(path)
        for c in cases {
            let planned = DirectCommand.plan(c.command, environment: env, cwd: d.path) != nil
            // A found script without #! is planned directly; the kernel's ENOEXEC sends it to sh.
            XCTAssertEqual(planned, c.direct, "\(c.command): planned \(planned ? "direct" : "through sh")")
            var results: [String] = []
            for direct in [true, false] {
                let runner = JobRunner()
                runner.directCommands = direct
                let o = runner.run(JobRunnerTests.request(c.command, dir: d, env: [("PATH", String(path.dropFirst(5)))]))
                // dash hands the environment on in an order of its own: compare `env` as a set.
                let out = c.command == "env" ? JobRunnerTests.log(d).split(separator: "\n").sorted().joined(separator: "\n") : JobRunnerTests.log(d)
                results.append("exit \(o.exitCode.map(String.init) ?? "-") signal \(o.signal.map(String.init) ?? "-") error \(o.error ?? "-")\n" + out)
                try? FileManager.default.removeItem(atPath: d.path + "/log")
            }
            XCTAssertEqual(results[0], results[1], "\(c.command): direct vs sh")
        }
    }

    func testExitCodeOutputAndEnvironment() {
        let d = Dir()
        let o = JobRunner().run(JobRunnerTests.request(#"echo "$A $QUEUECTL_JOB_ID $QUEUECTL_ATTEMPT $(pwd)"; exit 3"#, dir: d, env: [("A", "x")]))
        XCTAssertTrue(o.exitCode == 3 && o.signal == nil && !o.timedOut && o.error == nil)
        let real = (try? FileManager.default.destinationOfSymbolicLink(atPath: d.path)) ?? d.path
        XCTAssertTrue(JobRunnerTests.log(d) == "x r 1 \(real)\n" || JobRunnerTests.log(d) == "x r 1 \(d.path)\n", "\(JobRunnerTests.log(d))")
        XCTAssertEqual(o.outputBytes, JobRunnerTests.log(d).utf8.count)
    }

    func testASignalATimeoutAndAMissingDirectory() {
        let d = Dir()
        let killed = JobRunner().run(JobRunnerTests.request("kill -9 $$", dir: d))
        XCTAssertTrue(killed.signal == 9 && killed.exitCode == nil)
        let slow = JobRunner().run(JobRunnerTests.request("sleep 30", dir: d, timeout: 0.2))
        XCTAssertTrue(slow.timedOut && slow.reason == "timed out after 200ms")
        let lost = JobRunner().run(JobRunnerTests.request("true", dir: d, cwd: d.path + "/nowhere"))
        XCTAssertTrue(lost.error?.hasPrefix("cannot enter the job's directory") == true, "\(lost.error ?? "-")")
    }

    func testOutputBeyondTheCapIsCountedNotKept() {
        let d = Dir()
        let o = JobRunner().run(JobRunnerTests.request("head -c 100000 /dev/zero", dir: d, logMax: 1000))
        XCTAssertTrue(o.exitCode == 0 && o.outputBytes == 100_000)
        let size = (try? FileManager.default.attributesOfItem(atPath: d.path + "/log")[.size] as? Int) ?? -1
        XCTAssertTrue(size >= 1000 && size < 2000, "the log keeps the cap and a note, got \(size) bytes")
    }

    /// Background children of a job go with it: the whole group is killed when its leader ends.
    func testNothingOfTheGroupOutlivesTheJob() {
        let d = Dir()
        let runner = JobRunner()
        let req = JobRunnerTests.request("sleep 30 & echo started", dir: d)
        guard case .running(let s) = runner.start(req) else { XCTFail("did not start"); return }
        XCTAssertNotNil(s.startTime, "the leader's start time is known at once")
        let o = runner.wait(s, req)
        XCTAssertEqual(o.exitCode, 0)
        // Killed members may linger as zombies where PID 1 does not reap: count live ones.
        let deadline = Date().addingTimeInterval(5)
        while JobRunnerTests.liveMembers(ofGroup: s.pid) > 0 && Date() < deadline { usleep(10_000) }
        XCTAssertEqual(JobRunnerTests.liveMembers(ofGroup: s.pid), 0, "the background sleep was killed with its group")
    }

    /// The leader's start time is read when the worker records it, up to 20 ms after the start:
    /// by then the leader may have exited, but it is unreaped, so the answer is the same.
    func testTheLeadersStartTimeIsTheSameAfterItExited() throws {
        let d = Dir()
        let runner = JobRunner()
        let req = JobRunnerTests.request("sleep 0.2", dir: d)
        guard case .running(let s) = runner.start(req) else { XCTFail("did not start"); return }
        let running = try XCTUnwrap(s.startTime)
        let deadline = Date().addingTimeInterval(10)
        func state() -> String? {
            guard let text = try? String(contentsOfFile: "/proc/\(s.pid)/stat", encoding: .utf8),
                  let close = text.lastIndex(of: ")") else { return nil }
            return text[text.index(close, offsetBy: 2)...].split(separator: " ").first.map(String.init)
        }
        while state() != "Z" && Date() < deadline { usleep(10_000) }
        XCTAssertEqual(state(), "Z", "the leader exited and is not reaped yet")
        XCTAssertEqual(s.startTime, running)
        XCTAssertEqual(runner.wait(s, req).exitCode, 0)
    }

    /// Processes of a group that are not zombies, from /proc/PID/stat (state, then pgrp after the name).
    static func liveMembers(ofGroup g: pid_t) -> Int {
        let procs = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return procs.filter { name in
            guard Int32(name) != nil, let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 2 && fields[0] != "Z" && Int32(fields[2]) == g
        }.count
    }

    /// The worker records the group once the attempt has run `settleTime`; a refusal kills it.
    func testARefusedSettleKillsTheAttemptAndSaysWhy() {
        let d = Dir()
        let runner = JobRunner()
        var asked = 0
        runner.whenSettled = { _ in asked += 1; return "cancelled before it started" }
        let o = runner.run(JobRunnerTests.request("sleep 30", dir: d))
        XCTAssertTrue(asked == 1 && o.error == "cancelled before it started" && o.signal == 9)
        let quick = JobRunner()
        var askedQuick = 0
        quick.whenSettled = { _ in askedQuick += 1; return nil }
        quick.settleTime = 10
        _ = quick.run(JobRunnerTests.request("true", dir: d))
        XCTAssertEqual(askedQuick, 0, "a job over before settleTime costs no record")
    }
}
