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
        let entries = try view.journalEntries(path: home.journal)
        var counts = view.meta?.counts ?? [:]
        for e in entries {
            if let f = e.from { counts[f, default: 0] -= 1 }
            if let t = e.to { counts[t, default: 0] += 1 }
        }
        let total = state.map { counts[$0] ?? 0 } ?? counts.values.reduce(0, +)
        // Each changed job's last line. Those still there (and of that state) are candidates,
        // placed by their creation key, read from the line without parsing it.
        let ranges = view.withChanges { JournalFile.lineRanges($0, from: 0, to: $0.count) }
        var last: [String: Int] = [:]
        for (n, e) in entries.enumerated() { last[e.id] = n }
        let jobKey = Array(",\"job\":".utf8)
        var changed: [(ScheduleScan.CreationKey, Int)] = []
        try view.withChanges { buf in
            for (id, n) in last where entries[n].op == .put && (state == nil || entries[n].to == state) {
                let r = ranges[n]
                guard let k = ScheduleScan.find(jobKey, in: buf, from: r.lowerBound, to: r.upperBound),
                      let key = ScheduleScan.creationKey(in: buf, start: k + jobKey.count, end: r.upperBound), key.id == id else {
                    throw QueueError.corrupt(path: home.journal, reason: "the change of job \(id) is not a valid job")
                }
                changed.append((key, n))
            }
        }
        changed.sort { $0.0 < $1.0 }
        // Only the lines that can be shown are parsed.
        var picked: [Job] = []
        for (_, n) in changed.suffix(limit) {
            let job = try view.withChanges {
                try JournalFile.parse(UnsafeBufferPointer(rebasing: $0[ranges[n]]), path: home.journal, lineNo: n + 1).job
            }
            if let j = job { picked.append(j) }
        }
        // The file's own jobs of that state, newest first, until `limit` are found or none is left.
        var left = total - changed.count
        if view.snapshotExists && limit > 0 && left > 0 {
            let statePattern = state.map { [0x22] + JobSchema.Key.state.stringField + Array($0.rawValue.utf8) + [0x22] }
            var fromFile = 0
            try SnapshotFile.linesBackward(path: view.snapshotPath) { line in
                if fromFile >= limit || left <= 0 { return false }
                guard let id = SnapshotFile.recordId(line), last[id] == nil else { return true }  // changed: counted above
                if let p = statePattern, ScheduleScan.find(p, in: line, from: 0, to: line.count) == nil { return true }
                var body = line
                if body.last == UInt8(ascii: ",") { body = UnsafeBufferPointer(rebasing: body[0..<(body.count - 1)]) }
                guard let v = try? JSONParser.parse(bytes: body), let job = Job(json: v) else {
                    throw QueueError.corrupt(path: home.snapshot, reason: "a job line near its end is not a valid job")
                }
                picked.append(job)
                fromFile += 1
                left -= 1
                return true
            }
        }
        picked.sort { ScheduleScan.CreationKey($0) < ScheduleScan.CreationKey($1) }
        return (Array(picked.suffix(limit)), total)
    }
}

extension SnapshotFile {
    /// Calls `body` with each job line of a snapshot, last first, until it returns false; lines
    /// are read in 64 KiB chunks from the end, so only what is visited is read.
    static func linesBackward(path: String, _ body: (UnsafeBufferPointer<UInt8>) throws -> Bool) throws {
        let fd = try Posix.open(path, O_RDONLY)
        defer { fd.close() }
        var st = stat()
        guard fstat(fd.rawValue, &st) == 0 else { throw SystemError(operation: "stat", path: path, code: errno) }
        var end = Int(st.st_size)     // lines end before this offset
        var carry: [UInt8] = []       // the start of a line cut by the chunk boundary, read later
        let chunk = 65536
        while end > 0 {
            let start = max(0, end - chunk)
            var buf = [UInt8](repeating: 0, count: end - start)
            let got = buf.withUnsafeMutableBytes { pread(fd.rawValue, $0.baseAddress!, end - start, off_t(start)) }
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

    /// The id of a job line (`{"id":"…",…`: the id is always the first key).
    static func recordId(_ l: UnsafeBufferPointer<UInt8>) -> String? {
        let key = ScheduleScan.idKey
        guard l.count > key.count else { return nil }
        for k in 0..<key.count where l[k] != key[k] { return nil }
        var i = key.count
        while i < l.count && l[i] != 0x22 { i += 1 }
        return String(decoding: UnsafeBufferPointer(rebasing: l[key.count..<i]), as: UTF8.self)
    }

    static func isJobLine(_ l: UnsafeBufferPointer<UInt8>) -> Bool { l.count > 2 && l[0] == UInt8(ascii: "{") && l[1] == UInt8(ascii: "\"") && l[2] == UInt8(ascii: "i") }
    static func isJobsOpening(_ l: UnsafeBufferPointer<UInt8>) -> Bool { l.count == 8 && l[0] == UInt8(ascii: "\"") && l[1] == UInt8(ascii: "j") }
}
