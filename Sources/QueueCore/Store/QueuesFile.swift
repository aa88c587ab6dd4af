import Glibc

/// `queues.jsonl`: the queues' settings (ARCHITECTURE.md, "The home"). Each line is the whole
/// settings object; the last complete line is the current one. It is appended under the queue's
/// exclusive lock at the size read through the open descriptor, and synced, like the journal:
/// a file replaced by rename could be opened through a stale directory entry on another
/// machine, while an append to the same inode is seen by any process that opens it after taking
/// the lock (close-to-open). Opened with O_CREAT, so no machine trusts a cached "no such file".
/// Past 64 KiB (hundreds of changes) it is rewritten by rename, once.
extension JSONStore {
    static let queuesFileRewriteBytes = 65_536

    /// The settings as the file holds them now. A worker's claim reads them under the lock, so a
    /// limit set on one machine binds the next claim on every machine.
    public func queueSettings() throws -> QueueSettings {
        let path = home.queues
        let fd = try Posix.open(path, O_RDONLY | O_CREAT, 0o600)
        defer { fd.close() }
        var st = stat()
        guard fstat(fd.rawValue, &st) == 0 else { throw SystemError(operation: "stat", path: path, code: errno) }
        let key = [Int(st.st_ino), Int(st.st_size), Int(st.st_mtim.tv_sec), Int(st.st_mtim.tv_nsec)]
        if let c = queuesCache, c.key == key { return c.settings }
        let bytes = try Posix.readAll(fd: fd, from: 0, path: path)
        let settings = QueuesFile.lastSettings(in: bytes)
        queuesCache = (key, settings)
        return settings
    }

    /// Changes the settings under the exclusive lock; returns them as written.
    @discardableResult
    public func updateQueueSettings(_ body: (inout QueueSettings) throws -> Void) throws -> QueueSettings {
        try lock(LOCK_EX)
        defer { unlock() }
        let path = home.queues
        let fd = try Posix.open(path, O_RDWR | O_CREAT, 0o600)
        defer { fd.close() }
        let bytes = try Posix.readAll(fd: fd, from: 0, path: path)
        var settings = QueuesFile.lastSettings(in: bytes)
        try body(&settings)
        let line = Array((settings.json.serialized() + "\n").utf8)
        if bytes.count + line.count > JSONStore.queuesFileRewriteBytes {
            try Posix.atomicWrite(path: path, byteChunks: [line])
        } else {
            // After a torn last line (a crash mid-append), start on a line of our own.
            let at = bytes.count
            let prefix: [UInt8] = (bytes.last.map { $0 != 0x0A } ?? false) ? [0x0A] : []
            try Posix.pwriteAll(fd: fd, prefix + line, at: at, path: path)
            guard fdatasync(fd.rawValue) == 0 else { throw SystemError(operation: "sync", path: path, code: errno) }
        }
        queuesCache = nil
        return settings
    }
}

enum QueuesFile {
    /// The last complete line that parses (a torn or damaged line is skipped).
    static func lastSettings(in bytes: [UInt8]) -> QueueSettings {
        var end = bytes.count
        while end > 0 && bytes[end - 1] != 0x0A { end -= 1 }  // a torn last line is not a line
        while end > 0 {
            var start = end - 1
            while start > 0 && bytes[start - 1] != 0x0A { start -= 1 }
            let line = bytes[start..<(end - 1)]
            if !line.isEmpty, let json = try? line.withUnsafeBufferPointer({ try JSONParser.parse(bytes: $0) }), case .object = json {
                return QueueSettings(json: json)
            }
            end = start
        }
        return QueueSettings()
    }
}
