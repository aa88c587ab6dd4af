import Glibc

/// `jobs.ids`: the sorted ids of the snapshot, one per line after a `generation G` line, so an
/// enqueue can check that an id is free with a binary search instead of loading every job.
public enum IdIndexFile {
    /// One line per job, `id<TAB>offset<TAB>length` (where its record is in jobs.json), sorted.
    public static func encode(locations: [SnapshotFile.Location], generation: Int64) -> [[UInt8]] {
        var w = ByteWriter(capacity: locations.count * 32 + 32)
        w.raw("generation \(generation)\n")
        // Ids are ASCII, for which String's `<` is byte order: what the binary search assumes.
        for l in locations.sorted(by: { $0.id < $1.id }) { w.raw(l.id); w.lit("\t"); w.int(l.offset); w.lit("\t"); w.int(l.length); w.lit("\n") }
        return [w.bytes]
    }

    /// What the index says of an id: absent, or present at (offset, length) in the snapshot
    /// (nil offsets: an index written before offsets were recorded).
    public enum Answer: Equatable { case absent, present(offset: Int?, length: Int?) }

    public static func contains(_ id: String, fd: FileDescriptor, generation: Int64) -> Bool? {
        find(id, fd: fd, generation: generation).map { $0 != .absent }
    }

    /// nil when the index is missing or belongs to another generation (then callers load the state).
    /// A binary search with small preads: a lookup reads a few KiB whatever the number of jobs.
    public static func find(_ id: String, fd: FileDescriptor, generation: Int64) -> Answer? {
        var st = stat()
        guard fstat(fd.rawValue, &st) == 0 else { return nil }
        let size = Int(st.st_size)
        func readAt(_ off: Int, _ n: Int) -> [UInt8] {
            var b = [UInt8](repeating: 0, count: max(0, min(n, size - off)))
            guard !b.isEmpty else { return b }
            let got = b.withUnsafeMutableBytes { pread(fd.rawValue, $0.baseAddress!, $0.count, off_t(off)) }
            if got < b.count { b.removeSubrange(max(0, got)...) }
            return b
        }
        let head = readAt(0, 64)
        guard let nl = head.firstIndex(of: 0x0A),
              String(decoding: head[0..<nl], as: UTF8.self) == "generation \(generation)" else { return nil }
        let key = Array(id.utf8)
        // Search the byte range [lo, hi) for a line equal to the key; lo is always a line start.
        // Ids are at most 128 bytes, so any 256-byte window holds a whole line or a newline.
        var lo = nl + 1, hi = size
        while lo < hi {
            let mid = (lo + hi) / 2
            var start = mid
            if mid > lo {
                let w = readAt(mid - 1, 256)
                guard let k = w.firstIndex(of: 0x0A) else { return nil }  // damaged index: load the jobs
                start = mid + k
            }
            if start >= hi { hi = mid; continue }  // no line starts in [mid, hi)
            let w = readAt(start, 256)
            guard let k = w.firstIndex(of: 0x0A) else { return nil }
            let line = w[0..<k]
            let tab = line.firstIndex(of: 0x09) ?? k
            let c = compare(key, Array(w[0..<tab]))
            if c == 0 {
                let fields = line.split(separator: 0x09).dropFirst().map { Int(String(decoding: $0, as: UTF8.self)) }
                return .present(offset: fields.first ?? nil, length: fields.count > 1 ? fields[1] : nil)
            }
            if c < 0 { hi = start } else { lo = start + k + 1 }
        }
        return .absent
    }

    static func compare(_ a: [UInt8], _ b: [UInt8]) -> Int {
        let n = min(a.count, b.count)
        for k in 0..<n where a[k] != b[k] { return a[k] < b[k] ? -1 : 1 }
        return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
    }

}
