import Glibc

/// The on-disk format of `journal.jsonl`: the changes since the snapshot, one JSON line each.
///
///     {"journal":"queuectl","generation":7}
///     {"id":"a1","op":"put","from":null,"to":"pending","job":{…}}
///     {"id":"a1","op":"del","from":"completed","to":null}
///
/// The first four keys are always written in this order, and ids and states never need JSON
/// escaping, so `scan` can read id/op/from/to without parsing the job (cheap enqueue and status).
public enum JournalFile {
    public enum Op: String { case put, del }

    public struct Entry {
        public var id: String
        public var op: Op
        public var from: JobState?
        public var to: JobState?
        public var job: Job?
    }

    /// `follows`: the compaction that started this journal folded generation `follows.generation`
    /// up to `follows.offset`, and kept that journal as `journal.<generation>.jsonl`: a process
    /// that had read it up to an earlier offset reads the rest there instead of reloading every job.
    public static func header(generation: Int64, follows: (generation: Int64, offset: Int)? = nil) -> String {
        guard let f = follows else { return "{\"journal\":\"queuectl\",\"generation\":\(generation)}\n" }
        return "{\"journal\":\"queuectl\",\"generation\":\(generation),\"follows\":{\"generation\":\(f.generation),\"offset\":\(f.offset)}}\n"
    }

    public struct Header { public var generation: Int64; public var follows: (generation: Int64, offset: Int)? }

    public static func parseHeaderInfo(_ line: UnsafeBufferPointer<UInt8>) -> Header? {
        // Every transaction reads the header: the plain form as written above is read directly.
        if let g = plainHeaderGeneration(line) { return Header(generation: g, follows: nil) }
        guard let v = try? JSONParser.parse(bytes: line), v["journal"]?.stringValue == "queuectl",
              let g = v["generation"]?.intValue else { return nil }
        var follows: (Int64, Int)? = nil
        if let f = v["follows"], let fg = f["generation"]?.intValue, let fo = f["offset"]?.intValue, fo >= 0 { follows = (fg, Int(fo)) }
        return Header(generation: g, follows: follows)
    }

    /// The generation of a header exactly `{"journal":"queuectl","generation":N}`; nil for any
    /// other form (then the JSON parser decides) or a number that does not fit.
    static func plainHeaderGeneration(_ line: UnsafeBufferPointer<UInt8>) -> Int64? {
        let prefix: StaticString = "{\"journal\":\"queuectl\",\"generation\":"
        let p = UnsafeBufferPointer(start: prefix.utf8Start, count: prefix.utf8CodeUnitCount)
        guard line.count > p.count + 1, line.count <= p.count + 19, line[line.count - 1] == UInt8(ascii: "}") else { return nil }
        for i in 0..<p.count where line[i] != p[i] { return nil }
        if line[p.count] == UInt8(ascii: "0") && line.count > p.count + 2 { return nil }  // not JSON: let the parser refuse it
        var g: Int64 = 0
        for i in p.count..<(line.count - 1) {
            let d = line[i] &- UInt8(ascii: "0")
            guard d <= 9 else { return nil }
            let (m, o1) = g.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(Int64(d))
            guard !o1, !o2 else { return nil }
            g = s
        }
        return g
    }

    public static func line(put job: Job, from: JobState?) -> [UInt8] {
        var w = ByteWriter(capacity: 512)
        w.lit("{\"id\":\""); w.raw(job.id)
        w.lit("\",\"op\":\"put\",\"from\":"); w.raw(stateJSON(from))
        w.lit(",\"to\":\""); w.raw(job.state.rawValue)
        w.lit("\",\"job\":")
        job.writeCompact(to: &w)
        w.lit("}\n")
        return w.bytes
    }

    public static func line(delete id: String, from: JobState) -> [UInt8] {
        Array("{\"id\":\"\(id)\",\"op\":\"del\",\"from\":\"\(from.rawValue)\",\"to\":null}\n".utf8)
    }

    static func stateJSON(_ s: JobState?) -> String { s.map { "\"" + $0.rawValue + "\"" } ?? "null" }

    /// Index of the next newline at or after `from`.
    @inline(__always)
    public static func nextNewline(_ buf: UnsafeBufferPointer<UInt8>, from: Int) -> Int? {
        guard from < buf.count, let base = buf.baseAddress else { return nil }
        guard let p = memchr(base + from, 0x0A, buf.count - from) else { return nil }
        return base.distance(to: p.assumingMemoryBound(to: UInt8.self))
    }

