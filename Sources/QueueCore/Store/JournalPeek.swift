import Glibc

/// An idle worker's look at the journal without the lock (ARCHITECTURE.md, "Waiting for work").
///
/// Every write to the home wakes every idle worker on the machine, but most writes cannot give
/// an idle worker anything to do: another worker's claim or result, a cancel. Taking the lock to
/// find that out cost each bystander a transaction per job. Instead it reads the lines appended
/// since its last transaction and takes the lock only if one of them leaves a job pending or
/// failed (new, retried, resumed, moved, edited).
///
/// The look is only advice: it never changes the cache, and whatever it cannot read cleanly (a
/// line being written, another generation, an unexpected line) means "look under the lock".
/// Used only on local file systems, where a read without the lock sees every completed write;
/// on a network file system workers poll and always take the lock.
extension JSONStore {
    /// Whether the lines appended to the journal since this process's last transaction may have
    /// made a job claimable. `true` when it cannot tell.
    public func appendedLinesMayOfferWork() -> Bool {
        // Only scalars out of the cache: binding it would share its job table (StoreLoading.swift).
        guard cache != nil else { return true }
        let generation = cache!.generation, ino = cache!.journalIno
        guard let fd = Posix.openQuietly(home.journal) else { return true }
        defer { fd.close() }
        var st = stat()
        guard fstat(fd.rawValue, &st) == 0, UInt64(st.st_ino) == ino else { return true }
        let size = Int(st.st_size)
        // Where the lines not yet looked at start: after the cache, or after the last look at
        // this same journal (whose lines, already judged, all left nothing claimable).
        var from = cache!.journalOffset
        if let p = peeked, p.generation == generation, p.ino == ino, p.offset >= from { from = p.offset }
        guard size >= from, size - from <= 256 * 1024 else { return true }
        if size == from { return false }
        guard (try? journalGeneration(fd)) == generation,
              let bytes = try? Posix.readAll(fd: fd, from: from, path: home.journal) else { return true }
        let verdict: Bool? = bytes.withUnsafeBufferPointer { buf in
            guard JournalFile.validEnd(buf) == buf.count else { return nil }  // a line still being written
            return JournalPeek.mayOfferWork(buf, path: home.journal)
        }
        guard let offersNothing = verdict.map({ !$0 }), offersNothing else { return true }
        peeked = (generation, ino, from + bytes.count)
        return false
    }
}

enum JournalPeek {
    /// Whether any job's last line among these complete change lines leaves it pending or
    /// failed; nil (look under the lock) for a line that is not a change line or too many lines.
    static func mayOfferWork(_ buf: UnsafeBufferPointer<UInt8>, path: String) -> Bool? {
        var last: [(id: String, to: JobState?)] = []
        for r in JournalFile.lineRanges(buf, from: 0, to: buf.count) {
            guard last.count < 512, let e = try? JournalFile.scan(UnsafeBufferPointer(rebasing: buf[r]), path: path, lineNo: 0) else { return nil }
            if let k = last.firstIndex(where: { $0.id == e.id }) { last[k].to = e.to } else { last.append((e.id, e.to)) }
        }
        return last.contains { $0.to == .pending || $0.to == .failed }
    }
}
