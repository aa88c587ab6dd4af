import Glibc

/// The data directory of one queue and the names of the files in it (ARCHITECTURE.md, "The home").
public struct Home {
    public let path: String

    public init(path: String) {
        var p = path
        while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
        self.path = p
    }

    /// `--home`, else `$QUEUECTL_HOME`, else `$XDG_DATA_HOME/queuectl`, else `~/.local/share/queuectl`.
    /// Uses `$HOME`, not NSS: the binary is static.
    public static func resolve(flag: String?) throws -> Home {
        if let f = flag { return Home(path: absolute(f)) }
        if let q = Posix.env("QUEUECTL_HOME") { return Home(path: absolute(q)) }
        if let x = Posix.env("XDG_DATA_HOME") { return Home(path: absolute(x) + "/queuectl") }
        guard let h = Posix.env("HOME") else {
            throw QueueError.usage("cannot find a home for the queue: set QUEUECTL_HOME or pass --home DIR")
        }
        return Home(path: absolute(h) + "/.local/share/queuectl")
    }

    static func absolute(_ p: String) -> String {
        p.hasPrefix("/") ? p : Posix.currentDirectory() + "/" + p
    }

    public var snapshot: String { path + "/jobs.json" }
    /// The same snapshot under a name of its own generation (what readers open; see JSONStore).
    public func snapshot(generation: Int64) -> String { path + "/jobs.\(generation).json" }
    public var idIndex: String { path + "/jobs.ids" }
    public var dueIndex: String { path + "/jobs.due" }
    public var throughput: String { path + "/jobs.minutes" }
    public var journal: String { path + "/journal.jsonl" }
    /// The journal of generation G as it was when it was folded into G+1 (kept for one generation).
    public func journal(generation: Int64) -> String { path + "/journal.\(generation).jsonl" }
    /// A Bloom filter of the ids in the journal's change lines (JournalIdFilter), a hint.
    public var journalIdFilter: String { path + "/journal.bloom" }
    public var lock: String { path + "/queue.lock" }
    /// Held (exclusive) by the one process that is compacting the store.
    public var compactLock: String { path + "/compact.lock" }
    /// The last background compaction's failure, if it failed (removed when one succeeds).
    public var compactionFailure: String { path + "/compaction.failed" }
    public var config: String { path + "/config.json" }
    /// The named queues' limits and pauses (QueuesFile).
    public var queues: String { path + "/queues.jsonl" }
    /// The dashboard's secret for state-changing requests.
    public var dashboardToken: String { path + "/dashboard.token" }

    // One host's files (ARCHITECTURE.md, "Several machines, one home"): each machine that runs
    // workers has its own supervisor, pid file, log and lease, so none of them is ever written
    // by two machines.
    public var hosts: String { path + "/hosts" }
    func hostFile(_ hostName: String, _ suffix: String) -> String { hosts + "/" + Host.fileSafe(hostName) + suffix }
    /// The supervisor and workers of one host (`PidFile`).
    public func pidFile(host: String = Host.current.name) -> String { hostFile(host, ".pid") }
    /// Held exclusively by the host's supervisor for its whole life.
    public func supervisorLock(host: String = Host.current.name) -> String { hostFile(host, ".lock") }
    /// What a detached supervisor and its workers log.
    public func workersLog(host: String = Host.current.name) -> String { hostFile(host, ".log") }
    /// Held (shared) by every worker of one host for its whole life: if another machine can take
    /// it exclusively, no worker of that host is alive, whatever pids its claims name.
    public func workersLock(hostName: String) -> String { hostFile(hostName, ".workers.lock") }
    /// Renewed by the host's supervisor; its age, by the file server's clock, is the lease's (`Lease`).
    public func lease(host: String) -> String { hostFile(host, ".lease") }
    /// Touched to read the file server's clock (`Lease.serverNow`).
    public func clockProbe(host: String = Host.current.name) -> String { hostFile(host, ".probe") }
    /// Requests for the host's supervisor from other machines (`HostControl`).
    public func control(host: String) -> String { hostFile(host, ".control") }
    public var logs: String { path + "/logs" }

    /// Log directory of a job. Ids are validated (`^[A-Za-z0-9][A-Za-z0-9._-]*$`), so this
    /// can never name a path outside `logs/`.
    public func logDirectory(job id: String) -> String { logs + "/" + id }
    public func logFile(job id: String, attempt: Int) -> String { logDirectory(job: id) + "/\(attempt).log" }

    /// Creates the home (0700) and `logs/` on first use.
    public func create() throws {
        let old = umask(0o077)
        defer { umask(old) }
        try Posix.makeDirectories(path, mode: 0o700)
        try Posix.makeDirectories(logs, mode: 0o700)
        try Posix.makeDirectories(hosts, mode: 0o700)
    }

    public var exists: Bool { Posix.exists(path) }
}
