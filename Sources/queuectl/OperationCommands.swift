import Glibc
import QueueCore

/// `cancel`, `wait`, `purge`, `metrics`.
enum OperationCommands {
    static func cancel(_ cmd: ParsedCommand, store: JSONStore) throws -> Int32 {
        let r = try Cancel.run(store: store, ids: cmd.arguments)
        for id in r.cancelled { print(id) }
        if !r.stopped.isEmpty { Terminal.err("stopped running job\(r.stopped.count == 1 ? "" : "s"): \(r.stopped.joined(separator: ", "))") }
        for (id, host) in r.elsewhere {
            Terminal.err("\(id) was running on host \(host): its worker there stops it within poll_interval (\(Clock.humanDuration((try? store.config().pollInterval) ?? 1)))")
        }
        return 0
    }

    static func duration(_ cmd: ParsedCommand, _ name: String) throws -> Double? {
        guard let v = cmd.value(name) else { return nil }
        guard let d = Clock.parseDuration(v), Clock.millis(seconds: d) != nil else {
            throw QueueError.usage("invalid value '\(v.prefix(40))' for --\(name): expected seconds or a duration like 30s, 5m, 2h, 7d, between 0 and \(Clock.maxDurationText)")
        }
        return d
    }

    static func wait(_ cmd: ParsedCommand, store: JSONStore) throws -> Int32 {
        let timeout = try duration(cmd, "timeout")
        let tty = Terminal.stderrIsTTY
        let outcome = try WaitForJobs.run(store: store, ids: cmd.arguments, timeout: timeout) { p in
            guard tty, p.total > 0 else { return }
            let width = 30
            let filled = p.total == 0 ? width : p.done * width / p.total
            let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
            fputs("\r\(bar) \(p.done)/\(p.total) finished (\(p.completed) completed, \(p.failed) failed) ", stderr)
            fflush(stderr)
        }
        if tty { fputs("\n", stderr) }
        switch outcome {
        case .allCompleted:
            Terminal.err("all jobs completed")
            return 0
        case .someFailed(let ids):
            let shown = ids.prefix(10).joined(separator: ", ") + (ids.count > 10 ? ", …" : "")
            Terminal.err("queuectl: \(ids.count) job\(ids.count == 1 ? "" : "s") did not complete: \(shown)")
            return 1
        case .timedOut:
            Terminal.err("queuectl: timed out waiting for jobs")
            return 1
        }
    }

    static func purge(_ cmd: ParsedCommand, store: JSONStore) throws -> Int32 {
        let state = try Commands.state(cmd)
        let older = try duration(cmd, "older-than")
        let ids = try Purge.run(store: store, state: state, olderThan: older)
        Terminal.err("purged \(ids.count) job\(ids.count == 1 ? "" : "s")")
        return 0
    }

    static func compact(_ cmd: ParsedCommand, store: JSONStore) throws -> Int32 {
        // Started by a transaction that passed the journal's bound, holding compact.lock on fd 3.
        if let fd = Posix.env("QUEUECTL_COMPACT_LOCK_FD").flatMap({ Int32($0) }).flatMap(FileDescriptor.init(returned:)) {
            return JSONStore.runDetachedCompaction(home: store.home, lockFd: fd)
        }
        if let g = try store.compactWaiting() {
            Terminal.err("compacted into jobs.json generation \(g)")
        } else {
            Terminal.err("nothing to compact")
        }
        return 0
    }

    static func metrics(_ cmd: ParsedCommand, store: JSONStore) throws -> Int32 {
        let now = Clock.nowMillis()
        let m = try store.read { Metrics.compute($0, now: now) }
        if cmd.flag("json") {
            print(m.json.pretty())
            return 0
        }
        func s(_ v: Double?) -> String { v.map { Clock.humanDuration($0) } ?? "-" }
        let counts = JobState.allCases.map { "\($0.rawValue) \(m.counts[$0] ?? 0)" }.joined(separator: "  ")
        print(Terminal.bold("jobs") + "        " + counts)
        print(Terminal.bold("success") + "     " + (m.successRate.map { String(Int(($0 * 100).rounded())) + "% of finished jobs completed" } ?? "-"))  // checked: a ratio 0…1
        print(Terminal.bold("attempts") + "    " + (m.attemptsPerJob.map { "\((($0 * 100).rounded() / 100)) per finished job" } ?? "-")
              + ", \(m.totalAttempts) in all (\(m.totalFailed) failed)")
        print(Terminal.bold("run time") + "    p50 \(s(m.runTimeP50))  p95 \(s(m.runTimeP95))  max \(s(m.runTimeMax))")
        print(Terminal.bold("queue wait") + "  p50 \(s(m.waitP50))  p95 \(s(m.waitP95))")
        print("")
        print(Terminal.bold("last hour") + " (per minute, oldest left)")
        print("completed " + sparkline(m.completedPerMinute) + "  \(m.completedPerMinute.reduce(0, +))")
        print("failed    " + sparkline(m.failedPerMinute) + "  \(m.failedPerMinute.reduce(0, +))")
        return 0
    }

    static func sparkline(_ values: [Int]) -> String {
        let blocks = Array("▁▂▃▄▅▆▇█")
        let top = values.max() ?? 0
        return String(values.map { v in
            if v == 0 { return Character("·") }
            return blocks[min(blocks.count - 1, (v * (blocks.count - 1) + top - 1) / max(top, 1))]
        })
    }
}
