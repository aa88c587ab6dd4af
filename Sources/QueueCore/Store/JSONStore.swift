import Glibc

/// The only code that touches the queue's files (ARCHITECTURE.md, "The home").
///
/// Every change goes through `transaction`: lock `queue.lock` (flock, exclusive), bring the state
/// up to date, let the caller mutate, append the changes to `journal.jsonl` (fdatasync), unlock.
/// This file holds the lock, the transaction's begin and commit, and the reads built on them; the
/// other parts are `StoreLoading` (views of the files, the cache and how it follows the journal),
/// `Transaction`, `ConfigFile`, `Compaction` (beside the queue), `FullCompaction` (from a whole
/// state), `BatchAppend`, `RecentJobs`, `Overview`, and the formats (`JournalFile`, `SnapshotFile`,
/// `IdIndexFile`, `DueIndexFile`, `ThroughputFile`).
///
/// Two ways to see the state inside a transaction:
/// - light (enqueue): the snapshot's header, `jobs.ids` and a scan of the journal — enough to
///   check that an id is free without reading any job;
/// - full (`tx.state`, `tx.job`): every job in memory (live jobs only for a worker: OmittedJobs).
///   Long-lived processes keep it and read only the journal bytes appended since they last looked.
public final class JSONStore {
    public let home: Home
    /// Journal size that triggers compaction (config `journal_max_bytes` unless a test sets it).
    /// Small enough that scanning the journal stays cheap.
    public var compactThreshold: Int?
    /// Whether the state this process keeps holds finished jobs. A worker sets it false: the
    /// finished jobs of the snapshot stay on disk (OmittedJobs), so its memory and its claims
    /// depend on live jobs only (ARCHITECTURE.md, "Finished jobs stay on disk").
    public var keepsFinished = true

    private var lockFd: FileDescriptor?
    /// The journal, opened after the lock was taken and closed before it is released: on a
    /// network file system only a descriptor opened under the lock sees other machines' writes
    /// (close-to-open consistency), and only closing it makes ours visible to them.
    var journalFd: FileDescriptor?
    var journalWritable = false
    var cache: Cache?
    /// How far an idle worker's lock-free look read the journal (JournalPeek.swift).
    var peeked: (generation: Int64, ino: UInt64, offset: Int)?
    /// How many times this process loaded every job from a snapshot (tests check that following
    /// another process's compaction does not).
    var fullLoads = 0

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
        lockFd?.close()
        lockFd = nil
        cache = nil
    }

    func closeJournal() {
        journalFd?.close()
        journalFd = nil
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
            markerAtUnlock = recordsMarker ? changeMarker() : nil
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
        let hit = lastChange(of: id, in: view, filter: loadIdFilter(for: view))
        if let (op, range) = hit {
            if op == .del { return .some(nil) }
            let e = try view.withChanges {
                try JournalFile.parse(UnsafeBufferPointer(rebasing: $0[range]), path: home.journal, lineNo: 0)
            }
            return .some(e.job)
        }
        guard view.snapshotExists else { return .some(nil) }
        guard let fd = Posix.openQuietly(home.idIndex) else { return nil }
        defer { fd.close() }
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
    var queuesCache: (key: [Int], settings: QueueSettings)?
    var reportedConfigProblems: [String] = []

    /// Whether this process wrote changes without waiting for the disk (`durable = false`).
    public internal(set) var hasUnsyncedWrites = false

    /// Flushes the journal: a worker calls this when it goes idle, so the results it recorded
    /// without waiting (to keep job throughput up) are on disk within moments.
    /// fsync works on the file, not the descriptor, so a fresh descriptor flushes what earlier
    /// transactions wrote. A failure is reported and the writes stay marked unsynced.
    public func syncJournal() throws {
        guard hasUnsyncedWrites else { return }
        let fd = try Posix.open(home.journal, O_RDWR)
        defer { fd.close() }
        guard fdatasync(fd.rawValue) == 0 else { throw SystemError(operation: "sync", path: home.journal, code: errno) }
        hasUnsyncedWrites = false
    }

    /// Whether each transaction notes `changeMarker()` before it unlocks (a worker sets it).
    public var recordsMarker = false
    /// The files as the last transaction left them, under its lock (when `recordsMarker`).
    public private(set) var markerAtUnlock: [Int]?

    /// Current journal size and snapshot inode, to tell cheaply whether anything changed.
    public func changeMarker() -> [Int] {
        var a = stat(), b = stat(), c = stat()
        let js = stat(home.journal, &a) == 0 ? Int(a.st_size) : -1
        let si = stat(home.snapshot, &b) == 0 ? Int(b.st_ino) : -1
        let qs = stat(home.queues, &c) == 0 ? Int(c.st_size) : -1  // a queue's limit raised or its pause lifted
        return [js, si, qs]
    }

    // MARK: - Locking

    func lock(_ op: Int32) throws {
        let fd: FileDescriptor
        if let open = lockFd {
            fd = open
        } else {
            try home.create()
            fd = try Posix.open(home.lock, O_RDWR | O_CREAT, 0o600)
            lockFd = fd
        }
        try fd.lock(op, path: home.lock)
    }

    func unlock() {
        closeJournal()
        if let fd = lockFd { _ = systemFlockRaw(fd.rawValue, LOCK_UN) }
    }

    // MARK: - Transactions

    /// A worker's state reloads (omitting finished jobs again) once the jobs finished since its
    /// load outnumber this many and its live jobs: the reload costs one read of the snapshot.
    var finishedResidentLimit = 16_384

    /// The last compaction failure this process reported (each is reported once).
    var compactionFailure: String?

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
    func takeCachedState(_ view: inout View) -> QueueState? {
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
        let jfd = try openJournal(forWriting: true)
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
            // The journal starts over, perhaps under the generation it had: no id filter may
            // describe its old lines (JournalIdFilter).
            _ = unlink(home.journalIdFilter)
            guard ftruncate(jfd.rawValue, 0) == 0 else { throw SystemError(operation: "truncate", path: home.journal, code: errno) }
            text = Array(JournalFile.header(generation: view.generation).utf8)
            offset = 0
        } else if view.journalValidEnd < view.journalSize {
            // Cut off a torn last line left by a writer that died mid-append.
            guard ftruncate(jfd.rawValue, off_t(view.journalValidEnd)) == 0 else {
                throw SystemError(operation: "truncate", path: home.journal, code: errno)
            }
        }
        for l in lines { text.append(contentsOf: l) }
        do {
            try Posix.pwriteAll(fd: jfd, text, at: offset, path: home.journal)
        } catch {
            // A disk that filled up mid-write: take back the lines that did get written, so no
            // part of a failed transaction is ever read as committed.
            _ = ftruncate(jfd.rawValue, off_t(offset))
            throw error
        }
        if tx.durable && tx.config.fsync {
            let synced = Fault.errno(for: "sync").map { e -> Int32 in errno = e; return -1 } ?? fdatasync(jfd.rawValue)
            guard synced == 0 else {
                // Not known to be on disk, so not acknowledged: take the lines back, so no reader
                // sees a change whose command reported failure.
                let e = errno
                _ = ftruncate(jfd.rawValue, off_t(offset))
                throw SystemError(operation: "sync", path: home.journal, code: e)
            }
        } else {
            hasUnsyncedWrites = true
        }

        let size = offset + text.count
        if tx.fullState == nil && tx.durable && tx.config.fsync {
            advanceIdFilter(view: view, loaded: tx.idFilter ?? nil, lines: lines, end: size)
        }
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

}
