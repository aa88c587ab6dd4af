import Glibc
import QueueCore

/// `enqueue`: inline JSON, `--file PATH|-`, `--command CMD` or `-- CMD ARGS…`.
enum EnqueueCommand {
    static let flagKeys: [(option: String, key: String)] = [
        ("id", "id"), ("max-retries", "max_retries"), ("priority", "priority"), ("timeout", "timeout"),
        ("run-at", "run_at"), ("delay", "delay"), ("cwd", "cwd"),
    ]

    static func run(_ cmd: ParsedCommand, store: JSONStore) throws -> Int32 {
        let sources = [!cmd.arguments.isEmpty, cmd.value("file") != nil, cmd.value("command") != nil, cmd.sawDashDash]
        let count = sources.filter { $0 }.count
        if count == 0 {
            throw QueueError.usage("give a job: enqueue '<json>', --file PATH, --command CMD, or -- CMD ARGS…; see 'queuectl enqueue --help'")
        }
        if count > 1 {
            throw QueueError.usage("give the job one way only: inline JSON, --file, --command or -- CMD")
        }
        let jobFlags = flagKeys.filter { cmd.value($0.option) != nil }.map { "--" + $0.option } + (cmd.all("after").isEmpty ? [] : ["--after"])
        let values: [JSON]
        var single = true
        if let text = cmd.arguments.first {
            try rejectFlags(jobFlags, with: "inline JSON")
            values = try JobInput.parseDocuments(Array(text.utf8), source: "inline JSON")
            single = values.count == 1
        } else if let path = cmd.value("file") {
            try rejectFlags(jobFlags, with: "--file")
            let input = try readInput(path)
            let source = path == "-" ? "stdin" : path
            // A batch larger than the journal's bound goes straight into a new snapshot; JSON
            // Lines are then streamed, never held as jobs.
            if input.count > (try store.config()).journalMaxBytes {
                do {
                    let ids = try input.withUnsafeBufferPointer { text -> [String]? in
                        guard BulkEnqueue.isJSONLines(text) else { return nil }
                        return try BulkEnqueue.run(store: store, text: text, source: source, cwd: Posix.currentDirectory())
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
                command = c
            } else {
                guard !cmd.rest.isEmpty else { throw QueueError.usage("no command after '--'") }
                command = cmd.rest.count == 1 ? cmd.rest[0] : cmd.rest.map(shellQuote).joined(separator: " ")
            }
            values = [try flagsJob(cmd, command: command)]
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

    static func rejectFlags(_ flags: [String], with source: String) throws {
        if let f = flags.first {
            throw QueueError.usage("\(f) goes with --command or '-- CMD', not with \(source); put the field in the JSON instead")
        }
    }

    /// Builds the same JSON a user would write, so flags go through the same validation.
    static func flagsJob(_ cmd: ParsedCommand, command: String) throws -> JSON {
        var o: [(String, JSON)] = [("command", .string(command))]
        for (opt, key) in flagKeys {
            guard let v = cmd.value(opt) else { continue }
            switch key {
            case "max_retries", "priority":
                let low = key == "priority" ? -JobInput.maxWhole : 0
                guard let i = Int64(v), i >= low, i <= JobInput.maxWhole else {
                    throw QueueError.usage("invalid value '\(v.prefix(40))' for --\(opt): expected a whole number between \(low) and \(JobInput.maxWhole)")
                }
                o.append((key, .int(i)))
            case "cwd":
                o.append((key, .string(v.hasPrefix("/") ? v : Posix.currentDirectory() + "/" + v)))
            default:
                o.append((key, .string(v)))
            }
        }
        let after = cmd.all("after")
        if !after.isEmpty { o.append(("depends_on", .array(after.map { .string($0) }))) }
        return .object(o)
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
    static func shellQuote(_ s: String) -> String {
        let safe = s.allSatisfy { $0.isLetter || $0.isNumber || "-_./=:,@%+".contains($0) }
        if safe && !s.isEmpty { return s }
        return "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

extension String {
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = ""
        var rest = Substring(self)
        while let r = rest.range(of: target) {
            out += rest[..<r.lowerBound]
            out += replacement
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}

extension Substring {
    func range(of target: String) -> Range<Substring.Index>? {
        var i = startIndex
        while i < endIndex {
            if self[i...].hasPrefix(target) { return i..<index(i, offsetBy: target.count) }
            i = index(after: i)
        }
        return nil
    }
}
