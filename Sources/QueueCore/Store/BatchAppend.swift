import Glibc

/// A batch too large for the journal goes straight into a new snapshot, without ever holding
/// its jobs in memory (ARCHITECTURE.md, "An enqueue"): the caller has validated every job and
/// written their records, one per line, to `batchPath`; under the exclusive lock the store checks
/// that no id is taken (a merge of the sorted batch ids with `jobs.ids` and the journal), then
/// writes the new snapshot as a compaction does, with the batch's records after the old ones,
/// and swaps it in. All or nothing: until the rename, the home is untouched.
extension JSONStore {
    public struct Batch {
        /// A file of job records, one per line, in creation order.
        public var path: String
        /// The batch's ids, sorted.
        public var sortedIds: [String]
        /// Ids the batch's jobs depend on that are not in the batch.
        public var outsideDependencies: Set<String>
        public init(path: String, sortedIds: [String], outsideDependencies: Set<String>) {
            (self.path, self.sortedIds, self.outsideDependencies) = (path, sortedIds, outsideDependencies)
        }
    }

    /// A temporary file in the home for a batch's records (the same file system as the snapshot).
    public var batchFilePath: String { Posix.temporaryName(for: home.path + "/jobs.batch") }

    public func appendBatch(_ batch: Batch) throws {
        try home.create()
        try lock(LOCK_EX)
        defer { unlock() }
        let view = try refresh(full: false)
        cache = nil
        let g = view.generation
        // The journal's own word on ids: their last change.
        var journalIds: [String: Bool] = [:]  // id → exists after the changes
        for e in try view.journalEntries(path: home.journal) { journalIds[e.id] = e.op == .put }
        func exists(_ id: String, inFile: Bool) -> Bool { journalIds[id] ?? inFile }

        let snapFd = view.snapshotExists ? try Posix.open(view.snapshotPath, O_RDONLY) : nil
        defer { snapFd?.close() }
        let idsFd = Posix.openQuietly(home.idIndex)
        defer { idsFd?.close() }

        // Every id of the batch is free, every outside dependency exists: one pass over the
        // sorted index beside the sorted batch ids.
        try withMappedIds(snapFd: snapFd, snapshotPath: view.snapshotPath, idsFd: idsFd, generation: g) { ids in
            var taken: String? = nil
            var depsInFile: Set<String> = []
            let sorted = batch.sortedIds
            var p = 0
            IdIndexFile.forEachId(ids) { idBytes in
                while p < sorted.count && IdIndexFile.compare(sorted[p], idBytes) < 0 { p += 1 }
                if taken == nil && p < sorted.count && IdIndexFile.compare(sorted[p], idBytes) == 0 && journalIds[sorted[p]] != false {
                    taken = sorted[p]
                }
                if !batch.outsideDependencies.isEmpty {
                    let id = String(decoding: idBytes, as: UTF8.self)
                    if batch.outsideDependencies.contains(id) { depsInFile.insert(id) }
                }
            }
            if taken == nil { taken = sorted.first { journalIds[$0] == true } }
            if let t = taken {
                throw QueueError.conflict("job \"\(t)\": id already exists in this queue; pick another id or leave \"id\" out to get one generated")
            }
            for dep in batch.outsideDependencies.sorted() where !exists(dep, inFile: depsInFile.contains(dep)) {
                throw QueueError.invalidJob("depends on unknown job \"\(dep)\"")
            }
        }

        // The new snapshot: the old one, the journal's changes, then the batch.
        let snapTmp = Posix.temporaryName(for: home.snapshot)
        defer { unlink(snapTmp) }
        let meta = SnapshotFile.Meta(generation: g + 1, jobCount: 0, counts: [:], jobsBytes: 0)
        let batchFd = try Posix.open(batch.path, O_RDONLY)
        defer { batchFd.close() }
        let merged: SnapshotMerge.Result = try {
            let fd = try Posix.open(snapTmp, O_WRONLY | O_CREAT | O_TRUNC)
            defer { fd.close() }
            let oldDue = DueIndexFile.read(home.dueIndex, generation: g)
            let oldMinutes = ThroughputFile.read(home.throughput, generation: g)
            let r = try Posix.withMapped(fd: batchFd, path: batch.path) { records in
                try view.withChanges { changes in
                    try withOptionalMapped(snapFd, path: view.snapshotPath) { base in
                        try withOldIndex(idsFd, generation: g) { oldIds in
                            try SnapshotMerge.write(base: base, baseFd: snapFd, basePath: view.snapshotPath, oldIds: oldIds, oldDue: oldDue,
                                                    oldMinutes: oldMinutes, changes: changes, changesPath: home.journal, appending: records, appendingPath: batch.path,
                                                    meta: meta, to: fd, path: snapTmp)
                        }
                    }
                }
            }
            try Posix.fsyncFile(fd, path: snapTmp)
            return r
        }()
        try swapIn(snapshotTemp: snapTmp, merged: merged, generation: g + 1,
                   folded: view.journalNeedsReset ? nil : (view.journalPrefix(view.journalValidEnd), view.journalValidEnd))
    }

