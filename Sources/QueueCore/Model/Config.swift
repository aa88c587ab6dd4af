/// The persisted configuration (`config.json`). Every key is declared once here, with its
/// default, its validation and its help; `config` commands and the workers read it from here.
public struct ConfigKey {
    /// A number (with a default and a range), or a shell command (unset by default).
    public enum Kind: Sendable { case number, command }

    public let name: String
    public let kind: Kind
    public let defaultValue: Double
    public let help: String
    public let minimum: Double
    /// The largest value accepted: far beyond any real use, and small enough that no arithmetic
    /// on it (backoff, deadlines, sizes) can overflow or trap.
    public let maximum: Double
    public let isInteger: Bool
    public let isDuration: Bool

    init(name: String, kind: Kind = .number, defaultValue: Double, help: String, minimum: Double, maximum: Double, isInteger: Bool, isDuration: Bool) {
        self.name = name
        self.kind = kind
        self.defaultValue = defaultValue
        self.help = help
        self.minimum = minimum
        self.maximum = maximum
        self.isInteger = isInteger
        self.isDuration = isDuration
    }

    /// A key whose value is a shell command (run by workers with /bin/sh -c); unset by default.
    init(command name: String, help: String) {
        self.init(name: name, kind: .command, defaultValue: 0, help: help, minimum: 0, maximum: 0, isInteger: false, isDuration: false)
    }

    /// The longest command a command key holds, in bytes: a longer one belongs in a script.
    public static let maxCommandBytes = 4096

    /// `between 0 and 1000000000`, as the errors and README say it.
    public var range: String {
        if kind == .command { return "a shell command of 1 to \(ConfigKey.maxCommandBytes) bytes" }
        return "between \(JSON.format(minimum)) and \(JSON.format(maximum))\(isDuration ? " seconds" : "")"
    }

    public func accepts(_ v: Double) -> Bool {
        kind == .number && v.isFinite && v >= minimum && v <= maximum && (!isInteger || v.rounded() == v)
    }

    /// What is wrong with `text` as the value of a command key; nil when it is fine. Newlines are
    /// allowed (a short script); NUL cannot pass through exec, and a blank command does nothing.
    public func problem(command text: String) -> String? {
        let n = text.utf8.count
        if n > ConfigKey.maxCommandBytes { return "is \(n) bytes, more than \(ConfigKey.maxCommandBytes)" }
        if text.allSatisfy(\.isWhitespace) { return "is empty" }
        if text.utf8.contains(0) { return "contains a NUL byte" }
        return nil
    }
}