    /// End of the last complete line. Bytes after it are a torn append (a writer died
    /// mid-write): they are ignored by readers and cut off by the next writer.
    public static func validEnd(_ buf: UnsafeBufferPointer<UInt8>) -> Int {
        var i = buf.count
        while i > 0 && buf[i - 1] != 0x0A { i -= 1 }
        return i
    }

    /// Ranges of the non-empty lines in `from..<to` (without their newlines).
    public static func lineRanges(_ buf: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var start = from
        while start < to, let nl = nextNewline(buf, from: start), nl < to {
            if nl > start { out.append(start..<nl) }
            start = nl + 1
        }
        return out
    }

    /// The last change line for `id` in `from..<to` (its op and byte range), found by comparing
    /// line prefixes (`{"id":"<id>","op":"`) without parsing anything.
    public static func lastLine(of id: String, in buf: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> (Op, Range<Int>)? {
        let prefix = idPrefix + Array("\(id)\",\"op\":\"".utf8)
        var result: (Op, Range<Int>)? = nil
        var start = from
        while start < to {
            let nl = nextNewline(buf, from: start) ?? to
            if nl - start > prefix.count + 3 {
                var same = true
                for k in 0..<prefix.count where buf[start + k] != prefix[k] { same = false; break }
                if same { result = (buf[start + prefix.count] == UInt8(ascii: "p") ? .put : .del, start..<nl) }
            }
            start = nl + 1
        }
        return result
    }

    /// How every change line starts: its id comes next (ids need no escaping: JobInput.isValidId).
    static let idPrefix = Array("{\"id\":\"".utf8)

    /// Parses the header line; nil if it is not one.
    public static func parseHeader(_ line: UnsafeBufferPointer<UInt8>) -> Int64? { parseHeaderInfo(line)?.generation }

    /// Full parse of a change line.
    public static func parse(_ line: UnsafeBufferPointer<UInt8>, path: String, lineNo: Int) throws -> Entry {
        guard let v = try? JSONParser.parse(bytes: line), let id = v["id"]?.stringValue,
              let op = v["op"]?.stringValue.flatMap(Op.init(rawValue:)) else {
            throw QueueError.corrupt(path: path, reason: "line \(lineNo) is not a valid change")
        }
        let from = v["from"]?.stringValue.flatMap(JobState.init(rawValue:))
        let to = v["to"]?.stringValue.flatMap(JobState.init(rawValue:))
        var job: Job? = nil
        if op == .put {
            guard let j = v["job"].flatMap(Job.init(json:)), j.id == id else {
                throw QueueError.corrupt(path: path, reason: "line \(lineNo) holds an invalid job")
            }
            job = j
        }
        return Entry(id: id, op: op, from: from, to: to, job: job)
    }

    /// Reads id/op/from/to from the fixed-layout prefix of a change line without parsing the job.
    public static func scan(_ line: UnsafeBufferPointer<UInt8>, path: String, lineNo: Int) throws -> Entry {
        var i = 0
        func expect(_ lit: String) -> Bool {
            for b in lit.utf8 {
                guard i < line.count, line[i] == b else { return false }
                i += 1
            }
            return true
        }
        func quoted() -> String? {
            let start = i
            while i < line.count && line[i] != UInt8(ascii: "\"") {
                if line[i] == UInt8(ascii: "\\") { return nil }
                i += 1
            }
            guard i < line.count else { return nil }
            let s = String(decoding: UnsafeBufferPointer(rebasing: line[start..<i]), as: UTF8.self)
            i += 1
            return s
        }
        func state() -> (ok: Bool, JobState?) {
            if expect("null") { return (true, nil) }
            guard expect("\""), let s = quoted(), let st = JobState(rawValue: s) else { return (false, nil) }
            return (true, st)
        }
        guard expect("{\"id\":\""), let id = quoted(), expect(",\"op\":\""), let opText = quoted(),
              let op = Op(rawValue: opText), expect(",\"from\":") else {
            return try parse(line, path: path, lineNo: lineNo)
        }
        let from = state()
        guard from.ok, expect(",\"to\":") else { return try parse(line, path: path, lineNo: lineNo) }
        let to = state()
        guard to.ok, line.last == UInt8(ascii: "}") else { return try parse(line, path: path, lineNo: lineNo) }
        return Entry(id: id, op: op, from: from.1, to: to.1, job: nil)
    }
}
