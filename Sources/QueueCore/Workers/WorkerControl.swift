import Glibc

/// `worker stop`: signal the supervisor through the pidfile and wait until every worker is gone.
public enum WorkerControl {
    public enum StopResult: Equatable { case notRunning, stopped, forced }

    /// Graceful stop (SIGTERM: running jobs finish). After `timeout` seconds, or at once with
    /// `force`, running jobs are killed and put back to run again (SIGUSR1 to the supervisor).
    public static func stop(home: Home, timeout: Double, force: Bool, progress: (String) -> Void) throws -> StopResult {
        let pf = PidFile.read(home)
        let supervisorUp = PidFile.supervisorAlive(home)
        if supervisorUp, let p = pf, !p.isThisHost {
            // Signals do not cross machines: a pid of that host may be anything here.
            throw QueueError.conflict("the workers for \(home.path) run on host \(p.hostName) (supervisor pid \(p.supervisorPid) there); run 'queuectl worker stop' on \(p.hostName)")
        }
        // Pids written by another host name nothing here: never signal them.
        let workers = (pf.map { $0.isThisHost } ?? true ? pf?.workers ?? [] : []).filter { Posix.isAlive(pid: $0.pid, startTime: $0.startTime) }
        if !supervisorUp && workers.isEmpty {
            if pf != nil { unlink(home.pidFile) }  // stale
            return .notRunning
        }
        func signalAll(_ sig: Int32) {
            if supervisorUp, let p = pf { OwnedProcess(pid: p.supervisorPid, startTime: p.supervisorStart).signal(sig) }
            for w in workers { OwnedProcess(pid: w.pid, startTime: w.startTime).signal(sig) }
        }
        func allGone() -> Bool {
            !PidFile.supervisorAlive(home) && !workers.contains { Posix.isAlive(pid: $0.pid, startTime: $0.startTime) }
        }
        signalAll(force ? SIGUSR1 : SIGTERM)
        if !force {
            if waitUntil(deadline: Clock.monotonic() + timeout, allGone) { return .stopped }
            progress("workers still busy after \(Clock.humanDuration(timeout)); interrupting their jobs (they will run again)")
            signalAll(SIGUSR1)
        }
        if waitUntil(deadline: Clock.monotonic() + 15, allGone) {
            if !PidFile.supervisorAlive(home) && Posix.exists(home.pidFile) { unlink(home.pidFile) }
            return .forced
        }
        throw QueueError.failed("workers did not stop; their pids are in \(home.pidFile)")
    }

    /// Waits (sleeping 10 ms between looks) until `done` or the deadline.
    static func waitUntil(deadline: Double, _ done: () -> Bool) -> Bool {
        while !done() {
            if Clock.monotonic() >= deadline { return false }
            Posix.sleep(seconds: 0.01)
        }
        return true
    }

    /// Live workers with the job each runs, for `worker status` and `status`.
    public struct WorkerInfo {
        public var slot: Int
        public var pid: Int
        public var job: Job?
    }

    public static func workers(home: Home, state: QueueState?) -> (PidFile?, [WorkerInfo]) {
        workers(home: home, processing: state?.processing ?? [])
    }

    /// The same, given the processing jobs (read without loading the others).
    public static func workers(home: Home, processing: [Job]) -> (PidFile?, [WorkerInfo]) {
        guard let pf = PidFile.live(home) else { return (nil, []) }
        var byPid: [Int: Job] = [:]
        for j in processing where j.state == .processing && (j.workerHost ?? pf.hostId) == pf.hostId {
            if let p = j.workerPid { byPid[p] = j }
        }
        return (pf, pf.workers.map { WorkerInfo(slot: $0.slot, pid: $0.pid, job: byPid[$0.pid]) })
    }
}
