import Glibc

/// Enqueues a large JSON Lines batch without holding its jobs in memory (ARCHITECTURE.md, "An
/// enqueue"): each line is validated and its record written to a file beside the snapshot, then
/// the store checks every id against the home in one sorted pass and folds the batch into a new
/// snapshot (`JSONStore.appendBatch`). All or nothing, like `Enqueue.run`, with the same checks
/// and messages; memory is the ids, not the jobs.
public enum BulkEnqueue {
    /// Whether `text` is JSON Lines (one object per line), the form this path reads. Anything
    /// else (an array, pretty-printed objects) goes through `Enqueue.run`.
    public static func isJSONLines(_ text: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        while i < text.count, [0x20, 0x09, 0x0A, 0x0D].contains(text[i]) { i += 1 }
        guard i < text.count, text[i] == UInt8(ascii: "{") else { return false }
        let end = JournalFile.nextNewline(text, from: i) ?? text.count
        return (try? JSONParser.parse(bytes: UnsafeBufferPointer(rebasing: text[i..<end]))) != nil
    }

    /// The input is not JSON Lines after all (a line is not one whole object: pretty-printed or
    /// concatenated objects): the caller reads it the ordinary way, so every input gets the same
    /// answer whatever its size. Nothing was written.
    public struct NotJSONLines: Error {}

    /// Returns the ids in input order.
    /// `defaults`: job fields given as flags, used where a line does not set them.
    public static func run(store: JSONStore, text: UnsafeBufferPointer<UInt8>, source: String, cwd: String,
                           defaults: [(String, JSON)] = []) throws -> [String] {
        let config = try store.config()
        let now = Clock.nowMillis()
        try store.home.create()
        let path = store.batchFilePath
        let fd = try Posix.open(path, O_WRONLY | O_CREAT | O_TRUNC)
        // Held while this process lives: a compaction sweeps only batch files nobody holds.
        guard flock(fd.rawValue, LOCK_EX | LOCK_NB) == 0 else { throw SystemError(operation: "lock", path: path, code: errno) }
        defer {
            unlink(path)
            fd.close()
        }
        var w = ByteWriter(capacity: 1 << 20)
        var written = 0
        var ids: [String] = []
        var index: [String: Int] = [:]  // id → its job number, for duplicates and dependencies
        var dependencies: [(id: String, on: [String])] = []
        var i = 0, lineNo = 0, released = 0
        while i < text.count {
            let nl = JournalFile.nextNewline(text, from: i) ?? text.count
            defer { i = nl + 1 }
            lineNo += 1
            let line = UnsafeBufferPointer(rebasing: text[i..<nl])
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            var value: JSON
            do {
                value = try JSONParser.parse(bytes: line)
            } catch is JSONParseError {
                throw NotJSONLines()
            }
            let n = ids.count
            if !defaults.isEmpty { value = JobInput.merging(defaults, into: value, override: false) }
            let job = try JobInput.job(from: value, index: n, total: Int.max, config: config, now: now, cwd: cwd)
            if let first = index.updateValue(n, forKey: job.id) {
                throw QueueError.invalidJob("job \(n + 1) (\"\(job.id)\"): duplicate id, also used by job \(first + 1) of this batch")
            }
            ids.append(job.id)
            if !job.dependsOn.isEmpty { dependencies.append((job.id, job.dependsOn)) }
            job.writeCompact(to: &w)
            w.lit("\n")
            if w.bytes.count > 1 << 20 {
                try Posix.pwriteAll(fd: fd, w.bytes, at: written, path: path)
                written += w.bytes.count
                w.bytes.removeAll(keepingCapacity: true)
            }
            if i - released > 8 << 20 {  // a mapped input: drop what was read
                Posix.releaseMapped(text, upTo: i)
                released = i
            }
        }
        if ids.isEmpty { throw QueueError.invalidJob("\(source): no job given (expected a JSON object, an array or JSON Lines)") }
        try Posix.pwriteAll(fd: fd, w.bytes, at: written, path: path)
        w = ByteWriter()

        // Dependencies: inside the batch (no cycle), or on jobs the store must hold.
        var outside: Set<String> = []
        for (_, on) in dependencies { for d in on where index[d] == nil { outside.insert(d) } }
        try Enqueue.checkCycles(dependencies)
        index = [:]
        try store.appendBatch(JSONStore.Batch(path: path, sortedIds: ids.sorted(), outsideDependencies: outside))
        return ids
    }
}
