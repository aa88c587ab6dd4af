import Glibc

/// Writes a new snapshot from the previous one and the changes made since, without decoding the
/// jobs the changes did not touch (ARCHITECTURE.md, "Compaction"): runs of untouched records are
/// copied byte for byte, straight from the mapped old file; a changed record is replaced by the
/// journal's last version of it, or dropped when the journal deleted it; new jobs go where
/// creation order puts them (usually at the end), so the file stays in creation order.
///
/// The sidecars come from the old ones when they belong to the old file: `jobs.ids` by shifting
/// each untouched record's offset by how much the records before it grew or shrank, merged with
/// the changed ids; `jobs.due` by dropping changed ids and adding the changed jobs that wait.
/// Otherwise they are rebuilt by scanning the new file. Memory is the changes, not the jobs.
enum SnapshotMerge {
    struct Result {
        var ids: [[UInt8]]
        var due: [[UInt8]]
        var minutes: [[UInt8]]
        var jobCount: Int
    }

    /// `base`: the old snapshot's bytes (nil when there is none); `oldIds`, `oldDue`: its
    /// sidecars when they carry its generation; `changes`: complete journal change lines,
    /// oldest first. Writes the whole file (header last) to `fd`.
    static func write(base: UnsafeBufferPointer<UInt8>?, baseFd: FileDescriptor? = nil, basePath: String, oldIds: UnsafeBufferPointer<UInt8>?,
                      oldDue: [String: Millis]?, oldMinutes: ThroughputFile.Minutes?, changes: UnsafeBufferPointer<UInt8>, changesPath: String,
                      appending batch: UnsafeBufferPointer<UInt8>? = nil, appendingPath: String = "",
                      meta: SnapshotFile.Meta, to fd: FileDescriptor, path: String) throws -> Result {
        // The journal's last word on each id, the order ids first appeared, and the counts.
        var latest: [String: Job?] = [:]
        var firstSeen: [String] = []
        var createdHere: Set<String> = []  // a put from nothing: a job (re)created since the old file
        var counts: [JobState: Int] = [:]
        var minutes = oldMinutes ?? ThroughputFile.Minutes()  // none kept: the chart starts over
        for (n, r) in JournalFile.lineRanges(changes, from: 0, to: changes.count).enumerated() {
            let e = try JournalFile.parse(UnsafeBufferPointer(rebasing: changes[r]), path: changesPath, lineNo: n + 1)
            minutes.add(from: e.from, to: e.to, updatedAt: e.job?.updatedAt ?? -1)
            if latest.updateValue(e.job, forKey: e.id) == nil { firstSeen.append(e.id) }
            // Created here, or deleted and created again: placed by its (new) creation key.
            if e.op == .put && e.from == nil { createdHere.insert(e.id) }
            if let f = e.from { counts[f, default: 0] -= 1 }
            if let t = e.to { counts[t, default: 0] += 1 }
        }
        let finals = latest  // `latest` is consumed as records are placed
        let filter = IdFilter(latest.keys)
        func changed(_ buf: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> String? {
            guard filter.mayContain(buf, r) else { return nil }
            let id = String(decoding: UnsafeBufferPointer(rebasing: buf[r]), as: UTF8.self)
            return latest[id] != nil ? id : nil
        }
        // New jobs in creation order. Usually all are newer than the old file's last record; a
        // clock behind another machine's can put one among them, and then the old records'
        // creation keys are read as they pass.
        var fresh: [Job] = firstSeen.compactMap { createdHere.contains($0) ? (latest[$0] ?? nil) : nil }
        fresh.sort { ScheduleScan.CreationKey($0) < ScheduleScan.CreationKey($1) }
        var nextFresh = 0

        var out = Output(fd: fd, path: path)
        var placed: [(id: String, offset: Int, length: Int)] = []  // changed and new records
        var shifts: [(from: Int, by: Int)] = []  // untouched records at or after `from` moved by `by`
        var runStart = -1, runEnd = -1, jobCount = 0
        func flushRun(_ buf: UnsafeBufferPointer<UInt8>) throws {
            guard runStart >= 0 else { return }
            out.separator()
            shifts.append((runStart, out.offset - runStart))
            try out.direct(UnsafeBufferPointer(rebasing: buf[runStart..<runEnd]), from: baseFd, at: runStart)
            runStart = -1
        }
        func emit(_ job: Job) throws {
            out.separator()
            let at = out.offset
            job.writeCompact(to: &out.w)
            placed.append((job.id, at, out.offset - at))
            jobCount += 1
            try out.flushIfFull()
        }
        func emitFresh(_ job: Job) throws {
            guard case .some(.some) = latest[job.id] else { return }
            latest[job.id] = .some(nil)  // placed: not again
            try emit(job)
        }

        out.w.lit("\"jobs\":[\n")
        if let buf = base, buf.count > 0 {
            let old = try SnapshotFile.readMeta(buffer: buf, path: basePath)
            for s in JobState.allCases { counts[s, default: 0] += old.0.counts[s] ?? 0 }
            var interleave = false
            if let firstFresh = fresh.first, buf.count > 5 {
                let lastEnd = buf.count - 4  // the old file ends `…}\n]}\n`
                var s = lastEnd
                while s > 0 && buf[s - 1] != 0x0A { s -= 1 }
                if let k = ScheduleScan.creationKey(in: buf, start: s, end: lastEnd) { interleave = ScheduleScan.CreationKey(firstFresh) < k }
            }
            var i = old.bodyStart
            guard let open = JournalFile.nextNewline(buf, from: i),
                  Array(UnsafeBufferPointer(rebasing: buf[i..<open])) == Array("\"jobs\":[".utf8) else {
                throw SnapshotFile.corrupt(basePath, "line 2 should open the jobs array")
            }
            i = open + 1
            // The usual case: the old index says where each changed record is, and everything
            // between them is copied without being read (see `changedRecords`).
            let plan = interleave ? nil : oldIds.flatMap { changedRecords(in: buf, first: i, index: $0, ids: latest.keys) }
            if let hits = plan {
                var from = i
                let lastEnd = buf.count - 4
                for h in hits {
                    if h.offset > from {
                        runStart = from; runEnd = h.offset - 2
                        try flushRun(buf)
                    }
                    from = h.offset + h.length + 2
                    if createdHere.contains(h.id) { continue }  // its old self; the new one goes by creation order
                    let now = latest[h.id]!
                    latest[h.id] = .some(nil)  // placed here: not appended below
                    if let job = now { try emit(job) }
                }
                if from < lastEnd {
                    runStart = from; runEnd = lastEnd
                    try flushRun(buf)
                }
                jobCount += old.0.jobCount - hits.count
                i = buf.count  // done with the old file
            }
            var lineNo = 2, released = 0
            let idKey = ScheduleScan.idKey
            while i < buf.count {
                let nl = JournalFile.nextNewline(buf, from: i) ?? buf.count
                lineNo += 1
                var end = nl
                defer { i = nl + 1 }
                if end - i == 2 && buf[i] == 0x5D && buf[i + 1] == 0x7D { break }  // "]}"
                if end > i && buf[end - 1] == UInt8(ascii: ",") { end -= 1 }
                var q = i + idKey.count
                guard end - i > idKey.count + 2, buf[end - 1] == UInt8(ascii: "}"),
                      (0..<idKey.count).allSatisfy({ buf[i + $0] == idKey[$0] }) else {
                    throw SnapshotFile.corrupt(basePath, "line \(lineNo) is not a valid job")
                }
                while q < end && buf[q] != 0x22 { q += 1 }
                if interleave && nextFresh < fresh.count, let k = ScheduleScan.creationKey(in: buf, start: i, end: end) {
                    if ScheduleScan.CreationKey(fresh[nextFresh]) < k { try flushRun(buf) }
                    while nextFresh < fresh.count && ScheduleScan.CreationKey(fresh[nextFresh]) < k {
                        try emitFresh(fresh[nextFresh])
                        nextFresh += 1
                    }
                }
                if let id = changed(buf, (i + idKey.count)..<q) {
                    try flushRun(buf)
                    if createdHere.contains(id) { continue }  // its old self; the new one goes by creation order
                    let now = latest[id]!
                    latest[id] = .some(nil)  // placed here: not appended below
                    if let job = now { try emit(job) }
                } else {
                    if runStart < 0 { runStart = i }
                    runEnd = end
                    jobCount += 1
                    // Copied in pieces of a few MiB, so the pages read so far can be let go.
                    if runEnd - runStart > 8 << 20 { try flushRun(buf) }
                }
                let done = runStart < 0 ? nl : runStart  // what no later write reads again
                if done - released > 8 << 20 {
                    Posix.releaseMapped(buf, upTo: done)
                    released = done
                }
            }
            try flushRun(buf)
        }
        for job in fresh[nextFresh...] { try emitFresh(job) }
        // Changed jobs the old file should have held but did not: kept, in creation order.
        let strays = firstSeen.compactMap { latest[$0] ?? nil }.sorted { ScheduleScan.CreationKey($0) < ScheduleScan.CreationKey($1) }
        for job in strays { try emitFresh(job) }
        // A batch of new jobs (BatchAppend): records, one per line, already validated.
        var batchDue: [(Millis, String)] = []
        if let b = batch {
            var i = 0, lineNo = 0, batchReleased = 0
            while i < b.count {
                let nl = JournalFile.nextNewline(b, from: i) ?? b.count
                defer { i = nl + 1 }
                lineNo += 1
                guard nl > i else { continue }
                guard let f = ScheduleScan.job(in: b, start: i, end: nl), let st = f.state else {
                    throw SnapshotFile.corrupt(appendingPath, "line \(lineNo) is not a valid job")
                }
                out.separator()
                let at = out.offset
                out.w.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: b[i..<nl]))
                placed.append((f.id, at, nl - i))
                jobCount += 1
                counts[st, default: 0] += 1
                if f.waiting, let d = f.due { batchDue.append((d, f.id)) }
                try out.flushIfFull()
                if nl - batchReleased > 8 << 20 {  // mapped: drop what was copied
                    Posix.releaseMapped(b, upTo: nl)
                    batchReleased = nl
                }
            }
        }
        out.w.lit(jobCount == 0 ? "]}\n" : "\n]}\n")
        try out.flush()
        var m = meta
        m.jobCount = jobCount
        m.counts = counts
        m.jobsBytes = out.offset - SnapshotFile.headerRoom
        for (k, v) in counts where v < 0 { m.counts[k] = 0 }  // never written by this store; not worth stopping for
        try SnapshotFile.writeHeader(m, to: fd, path: path)