    /// The snapshot's `jobs.ids` for generation `g`, mapped; rebuilt from the snapshot when it is
    /// missing or stale. Empty when there is no snapshot.
    private func withMappedIds<T>(snapFd: FileDescriptor?, snapshotPath: String, idsFd: FileDescriptor?, generation g: Int64,
                                  _ body: (UnsafeBufferPointer<UInt8>) throws -> T) throws -> T {
        try withOldIndex(idsFd, generation: g) { old in
            if let old = old { return try body(old) }
            guard let snapFd else { return try body(UnsafeBufferPointer(start: nil, count: 0)) }
            let rebuilt = try Posix.withMapped(fd: snapFd, path: snapshotPath) { try SnapshotFile.sidecars(of: $0, path: snapshotPath, generation: g) }
            return try Array(rebuilt.ids.joined()).withUnsafeBufferPointer { try body($0) }
        }
    }

    private func withOptionalMapped<T>(_ fd: FileDescriptor?, path: String, _ body: (UnsafeBufferPointer<UInt8>?) throws -> T) throws -> T {
        guard let fd else { return try body(nil) }
        return try Posix.withMapped(fd: fd, path: path) { try body($0) }
    }

    /// Puts a new snapshot in place under the exclusive lock the caller holds: the folded journal
    /// is kept as `journal.<G>.jsonl` (for processes that read it part of the way), the sidecars
    /// and the snapshot are renamed into place, and the journal restarts with a header that
    /// follows the old one to its end.
    func swapIn(snapshotTemp: String, merged: SnapshotMerge.Result, generation gen: Int64, folded: ([UInt8], Int)?) throws {
        let jfd = try openJournal(forWriting: true)
        var follows: (generation: Int64, offset: Int)? = nil
        if let (bytes, end) = folded {
            try Posix.atomicWrite(path: home.journal(generation: gen - 1), byteChunks: [Array(bytes[0..<end])])
            follows = (gen - 1, end)
        }
        try Posix.atomicWrite(path: home.idIndex, byteChunks: merged.ids)
        try Posix.atomicWrite(path: home.dueIndex, byteChunks: merged.due)
        try Posix.atomicWrite(path: home.throughput, byteChunks: merged.minutes)
        let linked = home.snapshot(generation: gen)
        unlink(linked)
        guard link(snapshotTemp, linked) == 0 else { throw SystemError(operation: "link", path: linked, code: errno) }
        try Posix.rename(snapshotTemp, home.snapshot)
        try Posix.fsyncDirectory(home.path)
        guard ftruncate(jfd.rawValue, 0) == 0 else { throw SystemError(operation: "truncate", path: home.journal, code: errno) }
        try Posix.pwriteAll(fd: jfd, Array(JournalFile.header(generation: gen, follows: follows).utf8), at: 0, path: home.journal)
        guard fdatasync(jfd.rawValue) == 0 else { throw SystemError(operation: "sync", path: home.journal, code: errno) }
        let quiet = tryCompactionLock()
        sweep(keeping: gen, temporaries: quiet != nil)
        if let fd = quiet { fd.close() }
    }
}

extension IdIndexFile {
    /// Byte order of an id and the bytes of another (the index's order).
    static func compare(_ a: String, _ b: UnsafeBufferPointer<UInt8>) -> Int {
        var a = a
        return a.withUTF8 { x in
            let n = min(x.count, b.count)
            if n > 0, let xa = x.baseAddress, let ba = b.baseAddress {
                let c = memcmp(xa, ba, n)
                if c != 0 { return c < 0 ? -1 : 1 }
            }
            return x.count == b.count ? 0 : (x.count < b.count ? -1 : 1)
        }
    }

    /// Calls `body` with the id of every line of an index.
    static func forEachId(_ buf: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) throws -> Void) rethrows {
        guard let first = JournalFile.nextNewline(buf, from: 0) else { return }
        var i = first + 1
        while i < buf.count {
            let nl = JournalFile.nextNewline(buf, from: i) ?? buf.count
            var t = i
            while t < nl && buf[t] != 0x09 { t += 1 }
            if t > i { try body(UnsafeBufferPointer(rebasing: buf[i..<t])) }
            i = nl + 1
        }
    }
}
