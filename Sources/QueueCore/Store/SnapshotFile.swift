import Glibc

/// The on-disk format of `jobs.json`: valid JSON, laid out one job per line so it can be read
/// line by line (bounded memory) and its header read without touching the jobs:
///
///     {"meta":{"format":"queuectl-jobs","version":1,"generation":7,"job_count":2,"jobs_bytes":N,"counts":{…}},
///     "jobs":[
///     {…job…},
///     {…job…}
///     ]}
///
/// `jobs_bytes` is the length of everything after the first line, so a truncated file is caught
/// even by commands that read only the header.
public enum SnapshotFile {
    public struct Meta: Equatable {
        public var generation: Int64
        public var jobCount: Int
        public var counts: [JobState: Int]
        public var jobsBytes: Int
        /// Set when a background compaction wrote this snapshot: it holds the state at this point
        /// of the older generation's journal, and the rest of that journal (kept as
        /// `journal.<generation>.jsonl`, from `offset` to its end) is part of this generation too.
        public var cut: Cut? = nil
    }

    public struct Cut: Equatable { public var generation: Int64; public var offset: Int }

    static let prefix = "{\"meta\":"

    /// Where one job's record is in the file: its byte offset and length (without the comma).
    public struct Location { public var id: String; public var offset: Int; public var length: Int }

    /// The header line is written last, over room left for it at the start of the file, padded
    /// with spaces (valid JSON): so the jobs are written as they are encoded, never held whole.
    static let headerRoom = 1024

    /// Writes the snapshot to `fd`, one job per line in creation order; returns where each job is.
    public static func write(state: QueueState, generation: Int64, to fd: FileDescriptor, path: String) throws -> [Location] {
        var w = ByteWriter(capacity: 1 << 20)
        var flushed = 0  // body bytes already written
        func flush() throws {
            try Posix.pwriteAll(fd: fd, w.bytes, at: headerRoom + flushed, path: path)
            flushed += w.bytes.count
            w.bytes.removeAll(keepingCapacity: true)
        }
        w.lit("\"jobs\":[\n")
        let ordered = state.orderedPositions()
        var locations: [Location] = []
        locations.reserveCapacity(ordered.count)
        for (n, at) in ordered.enumerated() {
            let job = state.all[at]
            let start = w.bytes.count
            job.writeCompact(to: &w)
            locations.append(Location(id: job.id, offset: headerRoom + flushed + start, length: w.bytes.count - start))
            if n == ordered.count - 1 { w.lit("\n") } else { w.lit(",\n") }
            if w.bytes.count > 1 << 20 { try flush() }
        }
        w.lit("]}\n")
        try flush()
        var counts: [JobState: Int] = [:]
        for s in JobState.allCases { counts[s] = state.count(s) }
        try writeHeader(Meta(generation: generation, jobCount: state.count, counts: counts, jobsBytes: flushed), to: fd, path: path)
        return locations
    }

    /// Writes the header line into the room kept for it at the start of the file.
    static func writeHeader(_ m: Meta, to fd: FileDescriptor, path: String) throws {
        let counts = JSON.object(JobState.allCases.map { ($0.rawValue, .int(Int64(m.counts[$0] ?? 0))) })
        var fields: [(String, JSON)] = [
            ("format", .string("queuectl-jobs")), ("version", .int(1)),
            ("generation", .int(m.generation)), ("job_count", .int(Int64(m.jobCount))),
            ("jobs_bytes", .int(Int64(m.jobsBytes))), ("counts", counts),
        ]
        if let c = m.cut {
            fields.append(("cut", .object([("generation", .int(c.generation)), ("offset", .int(Int64(c.offset)))])))
        }
        var header = Array((prefix + JSON.object(fields).serialized()).utf8)
        guard header.count + 2 <= headerRoom else { throw QueueError.system("the snapshot header of \(path) is too long") }
        header += [UInt8](repeating: 0x20, count: headerRoom - 2 - header.count) + Array(",\n".utf8)
        try Posix.pwriteAll(fd: fd, header, at: 0, path: path)
    }