        // The sidecars.
        var ids: [[UInt8]]? = nil
        if base == nil {
            // No old file: the index is what was placed.
            ids = IdIndexFile.encode(locations: placed.map { SnapshotFile.Location(id: $0.id, offset: $0.offset, length: $0.length) }, generation: meta.generation)
        } else if let old = oldIds {
            placed.sort { $0.id < $1.id }
            ids = IdIndexFile.remap(old, generation: meta.generation, changed: { changed($0, $1) != nil }, shifts: shifts, placed: placed)
        }
        var due: [[UInt8]]? = nil
        if let old = oldDue ?? (base == nil ? [:] : nil) {
            var entries: [(Millis, String)] = []
            for (id, d) in old where latest[id] == nil { entries.append((d, id)) }
            for case let (id, job?) in finals where job.state.isWaiting {
                if let d = job.dueAt { entries.append((d, id)) }
            }
            entries += batchDue
            due = DueIndexFile.encode(entries: entries, generation: meta.generation)
        }
        if ids == nil || due == nil {
            // Rebuilt from the file just written.
            let rfd = try Posix.open(path, O_RDONLY)
            defer { rfd.close() }
            let rebuilt = try Posix.withMapped(fd: rfd, path: path) { buf in
                try SnapshotFile.sidecars(of: buf, path: path, generation: meta.generation)
            }
            ids = ids ?? rebuilt.ids
            due = due ?? rebuilt.due
        }
        let now = Clock.nowMillis()
        return Result(ids: ids!, due: due!, minutes: ThroughputFile.encode(minutes, generation: meta.generation, now: now), jobCount: jobCount)
    }

    /// Where the changed ids' records are in the old file, by its index, in file order; nil when
    /// any answer does not check out against the file itself (then every record is read).
    static func changedRecords<S: Sequence>(in buf: UnsafeBufferPointer<UInt8>, first: Int, index: UnsafeBufferPointer<UInt8>,
                                            ids: S) -> [(id: String, offset: Int, length: Int)]? where S.Element == String {
        let lastEnd = buf.count - 4  // `…}\n]}\n`
        guard lastEnd > first, Array(buf[lastEnd...]) == Array("\n]}\n".utf8) else { return nil }
        var hits: [(id: String, offset: Int, length: Int)] = []
        for id in ids {
            switch IdIndexFile.lookup(id, in: index) {
            case nil: return nil
            case .absent?: continue
            case .present(let offset?, let length?)?:
                // The record must start where the index says, with this id, and be a whole line.
                let head = JobSchema.recordStart + Array(id.utf8) + [0x22]
                guard offset >= first, length > head.count, offset + length <= lastEnd,
                      Array(buf[offset..<(offset + head.count)]) == head, buf[offset + length - 1] == UInt8(ascii: "}"),
                      offset == first || (buf[offset - 2] == UInt8(ascii: ",") && buf[offset - 1] == 0x0A),
                      offset + length == lastEnd || (buf[offset + length] == UInt8(ascii: ",") && buf[offset + length + 1] == 0x0A) else { return nil }
                hits.append((id, offset, length))
            case .present?: return nil
            }
        }
        hits.sort { $0.offset < $1.offset }
        return hits
    }

    /// The new file, written at explicit offsets after the header's room: small pieces through a
    /// buffer, runs of old records straight from the mapped old file.
    struct Output {
        let fd: FileDescriptor, path: String
        var w = ByteWriter(capacity: 1 << 20)
        var flushed = SnapshotFile.headerRoom
        var wroteRecord = false
        init(fd: FileDescriptor, path: String) { (self.fd, self.path) = (fd, path) }
        var offset: Int { flushed + w.bytes.count }
        mutating func separator() {
            if wroteRecord { w.lit(",\n") }
            wroteRecord = true
        }
        mutating func flush() throws {
            guard !w.bytes.isEmpty else { return }
            try Posix.pwriteAll(fd: fd, w.bytes, at: flushed, path: path)
            flushed += w.bytes.count
            w.bytes.removeAll(keepingCapacity: true)
        }
        mutating func flushIfFull() throws { if w.bytes.count > 1 << 20 { try flush() } }
        /// Whether copy_file_range works between these files (a kernel-side copy: no page of the
        /// old file is faulted into this process; not every file system has it).
        var kernelCopy = true
        /// Writes `bytes`, which are also at `offset` of the file open on `source`, in pieces of
        /// `piece` bytes: each piece's writeback starts as soon as it is written, and the one
        /// before it is waited for, so at most two pieces of this file are ever queued for the
        /// disk. Hundreds of MB left dirty until the final fsync would make every other process's
        /// fdatasync wait behind them (ext4 commits them together).
        mutating func direct(_ bytes: UnsafeBufferPointer<UInt8>, from source: FileDescriptor?, at offset: Int) throws {
            try flush()
            var done = 0
            while done < bytes.count {
                let n = min(Output.piece, bytes.count - done)
                try copy(UnsafeBufferPointer(rebasing: bytes[done..<(done + n)]), from: source, at: offset + done, to: flushed + done)
                _ = syncFileRange(fd.rawValue, off_t(flushed + done), off_t(n), 2 /* SYNC_FILE_RANGE_WRITE */)
                if let (at, count) = inFlight { _ = syncFileRange(fd.rawValue, off_t(at), off_t(count), 1 | 2 | 4 /* WAIT_BEFORE|WRITE|WAIT_AFTER */) }
                inFlight = (flushed + done, n)
                done += n
            }
            flushed += bytes.count
        }

        static let piece = 16 << 20
        /// The piece whose writeback was started last and not yet waited for.
        var inFlight: (Int, Int)? = nil

        /// One piece: by the kernel when it can, else through this process.
        private mutating func copy(_ bytes: UnsafeBufferPointer<UInt8>, from source: FileDescriptor?, at offset: Int, to target: Int) throws {
            var done = 0
            while kernelCopy, let source, done < bytes.count {
                var inOff = off_t(offset + done), outOff = off_t(target + done)
                let n = copyFileRange(source.rawValue, &inOff, fd.rawValue, &outOff, bytes.count - done, 0)
                if n > 0 { done += n; continue }
                if n < 0 && errno == EINTR { continue }
                if n < 0 && ![EXDEV, EINVAL, ENOSYS, EOPNOTSUPP, EBADF].contains(errno) {
                    throw SystemError(operation: "write", path: path, code: errno)
                }
                kernelCopy = false  // unsupported here (or the source ended early): write it ourselves
            }
            if done < bytes.count {
                try Posix.pwriteAll(fd: fd, UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[done...]), at: target + done, path: path)
            }
        }
    }

    /// A small Bloom filter over the changed ids, so an untouched record costs no String and no
    /// dictionary lookup.
    struct IdFilter {
        var bits: [UInt64]
        init<S: Sequence>(_ ids: S) where S.Element == String {
            var n = 0
            for _ in ids { n += 1 }
            bits = [UInt64](repeating: 0, count: max(1, (n * 16 + 63) / 64))
            for id in ids {
                var s = id
                s.withUTF8 { b in insert(IdFilter.hash(b)) }
            }
        }
        static func hash(_ b: UnsafeBufferPointer<UInt8>) -> UInt64 {
            var h: UInt64 = 0xcbf29ce484222325
            for c in b { h = (h ^ UInt64(c)) &* 0x100000001b3 }
            return h
        }
        mutating func insert(_ h: UInt64) {
            let m = UInt64(bits.count * 64)
            for k in [h % m, (h >> 32 ^ h &* 0x9E3779B97F4A7C15) % m] { bits[Int(k / 64)] |= 1 << (k % 64) }
        }
        func mayContain(_ buf: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Bool {
            let h = IdFilter.hash(UnsafeBufferPointer(rebasing: buf[r]))
            let m = UInt64(bits.count * 64)
            for k in [h % m, (h >> 32 ^ h &* 0x9E3779B97F4A7C15) % m] where bits[Int(k / 64)] & (1 << (k % 64)) == 0 { return false }
            return true
        }
    }
}

