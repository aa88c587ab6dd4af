import Glibc

/// Turns user input (inline JSON, a file of objects/arrays/JSON Lines, or flags) into validated
/// jobs. Every problem names the job and the key; a batch is checked whole before anything is written.
public enum JobInput {
    public static let allowedKeys: [String] = [
        "id", "command", "max_retries", "priority", "run_at", "delay", "timeout", "cwd", "env", "depends_on", "label", "queue", "slots",
    ]

    /// The longest label, in characters.
    public static let maxLabel = 200

    /// Parses the text of `enqueue '<json>'` or `--file`: one object, an array, or JSON Lines.
    public static func parseDocuments(_ text: [UInt8], source: String) throws -> [JSON] {
        let values: [JSON]
        do {
            values = try text.withUnsafeBufferPointer { try JSONParser.parseSequence(bytes: $0) }
        } catch let e as JSONParseError {
            let line = text.prefix(e.offset).filter { $0 == 0x0A }.count + 1
            throw QueueError.invalidJob("\(source): invalid JSON on line \(line): \(e.message)")
        }
        if values.isEmpty { throw QueueError.invalidJob("\(source): no job given (expected a JSON object, an array or JSON Lines)") }
        if values.count == 1, case .array(let items) = values[0] {
            if items.isEmpty { throw QueueError.invalidJob("\(source): the array holds no jobs") }
            return items
        }
        return values
    }

    /// Job fields given as flags, put into a job's JSON: replacing its own keys (`override`, for
    /// a single job) or only where it has none (defaults for a batch). Non-objects are left for
    /// validation to refuse.
    public static func merging(_ fields: [(String, JSON)], into value: JSON, override: Bool) -> JSON {
        guard case .object(var pairs) = value, !fields.isEmpty else { return value }
        for (k, v) in fields {
            if let at = pairs.firstIndex(where: { $0.0 == k }) {
                if override { pairs[at].1 = v }
            } else {
                pairs.append((k, v))
            }
        }
        return .object(pairs)
    }

    /// Whether an argument is meant as JSON: it starts (after blanks) with `{` or `[`.
    public static func looksLikeJSON(_ text: String) -> Bool {
        guard let first = text.first(where: { !$0.isWhitespace }) else { return false }
        return first == "{" || first == "["
    }

