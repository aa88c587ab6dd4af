import Glibc

/// Folding the journal into a new snapshot beside the queue, not inside it (ARCHITECTURE.md,
/// "Compaction"). A transaction that takes the journal past its bound only asks for a
/// compaction; the compactor then
///
/// 1. cuts: under the shared lock, notes generation G, the end O of the journal's complete lines
///    and the snapshot file, and reads the changes up to O;
/// 2. writes, holding no queue lock: the new snapshot (G+1, merged record by record from the old
///    file and the changes, see SnapshotMerge), its sidecars and a copy of the journal up to O,
///    all fsynced under temporary names, while every other process keeps appending;
/// 3. swaps, under the exclusive lock for a few small writes: appends the journal written since
///    the cut (O..E) to the copy and names it `journal.G.jsonl`, renames the sidecars and the
///    snapshot into place, and resets `journal.jsonl` to a header that names G+1 and follows G
///    up to E. The new snapshot's header says it continues in `journal.G.jsonl` from O, so a
///    reader applies those changes after it.
///
/// `compact.lock` (flock, exclusive) is held by the one compactor at a time, on any machine.
extension JSONStore {
    /// How a transaction that passed the bound gets its compaction done.
    public enum Compactor: Sendable {
        /// In this process, right after the transaction let go of the queue lock (library default).
        case inProcess
        /// In a detached `queuectl compact` started from the running executable (looked up only
        /// when one starts): the process that crossed the bound goes on at once (what the
        /// command line and the workers use).
        case detached
    }

    nonisolated(unsafe) public static var compactor: Compactor = .inProcess

    /// Starts the compaction this process's last transaction asked for, unless one is running.
    func startCompaction() {
        guard let view = lastCommitted else { return }
        // A compactor that keeps failing (an I/O error) is not restarted more than once a second;
        // every transaction past the bound asks until one succeeds.
        let now = Clock.monotonic()
        if case .detached = JSONStore.compactor, let last = lastCompactorStart, now - last < 1 { return }
        do {
            try requireRoomToCompact(snapshotPath: view.snapshotPath, journalBytes: view.journalSize)
        } catch {
            reportCompactionFailure(error)
            return
        }
        switch JSONStore.compactor {
        case .inProcess:
            guard let lockFd = tryCompactionLock() else { return }
            defer { lockFd.close() }
            do {
                try JSONStore(home: home).compactBeside()
                compactionFailure = nil
            } catch {
                reportCompactionFailure(error)
            }
        case .detached:
            guard let lockFd = tryCompactionLock() else { return }
            defer { lockFd.close() }
            lastCompactorStart = now
            do {
                try spawnCompactor(executable: Posix.executablePath(), lockFd: lockFd)
            } catch {
                reportCompactionFailure(error)
            }
        }
    }

    func reportCompactionFailure(_ error: Error) {
        let why = QueueError.from(error).description
        if compactionFailure != why {
            compactionFailure = why
            fputs("queuectl: warning: the journal could not be folded into a new jobs.json (\(why)); work goes on in the journal and the compaction will be tried again\n", stderr)
        }
    }

    /// `compact.lock`, taken without waiting: nil when another compactor holds it.
    func tryCompactionLock() -> FileDescriptor? {
        guard let fd = Posix.openQuietly(home.compactLock, O_RDWR | O_CREAT) else { return nil }
        if !fd.tryLock(LOCK_EX) {
            fd.close()
            return nil
        }
        return fd
    }

    /// `queuectl compact`: waits for a compaction in progress, then folds what is left.
    /// Returns the new generation, or nil when there was nothing to fold.
    @discardableResult
    public func compactWaiting() throws -> Int64? {
        try home.create()
        let fd = try Posix.open(home.compactLock, O_RDWR | O_CREAT, 0o600)
        defer { fd.close() }
        try Posix.lock(fd, LOCK_EX, path: home.compactLock)
        return try JSONStore(home: home).compactBeside()
    }