/// Glibc's sync_file_range(2), which Swift's Glibc module does not show.
@_silgen_name("sync_file_range")
private func syncFileRange(_ fd: Int32, _ offset: off_t, _ count: off_t, _ flags: UInt32) -> Int32

/// Glibc's copy_file_range(2), which Swift's Glibc module does not show.
@_silgen_name("copy_file_range")
private func copyFileRange(_ fdIn: Int32, _ offIn: UnsafeMutablePointer<off_t>?, _ fdOut: Int32,
                           _ offOut: UnsafeMutablePointer<off_t>?, _ length: Int, _ flags: UInt32) -> Int

extension IdIndexFile {
    /// `find`, over an index already in memory.
    static func lookup(_ id: String, in buf: UnsafeBufferPointer<UInt8>) -> Answer? {
        guard let first = JournalFile.nextNewline(buf, from: 0) else { return nil }
        var lo = first + 1, hi = buf.count
        while lo < hi {
            let mid = (lo + hi) / 2
            var start = mid
            while start > lo && buf[start - 1] != 0x0A { start -= 1 }
            guard let nl = JournalFile.nextNewline(buf, from: start) else { return nil }
            var tab = start
            while tab < nl && buf[tab] != 0x09 { tab += 1 }
            let c = compare(id, UnsafeBufferPointer(rebasing: buf[start..<tab]))
            if c == 0 {
                let fields = buf[tab..<nl].split(separator: 0x09).map { Int(String(decoding: $0, as: UTF8.self)) }
                return .present(offset: fields.first ?? nil, length: fields.count > 1 ? fields[1] : nil)
            }
            if c < 0 { hi = start } else { lo = nl + 1 }
        }
        return .absent
    }

