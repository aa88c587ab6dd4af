/// The persisted configuration (`config.json`). Every key is declared once here, with its
/// default, its validation and its help; `config` commands and the workers read it from here.
public struct ConfigKey {
    public let name: String
    public let defaultValue: Double
    public let help: String
    public let minimum: Double
    public let isInteger: Bool
    public let isDuration: Bool
}

public struct Config: Equatable {
    public static let keys: [ConfigKey] = [
        ConfigKey(name: "max_retries", defaultValue: 3, help: "retries allowed after the first attempt", minimum: 0, isInteger: true, isDuration: false),
        ConfigKey(name: "backoff_base", defaultValue: 2, help: "retry k waits backoff_base^k seconds", minimum: 1, isInteger: false, isDuration: false),
        ConfigKey(name: "backoff_max", defaultValue: 3600, help: "longest wait between retries, seconds", minimum: 0, isInteger: false, isDuration: true),
        ConfigKey(name: "job_timeout", defaultValue: 0, help: "default job timeout, seconds (0 = none)", minimum: 0, isInteger: false, isDuration: true),
        ConfigKey(name: "poll_interval", defaultValue: 1, help: "fallback poll of idle workers, seconds", minimum: 0.01, isInteger: false, isDuration: true),
        ConfigKey(name: "kill_grace", defaultValue: 2, help: "seconds between SIGTERM and SIGKILL on timeout", minimum: 0, isInteger: false, isDuration: true),
        ConfigKey(name: "log_max_bytes", defaultValue: 10_485_760, help: "output kept per attempt; the rest is cut", minimum: 0, isInteger: true, isDuration: false),
        ConfigKey(name: "retention", defaultValue: 0, help: "purge finished jobs older than this, seconds (0 = keep)", minimum: 0, isInteger: false, isDuration: true),
        ConfigKey(name: "journal_max_bytes", defaultValue: 1_048_576, help: "journal size that starts a compaction into jobs.json (up to 3x this in a home whose jobs.json is 64x larger)", minimum: 4096, isInteger: true, isDuration: false),
        ConfigKey(name: "fsync", defaultValue: 1, help: "1: a change is on disk before a command returns; 0: faster, the OS flushes later", minimum: 0, isInteger: true, isDuration: false),
    ]

    public var values: [String: Double] = [:]   // only keys that were set

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

    public var maxRetries: Int { Int(value("max_retries")) }
    public var backoffBase: Double { value("backoff_base") }
    public var backoffMax: Double { value("backoff_max") }
    public var jobTimeout: Double { value("job_timeout") }
    public var pollInterval: Double { value("poll_interval") }
    public var killGrace: Double { value("kill_grace") }
    public var logMaxBytes: Int { Int(value("log_max_bytes")) }
    public var retention: Double { value("retention") }
    public var fsync: Bool { value("fsync") != 0 }
    public var journalMaxBytes: Int { Int(min(value("journal_max_bytes"), 1e12)) }

    /// Validates a user's value for a key; the error says what is allowed.
    public static func parse(key: ConfigKey, value text: String) throws -> Double {
        let v: Double?
        if key.isDuration { v = Clock.parseDuration(text) } else { v = Double(text.trimmingSpaces()) }
        guard let value = v, value.isFinite else {
            throw QueueError.usage("invalid value '\(text)' for \(key.name): expected \(key.isDuration ? "seconds or a duration like 30s, 5m, 2h" : key.isInteger ? "a whole number" : "a number")")
        }
        if key.isInteger && value.rounded() != value {
            throw QueueError.usage("invalid value '\(text)' for \(key.name): expected a whole number")
        }
        if key.name == "fsync" && value > 1 {
            throw QueueError.usage("invalid value '\(text)' for fsync: expected 1 (sync every change) or 0")
        }
        if value < key.minimum {
            throw QueueError.usage("invalid value '\(text)' for \(key.name): must be at least \(JSON.format(key.minimum))")
        }
        return value
    }

    public static func display(_ v: Double) -> String { JSON.format(v) }

    public var json: JSON {
        .object(Config.keys.compactMap { k in values[k.name].map { (k.name, JSON.double($0)) } })
    }

    public init(json: JSON, path: String) throws {
        guard case .object(let pairs) = json else {
            throw QueueError.corrupt(path: path, reason: "expected a JSON object")
        }
        for (k, v) in pairs {
            guard let key = Config.key(named: k), let d = v.doubleValue, d >= key.minimum else {
                throw QueueError.corrupt(path: path, reason: "bad entry \"\(k)\"; fix it or remove the file")
            }
            values[key.name] = d
        }
    }
}