    /// Runs the three steps (see the type's comment). The caller holds `compact.lock`.
    /// `between` runs after the snapshot is written and before the swap (tests change the queue
    /// there). Returns the new generation, or nil when there was nothing to fold or another
    /// compaction (a large batch, `purge`) replaced the journal meanwhile.
    @discardableResult
    public func compactBeside(between: (() throws -> Void)? = nil) throws -> Int64? {
        // 1. The cut.
        try lock(LOCK_SH)
        let view: View, key: JournalKey, snapFd: FileDescriptor
        do {
            view = try refresh(full: false)
            key = try currentJournalKey()
            guard view.snapshotExists, !view.journalNeedsReset, view.hasChanges else {
                unlock()
                return nil
            }
            snapFd = try Posix.open(view.snapshotPath, O_RDONLY)
        } catch {
            unlock()
            throw error
        }
        defer { snapFd.close() }
        let g = view.generation, cutAt = view.journalValidEnd
        // Copies, taken under the lock: the mapped journal may be truncated once it is released.
        let changes = view.changesCopy, journalHead = view.journalPrefix(cutAt)
        unlock()
        Failpoint.hit("compact.cut")

        // 2. The new files, under temporary names, beside the queue.
        var temps: [String] = []
        defer { for t in temps { unlink(t) } }  // whatever was not renamed into place
        func temp(_ path: String) -> String {
            // Not the names an inline fold (purge, a large batch) of this same process would use.
            let t = Posix.temporaryName(for: path) + "-c"
            temps.append(t)
            return t
        }
        try requireRoomToCompact(snapshotPath: view.snapshotPath, journalBytes: view.journalSize)
        let snapTmp = temp(home.snapshot), idsTmp = temp(home.idIndex), dueTmp = temp(home.dueIndex), minutesTmp = temp(home.throughput)
        let keptPath = home.journal(generation: g), keptTmp = temp(keptPath)
        let meta = SnapshotFile.Meta(generation: g + 1, jobCount: 0, counts: [:], jobsBytes: 0,
                                     cut: SnapshotFile.Cut(generation: g, offset: cutAt))
        let merged: SnapshotMerge.Result = try {
            let fd = try Posix.open(snapTmp, O_WRONLY | O_CREAT | O_TRUNC)
            defer { fd.close() }
            // The old sidecars, when they are the old snapshot's (their first line names G).
            let idsFd = Posix.openQuietly(home.idIndex)
            defer { idsFd?.close() }
            let oldDue = DueIndexFile.read(home.dueIndex, generation: g)
            let oldMinutes = ThroughputFile.read(home.throughput, generation: g)
            let r = try Posix.withMapped(fd: snapFd, path: view.snapshotPath) { base in
                try changes.withUnsafeBufferPointer { changes in
                    try withOldIndex(idsFd, generation: g) { oldIds in
                        try SnapshotMerge.write(base: base, baseFd: snapFd, basePath: view.snapshotPath, oldIds: oldIds, oldDue: oldDue,
                                                oldMinutes: oldMinutes, changes: changes, changesPath: home.journal, meta: meta, to: fd, path: snapTmp)
                    }
                }
            }
            try Posix.fsyncFile(fd, path: snapTmp)
            return r
        }()
        try Posix.writeSynced(path: idsTmp, chunks: merged.ids)
        try Posix.writeSynced(path: dueTmp, chunks: merged.due)
        try Posix.writeSynced(path: minutesTmp, chunks: merged.minutes)
        let keptFd = try Posix.open(keptTmp, O_WRONLY | O_CREAT | O_TRUNC)
        defer { keptFd.close() }
        try Posix.pwriteAll(fd: keptFd, journalHead, at: 0, path: keptTmp)
        try Posix.fsyncFile(keptFd, path: keptTmp)
        Failpoint.hit("compact.written")
        try between?()

        // 3. The swap.
        try lock(LOCK_EX)
        var locked = true
        defer { if locked { unlock() } }
        guard try currentJournalKey() == key else { return nil }  // replaced meanwhile: this work is stale
        let jfd = try openJournal(forWriting: true)
        var since = try Posix.readAll(fd: jfd, from: cutAt, path: home.journal)
        since.removeSubrange(since.withUnsafeBufferPointer { JournalFile.validEnd($0) }...)
        let end = cutAt + since.count
        try Posix.pwriteAll(fd: keptFd, since, at: cutAt, path: keptTmp)
        try Posix.fsyncFile(keptFd, path: keptTmp)
        try Posix.rename(keptTmp, keptPath)
        Failpoint.hit("compact.kept")
        try Posix.rename(idsTmp, home.idIndex)
        try Posix.rename(dueTmp, home.dueIndex)
        try Posix.rename(minutesTmp, home.throughput)
        let linked = home.snapshot(generation: g + 1)
        unlink(linked)
        guard link(snapTmp, linked) == 0 else { throw SystemError(operation: "link", path: linked, code: errno) }
        try Posix.rename(snapTmp, home.snapshot)
        try Posix.fsyncDirectory(home.path)
        Failpoint.hit("compact.renamed")
        guard ftruncate(jfd.rawValue, 0) == 0 else { throw SystemError(operation: "truncate", path: home.journal, code: errno) }
        Failpoint.hit("compact.truncated")
        try Posix.pwriteAll(fd: jfd, Array(JournalFile.header(generation: g + 1, follows: (g, end)).utf8), at: 0, path: home.journal)
        guard fdatasync(jfd.rawValue) == 0 else { throw SystemError(operation: "sync", path: home.journal, code: errno) }
        Failpoint.hit("compact.swapped")
        sweep(keeping: g + 1, temporaries: true, generations: false)
        unlock()
        locked = false
        // Outside the lock: freeing the old snapshot's blocks can take a while on a big home, and
        // nothing names the older generations' files any more (newer ones are never touched).
        sweep(keeping: g + 1, temporaries: false)
        unlink(home.compactionFailure)  // an earlier failure is over
        return g + 1
    }

