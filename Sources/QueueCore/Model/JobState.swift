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

    public static func < (a: JobState, b: JobState) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }
}