    /// Reads and checks the header line; `fileSize` and the last bytes catch a truncated file.
    public static func readMeta(headerLine line: [UInt8], fileSize: Int, tail: [UInt8], path: String) throws -> Meta {
        let pre = Array(prefix.utf8)
        guard line.count > pre.count + 1, Array(line.prefix(pre.count)) == pre, line.last == UInt8(ascii: ",") else {
            throw corrupt(path, "the first line is not a queuectl header")
        }
        let metaBytes = Array(line[pre.count..<(line.count - 1)])
        guard let meta = try? JSONParser.parse(bytes: metaBytes), meta["format"]?.stringValue == "queuectl-jobs",
              let gen = meta["generation"]?.intValue, let count = meta["job_count"]?.intValue,
              let jb = meta["jobs_bytes"]?.intValue, case .object(let cs)? = meta["counts"] else {
            throw corrupt(path, "the header is not valid")
        }
        guard meta["version"]?.intValue == 1 else {
            throw QueueError.corrupt(path: path, reason: "written by a newer queuectl (format version \(meta["version"]?.serialized() ?? "?"))")
        }
        // Sized once (no resize while it fills), and never beyond one entry per state.
        var counts = [JobState: Int](minimumCapacity: min(cs.count, JobState.allCases.count))
        for (k, v) in cs {
            guard let s = JobState(rawValue: k), let c = v.intValue else { throw corrupt(path, "bad count \"\(k)\"") }
            counts[s] = Int(c)
        }
        guard fileSize - (line.count + 1) == Int(jb), tail == [0x5D, 0x7D, 0x0A] else {
            throw corrupt(path, "it is truncated or was changed by hand (size does not match its header)")
        }
        var cut: Cut? = nil
        if let c = meta["cut"] {
            guard let cg = c["generation"]?.intValue, let co = c["offset"]?.intValue, co >= 0, co < Int64(Int32.max) * 1024 else {
                throw corrupt(path, "the header's cut is not valid")
            }
            cut = Cut(generation: cg, offset: Int(co))
        }
        return Meta(generation: gen, jobCount: Int(count), counts: counts, jobsBytes: Int(jb), cut: cut)
    }

    static func readMeta(buffer: UnsafeBufferPointer<UInt8>, path: String) throws -> (Meta, bodyStart: Int) {
        guard let nl = JournalFile.nextNewline(buffer, from: 0) else { throw corrupt(path, "no header line") }
        let meta = try readMeta(headerLine: Array(buffer[0..<nl]), fileSize: buffer.count,
                                tail: Array(buffer[max(0, buffer.count - 3)...]), path: path)
        return (meta, nl + 1)
    }

    public static func readMeta(bytes: [UInt8], path: String) throws -> (Meta, bodyStart: Int) {
        guard let nl = bytes.firstIndex(of: 0x0A) else { throw corrupt(path, "no header line") }
        let meta = try readMeta(headerLine: Array(bytes[0..<nl]), fileSize: bytes.count, tail: Array(bytes.suffix(3)), path: path)
        return (meta, nl + 1)
    }

    /// Reads the whole snapshot, one job line at a time.
    public static func decode(bytes: [UInt8], path: String) throws -> (QueueState, Meta) {
        try bytes.withUnsafeBufferPointer { try decode(buffer: $0, path: path) }
    }

