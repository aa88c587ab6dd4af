import Glibc
import QueueCore

/// `enqueue`: inline JSON, `--file PATH|-`, `--command CMD` or `-- CMD ARGS…`.
enum EnqueueCommand {
    static let flagKeys: [(option: String, key: String)] = [
        ("id", "id"), ("max-retries", "max_retries"), ("priority", "priority"), ("timeout", "timeout"),
        ("run-at", "run_at"), ("delay", "delay"), ("cwd", "cwd"), ("label", "label"), ("queue", "queue"), ("slots", "slots"),
    ]

    /// The job's input, one way: JSON (inline or a file) or a shell command (an argument that is
    /// not JSON, `--command`, or `-- CMD ARGS…`). Job-field flags apply to either: over a single
    /// JSON job's own keys, or as defaults under a batch's.
    static func run(_ cmd: ParsedCommand, store: JSONStore) throws -> Int32 {
        let sources = [!cmd.arguments.isEmpty, cmd.value("file") != nil, cmd.value("command") != nil, cmd.sawDashDash]
        let count = sources.filter { $0 }.count
        if count == 0 {
            throw QueueError.usage("give a job: enqueue '<json>', --file PATH, --command CMD, or -- CMD ARGS…; see 'queuectl enqueue --help'")
        }
        if count > 1 {
            throw QueueError.usage("give the job one way only: inline JSON, --file, --command or -- CMD")
        }
        let fields = try flagFields(cmd)
        var values: [JSON]
        var single = true
        if let text = cmd.arguments.first, JobInput.looksLikeJSON(text) {
            do {
                values = try JobInput.parseDocuments(Array(text.utf8), source: "inline JSON")
            } catch let e as QueueError where text.utf8.count < 4096 && e.description.contains("invalid JSON") {
                // It may be a shell command that starts like JSON (`[ -f x ] && …`).
                throw QueueError.invalidJob("\(e.description); if it is a shell command, did you mean: \(Commands.lineReplacing([text], with: ["--", text]))")
            }
            single = values.count == 1
        } else if let text = cmd.arguments.first {
            values = [try flagsJob(cmd, command: text)]  // not JSON: the command itself
        } else if let path = cmd.value("file") {
            let input = try readInput(path)
            let source = path == "-" ? "stdin" : path
            // A batch larger than the journal's bound goes straight into a new snapshot; JSON
            // Lines are then streamed, never held as jobs.
            if input.count > (try store.config()).journalMaxBytes {
                do {
                    let ids = try input.withUnsafeBufferPointer { text -> [String]? in
                        guard BulkEnqueue.isJSONLines(text) else { return nil }
                        try checkBatchFlags(fields, jobs: 2)
                        return try BulkEnqueue.run(store: store, text: text, source: source, cwd: Posix.currentDirectory(), defaults: fields)
                    }
                    if let ids = ids { return printIds(ids, json: cmd.flag("json"), store: store) }
                } catch is BulkEnqueue.NotJSONLines {
                    // read below, as any other input
                }
            }
            values = try JobInput.parseDocuments(input, source: source)
            single = false
        } else {
            let command: String
            if let c = cmd.value("command") {
                if JobInput.looksLikeJSON(c), let v = try? JSONParser.parse(bytes: Array(c.utf8)), v["command"] != nil {
                    throw QueueError.usage("--command takes a shell command, and this is a JSON job; did you mean: \(Commands.lineReplacing(anyOf: [["--command", c], ["--command=" + c], ["-c", c]], with: [c]))")
                }
                command = c
            } else {
                guard !cmd.rest.isEmpty else { throw QueueError.usage("no command after '--'") }
                command = cmd.rest.count == 1 ? cmd.rest[0] : cmd.rest.map(ShellWords.quote).joined(separator: " ")
            }
            values = [try flagsJob(cmd, command: command)]
        }
        if !fields.isEmpty && (cmd.arguments.first.map(JobInput.looksLikeJSON) ?? false || cmd.value("file") != nil) {
            try checkBatchFlags(fields, jobs: values.count)
            values = values.map { JobInput.merging(fields, into: $0, override: values.count == 1) }
        }
        let jobs = try Enqueue.run(store: store, values: values, cwd: Posix.currentDirectory())
        if cmd.flag("json") {
            print(single && jobs.count == 1 ? jobs[0].json.pretty() : JSON.array(jobs.map(\.json)).pretty())
        } else {
            var out = ""
            for j in jobs { out += j.id; out += "\n" }
            print(out, terminator: "")
            if jobs.count > 1 && Terminal.stderrIsTTY { Terminal.err("enqueued \(jobs.count) jobs") }
        }
        return 0
    }