public struct Config: Equatable {
    static let century = Clock.maxDurationSeconds
    public static let keys: [ConfigKey] = [
        ConfigKey(name: "max_retries", defaultValue: 3, help: "retries allowed after the first attempt", minimum: 0, maximum: Double(JobInput.maxWhole), isInteger: true, isDuration: false),
        ConfigKey(name: "backoff_base", defaultValue: 2, help: "retry k waits backoff_base^k seconds", minimum: 1, maximum: 1_000_000, isInteger: false, isDuration: false),
        ConfigKey(name: "backoff_max", defaultValue: 3600, help: "longest wait between retries, seconds", minimum: 0, maximum: century, isInteger: false, isDuration: true),
        ConfigKey(name: "job_timeout", defaultValue: 0, help: "default job timeout, seconds (0 = none)", minimum: 0, maximum: century, isInteger: false, isDuration: true),
        ConfigKey(name: "poll_interval", defaultValue: 1, help: "fallback poll of idle workers, seconds", minimum: 0.01, maximum: 3600, isInteger: false, isDuration: true),
        ConfigKey(name: "lease_timeout", defaultValue: 30, help: "a host that has not renewed its lease for this long has lost its jobs, seconds", minimum: 1, maximum: 86_400, isInteger: false, isDuration: true),
        ConfigKey(name: "kill_grace", defaultValue: 2, help: "seconds between SIGTERM and SIGKILL on timeout", minimum: 0, maximum: 3600, isInteger: false, isDuration: true),
        ConfigKey(name: "log_max_bytes", defaultValue: 10_485_760, help: "output kept per attempt; the rest is cut", minimum: 0, maximum: 1_099_511_627_776, isInteger: true, isDuration: false),
        ConfigKey(name: "retention", defaultValue: 0, help: "purge finished jobs older than this, seconds (0 = keep)", minimum: 0, maximum: century, isInteger: false, isDuration: true),
        ConfigKey(name: "journal_max_bytes", defaultValue: 1_048_576, help: "journal size that starts a compaction into jobs.json (up to 3x this in a home whose jobs.json is 64x larger)", minimum: 4096, maximum: 1_073_741_824, isInteger: true, isDuration: false),
        ConfigKey(name: "fsync", defaultValue: 1, help: "1: a change is on disk before a command returns; 0: faster, the OS flushes later", minimum: 0, maximum: 1, isInteger: true, isDuration: false),
        ConfigKey(command: "on_finish", help: "shell command a worker runs when a job finishes (not waited for; output in the workers' log)"),
        ConfigKey(command: "on_idle", help: "shell command a worker runs when it finds no job to run (not waited for)"),
        ConfigKey(name: "hook_timeout", defaultValue: 30, help: "an on_finish or on_idle hook running longer is killed, seconds", minimum: 1, maximum: 3600, isInteger: false, isDuration: true),
    ]

    public var values: [String: Double] = [:]   // only number keys that were set
    /// Command keys that were set (each valid: see `ConfigKey.problem(command:)`).
    public var commands: [String: String] = [:]

    public init() {}

    /// `max-retries` and `max_retries` name the same key.
    public static func canonical(_ name: String) -> String {
        String(name.map { $0 == "-" ? "_" : $0 })
    }

    public static func key(named name: String) -> ConfigKey? {
        let c = canonical(name)
        return keys.first { $0.name == c }
    }

    static let defaults: [String: Double] = Dictionary(uniqueKeysWithValues: keys.map { ($0.name, $0.defaultValue) })

    /// The value of a canonical key name (set, else default).
    public func value(_ name: String) -> Double {
        if let v = values[name] { return v }
        return Config.defaults[name] ?? 0
    }

    /// A whole-number setting; validated on the way in, clamped here anyway (`values` is public).
    private func whole(_ name: String) -> Int {
        let v = value(name)
        return v.isFinite ? Int(min(max(v, -1e15), 1e15)) : 0
    }

    public var maxRetries: Int { whole("max_retries") }
    public var backoffBase: Double { value("backoff_base") }
    public var backoffMax: Double { value("backoff_max") }
    public var jobTimeout: Double { value("job_timeout") }
    public var pollInterval: Double { value("poll_interval") }
    public var leaseTimeout: Double { value("lease_timeout") }
    public var killGrace: Double { value("kill_grace") }
    public var logMaxBytes: Int { whole("log_max_bytes") }
    public var retention: Double { value("retention") }
    public var fsync: Bool { value("fsync") != 0 }
    public var journalMaxBytes: Int { whole("journal_max_bytes") }
    public var onFinish: String? { commands["on_finish"] }
    public var onIdle: String? { commands["on_idle"] }
    public var hookTimeout: Double { value("hook_timeout") }

    /// Whether a key was set (else its default, or no command, is in use).
    public func isSet(_ key: ConfigKey) -> Bool {
        key.kind == .command ? commands[key.name] != nil : values[key.name] != nil
    }

    /// A key's value as `config show` and the dashboard print it; nil for an unset command key.
    public func shown(_ key: ConfigKey) -> String? {
        key.kind == .command ? commands[key.name] : Config.display(value(key.name))
    }

