import Glibc
import QueueCore

/// `cancel`, `wait`, `purge`, `metrics`.
enum OperationCommands {
    static func cancel(_ cmd: ParsedCommand, store: JSONStore) throws -> Int32 {
        let r = try Cancel.run(store: store, ids: cmd.arguments)
        for id in r.cancelled { print(id) }
        if !r.stopped.isEmpty { Terminal.err("stopped running job\(r.stopped.count == 1 ? "" : "s"): \(r.stopped.joined(separator: ", "))") }
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
        if let fd = Posix.env("QUEUECTL_COMPACT_LOCK_FD").flatMap({ Int32($0) }) {
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

/// `completion bash|zsh|fish`, generated from the command table.
enum Completion {
    static func run(_ cmd: ParsedCommand) throws -> Int32 {
        let root = CommandTable.root
        switch cmd.arguments[0] {
        case "bash": print(bash(root))
        case "zsh": print("autoload -U +X bashcompinit && bashcompinit\n" + bash(root))
        case "fish": print(fish(root))
        default: throw QueueError.usage("unknown shell '\(cmd.arguments[0])'; use bash, zsh or fish")
        }
        return 0
    }

    static func words(_ spec: CommandSpec) -> [String] {
        spec.subcommands.map(\.name) + (spec.options + ArgumentParser.globalOptions).map { "--" + $0.long }
    }

    static func bash(_ root: CommandSpec) -> String {
        var cases = ""
        for c in root.subcommands {
            cases += "        \(c.name)) opts=\"\(words(c).joined(separator: " "))\" ;;\n"
            for sub in c.subcommands {
                cases += "        \(c.name)/\(sub.name)) opts=\"\(words(sub).joined(separator: " "))\" ;;\n"
            }
        }
        return """
        # bash completion for queuectl (generated by 'queuectl completion bash')
        _queuectl() {
            local cur path="" w opts
            cur="${COMP_WORDS[COMP_CWORD]}"
            for w in "${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
                case "$w" in -*) ;; *) [ -z "$path" ] && path="$w" || { [ "${path#*/}" = "$path" ] && path="$path/$w"; } ;; esac
            done
            case "$path" in
                "") opts="\(words(root).joined(separator: " "))" ;;
        \(cases)        *) opts="" ;;
            esac
            COMPREPLY=( $(compgen -W "$opts" -- "$cur") )
        }
        complete -F _queuectl queuectl
        """
    }

    static func fish(_ root: CommandSpec) -> String {
        var out = "# fish completion for queuectl (generated by 'queuectl completion fish')\n"
        let top = root.subcommands.map(\.name).joined(separator: " ")
        out += "complete -c queuectl -f\n"
        for o in ArgumentParser.globalOptions { out += "complete -c queuectl -l \(o.long) -d '\(esc(o.help))'\n" }
        for c in root.subcommands {
            out += "complete -c queuectl -n 'not __fish_seen_subcommand_from \(top)' -a \(c.name) -d '\(esc(c.summary))'\n"
            for o in c.options { out += "complete -c queuectl -n '__fish_seen_subcommand_from \(c.name)' -l \(o.long) -d '\(esc(o.help))'\n" }
            for sub in c.subcommands {
                out += "complete -c queuectl -n '__fish_seen_subcommand_from \(c.name)' -a \(sub.name) -d '\(esc(sub.summary))'\n"
                for o in sub.options { out += "complete -c queuectl -n '__fish_seen_subcommand_from \(sub.name)' -l \(o.long) -d '\(esc(o.help))'\n" }
            }
        }
        return out
    }

    static func esc(_ s: String) -> String {
        var out = ""
        for c in s { if c == "'" { out += "\\'" } else { out.append(c) } }
        return out
    }
}
