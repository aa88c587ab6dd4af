import Glibc

/// `journal.bloom` (ARCHITECTURE.md, "The home"): a Bloom filter of the ids that the journal's
/// change lines name, up to an offset (`covered`), so that a light transaction can learn that an
/// id is not in the journal without reading every line: an enqueue's id check read the whole
/// journal, up to 3 MiB in a big home, for one answer.
///
/// It is a hint, never the truth:
/// - it only ever says "not in the lines before `covered`"; a "maybe" reads them as before, and
///   the lines after `covered` are always read;
/// - it is written, whole and checksummed, only after the journal lines it covers are on disk,
///   and those lines never change for its generation and inode: a torn copy is refused by its
///   checksum, and an older one covers less, which costs reading, never a wrong answer;
/// - a writer that does not maintain it (a worker's full transaction) leaves `covered` where it
///   was, so its lines are read by the next light transaction, which moves `covered` past them.
struct JournalIdFilter {
    static let fileSize = 8192
    static let bitsStart = 64
    static let bitCount = (fileSize - bitsStart) * 8
    static let hashes = 3
    static let magic = Array("qjbloom1".utf8)
    /// Journals with fewer change bytes than this are read whole: cheaper than the filter's file.
    static let usedFrom = 64 * 1024

    var generation: Int64
    var inode: UInt64
    /// Where the journal's change lines start (after its header line).
    var changesStart: Int
    /// Every change line in `changesStart..<covered` has its id in the filter.
    var covered: Int
    private var bits: [UInt8]

    init(generation: Int64, inode: UInt64, changesStart: Int) {
        self.generation = generation
        self.inode = inode
        self.changesStart = changesStart
        self.covered = changesStart
        self.bits = [UInt8](repeating: 0, count: Self.fileSize - Self.bitsStart)
    }

    /// The filter in `bytes` (the whole file), or nil if they are not one: wrong size or magic, a
    /// checksum that does not match (torn or changed by hand), offsets out of order.
    init?(bytes: [UInt8]) {
        guard bytes.count == Self.fileSize, Array(bytes[0..<8]) == Self.magic,
              Self.checksum(bytes) == Self.word(bytes, at: 40) else { return nil }
        let gen = Self.word(bytes, at: 8), start = Self.word(bytes, at: 24), end = Self.word(bytes, at: 32)
        guard gen <= UInt64(Int64.max), start <= end, end <= UInt64(Int.max) else { return nil }
        self.generation = Int64(gen)
        self.inode = Self.word(bytes, at: 16)
        self.changesStart = Int(start)
        self.covered = Int(end)
        self.bits = Array(bytes[Self.bitsStart...])
    }

    /// The whole file: magic, generation, inode, changesStart, covered, checksum, the bits.
    var bytes: [UInt8] {
        var out = Self.magic
        for w in [UInt64(bitPattern: generation), inode, UInt64(changesStart), UInt64(covered), 0, 0, 0] {
            withUnsafeBytes(of: w.littleEndian) { out.append(contentsOf: $0) }
        }
        out += bits
        let sum = Self.checksum(out).littleEndian
        withUnsafeBytes(of: sum) { for (i, b) in $0.enumerated() { out[40 + i] = b } }
        return out
    }

    func mayContain<C: Collection>(_ id: C) -> Bool where C.Element == UInt8 {
        Self.positions(id).allSatisfy { bits[$0 >> 3] & (1 << UInt8($0 & 7)) != 0 }
    }

    mutating func insert<C: Collection>(_ id: C) where C.Element == UInt8 {
        for p in Self.positions(id) { bits[p >> 3] |= 1 << UInt8(p & 7) }
    }