    /// Decodes from memory the caller owns (the store maps the file, so its 40 MB at 100,000 jobs
    /// never sit on the heap beside the decoded jobs). Given `omitting` (a worker's load), finished
    /// jobs are only counted there, told apart by their `state` key without being decoded.
    static func decode(buffer: UnsafeBufferPointer<UInt8>, path: String, omitting: OmittedJobs? = nil) throws -> (QueueState, Meta) {
        guard let nl = JournalFile.nextNewline(buffer, from: 0) else { throw corrupt(path, "no header line") }
        let meta = try readMeta(headerLine: Array(buffer[0..<nl]), fileSize: buffer.count,
                                tail: Array(buffer[max(0, buffer.count - 3)...]), path: path)
        let bodyStart = nl + 1
        var state = QueueState()
        var omitted: [JobState: Int] = [:]
        if omitting == nil { state.reserveCapacity(meta.jobCount) }
        try { (buf: UnsafeBufferPointer<UInt8>) in
            var i = bodyStart
            var released = 0
            var lineNo = 2
            func nextLine() -> UnsafeBufferPointer<UInt8>? {
                guard i < buf.count else { return nil }
                let j = JournalFile.nextNewline(buf, from: i) ?? buf.count
                let line = UnsafeBufferPointer(rebasing: buf[i..<j])
                i = j + 1
                lineNo += 1
                return line
            }
            guard let open = nextLine(), Array(open) == Array("\"jobs\":[".utf8) else {
                throw corrupt(path, "line 2 should open the jobs array")
            }
            while let line = nextLine() {
                if Array(line) == [0x5D, 0x7D] { break }  // "]}"
                var body = line
                if body.last == UInt8(ascii: ",") { body = UnsafeBufferPointer(rebasing: body[0..<(body.count - 1)]) }
                if omitting != nil, let st = ScheduleScan.finishedState(body) {
                    omitted[st, default: 0] += 1
                } else {
                    guard let v = try? JSONParser.parse(bytes: body), let job = Job(json: v) else {
                        throw corrupt(path, "line \(lineNo) is not a valid job")
                    }
                    state.put(job)
                }
                if i - released > 4 << 20 {  // drop decoded pages of a mapped file as we go
                    Posix.releaseMapped(buf, upTo: i)
                    released = i
                }
            }
        }(buffer)
        let found = state.count + omitted.values.reduce(0, +)
        guard found == meta.jobCount else {
            throw corrupt(path, "it holds \(found) jobs but its header says \(meta.jobCount)")
        }
        if let o = omitting {
            o.counts = omitted
            o.generation = meta.generation
            state.omit(o)
        }
        return (state, meta)
    }

    /// The job whose record `jobs.ids` places at (offset, length), nil if it is not there.
    static func record(_ id: String, at offset: Int, length: Int, path: String) -> Job? {
        guard offset >= 0, (1...(16 << 20)).contains(length) else { return nil }
        guard let fd = Posix.openQuietly(path) else { return nil }
        defer { fd.close() }
        var line = [UInt8](repeating: 0, count: length)
        let got = line.withUnsafeMutableBytes { pread(fd.rawValue, $0.baseAddress!, length, off_t(offset)) }
        guard got == length, let v = try? JSONParser.parse(bytes: line), let job = Job(json: v), job.id == id else { return nil }
        return job
    }

    /// The record of `id`, found by scanning the file for the line that starts with it (when no
    /// index of this generation can say where it is). Pages are dropped as the scan passes them.
    static func scanForRecord(_ id: String, path: String) -> Job? {
        var w = ByteWriter(capacity: id.utf8.count + 16)
        w.lit("\n{\"id\":"); w.str(id); w.lit(",")
        let needle = w.bytes
        return (try? Posix.withMappedFile(path) { buf -> Job? in
            guard let buf = buf else { return nil }
            defer { Posix.releaseMapped(buf, upTo: buf.count) }
            guard let hit = ScheduleScan.find(needle, in: buf, from: 0, to: buf.count) else { return nil }
            let start = hit + 1
            var end = JournalFile.nextNewline(buf, from: start) ?? buf.count
            if end > start, buf[end - 1] == UInt8(ascii: ",") { end -= 1 }
            guard let v = try? JSONParser.parse(bytes: UnsafeBufferPointer(rebasing: buf[start..<end])), let job = Job(json: v), job.id == id else { return nil }
            return job
        }) ?? nil
    }

    static func corrupt(_ path: String, _ why: String) -> QueueError { .corrupt(path: path, reason: why) }
}