    static func isValidId(_ id: String) -> Bool {
        let b = Array(id.utf8)
        guard (1...128).contains(b.count) else { return false }
        func alnum(_ c: UInt8) -> Bool { (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) }
        guard alnum(b[0]) else { return false }
        return b.allSatisfy { alnum($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    /// The largest whole number a job field takes (max_retries, priority's magnitude).
    public static let maxWhole: Int64 = 1_000_000_000

    public static let idRule = "ids are 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit"

    private static var idCounter = 0
    private static var idPrefix: (Millis, String)?

    /// Unique without coordination: time, pid and a per-process counter.
    public static func generateId(now: Millis) -> String {
        idCounter += 1
        if idPrefix?.0 != now { idPrefix = (now, "j" + base36(now) + "-" + base36(Int64(getpid()))) }
        let prefix = idPrefix?.1 ?? "j"
        return idCounter > 1 ? prefix + "-" + base36(Int64(idCounter)) : prefix
    }

    /// Lowercase base 36 of a non-negative number, written directly into the string's storage.
    /// `String(_:radix:)` goes through generic integer code, and `String(decoding:)` of a reversed
    /// array through a failing dynamic cast; each costs a fresh process more than the rest of an id.
    static func base36(_ v: Int64) -> String {
        let v = v < 0 ? 0 : v
        var count = 1
        var rest = v / 36
        while rest > 0 { count += 1; rest /= 36 }  // at most 13 digits for Int64.max
        return String(unsafeUninitializedCapacity: count) { buf in
            var v = v
            for i in stride(from: count - 1, through: 0, by: -1) {
                let d = UInt8(v % 36)  // checked: 0...35
                buf[i] = d < 10 ? 0x30 + d : 0x61 + d - 10
                v /= 36
            }
            return count
        }
    }

    /// Validates one job object. `label` says which job it is ("job 3", or its id).
    public static func job(from value: JSON, index: Int, total: Int, config: Config, now: Millis, cwd: String) throws -> Job {
        // Built only when there is an error to report: this runs for every job of a batch.
        var label: String {
            var l = total > 1 ? "job \(index + 1)" : "job"
            if let id = value["id"]?.stringValue { l += " (\"\(id)\")" }
            return l
        }
        guard case .object(let pairs) = value else {
            throw QueueError.invalidJob("\(label): expected a JSON object, got \(value.typeName)")
        }
        func fail(_ key: String, _ what: String) -> QueueError { .invalidJob("\(label): \"\(key)\" \(what)") }
        for (k, _) in pairs where !allowedKeys.contains(k) {
            let hint = Suggest.closest(to: k, in: allowedKeys).map { " (did you mean \"\($0)\"?)" } ?? ""
            throw QueueError.invalidJob("\(label): unknown key \"\(k)\"\(hint); allowed keys: \(allowedKeys.joined(separator: ", "))")
        }
        func int(_ key: String, min: Int64) throws -> Int? {
            guard let v = value[key], !v.isNull else { return nil }
            let range = "between \(min) and \(JobInput.maxWhole)"
            guard let i = v.intValue else { throw fail(key, "must be a whole number \(range), got \(v.typeName == "a number" ? v.serialized() : v.typeName)") }
            guard i >= min && i <= JobInput.maxWhole else { throw fail(key, "must be \(range), got \(i)") }
            return Int(i)
        }
        func seconds(_ key: String) throws -> Double? {
            guard let v = value[key], !v.isNull else { return nil }
            let shown = v.stringValue.map { "\"\($0.prefix(40))\"" } ?? (v.doubleValue != nil ? v.serialized() : v.typeName)
            guard let d = v.doubleValue ?? v.stringValue.flatMap(Clock.parseDuration) else {
                throw fail(key, "must be seconds or a duration like \"30s\", \"5m\", \"2h\", got \(shown)")
            }
            guard Clock.millis(seconds: d) != nil else { throw fail(key, "must be between 0 and \(Clock.maxDurationText), got \(shown)") }
            return d
        }

        guard let cmdValue = value["command"] else { throw QueueError.invalidJob("\(label): \"command\" is required") }
        guard let command = cmdValue.stringValue else { throw fail("command", "must be a string, got \(cmdValue.typeName)") }
        guard !command.trimmingSpaces().isEmpty else { throw fail("command", "must not be empty") }
        guard !command.utf8.contains(0) else { throw fail("command", "must not contain a NUL byte") }

        let id: String
        if let v = value["id"], !v.isNull {
            guard let s = v.stringValue else { throw fail("id", "must be a string, got \(v.typeName)") }
            guard isValidId(s) else { throw fail("id", "is not a valid id: \(idRule)") }
            id = s
        } else {
            id = generateId(now: now)
        }

        var job = Job(id: id, command: command, maxRetries: try int("max_retries", min: 0) ?? config.maxRetries,
                      createdAt: now, cwd: cwd)
        job.priority = try int("priority", min: -1_000_000_000) ?? 0
        job.batchIndex = index
        job.timeout = try seconds("timeout")

        if let v = value["run_at"], !v.isNull {
            guard let s = v.stringValue else { throw fail("run_at", "must be an ISO-8601 date string") }
            guard let t = Clock.parseISO(s) else {
                throw fail("run_at", "is not a date from 1970 to 9999: \"\(s.prefix(40))\" (use ISO-8601, e.g. 2026-11-22T10:30:00Z)")
            }
            job.runAt = t
        }
        if let d = try seconds("delay") {
            guard job.runAt == nil else { throw QueueError.invalidJob("\(label): give \"run_at\" or \"delay\", not both") }
            guard let ms = Clock.millis(seconds: d), ms <= Clock.latestMillis - now else {
                throw fail("delay", "would put the job after the year 9999")
            }
            job.runAt = now + ms
        }
        job.nextRunAt = job.runAt

        if let v = value["cwd"], !v.isNull {
            guard let s = v.stringValue, s.hasPrefix("/") else { throw fail("cwd", "must be an absolute directory path") }
            job.cwd = s
        }
        if let v = value["label"], !v.isNull {
            guard let s = v.stringValue, !s.isEmpty, s.count <= maxLabel,
                  !s.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
                throw fail("label", "must be text of 1 to \(maxLabel) characters on one line")
            }
            job.label = s
        }
        if let v = value["queue"], !v.isNull {
            guard let s = v.stringValue, QueueSettings.isValidName(s) else { throw fail("queue", "must be a queue name: \(QueueSettings.nameRule)") }
            job.queue = s
        }
        if let v = value["slots"], !v.isNull {
            guard let i = v.intValue, i >= 1, i <= Int64(QueueSettings.maxSlots) else {
                throw fail("slots", "must be a whole number between 1 and \(QueueSettings.maxSlots)")
            }
            job.slots = Int(i)
        }
        if let v = value["env"], !v.isNull {
            guard case .object(let e) = v else { throw fail("env", "must be an object of strings") }
            for (k, val) in e {
                guard let s = val.stringValue else { throw fail("env", "value of \(k) must be a string") }
                guard !k.isEmpty, !k.contains("="), !k.utf8.contains(0), !s.utf8.contains(0) else {
                    throw fail("env", "has an invalid variable name \"\(k.prefix(40))\"")
                }
                // queuectl sets these for the job itself; a job that could set them could pass
                // for another job.
                guard !k.hasPrefix("QUEUECTL_") else {
                    throw fail("env", "may not set \(k.prefix(40)): variables starting with QUEUECTL_ are queuectl's own")
                }
                job.env.append((k, s))
            }
        }
        if let v = value["depends_on"], !v.isNull {
            let items: [JSON]
            if case .array(let a) = v { items = a } else if v.stringValue != nil { items = [v] } else {
                throw fail("depends_on", "must be an array of job ids")
            }
            for item in items {
                guard let s = item.stringValue, isValidId(s) else { throw fail("depends_on", "must hold valid job ids") }
                if s == id { throw fail("depends_on", "names the job itself") }
                if !job.dependsOn.contains(s) { job.dependsOn.append(s) }
            }
        }
        return job
    }
}

