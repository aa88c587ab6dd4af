/// Where a job is in its life. The raw values are what users see and what the files hold.
public enum JobState: String, CaseIterable, Comparable {
    case pending
    case processing
    case completed
    case failed      // failed an attempt, waiting for its retry at next_run_at
    case dead        // out of retries: the Dead Letter Queue
    case cancelled

    /// Finished for good: will not run again unless a user retries it.
    public var isFinished: Bool { self == .completed || self == .dead || self == .cancelled }

    /// Waiting to run (now or later).
    public var isWaiting: Bool { self == .pending || self == .failed }

    /// Waiting or running: not finished.
    public var isLive: Bool { !isFinished }

    public static func < (a: JobState, b: JobState) -> Bool { a.order < b.order }

    private var order: Int {
        switch self {
        case .pending: 0
        case .processing: 1
        case .completed: 2
        case .failed: 3
        case .dead: 4
        case .cancelled: 5
        }
    }

    /// Every state's name, for messages and help. A literal: building it from `allCases` at
    /// every start of the binary cost more than an enqueue's own work (JobSchemaTests checks it).
    public static let names = "pending, processing, completed, failed, dead, cancelled"
}