    /// The mapped `jobs.ids` when its first line names generation `g`, else nil.
    func withOldIndex<T>(_ fd: FileDescriptor?, generation g: Int64, _ body: (UnsafeBufferPointer<UInt8>?) throws -> T) throws -> T {
        guard let fd else { return try body(nil) }
        return try Posix.withMapped(fd: fd, path: home.idIndex) { buf in
            let want = Array("generation \(g)\n".utf8)
            guard buf.count >= want.count, Array(buf[0..<want.count]) == want else { return try body(nil) }
            return try body(buf)
        }
    }

    /// The detached compactor's side: leaves the process that started it at once (that one
    /// waits only for this first step), and folds the journal holding the inherited lock.
    public static func runDetachedCompaction(home: Home, lockFd: FileDescriptor) -> Int32 {
        var st = stat()
        guard fstat(lockFd.rawValue, &st) == 0 else { return 2 }
        let pid = ForkedChild.start {
            setsid()
            // Background work: the workers and commands of this machine come first.
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
            let store = JSONStore(home: home)
            do {
                try store.compactBeside()
                return 0
            } catch {
                // Written once per distinct failure, for `status` and people reading the home.
                let why = QueueError.from(error).description + "\n"
                let known = ((try? Posix.readFile(home.compactionFailure)) ?? nil).map { String(decoding: $0, as: UTF8.self) }
                if known != why {
                    try? Posix.atomicWrite(path: home.compactionFailure, text: why)
                }
                return 1
            }
        }
        return pid < 0 ? 1 : 0  // the parent leaves at once: whoever started it waits only this long
    }

    private func spawnCompactor(executable: String, lockFd: FileDescriptor) throws {
        var env = Posix.environment().filter { !$0.hasPrefix("QUEUECTL_HOME=") && !$0.hasPrefix("QUEUECTL_COMPACT_LOCK_FD=") }
        env += ["QUEUECTL_HOME=" + home.path, "QUEUECTL_COMPACT_LOCK_FD=3"]
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("queuectl"), strdup("compact")] + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup($0) } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        for target in [Int32(0), 1, 2] {
            posix_spawn_file_actions_addopen(&actions, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, lockFd.rawValue, 3)
        var attr = SignalPipe.spawnAttributes(newProcessGroup: false)
        defer {
            posix_spawn_file_actions_destroy(&actions)
            posix_spawnattr_destroy(&attr)
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, &attr, argv, envp)
        guard rc == 0 else { throw SystemError(operation: "start the compactor", path: executable, code: rc) }
        // The child forks the real compactor and exits at once: reap it, so no zombie is left.
        var status: Int32 = 0
        Posix.retryingEINTR { waitpid(pid, &status, 0) }
    }
}
