import Glibc

/// `hosts/<host>.pid`: one host's running supervisor and its workers. Whether a supervisor is
/// really alive is decided by `hosts/<host>.lock` (it holds an flock for its whole life), so a
/// stale pidfile or a pid reused by another program can never pass for a live supervisor.
public struct PidFile: Equatable {
    public struct Entry: Equatable {
        public var slot: Int
        public var pid: Int
        public var startTime: Int64?
    }

    public var supervisorPid: Int
    public var supervisorStart: Int64?
    public var startedAt: Millis
    public var workers: [Entry]
    public var logPath: String?
    /// The supervisor's host (`Host.id` and name): its pids mean nothing on another machine.
    public var hostId: String
    public var hostName: String
    /// The home's file system and how idle workers learn of new jobs there (inotify or poll).
    public var fileSystem: String
    public var wakeup: String
    /// The queues its workers serve (`--queues`); nil: every queue.
    public var queues: [String]?

    public var isThisHost: Bool { hostId == Host.current.id }

    public var json: JSON {
        .object([
            ("supervisor", .object([("pid", .int(Int64(supervisorPid))), ("start_time", supervisorStart.map { .int($0) } ?? .null)])),
            ("started_at", .string(Clock.iso(startedAt))),
            ("host", .object([("name", .string(hostName)), ("id", .string(hostId))])),
            ("file_system", .string(fileSystem)),
            ("wakeup", .string(wakeup)),
            ("queues", queues.map { .array($0.map { .string($0) }) } ?? .null),
            ("count", .int(Int64(workers.count))),
            ("log", logPath.map { .string($0) } ?? .null),
            ("workers", .array(workers.map { w in
                .object([("slot", .int(Int64(w.slot))), ("pid", .int(Int64(w.pid))), ("start_time", w.startTime.map { .int($0) } ?? .null)])
            })),
        ])
    }

    public init(supervisorPid: Int, supervisorStart: Int64?, startedAt: Millis, workers: [Entry], logPath: String?) {
        self.supervisorPid = supervisorPid
        self.supervisorStart = supervisorStart
        self.startedAt = startedAt
        self.workers = workers
        self.logPath = logPath
        self.hostId = Host.current.id
        self.hostName = Host.current.name
        self.fileSystem = ""
        self.wakeup = ""
    }

    init?(json: JSON) {
        guard let sup = json["supervisor"], let pid = sup["pid"]?.intValue else { return nil }
        supervisorPid = Int(pid)
        supervisorStart = sup["start_time"]?.intValue
        startedAt = json["started_at"]?.stringValue.flatMap(Clock.parseISO) ?? 0
        logPath = json["log"]?.stringValue
        hostId = json["host"]?["id"]?.stringValue ?? Host.current.id
        hostName = json["host"]?["name"]?.stringValue ?? Host.name(ofId: hostId)
        fileSystem = json["file_system"]?.stringValue ?? ""
        wakeup = json["wakeup"]?.stringValue ?? ""
        queues = json["queues"]?.arrayValue?.compactMap(\.stringValue)
        workers = (json["workers"]?.arrayValue ?? []).compactMap { w in
            guard let p = w["pid"]?.intValue else { return nil }
            return Entry(slot: Int(w["slot"]?.intValue ?? 0), pid: Int(p), startTime: w["start_time"]?.intValue)
        }
    }

    /// Host `name`'s pid file (this host's by default).
    public static func read(_ home: Home, host name: String = Host.current.name) -> PidFile? {
        read(path: home.pidFile(host: name))
    }

    static func read(path: String) -> PidFile? {
        guard let bytes = try? Posix.readFile(path), let json = try? JSONParser.parse(bytes: bytes) else { return nil }
        return PidFile(json: json)
    }

    public func write(_ home: Home) throws {
        try Posix.atomicWrite(path: home.pidFile(host: hostName), text: json.pretty() + "\n")
    }

    /// Whether host `name`'s supervisor holds its lock right now (checkable from any machine).
    public static func supervisorAlive(_ home: Home, host name: String = Host.current.name) -> Bool {
        guard let fd = Posix.openQuietly(home.supervisorLock(host: name)) else { return false }
        defer { fd.close() }
        if fd.tryLock(LOCK_SH) { return false }  // released by the close
        return errno == EWOULDBLOCK
    }

    /// Host `name`'s live supervisor and live workers; nil when none. Pids of another host cannot
    /// be checked here; its supervisor's lock says it is alive, so its list is taken as written.
    public static func live(_ home: Home, host name: String = Host.current.name) -> PidFile? {
        guard supervisorAlive(home, host: name), var p = read(home, host: name) else { return nil }
        if p.isThisHost { p.workers = p.workers.filter { Posix.isAlive(pid: $0.pid, startTime: $0.startTime) } }
        return p
    }

    /// Every host with a pid file in the home, by file name (a host name made file-safe).
    public static func hostNames(_ home: Home) -> [String] {
        Posix.listDirectory(home.hosts).filter { $0.hasSuffix(".pid") && !$0.hasPrefix(".") }.map { String($0.dropLast(4)) }.sorted()
    }

    /// Every host whose supervisor is alive, this host first.
    public static func liveHosts(_ home: Home) -> [PidFile] {
        var names = hostNames(home)
        let me = Host.current.fileSafeName
        if !names.contains(me) { names.append(me) }
        let live = names.compactMap { PidFile.live(home, host: $0) }
        return live.filter(\.isThisHost) + live.filter { !$0.isThisHost }
    }
}