    /// A key's value in JSON: a number, a string, or null for an unset command key.
    public func jsonValue(_ key: ConfigKey) -> JSON {
        key.kind == .command ? commands[key.name].map { .string($0) } ?? .null : .double(value(key.name))
    }

    /// Sets a key from a user's text (`config set`): validated, else a usage error that says
    /// what is wrong and how to fix it.
    public mutating func set(_ key: ConfigKey, from text: String) throws {
        switch key.kind {
        case .number: values[key.name] = try Config.parse(key: key, value: text)
        case .command: commands[key.name] = try Config.parseCommand(key: key, value: text)
        }
    }

    public mutating func unset(_ key: ConfigKey) {
        values[key.name] = nil
        commands[key.name] = nil
    }

    /// Validates a user's value for a key; the error names the key and the allowed range.
    public static func parse(key: ConfigKey, value text: String) throws -> Double {
        if key.kind == .command {
            _ = try parseCommand(key: key, value: text)
            throw QueueError.usage("\(key.name) holds a shell command, not a number")
        }
        let v: Double?
        if key.isDuration { v = Clock.parseDuration(text) } else { v = Double(text.trimmingSpaces()) }
        let shown = text.count > 40 ? String(text.prefix(40)) + "…" : text
        let kind = key.isDuration ? "seconds or a duration like 30s, 5m, 2h" : key.isInteger ? "a whole number" : "a number"
        guard let value = v, key.accepts(value) else {
            if key.name == "fsync" { throw QueueError.usage("invalid value '\(shown)' for fsync: expected 1 (sync every change) or 0") }
            throw QueueError.usage("invalid value '\(shown)' for \(key.name): expected \(kind) \(key.range)")
        }
        return value
    }

    /// Validates a user's command for a command key.
    public static func parseCommand(key: ConfigKey, value text: String) throws -> String {
        guard let problem = key.problem(command: text) else { return text }
        let fix: String
        if text.utf8.count > ConfigKey.maxCommandBytes {
            fix = "put a longer command in a script and set \(key.name) to run that"
        } else if text.allSatisfy(\.isWhitespace) {
            fix = "to remove it: queuectl config unset \(key.name)"
        } else {
            fix = "a shell command cannot hold one"
        }
        throw QueueError.usage("\(key.name) \(problem); \(fix)")
    }

    public static func display(_ v: Double) -> String { JSON.format(v) }

    /// config.json as written: only the keys that were set, in declaration order.
    public var json: JSON {
        .object(Config.keys.compactMap { k in isSet(k) ? (k.name, jsonValue(k)) : nil })
    }

    /// What was wrong in config.json (each bad entry is ignored and its default used).
    public var problems: [String] = []

    /// Reads config.json leniently: it may have been edited by hand, and no value in it may stop
    /// the queue. A bad entry is noted in `problems` and its default is used.
    public init(json: JSON, path: String) {
        guard case .object(let pairs) = json else {
            problems.append("\(path) is not a JSON object; using the defaults")
            return
        }
        for (k, v) in pairs {
            guard let key = Config.key(named: k) else {
                problems.append("\(path): unknown key \"\(k.prefix(40))\" ignored")
                continue
            }
            if key.kind == .command {
                guard let s = v.stringValue else {
                    problems.append("\(path): \(key.name) is \(v.typeName), expected \(key.range); ignored (no \(key.name) hook)")
                    continue
                }
                if let p = key.problem(command: s) {
                    problems.append("\(path): \(key.name) \(p); ignored (no \(key.name) hook)")
                    continue
                }
                commands[key.name] = s
                continue
            }
            guard let d = v.doubleValue, key.accepts(d) else {
                problems.append("\(path): \(key.name) is \(v.serialized().prefix(40)), expected \(key.range); using the default \(JSON.format(key.defaultValue))")
                continue
            }
            values[key.name] = d
        }
    }

    public static func == (a: Config, b: Config) -> Bool { a.values == b.values && a.commands == b.commands }
}
