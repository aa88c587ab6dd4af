import Glibc

/// The only code that touches the queue's files (ARCHITECTURE.md, "The store").
///
/// Every change goes through `transaction`: lock `queue.lock` (flock, exclusive), bring the state
/// up to date, let the caller mutate, append the changes to `journal.jsonl` and fdatasync, unlock.
/// The journal is folded into a new `jobs.json` (temp + fsync + rename + directory fsync) when it
/// passes `compactThreshold`, so one change costs the same whatever the number of jobs.
///
/// Two ways to see the state inside a transaction:
/// - light (enqueue): the snapshot's header, `jobs.ids` and a scan of the journal — enough to
///   check that an id is free without reading any job;
/// - full (`tx.state`, `tx.job`): every job in memory. Long-lived processes (workers) keep it and
///   read only the journal bytes appended since they last looked.
public final class JSONStore {
    public let home: Home
    /// Journal size that triggers compaction (config `journal_max_bytes` unless a test sets it).
    /// Small enough that scanning the journal stays cheap.
    public var compactThreshold: Int?
    /// Whether the state this process keeps holds finished jobs. A worker sets it false: the
    /// finished jobs of the snapshot stay on disk (OmittedJobs), so its memory and its claims
    /// depend on live jobs only (ARCHITECTURE.md, "Finished jobs stay on disk").
    public var keepsFinished = true

    private var lockFd: Int32 = -1
    /// The journal, opened after the lock was taken and closed before it is released: on a
    /// network file system only a descriptor opened under the lock sees other machines' writes
    /// (close-to-open consistency), and only closing it makes ours visible to them.
    private var journalFd: Int32 = -1
    var cache: Cache?
    /// How many times this process loaded every job from a snapshot (tests check that following
    /// another process's compaction does not).
    private(set) var fullLoads = 0

    /// What this process has loaded: the full state at (generation, journal inode, journal offset),
    /// and the snapshot file of that generation (its name never changes, so it is looked up once).
    struct Cache {
        var state: QueueState
        var generation: Int64
        var journalIno: UInt64
        var journalOffset: Int
        var snapshotPath: String? = nil
    }

    public init(home: Home) {
        self.home = home
    }

    deinit { closeFiles() }

    /// Drops inherited descriptors and cached state; a forked child calls this before using the store
    /// (an inherited flock descriptor would share the parent's lock).
    public func closeFiles() {
        closeJournal()
        if lockFd >= 0 { close(lockFd); lockFd = -1 }
        cache = nil
    }

    private func closeJournal() {
        if journalFd >= 0 { close(journalFd); journalFd = -1 }
    }

    // MARK: - Public API

    /// Read-modify-write under the exclusive lock. If `body` throws, nothing is written.
    @discardableResult
    public func transaction<T>(_ body: (Transaction) throws -> T) throws -> T {
        let result: T = try {
            try lock(LOCK_EX)
            defer { unlock() }
            let tx = try begin()
            let result: T
            do {
                result = try body(tx)
            } catch {
                tx.rollback()
                throw error
            }
            try commit(tx)
            return result
        }()
        if compactionWanted {
            compactionWanted = false
            startCompaction()
        }
        return result
    }

    /// Set by a commit that took the journal past its bound, with what it saw.
    private var compactionWanted = false
    var lastCommitted: View?
    /// When this process last started a detached compactor.
    var lastCompactorStart: Double?

    /// A consistent view of every job. The shared lock is held only while the files are read.
    public func read<T>(_ body: (QueueState) throws -> T) throws -> T {
        try lock(LOCK_SH)
        let state: QueueState
        do {
            let view = try refresh(full: true)
            state = view.loaded ?? cache?.state ?? QueueState()
        } catch {
            unlock()
            throw error
        }
        unlock()
        return try body(state)
    }