    /// `edit ID --flag …`: the same flags, parsed the same way, laid over the job's own fields;
    /// or `edit ID --editor`: every field at once, in an editor.
    static func edit(_ cmd: ParsedCommand, store: JSONStore) throws -> Int32 {
        let job: Job
        if cmd.flag("editor") {
            let mixed = CommandTable.edit.options.map(\.long).filter { $0 != "editor" && $0 != "json" && cmd.flag($0) }
            if let other = mixed.first {
                throw QueueError.usage("--editor takes every field from the editor; give --\(other) without --editor, or change it in the editor")
            }
            guard let edited = try EditInEditor.run(store: store, id: cmd.arguments[0]) else {
                Terminal.err("no change")
                return 0
            }
            job = edited
        } else {
            var fields = try flagFields(cmd)
            if let c = cmd.value("command") { fields.append(("command", .string(c))) }
            job = try Edit.run(store: store, id: cmd.arguments[0], fields: fields)
        }
        if cmd.flag("json") { print(job.json.pretty()) } else { print(job.id) }
        Terminal.err("edited job \(job.id)")
        return 0
    }

    /// Output of a streamed batch: its ids (with --json, its jobs as stored).
    static func printIds(_ ids: [String], json: Bool, store: JSONStore) -> Int32 {
        if json {
            print(JSON.array(ids.compactMap { try? store.job($0) }.map(\.json)).pretty())
            return 0
        }
        var out = ""
        out.reserveCapacity(ids.count * 20)
        for id in ids { out += id; out += "\n" }
        print(out, terminator: "")
        if ids.count > 1 && Terminal.stderrIsTTY { Terminal.err("enqueued \(ids.count) jobs") }
        return 0
    }

    /// `--id` names one job: it cannot be every job's id in a batch.
    static func checkBatchFlags(_ fields: [(String, JSON)], jobs: Int) throws {
        if jobs > 1 && fields.contains(where: { $0.0 == "id" }) {
            throw QueueError.usage("--id names one job, and this input holds \(jobs > 2 ? "\(jobs)" : "several") jobs; give each its own \"id\" in the JSON")
        }
    }

    /// Builds the same JSON a user would write, so flags go through the same validation.
    static func flagsJob(_ cmd: ParsedCommand, command: String) throws -> JSON {
        .object([("command", .string(command))] + (try flagFields(cmd)))
    }

    /// The job fields given as flags, as JSON keys and values.
    /// Each flag is parsed here, once, into the typed value its key takes (a bad value is
    /// reported under the flag's own name), then handed on as that JSON value.
    static func flagFields(_ cmd: ParsedCommand) throws -> [(String, JSON)] {
        var o: [(String, JSON)] = []
        for (opt, key) in flagKeys {
            guard let v = cmd.value(opt) else { continue }
            func bad(_ expected: String) -> QueueError { .usage("invalid value '\(v.prefix(40))' for --\(opt): expected \(expected)") }
            switch key {
            case "max_retries", "priority":
                let low = key == "priority" ? -JobInput.maxWhole : 0
                guard let i = Int64(v), i >= low, i <= JobInput.maxWhole else {
                    throw bad("a whole number between \(low) and \(JobInput.maxWhole)")
                }
                o.append((key, .int(i)))
            case "slots":
                guard let i = Int64(v), i >= 1, i <= Int64(QueueSettings.maxSlots) else { throw bad("a whole number between 1 and \(QueueSettings.maxSlots)") }
                o.append((key, .int(i)))
            case "queue":
                guard QueueSettings.isValidName(v) else { throw bad("a queue name (\(QueueSettings.nameRule))") }
                o.append((key, .string(v)))
            case "timeout", "delay":
                guard let d = Clock.parseDuration(v), Clock.millis(seconds: d) != nil else {
                    throw bad("seconds or a duration like 30s, 5m, 2h, between 0 and \(Clock.maxDurationText)")
                }
                o.append((key, .double(d)))
            case "run_at":
                guard Clock.parseISO(v) != nil else { throw bad("an ISO-8601 date from 1970 to 9999, e.g. 2026-11-22T10:30:00Z") }
                o.append((key, .string(v)))
            case "cwd":
                o.append((key, .string(v.hasPrefix("/") ? v : Posix.currentDirectory() + "/" + v)))
            default:
                o.append((key, .string(v)))
            }
        }
        let after = cmd.all("after")
        if !after.isEmpty { o.append(("depends_on", .array(after.map { .string($0) }))) }
        return o
    }

    static func readInput(_ path: String) throws -> [UInt8] {
        if path == "-" {
            var out: [UInt8] = []
            var buf = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let n = buf.withUnsafeMutableBytes { read(0, $0.baseAddress!, $0.count) }
                if n < 0 { if errno == EINTR { continue }; throw QueueError.system("cannot read stdin: \(Posix.describe(errno))") }
                if n == 0 { break }
                out.append(contentsOf: buf[0..<n])
            }
            return out
        }
        do {
            guard let b = try Posix.readFile(path) else { throw QueueError.usage("cannot read \(path): no such file") }
            return b
        } catch let e as SystemError {
            throw QueueError.usage("cannot read \(path): \(Posix.describe(e.code))")
        }
    }

    /// Quotes one argument for /bin/sh when it needs it.
}
