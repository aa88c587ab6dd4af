import Glibc

extension JSONStore {
    /// The `limit` most recently created jobs (of `state`, if given), oldest first, and how many
    /// match in all, without loading every job: jobs.json holds jobs in creation order, so it is
    /// read backwards from its end (a line's state is found without decoding it), and the jobs the
    /// journal changed since are merged in. O(limit + journal) for the usual case; a state that
    /// is rare among the newest jobs makes it read further back, never load everything at once.
    /// nil when the files cannot answer this way (then the caller loads every job).
    public func recent(limit: Int, state: JobState?) throws -> (jobs: [Job], total: Int)? {
        guard !keepsState, limit >= 0 else { return nil }
        try lock(LOCK_SH)
        defer { unlock() }
        let view = try refresh(full: false)
        let counts = try lightCounts(view)
        let total = state.map { counts[$0] ?? 0 } ?? counts.values.reduce(0, +)
        // The journal's latest version of every job it touched (nil: deleted).
        var touched: [String: Job?] = [:]
        try view.changeBytes.withUnsafeBufferPointer { buf in
            for (n, r) in JournalFile.lineRanges(buf, from: 0, to: buf.count).enumerated() {
                let e = try JournalFile.parse(UnsafeBufferPointer(rebasing: buf[r]), path: home.journal, lineNo: n + 1)
                touched[e.id] = e.job
            }
        }
        var picked: [Job] = touched.values.compactMap { $0 }.filter { state == nil || $0.state == state }
        if view.snapshotExists {
            var fromSnapshot = 0
            let statePattern = state.map { Array("\",\"state\":\"\($0.rawValue)\"".utf8) }
            try SnapshotFile.linesBackward(path: view.snapshotPath) { line in
                if fromSnapshot >= limit { return false }
                if let p = statePattern, ScheduleScan.find(p, in: line, from: 0, to: line.count) == nil { return true }
                var body = line
                if body.last == UInt8(ascii: ",") { body = UnsafeBufferPointer(rebasing: body[0..<(body.count - 1)]) }
                guard let v = try? JSONParser.parse(bytes: body), let job = Job(json: v) else {
                    throw QueueError.corrupt(path: home.snapshot, reason: "a job line near its end is not a valid job")
                }
                if touched[job.id] != nil { return true }  // the journal's version is already picked
                if state == nil || job.state == state {
                    picked.append(job)
                    fromSnapshot += 1
                }
                return true
            }
        }
        picked.sort {
            if $0.createdAt != $1.createdAt { return $0.createdAt < $1.createdAt }
            if $0.batchIndex != $1.batchIndex { return $0.batchIndex < $1.batchIndex }
            return $0.id < $1.id
        }
        return (Array(picked.suffix(limit)), total)
    }
}

extension SnapshotFile {
    /// Calls `body` with each job line of a snapshot, last first, until it returns false; lines
    /// are read in 64 KiB chunks from the end, so only what is visited is read.
    static func linesBackward(path: String, _ body: (UnsafeBufferPointer<UInt8>) throws -> Bool) throws {
        let fd = try Posix.open(path, O_RDONLY)
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SystemError(operation: "stat", path: path, code: errno) }
        var end = Int(st.st_size)     // lines end before this offset
        var carry: [UInt8] = []       // the start of a line cut by the chunk boundary, read later
        let chunk = 65536
        while end > 0 {
            let start = max(0, end - chunk)
            var buf = [UInt8](repeating: 0, count: end - start)
            let got = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, end - start, off_t(start)) }
            guard got == end - start else { throw SystemError(operation: "read", path: path, code: errno) }
            buf.append(contentsOf: carry)
            end = start
            // Every complete line in buf, last first; the first (partial unless start == 0) is carried.
            var lineEnd = buf.count
            if buf.last == 0x0A { lineEnd -= 1 }
            var i = lineEnd
            while i > 0 {
                i -= 1
                guard buf[i] == 0x0A else { continue }
                let keepGoing = try buf.withUnsafeBufferPointer { b -> Bool in
                    let line = UnsafeBufferPointer(rebasing: b[(i + 1)..<lineEnd])
                    if isJobLine(line) { return try body(line) }
                    return !isJobsOpening(line)
                }
                if !keepGoing { return }
                lineEnd = i
            }
            carry = Array(buf[0..<lineEnd])
            if start == 0 {
                _ = try carry.withUnsafeBufferPointer { b in isJobLine(b) ? try body(b) : true }
                return
            }
        }
    }

    static func isJobLine(_ l: UnsafeBufferPointer<UInt8>) -> Bool { l.count > 2 && l[0] == UInt8(ascii: "{") && l[1] == UInt8(ascii: "\"") && l[2] == UInt8(ascii: "i") }
    static func isJobsOpening(_ l: UnsafeBufferPointer<UInt8>) -> Bool { l.count == 8 && l[0] == UInt8(ascii: "\"") && l[1] == UInt8(ascii: "j") }
}