    /// One job, without loading the others: its last line in the journal, else its record in the
    /// snapshot found through `jobs.ids` (binary search) and read with one pread. A process that
    /// already keeps every job in memory, or a home whose index does not fit, reads them instead.
    public func job(_ id: String) throws -> Job? {
        if cache != nil {
            // Under the lock: a job the state omits is read from the snapshot it names.
            try lock(LOCK_SH)
            defer { unlock() }
            let view = try refresh(full: true)
            return (view.loaded ?? cache?.state)?.job(id)
        }
        try lock(LOCK_SH)
        let found: Job??
        do {
            found = try lookup(id)
        } catch {
            unlock()
            throw error
        }
        unlock()
        if let answer = found { return answer }
        return try read { $0[id] }
    }

    /// nil when the files cannot answer (then the caller loads every job). Caller holds the lock.
    func lookup(_ id: String) throws -> Job?? {
        let view = try refresh(full: false)
        let hit = view.withChanges { buf -> (JournalFile.Op, Range<Int>)? in
            JournalFile.lastLine(of: id, in: buf, from: 0, to: buf.count)
        }
        if let (op, range) = hit {
            if op == .del { return .some(nil) }
            let e = try view.withChanges {
                try JournalFile.parse(UnsafeBufferPointer(rebasing: $0[range]), path: home.journal, lineNo: 0)
            }
            return .some(e.job)
        }
        guard view.snapshotExists else { return .some(nil) }
        let fd = Glibc.open(home.idIndex, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        switch IdIndexFile.find(id, fd: fd, generation: view.generation) {
        case nil: return nil
        case .absent?: return .some(nil)
        case .present(let offset?, let length?)?:
            // nil: the index does not match the snapshot, so let the full read decide
            return SnapshotFile.record(id, at: offset, length: length, path: view.snapshotPath).map { .some($0) }
        case .present?: return nil
        }
    }

    /// Jobs per state without loading any job: the snapshot header plus the journal's transitions.
    public func counts() throws -> [JobState: Int] {
        try lock(LOCK_SH)
        defer { unlock() }
        if cache != nil, try currentJournalKey() == JournalKey(generation: cache!.generation, ino: cache!.journalIno) {
            let view = try refresh(full: true)
            return (view.loaded ?? cache?.state ?? QueueState()).counts
        }
        return try lightCounts(try refresh(full: false))
    }

    /// Counts from a light view: the snapshot header plus the journal's transitions.
    func lightCounts(_ view: View) throws -> [JobState: Int] {
        var counts = view.meta?.counts ?? [:]
        for e in try view.journalEntries(path: home.journal) {
            if let f = e.from { counts[f, default: 0] -= 1 }
            if let t = e.to { counts[t, default: 0] += 1 }
        }
        return counts
    }

    /// Whether this process keeps every job in memory (then reading them is incremental).
    var keepsState: Bool { cache != nil }

    /// config.json as last read, with the (inode, size, mtime) it had: re-read only when it changes.
    /// config.json as last read (by inode, size and mtime) and the problems already reported:
    /// see ConfigFile.swift.
    var configCache: (key: [Int], config: Config)?
    var reportedConfigProblems: [String] = []

    /// Whether this process wrote changes without waiting for the disk (`durable = false`).
    public private(set) var hasUnsyncedWrites = false

    /// Flushes the journal: a worker calls this when it goes idle, so the results it recorded
    /// without waiting (to keep job throughput up) are on disk within moments.
    /// fsync works on the file, not the descriptor, so a fresh descriptor flushes what earlier
    /// transactions wrote. A failure is reported and the writes stay marked unsynced.
    public func syncJournal() throws {
        guard hasUnsyncedWrites else { return }
        let fd = try Posix.open(home.journal, O_RDWR)
        defer { close(fd) }
        guard fdatasync(fd) == 0 else { throw SystemError(operation: "sync", path: home.journal, code: errno) }
        hasUnsyncedWrites = false
    }

    /// Current journal size and snapshot inode, to tell cheaply whether anything changed.
    public func changeMarker() -> [Int] {
        var a = stat(), b = stat()
        let js = stat(home.journal, &a) == 0 ? Int(a.st_size) : -1
        let si = stat(home.snapshot, &b) == 0 ? Int(b.st_ino) : -1
        return [js, si]
    }

    // MARK: - Locking

    func lock(_ op: Int32) throws {
        if lockFd < 0 {
            try home.create()
            lockFd = try Posix.open(home.lock, O_RDWR | O_CREAT, 0o600)
        }
        while flock(lockFd, op) != 0 {
            if errno == EINTR { continue }
            throw SystemError(operation: "lock", path: home.lock, code: errno)
        }
    }

    func unlock() {
        closeJournal()
        if lockFd >= 0 { flock(lockFd, LOCK_UN) }
    }

    // MARK: - Loading

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
        var journalNeedsReset = false
        /// The full state was loaded (into `cache`, or `loaded` when it cannot be cached).
        var loaded: QueueState?
    }

