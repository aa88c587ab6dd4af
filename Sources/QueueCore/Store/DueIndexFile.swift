/// `jobs.due`: for the snapshot's waiting jobs that have a start time, `<millis> <id>` per line
/// after a `generation G` line, so `status` can tell what is scheduled without reading jobs.
enum DueIndexFile {
    static func encode(entries: [(Millis, String)], generation: Int64) -> [[UInt8]] {
        var w = ByteWriter(capacity: entries.count * 32 + 32)
        w.raw("generation \(generation)\n")
        for (d, id) in entries { w.int(d); w.lit(" "); w.raw(id); w.lit("\n") }
        return [w.bytes]
    }

    static func encode(state: QueueState, generation: Int64) -> [[UInt8]] {
        var w = ByteWriter(capacity: 64)
        w.raw("generation \(generation)\n")
        // One pass over the jobs in place: a lookup by id per waiting job cost more than the rest.
        for j in state.all where j.state.isWaiting {
            guard let d = j.dueAt else { continue }
            w.int(d); w.lit(" "); w.raw(j.id); w.lit("\n")
        }
        return [w.bytes]
    }

    /// id → due time, or nil when the file is missing or of another generation.
    static func read(_ path: String, generation: Int64) -> [String: Millis]? {
        guard let bytes = try? Posix.readFile(path) else { return nil }
        var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: true)
        guard let first = lines.first, String(decoding: first, as: UTF8.self) == "generation \(generation)" else { return nil }
        lines.removeFirst()
        var out: [String: Millis] = [:]
        for l in lines {
            guard let sp = l.firstIndex(of: 0x20), let d = Millis(String(decoding: l[l.startIndex..<sp], as: UTF8.self)) else { return nil }
            out[String(decoding: l[(sp + 1)...], as: UTF8.self)] = d
        }
        return out
    }
}
