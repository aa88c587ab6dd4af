import Glibc

/// The finished jobs a worker's state leaves on disk (ARCHITECTURE.md, "Finished jobs stay on
/// disk"): a worker holds live jobs only, so its memory and its claims cost the same beside a
/// million finished jobs as beside none. What it still needs of them — the state of a dependency,
/// a job someone asks for by id, the counts — is read from the snapshot through `jobs.ids`.
///
/// A job leaves this set the moment the journal changes it (it becomes resident again), so the
/// record in any later snapshot still says what this set remembers of it.
final class OmittedJobs {
    /// How many omitted jobs are in each state (kept so QueueState's counts stay whole).
    var counts: [JobState: Int] = [:]
    /// The snapshot to read them from: the generation the worker has followed to.
    var generation: Int64
    var snapshotPath: String
    let idIndexPath: String
    /// What was learnt of ids that are not resident: their state, or nil when there is no such job
    /// (deleted since the load, or never existed). Bounded by the dependency targets asked about.
    private var known: [String: JobState?] = [:]

    init(snapshotPath: String, idIndexPath: String, generation: Int64 = 0) {
        self.generation = generation
        self.snapshotPath = snapshotPath
        self.idIndexPath = idIndexPath
    }

    /// The state of a job that is not resident, nil if there is none.
    func state(of id: String) -> JobState? {
        if let k = known[id] { return k }
        let s = job(id)?.state
        known[id] = .some(s)
        return s
    }

    /// The record of a job that is not resident, read from the snapshot.
    func job(_ id: String) -> Job? {
        if let k = known[id], k == nil { return nil }
        return OmittedJobs.record(id, generation: generation, snapshotPath: snapshotPath, idIndexPath: idIndexPath)
    }

    /// The job is resident from now on (put by the journal): no longer counted here.
    func becomesResident(_ id: String, isNew: Bool) -> JobState? {
        let prior = isNew ? nil : state(of: id)
        if let p = prior { counts[p, default: 0] -= 1 }
        known[id] = nil
        return prior
    }

    /// What a scan of the snapshot already read (retention): spares a lookup per id.
    func learn(_ id: String, state: JobState) {
        if known[id] == nil { known[id] = .some(state) }
    }

    /// The job was deleted: remembered as gone, so the snapshot's stale record is never read.
    func removed(_ id: String, wasResident: Bool) -> JobState? {
        let prior = wasResident ? nil : state(of: id)
        if let p = prior { counts[p, default: 0] -= 1 }
        known[id] = .some(nil)
        return prior
    }

    /// Calls `body` with the id, state and finish time of each finished job in the snapshot that
    /// is not known to be gone (retention asks; the caller skips resident ids). One pass over the
    /// file's lines, no job decoded unless its record lacks a finish time; pages dropped as read.
    func eachFinished(_ body: (String, JobState, Millis) -> Void) throws {
        try Posix.withMappedFile(snapshotPath) { buf in
            guard let buf = buf else { return }
            var start = 0
            var released = 0
            while start < buf.count {
                let nl = JournalFile.nextNewline(buf, from: start) ?? buf.count
                var line = UnsafeBufferPointer(rebasing: buf[start..<nl])
                if line.last == UInt8(ascii: ",") { line = UnsafeBufferPointer(rebasing: line[0..<(line.count - 1)]) }
                if SnapshotFile.isJobLine(line), let st = ScheduleScan.finishedState(line), let id = SnapshotFile.recordId(line),
                   !(known[id].map { $0 == nil } ?? false) {
                    let finished = ScheduleScan.finishedAt(line) ?? (try? JSONParser.parse(bytes: line)).flatMap(Job.init(json:)).map { $0.finishedAt ?? $0.updatedAt }
                    if let f = finished { body(id, st, f) }
                }
                start = nl + 1
                if start - released > 4 << 20 {
                    Posix.releaseMapped(buf, upTo: start)
                    released = start
                }
            }
            Posix.releaseMapped(buf, upTo: buf.count)
        }
    }

    /// One record of a snapshot: through `jobs.ids` (a binary search and one pread) when the index
    /// is of this generation, else by a scan of the file for the line that starts with the id.
    static func record(_ id: String, generation: Int64, snapshotPath: String, idIndexPath: String) -> Job? {
        if let ifd = Posix.openQuietly(idIndexPath) {
            defer { ifd.close() }
            switch IdIndexFile.find(id, fd: ifd, generation: generation) {
            case .absent?: return nil
            case .present(let offset?, let length?)?:
                if let job = SnapshotFile.record(id, at: offset, length: length, path: snapshotPath) { return job }
            default: break
            }
        }
        return SnapshotFile.scanForRecord(id, path: snapshotPath)
    }
}
