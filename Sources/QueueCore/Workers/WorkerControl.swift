import Glibc

/// `worker stop`: this host's workers by signals (through its pid file); another host's by a
/// request it acts on within a second (signals do not cross machines). Waits until they are gone.
public enum WorkerControl {
    public enum StopResult: Equatable { case notRunning, stopped, forced }

    /// Whose workers to stop.
    public enum Target: Equatable {
        case thisHost
        case host(String)
        case allHosts
    }

    /// Graceful stop (running jobs finish). After `timeout` seconds, or at once with `force`,
    /// running jobs are killed and put back to run again.
    public static func stop(home: Home, target: Target = .thisHost, timeout: Double, force: Bool, progress: (String) -> Void) throws -> StopResult {
        let me = Host.current.fileSafeName
        var names: [String]
        switch target {
        case .thisHost: names = [me]
        case .host(let h): names = [Host.fileSafe(h)]
        case .allHosts: names = PidFile.liveHosts(home).map(\.hostName).map(Host.fileSafe)
        }
        var local = names.contains(me) ? LocalWorkers(home: home) : nil
        let remote = names.filter { $0 != me && PidFile.supervisorAlive(home, host: $0) }
        if local?.isRunning == false { local = nil }
        if local == nil && remote.isEmpty {
            if names.contains(me), !PidFile.supervisorAlive(home), Posix.exists(home.pidFile()) { unlink(home.pidFile()) }  // stale
            return .notRunning
        }
        func ask(_ request: HostControl.Request, _ sig: Int32) throws {
            local?.signalAll(sig)
            for h in remote { try HostControl.send(request, to: h, home: home) }
        }
        func allGone() -> Bool {
            (local?.allGone() ?? true) && !remote.contains { PidFile.supervisorAlive(home, host: $0) }
        }
        if !remote.isEmpty { progress("asked host\(remote.count == 1 ? "" : "s") \(remote.joined(separator: ", ")) to stop \(force ? "now" : "once running jobs finish")") }
        try ask(force ? .forceStop : .stop, force ? SIGUSR1 : SIGTERM)
        if !force {
            if waitUntil(deadline: Clock.monotonic() + timeout, allGone) { return .stopped }
            progress("workers still busy after \(Clock.humanDuration(timeout)); interrupting their jobs (they will run again)")
            try ask(.forceStop, SIGUSR1)
        }
        if waitUntil(deadline: Clock.monotonic() + 15, allGone) {
            if !PidFile.supervisorAlive(home) && Posix.exists(home.pidFile()) { unlink(home.pidFile()) }
            return .forced
        }
        let left = remote.filter { PidFile.supervisorAlive(home, host: $0) }
        throw QueueError.failed(left.isEmpty ? "workers did not stop; their pids are in \(home.pidFile())"
                                             : "the workers of \(left.joined(separator: ", ")) did not stop; see \(left.map { home.workersLog(host: $0) }.joined(separator: ", "))")
    }

    /// This host's supervisor and workers, as its pid file names them.
    struct LocalWorkers {
        let home: Home
        let pf: PidFile?
        let supervisorUp: Bool
        let workers: [PidFile.Entry]

        init(home: Home) {
            self.home = home
            pf = PidFile.read(home)
            supervisorUp = PidFile.supervisorAlive(home)
            // A pid file of an earlier boot names nothing here: never signal its pids.
            workers = (pf?.isThisHost ?? false ? pf?.workers ?? [] : []).filter { Posix.isAlive(pid: $0.pid, startTime: $0.startTime) }
        }

        var isRunning: Bool { supervisorUp || !workers.isEmpty }

        func signalAll(_ sig: Int32) {
            if supervisorUp, let p = pf, p.isThisHost { OwnedProcess(pid: p.supervisorPid, startTime: p.supervisorStart).signal(sig) }
            for w in workers { OwnedProcess(pid: w.pid, startTime: w.startTime).signal(sig) }
        }

        func allGone() -> Bool {
            !PidFile.supervisorAlive(home) && !workers.contains { Posix.isAlive(pid: $0.pid, startTime: $0.startTime) }
        }
    }

    /// Waits (sleeping 10 ms between looks) until `done` or the deadline.
    static func waitUntil(deadline: Double, _ done: () -> Bool) -> Bool {
        while !done() {
            if Clock.monotonic() >= deadline { return false }
            Posix.sleep(seconds: 0.01)
        }
        return true
    }

    /// Live workers with the job each runs, for `worker status`, `status` and the dashboard.
    public struct WorkerInfo {
        public var slot: Int
        public var pid: Int
        public var host: String
        public var job: Job?
    }

    /// One host's live supervisor, its workers, and its lease's age (nil: none, or unreadable).
    public struct HostWorkers {
        public var supervisor: PidFile
        public var workers: [WorkerInfo]
        public var leaseAge: Double?
    }

    /// Every host with a live supervisor, this host first; `processing` are the running jobs
    /// (read without loading the others), matched to workers by host and pid.
    /// `leases`: also read each host's lease age (touches this host's clock probe: a write).
    public static func hosts(home: Home, processing: [Job], leases: Bool = true) -> [HostWorkers] {
        PidFile.liveHosts(home).map { pf in
            var byPid: [Int: Job] = [:]
            for j in processing where j.state == .processing && (j.workerHost ?? pf.hostId) == pf.hostId {
                if let p = j.workerPid { byPid[p] = j }
            }
            let infos = pf.workers.map { WorkerInfo(slot: $0.slot, pid: $0.pid, host: pf.hostName, job: byPid[$0.pid]) }
            let age = leases ? (try? Lease.read(home, host: pf.hostName)).flatMap { $0 }.map(\.age) : nil
            return HostWorkers(supervisor: pf, workers: infos, leaseAge: age)
        }
    }

    /// Every live worker of every host.
    public static func allWorkers(home: Home, processing: [Job]) -> [WorkerInfo] {
        hosts(home: home, processing: processing, leases: false).flatMap(\.workers)
    }
}