    func openJournal() throws -> Int32 {
        if journalFd < 0 {
            journalFd = try Posix.open(home.journal, O_RDWR | O_CREAT, 0o600)
        }
        return journalFd
    }

    /// The journal's identity: its header's generation and its inode (it is truncated in place,
    /// never replaced, so the inode is stable while the generation changes at each compaction).
    struct JournalKey: Equatable { var generation: Int64?; var ino: UInt64 }

    func currentJournalKey() throws -> JournalKey {
        let fd = try openJournal()
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SystemError(operation: "stat", path: home.journal, code: errno) }
        return JournalKey(generation: try journalGeneration(fd), ino: UInt64(st.st_ino))
    }

    /// The snapshot that goes with a journal of generation `g`: `jobs.<g>.json`, a name that is
    /// new at every compaction, so no machine can open it through a directory entry it cached
    /// before (a renamed-over `jobs.json` can look old to another client for about a second).
    /// Homes written before these links existed fall back to `jobs.json`.
    private func locateSnapshot(generation g: Int64?) -> String? {
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

    private struct StaleSnapshot: Error { let error: QueueError }

    private func refreshOnce(full: Bool) throws -> View {
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
            guard fstat(jfd, &st) == 0 else { throw SystemError(operation: "stat", path: jpath, code: errno) }
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
    private func readTail(_ c: SnapshotFile.Cut) throws -> [UInt8] {
        let path = home.journal(generation: c.generation)
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT {
                throw StaleSnapshot(error: .corrupt(path: home.snapshot, reason: "it continues in \(path), which is missing"))
            }
            throw SystemError(operation: "read", path: path, code: errno)
        }
        defer { close(fd) }
        guard try journalGeneration(fd) == c.generation else {
            throw StaleSnapshot(error: .corrupt(path: path, reason: "it is not the journal of generation \(c.generation) that jobs.json continues in"))
        }
        var bytes = try Posix.readAll(fd: fd, from: c.offset, path: path)
        let end = bytes.withUnsafeBufferPointer { JournalFile.validEnd($0) }
        bytes.removeSubrange(end...)
        return bytes
    }

    private func applyLines(_ bytes: [UInt8], path: String, to state: inout QueueState) throws {
        try bytes.withUnsafeBufferPointer { buf in
            for (n, r) in JournalFile.lineRanges(buf, from: 0, to: buf.count).enumerated() {
                apply(try JournalFile.parse(UnsafeBufferPointer(rebasing: buf[r]), path: path, lineNo: n + 1), to: &state)
            }
        }
    }

    /// The generation in the journal's header line (every compaction bumps it), so a reused
    /// inode number of jobs.json cannot fool the incremental path.
    func journalGeneration(_ fd: Int32) throws -> Int64? { try journalHeader(fd)?.0.generation }

    private func journalHeader(_ fd: Int32) throws -> (JournalFile.Header, length: Int)? {
        var head = [UInt8](repeating: 0, count: 256)
        let n = head.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, 256, 0) }
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
    private func followCompaction(_ jfd: Int32) throws {
        guard let (header, length) = try journalHeader(jfd), let f = header.follows,
              let from = cache?.journalOffset, f.generation == cache?.generation, f.offset >= from else { return }
        let path = home.journal(generation: f.generation)
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
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

    private func apply(_ e: JournalFile.Entry, to state: inout QueueState) {
        switch e.op {
        case .put: if let j = e.job { state.put(j, isNew: e.from == nil) }
        case .del: state.remove(e.id)
        }
    }

    /// Reads only the header line and the size of `jobs.json`.
    private func readSnapshotMeta(_ path: String) throws -> SnapshotFile.Meta {
        let fd = try Posix.open(path, O_RDONLY)
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SystemError(operation: "stat", path: path, code: errno) }
        let size = Int(st.st_size)
        var head = [UInt8](repeating: 0, count: min(size, 65536))
        let n = head.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, $0.count, 0) }
        if n < 0 { throw SystemError(operation: "read", path: path, code: errno) }
        guard n == head.count, let nl = head.firstIndex(of: 0x0A) else {
            throw QueueError.corrupt(path: home.snapshot, reason: "no header line")
        }
        var tail = [UInt8](repeating: 0, count: 3)
        if size >= 3 {
            let got = tail.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, 3, off_t(size - 3)) }
            guard got == 3 else { throw QueueError.corrupt(path: home.snapshot, reason: "cannot read its last bytes") }
        }
        return try SnapshotFile.readMeta(headerLine: Array(head[0..<nl]), fileSize: size, tail: tail, path: home.snapshot)
    }

    // MARK: - Transactions

    /// A worker's state reloads (omitting finished jobs again) once the jobs finished since its
    /// load outnumber this many and its live jobs: the reload costs one read of the snapshot.
    var finishedResidentLimit = 16_384

    private func begin() throws -> Transaction {
        if !keepsFinished, cache != nil {
            let finished = cache!.state.residentFinished
            if finished > finishedResidentLimit && finished > cache!.state.count - finished { cache = nil }
        }
        var view = try refresh(full: cache != nil)
        let state = takeCachedState(&view)
        return Transaction(store: self, view: view, config: try config(), state: state)
    }

    /// Moves the full state out of the cache so the transaction owns the only reference:
    /// mutating a shared dictionary would copy every job (copy-on-write) on each change.
    private func takeCachedState(_ view: inout View) -> QueueState? {
        if let loaded = view.loaded {
            view.loaded = nil
            return loaded
        }
        guard cache != nil else { return nil }
        let s = cache!.state
        cache!.state = QueueState()
        return s
    }

    func loadFull(_ tx: Transaction) throws -> QueueState {
        var view = try refresh(full: true)
        let s = takeCachedState(&view) ?? QueueState()
        tx.view = view
        return s
    }

    func dropCache() { cache = nil }

    private func commit(_ tx: Transaction) throws {
        guard !tx.changes.isEmpty else {
            // Nothing to write: hand the (unchanged) state back to the cache.
            if cache != nil, let s = tx.fullState { cache!.state = s } else { cache = nil }
            tx.fullState = nil
            return
        }
        let jfd = try openJournal()
        // Serialise the changes, but stop as soon as they would push the journal past the bound.
        let threshold = compactThreshold ?? tx.config.journalMaxBytes
        let room = threshold - tx.view.journalSize
        var lines: [[UInt8]] = []
        var newBytes = 0
        // A transaction of ordinary size is appended even past the bound, and the compaction then
        // keeps this journal for processes that follow it (see followCompaction); only a batch
        // larger than the bound itself goes straight into a new snapshot.
        for c in tx.changes where newBytes <= max(room, 0) + threshold {
            let line: [UInt8]
            switch c {
            case .put(let job, let from): line = JournalFile.line(put: job, from: from)
            case .delete(let id, let from): line = JournalFile.line(delete: id, from: from)
            }
            newBytes += line.count
            lines.append(line)
        }
        if newBytes > max(room, 0) + threshold && (tx.fullState?.isWhole ?? keepsFinished) {
            // Fold straight into a new snapshot: cheaper than appending megabytes and reading them back.
            let state = try tx.state
            tx.fullState = nil
            try compact(state: state, generation: tx.view.generation, follows: nil)
            return
        }
        var view = tx.view
        if !view.snapshotExists {
            // First write in this home: lay down an empty snapshot so jobs.json always exists.
            try writeSnapshot(QueueState(), generation: 1)
            view.generation = 1
            view.journalNeedsReset = true
        }
        var text: [UInt8] = []
        text.reserveCapacity(newBytes + 64)
        // The end of the journal as read under this lock, never a size cached before it.
        var offset = view.journalValidEnd
        if view.journalNeedsReset {
            guard ftruncate(jfd, 0) == 0 else { throw SystemError(operation: "truncate", path: home.journal, code: errno) }
            text = Array(JournalFile.header(generation: view.generation).utf8)
            offset = 0
        } else if view.journalValidEnd < view.journalSize {
            // Cut off a torn last line left by a writer that died mid-append.
            guard ftruncate(jfd, off_t(view.journalValidEnd)) == 0 else {
                throw SystemError(operation: "truncate", path: home.journal, code: errno)
            }
        }
        for l in lines { text.append(contentsOf: l) }
        do {
            try Posix.pwriteAll(fd: jfd, text, at: offset, path: home.journal)
        } catch {
            // A disk that filled up mid-write: take back the lines that did get written, so no
            // part of a failed transaction is ever read as committed.
            _ = ftruncate(jfd, off_t(offset))
            throw error
        }
        if tx.durable && tx.config.fsync {
            guard fdatasync(jfd) == 0 else { throw SystemError(operation: "sync", path: home.journal, code: errno) }
        } else {
            hasUnsyncedWrites = true
        }

        let size = offset + text.count
        var bound = threshold
        if compactThreshold == nil && size > bound, let snap = Posix.fileSize(view.snapshotPath) {
            // Each compaction copies the whole snapshot: a big home lets its journal grow to
            // 1/64 of it (at most 3× the configured size, so reading the journal stays cheap).
            bound = max(bound, min(snap / 64, 3 * bound))
        }
        if size > bound && !view.journalNeedsReset && view.snapshotExists {
            // Past the bound: fold the journal into a new snapshot once this transaction has let
            // go of the lock (see `transaction` and Compaction.swift); the change is durable already.
            compactionWanted = true
            lastCommitted = view
            lastCommitted!.journalSize = size
            lastCommitted!.journalMap = nil  // only the sizes and names are kept
            lastCommitted!.changeStorage = []
        }
        if cache != nil, let s = tx.fullState, !view.journalNeedsReset, view.snapshotExists {
            // Our in-memory state already has these changes (the transaction applied them).
            tx.fullState = nil
            cache!.state = s
            cache!.journalOffset = size
        } else {
            cache = nil
        }
    }

    /// The last compaction failure this process reported (each is reported once).
    var compactionFailure: String?

    /// A compaction writes a new snapshot and a copy of the journal before it frees the old ones:
    /// on a nearly full disk, do not start one that cannot finish (ENOSPC without writing).
    func requireRoomToCompact(snapshotPath: String, journalBytes: Int) throws {
        var fs = statvfs()
        guard statvfs(home.path, &fs) == 0 else { return }
        let free = Double(fs.f_bavail) * Double(fs.f_frsize)
        let need = 2 * Double((Posix.fileSize(snapshotPath) ?? 0) + journalBytes) + 65536
        if free < need { throw SystemError(operation: "compact", path: home.snapshot, code: ENOSPC) }
    }

    /// Folds the journal into a new `jobs.json` and starts an empty journal. Caller holds the lock.
    public func compact() throws {
        let view = try refresh(full: true)
        var v = view
        guard let state = takeCachedState(&v) else { return }
        guard state.isWhole else {
            cache = nil
            throw QueueError.system("a worker's state omits finished jobs and cannot be written as a snapshot")
        }
        try compact(state: state, generation: view.generation, follows: nil)
    }

    private func compact(state: QueueState, generation: Int64, follows: (generation: Int64, offset: Int)?) throws {
        let gen = generation + 1
        let jfd = try openJournal()
        var follows = follows
        if let f = follows {
            // Keep the journal being folded under its generation's own name (a new name, like
            // the snapshot's), for processes that read it only part of the way.
            var bytes = try Posix.readAll(fd: jfd, from: 0, path: home.journal)
            if bytes.count >= f.offset {
                bytes.removeSubrange(f.offset...)
                try Posix.atomicWrite(path: home.journal(generation: f.generation), byteChunks: [bytes])
            } else {
                follows = nil
            }
        }
        try writeSnapshot(state, generation: gen)
        guard ftruncate(jfd, 0) == 0 else { throw SystemError(operation: "truncate", path: home.journal, code: errno) }
        let header = Array(JournalFile.header(generation: gen, follows: follows).utf8)
        try Posix.pwriteAll(fd: jfd, header, at: 0, path: home.journal)
        guard fdatasync(jfd) == 0 else { throw SystemError(operation: "sync", path: home.journal, code: errno) }
        hasUnsyncedWrites = false
        // A compactor at work elsewhere owns its temporary files; they are swept after it.
        let quiet = tryCompactionLock()
        sweep(keeping: gen, temporaries: quiet != nil)
        if let fd = quiet { close(fd) }
        cache = Cache(state: state, generation: gen, journalIno: (try currentJournalKey()).ino,
                      journalOffset: header.count)
    }

    /// Removes what earlier generations and crashed writers left: snapshot links and kept
    /// journals of generations before `gen` (only once the journal names `gen`; never a newer one,
    /// so this may run after the lock is released), and — under the lock only — the store's own
    /// temporary files. Temporary files of other writers (the pid file, the dashboard token) are
    /// never touched.
    func sweep(keeping gen: Int64, temporaries: Bool, generations: Bool = true) {
        let mine = ["jobs.json.tmp-", "jobs.ids.tmp-", "jobs.due.tmp-", "jobs.minutes.tmp-", "journal."]
        for name in Posix.listDirectory(home.path) {
            func generation(_ prefix: String, _ suffix: String) -> Int64? {
                guard name.hasPrefix(prefix), name.hasSuffix(suffix), name.count > prefix.count + suffix.count else { return nil }
                return Int64(name.dropFirst(prefix.count).dropLast(suffix.count))
            }
            var stale = temporaries && mine.contains { name.hasPrefix($0) } && name.contains(".tmp-")
            if generations, let k = generation("jobs.", ".json"), k < gen { stale = true }
            if generations, let k = generation("journal.", ".jsonl"), k < gen - 1 { stale = true }
            if stale { unlink(home.path + "/" + name) }
            // A streamed batch's records: its writer holds a lock on the file while it lives.
            if temporaries && name.hasPrefix("jobs.batch.tmp-") { Posix.removeIfUnlocked(home.path + "/" + name) }
        }
    }

    /// Compacts under the lock (for `purge` and tests).
    public func compactNow() throws {
        try lock(LOCK_EX)
        defer { unlock() }
        try compact()
    }

    private func writeSnapshot(_ state: QueueState, generation: Int64) throws {
        // Readers open the snapshot by its generation's own name (see `locateSnapshot`);
        // jobs.json is the same file under its documented name. The sidecars are renamed into
        // place before it: if we die before the snapshot's rename, their generation does not
        // match and readers fall back to loading the jobs.
        try Posix.atomicWrite(path: home.snapshot, linkAs: home.snapshot(generation: generation), writing: { fd, tmp in
            let locations = try SnapshotFile.write(state: state, generation: generation, to: fd, path: tmp)
            try Posix.atomicWrite(path: home.idIndex, byteChunks: IdIndexFile.encode(locations: locations, generation: generation))
            try Posix.atomicWrite(path: home.dueIndex, byteChunks: DueIndexFile.encode(state: state, generation: generation))
            let now = Clock.nowMillis()
            try Posix.atomicWrite(path: home.throughput, byteChunks: ThroughputFile.encode(ThroughputFile.of(state, now: now), generation: generation, now: now))
        })
    }
}
