import Glibc

/// Every error a user can see. `exitCode` follows README's table: 2 for usage, 1 for failures.
public enum QueueError: Error, CustomStringConvertible, Equatable {
    case usage(String)                       // malformed input or arguments
    case invalidJob(String)                  // bad job input: a usage error that names the job/key
    case notFound(String)
    case conflict(String)
    case corrupt(path: String, reason: String)
    case system(String)
    case io(path: String, operation: String, code: Int32)  // a system call on a file failed
    case failed(String)                      // an operation that ran and did not succeed

    public var exitCode: Int32 {
        switch self {
        case .usage, .invalidJob: return 2
        default: return 1
        }
    }

    /// The HTTP status the dashboard answers with, chosen by the kind of error, never its text.
    public var httpStatus: Int {
        switch self {
        case .usage, .invalidJob: return 400
        case .notFound: return 404
        case .conflict, .failed: return 409
        case .corrupt, .system: return 500
        case .io(_, _, let code): return code == ENOSPC || code == EDQUOT ? 507 : 500
        }
    }

    public var description: String {
        switch self {
        case .usage(let m), .invalidJob(let m), .notFound(let m), .conflict(let m), .system(let m), .failed(let m):
            return m
        case .io(let path, let operation, let code):
            return "cannot \(operation) \(path): \(Posix.describe(code))"
        case .corrupt(let path, let reason):
            return "\(path) is corrupt: \(reason); queuectl will not overwrite it (restore it from a backup or move it away)"
        }
    }

    public static func from(_ error: Error) -> QueueError {
        if let q = error as? QueueError { return q }
        if let s = error as? SystemError { return .io(path: s.path, operation: s.operation, code: s.code) }
        return .system("\(error)")
    }
}