    /// The old index with each untouched id's offset shifted (`shifts`: from a base offset on,
    /// records moved by `by`), changed ids dropped, and `placed` (sorted by id) merged in.
    /// nil when the old index is not in the expected form (then it is rebuilt).
    static func remap(_ old: UnsafeBufferPointer<UInt8>, generation: Int64, changed: (UnsafeBufferPointer<UInt8>, Range<Int>) -> Bool,
                      shifts: [(from: Int, by: Int)], placed: [(id: String, offset: Int, length: Int)]) -> [[UInt8]]? {
        guard let first = JournalFile.nextNewline(old, from: 0) else { return nil }
        var w = ByteWriter(capacity: old.count + placed.count * 40 + 64)
        w.raw("generation \(generation)\n")
        var p = 0
        func writePlaced(upTo idBytes: UnsafeBufferPointer<UInt8>?) {
            while p < placed.count {
                if let b = idBytes {
                    var s = placed[p].id
                    let less = s.withUTF8 { compare(Array($0), Array(b)) < 0 }
                    if !less { return }
                }
                w.raw(placed[p].id); w.lit("\t"); w.int(placed[p].offset); w.lit("\t"); w.int(placed[p].length); w.lit("\n")
                p += 1
            }
        }
        var i = first + 1
        while i < old.count {
            guard let nl = JournalFile.nextNewline(old, from: i) else { return nil }
            defer { i = nl + 1 }
            guard let t1 = (i..<nl).first(where: { old[$0] == 0x09 }), let t2 = ((t1 + 1)..<nl).first(where: { old[$0] == 0x09 }) else { return nil }
            func number(_ r: Range<Int>) -> Int? {
                guard !r.isEmpty, r.count < 18 else { return nil }
                var v = 0
                for k in r { guard old[k] >= 0x30 && old[k] <= 0x39 else { return nil }; v = v * 10 + Int(old[k] - 0x30) }
                return v
            }
            guard let offset = number((t1 + 1)..<t2), let length = number((t2 + 1)..<nl) else { return nil }
            if changed(old, i..<t1) { continue }
            // The last shift that starts at or before this record.
            var lo = 0, hi = shifts.count
            while lo < hi { let mid = (lo + hi) / 2; if shifts[mid].from <= offset { lo = mid + 1 } else { hi = mid } }
            guard lo > 0 else { return nil }
            writePlaced(upTo: UnsafeBufferPointer(rebasing: old[i..<t1]))
            w.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: old[i..<t1]))
            w.lit("\t"); w.int(offset + shifts[lo - 1].by); w.lit("\t"); w.int(length); w.lit("\n")
        }
        writePlaced(upTo: nil)
        return [w.bytes]
    }
}

