import Glibc
import QueueCore

/// Routes a parsed command to its handler. Handlers return the exit code.
enum Commands {
    static func run(_ cmd: ParsedCommand, store: JSONStore) throws -> Int32 {
        switch cmd.path {
        case ["enqueue"]: return try EnqueueCommand.run(cmd, store: store)
        case ["list"]: return try ReadCommands.list(cmd, store: store)
        case ["show"]: return try ReadCommands.show(cmd, store: store)
        case ["status"]: return try ReadCommands.status(cmd, store: store)
        case ["worker", "start"]: return try WorkerCommands.start(cmd, store: store)
        case ["worker", "stop"]: return try WorkerCommands.stop(cmd, store: store)
        case ["worker", "status"]: return try WorkerCommands.status(cmd, store: store)
        case ["logs"]: return try WorkerCommands.logs(cmd, store: store)
        case ["cancel"]: return try OperationCommands.cancel(cmd, store: store)
        case ["wait"]: return try OperationCommands.wait(cmd, store: store)
        case ["purge"]: return try OperationCommands.purge(cmd, store: store)
        case ["compact"]: return try OperationCommands.compact(cmd, store: store)
        case ["metrics"]: return try OperationCommands.metrics(cmd, store: store)
        case ["completion"]: return try Completion.run(cmd)
        case ["dashboard"]: return try DashboardCommand.run(cmd, store: store)
        case ["dlq", "list"]: return try ReadCommands.list(cmd, store: store, state: .dead)
        case ["dlq", "retry"]: return try DLQCommand.retry(cmd, store: store)
        case ["restart"]: return try DLQCommand.restart(cmd, store: store)
        case ["edit"]: return try EnqueueCommand.edit(cmd, store: store)
        case ["queue", "list"]: return try QueueCommands.list(cmd, store: store)
        case ["queue", "set"]: return try QueueCommands.set(cmd, store: store)
        case ["pause"]: return try QueueCommands.pause(cmd, store: store, paused: true)
        case ["resume"]: return try QueueCommands.pause(cmd, store: store, paused: false)
        case ["move"]: return try QueueCommands.move(cmd, store: store)
        case ["config", "show"], ["config", "list"]: return try ConfigCommand.show(cmd, store: store)
        case ["config", "get"]: return try ConfigCommand.get(cmd, store: store)
        case ["init"]:
            try store.home.create()
            print(store.home.path)
            return 0
        case ["config", "set"]: return try ConfigCommand.set(cmd, store: store)
        case ["config", "unset"]: return try ConfigCommand.unset(cmd, store: store)
        default:
            throw QueueError.usage("unknown command '\(cmd.path.joined(separator: " "))'; see 'queuectl --help'")
        }
    }

    /// The command line as typed, with the word `word` (its last occurrence) replaced: what a
    /// "did you mean" prints.
    static func lineReplacing(_ word: String, with replacement: String) -> String {
        lineReplacing([word], with: [replacement])
    }

    /// The same, for a run of words; the first of `alternatives` found in the line (its last
    /// occurrence) is replaced, e.g. `--command JSON`, `--command=JSON` or `-c JSON` → `JSON`.
    static func lineReplacing(_ words: [String], with replacement: [String]) -> String {
        lineReplacing(anyOf: [words], with: replacement)
    }

    static func lineReplacing(anyOf alternatives: [[String]], with replacement: [String]) -> String {
        var args = Array(CommandLine.arguments.dropFirst())
        for words in alternatives where !words.isEmpty && args.count >= words.count {
            if let at = (0...(args.count - words.count)).reversed().first(where: { Array(args[$0..<($0 + words.count)]) == words }) {
                args.replaceSubrange(at..<(at + words.count), with: replacement)
                break
            }
        }
        return ShellWords.line(program, args)
    }

    /// Parses a whole-number option in `min...max`; anything else is a usage error naming the range.
    static func int(_ cmd: ParsedCommand, _ name: String, min: Int = 0, max: Int = 1_000_000_000) throws -> Int? {
        guard let v = cmd.value(name) else { return nil }
        guard let i = Int(v), i >= min, i <= max else {
            throw QueueError.usage("invalid value '\(v.prefix(40))' for --\(name): expected a whole number between \(min) and \(max)")
        }
        return i
    }

    static func state(_ cmd: ParsedCommand) throws -> JobState? {
        guard let v = cmd.value("state") else { return nil }
        guard let s = JobState(rawValue: v.lowercased()) else {
            let hint = Suggest.closest(to: v, in: JobState.allCases.map(\.rawValue)).map { " (did you mean '\($0)'?)" } ?? ""
            throw QueueError.usage("unknown state '\(v)'\(hint); states are: \(JobState.names)")
        }
        return s
    }
}

