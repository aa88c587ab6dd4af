import Glibc

/// Loading (ARCHITECTURE.md, "The home"): a view of the files under the caller's lock — the
/// snapshot of the journal's generation, its kept tail, the journal — either light (header,
/// sidecars, the journal mapped) or whole (every job, kept as the cache and followed
/// incrementally, across other processes' compactions too).
extension JSONStore {

    /// What a refresh learned: the snapshot header (light) or the full state (in `cache`),
    /// the journal's entries (light) and where the journal's valid bytes end.
    struct View {
        var meta: SnapshotFile.Meta?
        var generation: Int64
        var snapshotExists: Bool
        /// The snapshot file this view was read from (see `locateSnapshot`).
        var snapshotPath = ""
        /// Light mode: the journal's bytes and where its change lines start (after the header).
        /// Light mode: the journal, mapped (or read, where it cannot be mapped: `journalCopy`).
        /// Only while the lock is held: after it, another process may truncate the file.
        var journalMap: Posix.MappedFile?
        var journalCopy: [UInt8] = []
        /// A copy of the journal's first `n` bytes (to keep beyond the lock).
        func journalPrefix(_ n: Int) -> [UInt8] {
            if let m = journalMap { return Array(m.buffer[0..<n]) }
            return Array(journalCopy[0..<n])
        }
        var changesStart = 0
        /// Light mode: every change made since the snapshot, oldest first, as complete journal
        /// lines: the snapshot's tail (when a background compaction cut it, see `readTail`)
        /// followed by this journal's change lines. What the light readers scan.
        /// (Usually the journal's own bytes, not a copy: `changeStorage[changeRange]`.)
        var changeStorage: [UInt8] = []
        var changeRange = 0..<0
        func withChanges<T>(_ body: (UnsafeBufferPointer<UInt8>) throws -> T) rethrows -> T {
            if changeStorage.isEmpty, let m = journalMap { return try body(UnsafeBufferPointer(rebasing: m.buffer[changeRange])) }
            return try changeStorage.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[changeRange])) }
        }
        /// The changes as a copy of their own (to use beyond the lock).
        var changesCopy: [UInt8] { withChanges { Array($0) } }
        var hasChanges: Bool { !changeRange.isEmpty }

        /// Scans the change lines' id/op/from/to (for counts), without parsing jobs.
        func journalEntries(path: String) throws -> [JournalFile.Entry] {
            try withChanges { buf in
                try JournalFile.lineRanges(buf, from: 0, to: buf.count).enumerated().map { n, r in
                    try JournalFile.scan(UnsafeBufferPointer(rebasing: buf[r]), path: path, lineNo: n + 1)
                }
            }
        }
        var journalSize = 0
        var journalValidEnd = 0
        /// The journal's inode, as read under the lock.
        var journalIno: UInt64 = 0
        var journalNeedsReset = false
        /// The full state was loaded (into `cache`, or `loaded` when it cannot be cached).
        var loaded: QueueState?
    }

    /// The journal, opened for reading; `forWriting` reopens it for writing. A descriptor opened
    /// for writing wakes every idle worker's inotify watch when it is closed (HomeWatch.swift),
    /// so a transaction that writes nothing must not hold one. Caller holds the lock.
    func openJournal(forWriting: Bool = false) throws -> FileDescriptor {
        if let fd = journalFd {
            if journalWritable || !forWriting { return fd }
            closeJournal()
        }
        let fd = try Posix.open(home.journal, (forWriting ? O_RDWR : O_RDONLY) | O_CREAT, 0o600)
        journalFd = fd
        journalWritable = forWriting
        return fd
    }

    /// The journal's identity: its header's generation and its inode (it is truncated in place,
    /// never replaced, so the inode is stable while the generation changes at each compaction).
    struct JournalKey: Equatable { var generation: Int64?; var ino: UInt64 }

    func currentJournalKey() throws -> JournalKey {
        let fd = try openJournal()
        var st = stat()
        guard fstat(fd.rawValue, &st) == 0 else { throw SystemError(operation: "stat", path: home.journal, code: errno) }
        return JournalKey(generation: try journalGeneration(fd), ino: UInt64(st.st_ino))
    }

    /// The snapshot that goes with a journal of generation `g`: `jobs.<g>.json`, a name that is
    /// new at every compaction, so no machine can open it through a directory entry it cached
    /// before (a renamed-over `jobs.json` can look old to another client for about a second).
    /// Homes written before these links existed fall back to `jobs.json`.
    func locateSnapshot(generation g: Int64?) -> String? {
        if let g = g {
            let linked = home.snapshot(generation: g)
            if Posix.exists(linked) { return linked }
        }
        return Posix.exists(home.snapshot) ? home.snapshot : nil
    }

    /// Brings this process's view up to date. Caller holds the lock. A snapshot older than the
    /// journal is what another client's stale directory entry shows for a moment after a
    /// compaction there: look again for up to two seconds before calling the home corrupt.
    func refresh(full: Bool) throws -> View {
        var attempt = 0
        while true {
            do {
                return try refreshOnce(full: full)
            } catch let e as StaleSnapshot {
                attempt += 1
                if attempt > 40 { throw e.error }
                closeJournal()
                Posix.sleep(seconds: 0.05)
            }
        }
    }

    struct StaleSnapshot: Error { let error: QueueError }

    func refreshOnce(full: Bool) throws -> View {
        let jfd = try openJournal()
        let jpath = home.journal
        let key = try currentJournalKey()

        // Another process compacted since we looked: catch up through the kept journal if we can.
        if full, cache != nil, key.generation != cache!.generation, key.ino == cache!.journalIno {
            try followCompaction(jfd)
        }
        // Incremental: same journal and generation as last time, read only the appended bytes.
        // Only scalars are read out of the cache here: binding the cache itself (`let c = cache`)
        // would share its job table, and the first change applied below would copy every job.
        if full, cache != nil, key == JournalKey(generation: cache!.generation, ino: cache!.journalIno) {
            let offset = cache!.journalOffset
            let generation = cache!.generation
            var st = stat()
            guard fstat(jfd.rawValue, &st) == 0 else { throw SystemError(operation: "stat", path: jpath, code: errno) }
            if Int(st.st_size) < offset {
                cache = nil  // journal shrank under us: reload from scratch
                return try refreshOnce(full: full)
            }
            let fresh = try Posix.readAll(fd: jfd, from: offset, path: jpath)
            var view = View(meta: nil, generation: generation, snapshotExists: true)
            if cache!.snapshotPath == nil { cache!.snapshotPath = locateSnapshot(generation: generation) ?? home.snapshot }
            view.snapshotPath = cache!.snapshotPath!
            // Apply to the cached state in place: a copy of the cache would share the job
            // dictionary, and the first change would then copy every job.
            do {
                try fresh.withUnsafeBufferPointer { buf in
                    let validEnd = JournalFile.validEnd(buf)
                    for r in JournalFile.lineRanges(buf, from: 0, to: validEnd) {
                        let e = try JournalFile.parse(UnsafeBufferPointer(rebasing: buf[r]), path: jpath, lineNo: 0)
                        apply(e, to: &cache!.state)
                    }
                    cache!.journalOffset = offset + validEnd
                    view.journalSize = offset + buf.count
                    view.journalValidEnd = offset + validEnd
                }
            } catch {
                cache = nil  // partly applied: start over next time
                throw error
            }
            return view
        }

        // From scratch.
        let snapPath = locateSnapshot(generation: key.generation)
        var view = View(meta: nil, generation: 0, snapshotExists: snapPath != nil)
        view.journalIno = key.ino
        view.snapshotPath = snapPath ?? home.snapshot
        var state = QueueState()
        var tail: [UInt8] = []
        if let path = snapPath {
            if full {
                fullLoads += 1
                let omitting = keepsFinished ? nil : OmittedJobs(snapshotPath: path, idIndexPath: home.idIndex)
                let decoded = try Posix.withMappedFile(path) { buf in
                    try buf.map { try SnapshotFile.decode(buffer: $0, path: home.snapshot, omitting: omitting) }
                }
                guard let (s, meta) = decoded else { return try refreshOnce(full: full) }
                state = s
                view.generation = meta.generation
                if let c = meta.cut {
                    tail = try readTail(c)
                    try applyLines(tail, path: home.journal(generation: c.generation), to: &state)
                }
            } else {
                let meta = try readSnapshotMeta(path)
                view.meta = meta
                view.generation = meta.generation
                if let c = meta.cut { tail = try readTail(c) }
            }
        }
        // A light view maps the journal (no copy, and no fresh memory to fault in): the lock
        // held while the view is used keeps anyone from truncating it. A full load reads it.
        let mapped = full ? nil : try Posix.mapFile(fd: jfd, path: jpath)
        let jbytes = mapped == nil ? try Posix.readAll(fd: jfd, from: 0, path: jpath) : []
        view.journalSize = mapped?.buffer.count ?? jbytes.count
        try { (body: (UnsafeBufferPointer<UInt8>) throws -> Void) in
            if let m = mapped { try body(m.buffer) } else { try jbytes.withUnsafeBufferPointer { try body($0) } }
        }() { buf in
            let validEnd = JournalFile.validEnd(buf)
            view.journalValidEnd = validEnd
            guard let firstEnd = JournalFile.nextNewline(buf, from: 0), firstEnd < validEnd else {
                view.journalNeedsReset = true  // empty, or only a torn header
                return
            }
            guard let jgen = JournalFile.parseHeader(UnsafeBufferPointer(rebasing: buf[0..<firstEnd])) else {
                throw QueueError.corrupt(path: jpath, reason: "the first line is not a journal header")
            }
            if snapPath == nil && validEnd > firstEnd + 1 {
                throw QueueError.corrupt(path: home.snapshot, reason: "the file is missing while \(jpath) holds changes")
            }
            if jgen > view.generation {
                throw StaleSnapshot(error: QueueError.corrupt(path: jpath, reason: "it belongs to a newer jobs.json (generation \(jgen), jobs.json has \(view.generation))"))
            }
            if jgen < view.generation {
                // A compaction finished its rename and died before resetting the journal:
                // these changes are already in jobs.json.
                view.journalNeedsReset = true
                return
            }
            view.changesStart = firstEnd + 1
            if full {
                for (n, r) in JournalFile.lineRanges(buf, from: firstEnd + 1, to: validEnd).enumerated() {
                    apply(try JournalFile.parse(UnsafeBufferPointer(rebasing: buf[r]), path: jpath, lineNo: n + 2), to: &state)
                }
            }
        }
        if !full {
            let own = view.journalNeedsReset ? 0..<0 : view.changesStart..<view.journalValidEnd
            view.journalMap = mapped
            if !tail.isEmpty {
                view.changeStorage = tail + (mapped.map { Array($0.buffer[own]) } ?? Array(jbytes[own]))
                view.changeRange = 0..<view.changeStorage.count
            } else if mapped != nil {
                view.changeRange = own  // read in place, in the mapped journal
            } else {
                view.changeStorage = jbytes
                view.changeRange = own
            }
            if mapped == nil { view.journalCopy = jbytes }
        }
        if full {
            let c = Cache(state: state, generation: view.generation, journalIno: key.ino,
                          journalOffset: view.journalValidEnd)
            if snapPath == nil || view.journalNeedsReset {
                cache = nil
                view.loaded = state
            } else {
                cache = c
            }
        } else {
            cache = nil
        }
        return view
    }

    /// A snapshot written by a background compaction holds the state at a cut of the previous
    /// generation's journal; the changes made after the cut, while it was being written, are
    /// the rest of that journal, kept as `journal.<G>.jsonl`. Returns them as complete lines.
    /// Missing while the snapshot names it: another client's stale view of the directory, for
    /// a moment (retried like a stale snapshot), else a damaged home.
    func readTail(_ c: SnapshotFile.Cut) throws -> [UInt8] {
        let path = home.journal(generation: c.generation)
        guard let fd = try Posix.openIfExists(path) else {
            throw StaleSnapshot(error: .corrupt(path: home.snapshot, reason: "it continues in \(path), which is missing"))
        }
        defer { fd.close() }
        guard try journalGeneration(fd) == c.generation else {
            throw StaleSnapshot(error: .corrupt(path: path, reason: "it is not the journal of generation \(c.generation) that jobs.json continues in"))
        }
        var bytes = try Posix.readAll(fd: fd, from: c.offset, path: path)
        let end = bytes.withUnsafeBufferPointer { JournalFile.validEnd($0) }
        bytes.removeSubrange(end...)
        return bytes
    }

    func applyLines(_ bytes: [UInt8], path: String, to state: inout QueueState) throws {
        try bytes.withUnsafeBufferPointer { buf in
            for (n, r) in JournalFile.lineRanges(buf, from: 0, to: buf.count).enumerated() {
                apply(try JournalFile.parse(UnsafeBufferPointer(rebasing: buf[r]), path: path, lineNo: n + 1), to: &state)
            }
        }
    }

    /// The generation in the journal's header line (every compaction bumps it), so a reused
    /// inode number of jobs.json cannot fool the incremental path.
    func journalGeneration(_ fd: FileDescriptor) throws -> Int64? { try journalHeader(fd)?.0.generation }

    func journalHeader(_ fd: FileDescriptor) throws -> (JournalFile.Header, length: Int)? {
        var head = [UInt8](repeating: 0, count: 256)
        let n = head.withUnsafeMutableBytes { pread(fd.rawValue, $0.baseAddress!, 256, 0) }
        if n < 0 { throw SystemError(operation: "read", path: home.journal, code: errno) }
        guard n > 0, let nl = head[0..<n].firstIndex(of: 0x0A) else { return nil }
        return head.withUnsafeBufferPointer { b in
            JournalFile.parseHeaderInfo(UnsafeBufferPointer(rebasing: b[0..<nl])).map { ($0, nl + 1) }
        }
    }

    /// Another process compacted since this one last looked. When the new journal says it follows
    /// our generation from an offset we have not passed, the rest of our generation's journal is
    /// read from its kept copy and applied: the cached state then equals the new snapshot, with
    /// no reload of every job. Otherwise nothing happens and the caller reloads from scratch.
    func followCompaction(_ jfd: FileDescriptor) throws {
        guard let (header, length) = try journalHeader(jfd), let f = header.follows,
              let from = cache?.journalOffset, f.generation == cache?.generation, f.offset >= from else { return }
        let path = home.journal(generation: f.generation)
        guard let fd = Posix.openQuietly(path) else { return }
        defer { fd.close() }
        guard try journalGeneration(fd) == f.generation else { return }
        var bytes = try Posix.readAll(fd: fd, from: from, path: path)
        guard bytes.count >= f.offset - from else { return }
        bytes.removeSubrange((f.offset - from)...)
        do {
            try bytes.withUnsafeBufferPointer { buf in
                for r in JournalFile.lineRanges(buf, from: 0, to: JournalFile.validEnd(buf)) {
                    apply(try JournalFile.parse(UnsafeBufferPointer(rebasing: buf[r]), path: path, lineNo: 0), to: &cache!.state)
                }
            }
        } catch {
            cache = nil
            throw error
        }
        cache!.generation = header.generation
        cache!.journalOffset = length
        cache!.snapshotPath = nil
        if let o = cache!.state.omitted {
            // Omitted jobs are read from the new snapshot now: their records there are unchanged.
            o.generation = header.generation
            o.snapshotPath = locateSnapshot(generation: header.generation) ?? home.snapshot
        }
    }

    func apply(_ e: JournalFile.Entry, to state: inout QueueState) {
        switch e.op {
        case .put: if let j = e.job { state.put(j, isNew: e.from == nil) }
        case .del: state.remove(e.id)
        }
    }

    /// Reads only the header line and the size of `jobs.json`.
    func readSnapshotMeta(_ path: String) throws -> SnapshotFile.Meta {
        let fd = try Posix.open(path, O_RDONLY)
        defer { fd.close() }
        var st = stat()
        guard fstat(fd.rawValue, &st) == 0 else { throw SystemError(operation: "stat", path: path, code: errno) }
        let size = Int(st.st_size)
        // The header line is about a kilobyte: read 4 KiB first, and up to 64 KiB only if it is
        // longer (so a 40 MB jobs.json costs an enqueue what a small one does).
        var head: [UInt8] = []
        var nl: Int? = nil
        for want in [min(size, 4096), min(size, 65536)] where nl == nil && want > head.count {
            head = [UInt8](repeating: 0, count: want)
            let n = head.withUnsafeMutableBytes { pread(fd.rawValue, $0.baseAddress!, $0.count, 0) }
            if n < 0 { throw SystemError(operation: "read", path: path, code: errno) }
            guard n == head.count else { break }
            nl = head.firstIndex(of: 0x0A)
        }
        guard let nl else {
            throw QueueError.corrupt(path: home.snapshot, reason: "no header line")
        }
        var tail = [UInt8](repeating: 0, count: 3)
        if size >= 3 {
            let got = tail.withUnsafeMutableBytes { pread(fd.rawValue, $0.baseAddress!, 3, off_t(size - 3)) }
            guard got == 3 else { throw QueueError.corrupt(path: home.snapshot, reason: "cannot read its last bytes") }
        }
        return try SnapshotFile.readMeta(headerLine: Array(head[0..<nl]), fileSize: size, tail: tail, path: home.snapshot)
    }
}
