import Glibc

/// Writes a new snapshot from the previous one and the changes made since, without decoding the
/// jobs the changes did not touch (ARCHITECTURE.md, "Compaction"): each record of the old file
/// is copied as it is, or replaced by the journal's last version of it, or dropped when the
/// journal deleted it; jobs the old file did not hold follow at the end, in the order the
/// journal created them, so the file stays in creation order. Memory is the changes plus one
/// index entry per job, not the jobs; the old file is mapped and its pages released as it is read.
enum SnapshotMerge {
    struct Result {
        var locations: [SnapshotFile.Location]
        var due: [(Millis, String)]
    }

    /// `base`: the old snapshot's bytes (nil when there is none); `changes`: complete journal
    /// change lines, oldest first. Writes the whole file (header last) to `fd`.
    static func write(base: UnsafeBufferPointer<UInt8>?, basePath: String, changes: UnsafeBufferPointer<UInt8>,
                      changesPath: String, meta: SnapshotFile.Meta, to fd: Int32, path: String) throws -> Result {
        // The journal's last word on each id, and the order in which ids first appeared.
        var latest: [String: Job?] = [:]
        var firstSeen: [String] = []
        var createdHere: Set<String> = []  // first change a put from nothing: not in the old file
        for (n, r) in JournalFile.lineRanges(changes, from: 0, to: changes.count).enumerated() {
            let e = try JournalFile.parse(UnsafeBufferPointer(rebasing: changes[r]), path: changesPath, lineNo: n + 1)
            if latest.updateValue(e.job, forKey: e.id) == nil {
                firstSeen.append(e.id)
                if e.op == .put && e.from == nil { createdHere.insert(e.id) }
            }
        }
        // New jobs go where creation order puts them, so the file stays in creation order (what
        // `recent` reads backwards). Usually that is after every old job; a clock behind another
        // machine's can put one among them, and then the old records' keys are read as they pass.
        var fresh: [Job] = firstSeen.compactMap { createdHere.contains($0) ? (latest[$0] ?? nil) : nil }
        fresh.sort { ScheduleScan.CreationKey($0) < ScheduleScan.CreationKey($1) }
        var nextFresh = 0

        var w = ByteWriter(capacity: 1 << 20)
        var flushed = 0
        func flush() throws {
            try Posix.pwriteAll(fd: fd, w.bytes, at: SnapshotFile.headerRoom + flushed, path: path)
            flushed += w.bytes.count
            w.bytes.removeAll(keepingCapacity: true)
        }
        var result = Result(locations: [], due: [])
        var counts: [JobState: Int] = [:]
        var first = true
        w.lit("\"jobs\":[\n")
        // Appends one record (a job line without its comma) and notes where it is and what it is.
        func emit(_ record: UnsafeBufferPointer<UInt8>, id: String) throws {
            if !first { w.lit(",\n") }
            first = false
            let start = w.bytes.count
            w.bytes.append(contentsOf: record)
            result.locations.append(SnapshotFile.Location(id: id, offset: SnapshotFile.headerRoom + flushed + start, length: record.count))
            if w.bytes.count > 1 << 20 { try flush() }
        }
        func emit(_ job: Job) throws {
            var jw = ByteWriter(capacity: 512)
            job.writeCompact(to: &jw)
            try jw.bytes.withUnsafeBufferPointer { try emit($0, id: job.id) }
            counts[job.state, default: 0] += 1
            if job.state.isWaiting, let d = job.dueAt { result.due.append((d, job.id)) }
        }

        // Emits a job that is not in the old file, once.
        func emitFresh(_ job: Job) throws {
            guard case .some(.some) = latest[job.id] else { return }
            latest[job.id] = .some(nil)
            try emit(job)
        }
        if let buf = base, buf.count > 0 {
            let old = try SnapshotFile.readMeta(buffer: buf, path: basePath)
            var interleave = false
            if let firstFresh = fresh.first, buf.count > 5 {
                // The old file's last record: `…}\n]}\n`.
                let lastEnd = buf.count - 4
                var s = lastEnd
                while s > 0 && buf[s - 1] != 0x0A { s -= 1 }
                if let k = ScheduleScan.creationKey(in: buf, start: s, end: lastEnd) { interleave = ScheduleScan.CreationKey(firstFresh) < k }
            }
            var i = old.bodyStart
            var released = 0
            var lineNo = 1
            guard let open = JournalFile.nextNewline(buf, from: i),
                  Array(UnsafeBufferPointer(rebasing: buf[i..<open])) == Array("\"jobs\":[".utf8) else {
                throw SnapshotFile.corrupt(basePath, "line 2 should open the jobs array")
            }
            i = open + 1
            while i < buf.count {
                let nl = JournalFile.nextNewline(buf, from: i) ?? buf.count
                lineNo += 1
                var end = nl
                defer { i = nl + 1 }
                if end - i == 2 && buf[i] == 0x5D && buf[i + 1] == 0x7D { break }  // "]}"
                if end > i && buf[end - 1] == UInt8(ascii: ",") { end -= 1 }
                guard let found = ScheduleScan.job(in: buf, start: i, end: end), let state = found.state, buf[end - 1] == UInt8(ascii: "}") else {
                    throw SnapshotFile.corrupt(basePath, "line \(lineNo) is not a valid job")
                }
                if interleave && nextFresh < fresh.count, let k = ScheduleScan.creationKey(in: buf, start: i, end: end) {
                    while nextFresh < fresh.count && ScheduleScan.CreationKey(fresh[nextFresh]) < k {
                        try emitFresh(fresh[nextFresh])
                        nextFresh += 1
                    }
                }
                if let changed = latest[found.id] {
                    latest[found.id] = .some(nil)  // consumed: not appended again below
                    if let job = changed { try emit(job) }
                } else {
                    try emit(UnsafeBufferPointer(rebasing: buf[i..<end]), id: found.id)
                    counts[state, default: 0] += 1
                    if found.waiting, let d = found.due { result.due.append((d, found.id)) }
                }
                if i - released > 8 << 20 {
                    Posix.releaseMapped(buf, upTo: i)
                    released = i
                }
            }
        }
        for job in fresh[nextFresh...] { try emitFresh(job) }
        // Changed jobs the old file should have held but did not: kept, in creation order.
        let strays = firstSeen.compactMap { latest[$0] ?? nil }.sorted { ScheduleScan.CreationKey($0) < ScheduleScan.CreationKey($1) }
        for job in strays { try emitFresh(job) }
        w.lit(first ? "]}\n" : "\n]}\n")
        try flush()
        var m = meta
        m.jobCount = result.locations.count
        m.counts = counts
        m.jobsBytes = flushed
        try SnapshotFile.writeHeader(m, to: fd, path: path)
        return result
    }
}