    /// Adds the id of every change line in `buf[from..<to]` (whole lines). False, adding nothing
    /// that could be trusted, if a line does not start the way every change line does.
    mutating func insertLines(_ buf: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> Bool {
        let prefix = JournalFile.idPrefix
        var start = from
        while start < to {
            let nl = JournalFile.nextNewline(buf, from: start) ?? to
            if nl > start {
                guard nl - start > prefix.count, prefix.indices.allSatisfy({ buf[start + $0] == prefix[$0] }) else { return false }
                var end = start + prefix.count
                while end < nl && buf[end] != UInt8(ascii: "\"") && buf[end] != UInt8(ascii: "\\") { end += 1 }
                guard end < nl, buf[end] == UInt8(ascii: "\""), end > start + prefix.count else { return false }
                insert(UnsafeBufferPointer(rebasing: buf[(start + prefix.count)..<end]))
            }
            start = nl + 1
        }
        return true
    }

    /// FNV-1a of the id, split into the filter's bit positions (double hashing).
    private static func positions<C: Collection>(_ id: C) -> [Int] where C.Element == UInt8 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in id { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        let step = (h >> 32) | 1
        return (0..<UInt64(hashes)).map { Int((h &+ $0 &* step) % UInt64(bitCount)) }
    }

    private static func word(_ bytes: [UInt8], at offset: Int) -> UInt64 {
        bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
    }

    /// Over every 8-byte word but the checksum's own (bytes 40..<48).
    private static func checksum(_ bytes: [UInt8]) -> UInt64 {
        bytes.withUnsafeBytes { raw in
            var h: UInt64 = 0x9e37_79b9_7f4a_7c15
            for offset in stride(from: 0, to: raw.count - 7, by: 8) where offset != 40 {
                h = (h ^ raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) &* 0xff51_afd7_ed55_8ccd
                h ^= h >> 29
            }
            return h
        }
    }
}

extension JSONStore.View {
    /// Where the journal's own change lines start in the changes buffer `buf`: they end it, and a
    /// compaction's kept tail may come first. Nil for a view that holds no lines (a full one).
    func ownChangesStart(in buf: UnsafeBufferPointer<UInt8>) -> Int? {
        let start = buf.count - (journalValidEnd - changesStart)
        return start >= 0 ? start : nil
    }
}

extension JSONStore {
    /// The filter, if the view's journal is long enough to use one and the file describes
    /// exactly this journal. Caller holds the lock.
    func loadIdFilter(for view: View) -> JournalIdFilter? {
        guard view.snapshotExists, !view.journalNeedsReset,
              view.journalValidEnd - view.changesStart >= JournalIdFilter.usedFrom,
              let fd = Posix.openQuietly(home.journalIdFilter) else { return nil }
        defer { fd.close() }
        // Exactly the filter's size, whatever the file holds (not Posix.readAll: a file replaced
        // by something large is refused, not read).
        var bytes = [UInt8](repeating: 0, count: JournalIdFilter.fileSize)
        let n = bytes.withUnsafeMutableBytes { pread(fd.rawValue, $0.baseAddress, $0.count, 0) }
        guard n == JournalIdFilter.fileSize, let f = JournalIdFilter(bytes: bytes),
              f.generation == view.generation, f.inode == view.journalIno, f.changesStart == view.changesStart,
              f.covered <= view.journalValidEnd else { return nil }
        return f
    }

    /// The last change line for `id` among the view's changes, reading only the lines the
    /// filter cannot rule out.
    func lastChange(of id: String, in view: View, filter: JournalIdFilter?) -> (JournalFile.Op, Range<Int>)? {
        view.withChanges { buf in
            guard let f = filter, let ownStart = view.ownChangesStart(in: buf), !f.mayContain(id.utf8) else {
                return JournalFile.lastLine(of: id, in: buf, from: 0, to: buf.count)
            }
            let coveredEnd = ownStart + (f.covered - view.changesStart)
            return JournalFile.lastLine(of: id, in: buf, from: coveredEnd, to: buf.count)
                ?? JournalFile.lastLine(of: id, in: buf, from: 0, to: ownStart)
        }
    }

    /// After a light transaction appended `lines` durably (the journal now ends at `end`): the
    /// filter, brought up to `end`. Any failure leaves the old file, which covers less.
    func advanceIdFilter(view: View, loaded: JournalIdFilter?, lines: [[UInt8]], end: Int) {
        guard view.snapshotExists, !view.journalNeedsReset, end - view.changesStart >= JournalIdFilter.usedFrom else { return }
        var f = loaded ?? loadIdFilter(for: view)
            ?? JournalIdFilter(generation: view.generation, inode: view.journalIno, changesStart: view.changesStart)
        let readUpTo = view.withChanges { buf -> Bool in
            guard let ownStart = view.ownChangesStart(in: buf) else { return false }
            return f.insertLines(buf, from: ownStart + (f.covered - view.changesStart), to: buf.count)
        }
        guard readUpTo else { return }
        for line in lines {
            guard line.withUnsafeBufferPointer({ f.insertLines($0, from: 0, to: $0.count) }) else { return }
        }
        f.covered = end
        guard let fd = try? Posix.open(home.journalIdFilter, O_WRONLY | O_CREAT, 0o600) else { return }
        defer { fd.close() }
        try? Posix.pwriteAll(fd: fd, f.bytes, at: 0, path: home.journalIdFilter)
    }
}
