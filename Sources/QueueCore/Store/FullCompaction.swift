import Glibc

/// Snapshots written from a whole state, under the exclusive lock: `compactNow` (tests,
/// `purge`), a transaction too large for the journal, the first write in a home; and the sweep
/// of what older generations and crashed writers left. The compaction that runs beside the
/// queue is in Compaction.swift.
extension JSONStore {
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

    func compact(state: QueueState, generation: Int64, follows: (generation: Int64, offset: Int)?) throws {
        let gen = generation + 1
        let jfd = try openJournal(forWriting: true)
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
        guard ftruncate(jfd.rawValue, 0) == 0 else { throw SystemError(operation: "truncate", path: home.journal, code: errno) }
        let header = Array(JournalFile.header(generation: gen, follows: follows).utf8)
        try Posix.pwriteAll(fd: jfd, header, at: 0, path: home.journal)
        guard fdatasync(jfd.rawValue) == 0 else { throw SystemError(operation: "sync", path: home.journal, code: errno) }
        hasUnsyncedWrites = false
        // A compactor at work elsewhere owns its temporary files; they are swept after it.
        let quiet = tryCompactionLock()
        sweep(keeping: gen, temporaries: quiet != nil)
        if let fd = quiet { fd.close() }
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

    func writeSnapshot(_ state: QueueState, generation: Int64) throws {
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
