/// The settings of the named queues (`queue set`, `pause --queue`), kept in `queues.jsonl`
/// (QueuesFile). A queue that was never set has no limit and is not paused; a job names its
/// queue (`Job.queue`), so a queue exists as soon as a job or a setting names it.
public struct QueueSettings: Equatable {
    public static let defaultQueue = "default"
    /// The largest parallel limit: far beyond any host's workers.
    public static let maxParallel = 100_000
    /// The most slots one job may take.
    public static let maxSlots = 1_000

    public struct Queue: Equatable {
        /// Slots of this queue's jobs that may run at once, on every host together (0 = no limit).
        public var parallel = 0
        /// No new claims.
        public var paused = false
        /// With `paused`: running jobs are stopped too (SIGSTOP by their workers) until resumed.
        public var stopsRunning = false
        public init() {}
        var isDefault: Bool { self == Queue() }
    }

    public private(set) var queues: [String: Queue] = [:]

    public init() {}

    public subscript(name: String) -> Queue {
        get { queues[name] ?? Queue() }
        set { queues[name] = newValue.isDefault ? nil : newValue }
    }

    public var names: [String] { queues.keys.sorted() }

    /// Queue names follow the id rule, shorter: they name things in listings and commands.
    public static func isValidName(_ name: String) -> Bool { name.utf8.count <= 64 && JobInput.isValidId(name) }
    public static let nameRule = "queue names are 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"

    public var json: JSON {
        .object(names.map { name in
            let q = self[name]
            return (name, .object([("parallel", .int(Int64(q.parallel))), ("paused", .bool(q.paused)), ("stops_running", .bool(q.stopsRunning))]))
        })
    }

    /// Reads one line of queues.jsonl leniently: the file may be damaged or hand-edited, and
    /// nothing in it may stop the queue. A bad entry is skipped (its queue has no setting).
    public init(json: JSON) {
        guard case .object(let pairs) = json else { return }
        for (name, v) in pairs where QueueSettings.isValidName(name) {
            var q = Queue()
            if let p = v["parallel"]?.intValue, p >= 0, p <= Int64(QueueSettings.maxParallel) { q.parallel = Int(p) }
            q.paused = v["paused"]?.boolValue ?? false
            q.stopsRunning = q.paused && (v["stops_running"]?.boolValue ?? false)
            self[name] = q
        }
    }
}
