/// How an attempt ended, as the runner observed it.
public struct Outcome {
    public var exitCode: Int?
    public var signal: Int?
    public var timedOut = false
    public var timeoutSeconds: Double = 0
    public var error: String?            // set when the command could not be started, or the worker was lost
    public var outputBytes: Int = 0

    public init(exitCode: Int? = nil, signal: Int? = nil) {
        self.exitCode = exitCode
        self.signal = signal
    }

    public var succeeded: Bool { exitCode == 0 && signal == nil && !timedOut && error == nil }

    /// Why it failed, in words (`last_error`).
    public var reason: String? {
        if succeeded { return nil }
        if let e = error { return e }
        if timedOut { return "timed out after \(Clock.humanDuration(timeoutSeconds))" }
        if let s = signal { return "killed by signal \(s) (\(Lifecycle.signalName(s)))" }
        switch exitCode {
        case 127?: return "command not found (exit code 127)"
        case 126?: return "command could not be executed (exit code 126)"
        case let c?: return "exit code \(c)"
        default: return "failed"
        }
    }
}