enum DLQCommand {
    static func restart(_ cmd: ParsedCommand, store: JSONStore) throws -> Int32 {
        let failed = cmd.flag("failed")
        if !failed && cmd.arguments.isEmpty { throw QueueError.usage("name the finished jobs to restart, or pass --failed; see 'queuectl list --state completed'") }
        let queue = cmd.value("queue")
        if queue != nil && !failed { throw QueueError.usage("--queue goes with --failed: 'queuectl restart --queue \(queue ?? "") --failed'") }
        let ids = try Restart.run(store: store, ids: cmd.arguments, failed: failed, queue: queue, asNew: cmd.flag("as-new"))
        for id in ids { print(id) }
        Terminal.err(ids.isEmpty ? "no dead job to restart" : cmd.flag("as-new")
                     ? "enqueued \(ids.count) cop\(ids.count == 1 ? "y" : "ies")"
                     : "restarting \(ids.count) job\(ids.count == 1 ? "" : "s")")
        return 0
    }

    static func retry(_ cmd: ParsedCommand, store: JSONStore) throws -> Int32 {
        let all = cmd.flag("all")
        if all && !cmd.arguments.isEmpty { throw QueueError.usage("give job ids or --all, not both") }
        if !all && cmd.arguments.isEmpty { throw QueueError.usage("name the dead jobs to retry, or pass --all; see 'queuectl dlq list'") }
        let ids = try DeadLetters.retry(store: store, ids: cmd.arguments, all: all)
        for id in ids { print(id) }
        Terminal.err(ids.isEmpty ? "the dead letter queue is empty" : "retrying \(ids.count) job\(ids.count == 1 ? "" : "s")")
        return 0
    }
}

enum ConfigCommand {
    static func key(_ name: String) throws -> ConfigKey {
        guard let k = Config.key(named: name) else {
            if let close = Suggest.closest(to: Config.canonical(name), in: Config.keys.map(\.name)) {
                throw QueueError.usage("unknown config key '\(name)'; did you mean: \(Commands.lineReplacing(name, with: close))")
            }
            throw QueueError.usage("unknown config key '\(name)'; keys: \(Config.keys.map(\.name).joined(separator: ", "))")
        }
        return k
    }

    static func show(_ cmd: ParsedCommand, store: JSONStore) throws -> Int32 {
        let c = try store.config()
        if cmd.flag("json") {
            print(JSON.object(Config.keys.map { ($0.name, c.jsonValue($0)) }).pretty())
            return 0
        }
        // A command on one line, cut to fit the table; `config get KEY` prints it whole.
        let rows = Config.keys.map { k in
            [k.name, c.shown(k).map { Terminal.cut($0, 60) } ?? "(none)", c.isSet(k) ? "set" : Terminal.dim("default"), "\(k.help); \(k.range)"]
        }
        print(Terminal.table(["KEY", "VALUE", "", "MEANING"], rows, flex: 3))
        return 0
    }

    static func get(_ cmd: ParsedCommand, store: JSONStore) throws -> Int32 {
        guard let name = cmd.arguments.first else { return try show(cmd, store: store) }
        let k = try key(name)
        guard let shown = try store.config().shown(k) else {
            Terminal.err("\(k.name) is not set (queuectl config set \(k.name) COMMAND)")
            return 0
        }
        print(shown)
        return 0
    }

    static func set(_ cmd: ParsedCommand, store: JSONStore) throws -> Int32 {
        let k = try key(cmd.arguments[0])
        var checked = Config()
        try checked.set(k, from: cmd.arguments[1])  // refused before the lock is taken
        try store.updateConfig { try $0.set(k, from: cmd.arguments[1]) }
        Terminal.err("\(k.name) = \(checked.shown(k) ?? "")")
        return 0
    }

    static func unset(_ cmd: ParsedCommand, store: JSONStore) throws -> Int32 {
        let k = try key(cmd.arguments[0])
        try store.updateConfig { $0.unset(k) }
        Terminal.err(k.kind == .command ? "\(k.name) unset (no hook)" : "\(k.name) = \(Config.display(k.defaultValue)) (default)")
        return 0
    }
}

enum DashboardCommand {
    static func run(_ cmd: ParsedCommand, store: JSONStore) throws -> Int32 {
        let host = cmd.value("host") ?? "127.0.0.1"
        let port = try Commands.int(cmd, "port", max: 65535) ?? 8000
        guard port <= 65535 else { throw QueueError.usage("invalid --port \(port): expected 0 to 65535") }
        let dashboard = try Dashboard(store: store)
        let server = try HTTPServer(host: host, port: port, handler: dashboard.handle)
        dashboard.allow(host: host, port: server.port)
        if !(host == "127.0.0.1" || host == "localhost") {
            Terminal.err("queuectl: warning: listening on \(host), not loopback: anyone who can reach it can see every job's command and output")
        }
        print("queuectl dashboard: http://\(host == "localhost" ? "127.0.0.1" : host):\(server.port)/ (Ctrl+C to stop)")
        fflush(stdout)
        server.run()
        Terminal.err("dashboard stopped")
        return 0
    }
}