extension SnapshotFile {
    /// `jobs.ids` and `jobs.due` for a snapshot, from its records (ids and due times are read
    /// from each line, no job is decoded).
    static func sidecars(of buf: UnsafeBufferPointer<UInt8>, path: String, generation: Int64) throws -> (ids: [[UInt8]], due: [[UInt8]]) {
        let (_, bodyStart) = try readMeta(buffer: buf, path: path)
        var locations: [Location] = []
        var due: [(Millis, String)] = []
        var i = (JournalFile.nextNewline(buf, from: bodyStart) ?? buf.count) + 1
        var released = 0
        while i < buf.count {
            let nl = JournalFile.nextNewline(buf, from: i) ?? buf.count
            var end = nl
            defer { i = nl + 1 }
            if end > i && buf[end - 1] == UInt8(ascii: ",") { end -= 1 }
            guard end - i > 8, let f = ScheduleScan.job(in: buf, start: i, end: end) else { continue }
            locations.append(Location(id: f.id, offset: i, length: end - i))
            if f.waiting, let d = f.due { due.append((d, f.id)) }
            if i - released > 8 << 20 {
                Posix.releaseMapped(buf, upTo: i)
                released = i
            }
        }
        return (IdIndexFile.encode(locations: locations, generation: generation), DueIndexFile.encode(entries: due, generation: generation))
    }
}
