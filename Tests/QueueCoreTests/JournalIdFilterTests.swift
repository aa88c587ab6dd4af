import Foundation
import XCTest
@testable import QueueCore

/// journal.bloom: light lookups give the answers a whole read of the journal gives, whatever the
/// filter file holds, and the filter is kept up to the journal's end by light writers.
final class JournalIdFilterTests: XCTestCase {
    typealias TempHome = StoreTests.TempHome

    func job(_ id: String) -> Job {
        Job(id: id, command: "echo \(id)", maxRetries: 3, createdAt: Clock.nowMillis(), cwd: "/")
    }

    /// A store as one command-line process has it, with compaction out of the way.
    func store(_ t: TempHome) -> JSONStore {
        let s = t.store()
        s.compactThreshold = 64 << 20
        return s
    }

    func testTheFileRoundTripsAndATornOrAlteredCopyIsRefused() throws {
        var f = JournalIdFilter(generation: 7, inode: 42, changesStart: 50)
        f.insert(Array("job-1".utf8))
        f.covered = 70_000
        let bytes = f.bytes
        XCTAssertEqual(bytes.count, JournalIdFilter.fileSize)
        let back = try XCTUnwrap(JournalIdFilter(bytes: bytes))
        XCTAssertEqual(back.generation, 7)
        XCTAssertEqual(back.inode, 42)
        XCTAssertEqual(back.changesStart, 50)
        XCTAssertEqual(back.covered, 70_000)
        XCTAssertTrue(back.mayContain("job-1".utf8))
        XCTAssertFalse(back.mayContain("job-2".utf8))
        for i in [0, 7, 8, 16, 24, 32, 40, 47, 48, 63, 64, 5000, 8191] {
            var b = bytes
            b[i] ^= 0x10
            XCTAssertNil(JournalIdFilter(bytes: b), "byte \(i) changed")
        }
        XCTAssertNil(JournalIdFilter(bytes: Array(bytes.prefix(4096))), "torn: half the file")
        XCTAssertNil(JournalIdFilter(bytes: []))
    }

    func testEveryChangeLinesIdGoesInAndALineOfAnotherShapeStopsIt() {
        var lines: [UInt8] = []
        for id in ["a", "b.c", "D_9-x"] { lines += JournalFile.line(put: job(id), from: nil) }
        lines += JournalFile.line(delete: "gone", from: .dead)
        var f = JournalIdFilter(generation: 1, inode: 1, changesStart: 0)
        XCTAssertTrue(lines.withUnsafeBufferPointer { f.insertLines($0, from: 0, to: $0.count) })
        for id in ["a", "b.c", "D_9-x", "gone"] { XCTAssertTrue(f.mayContain(id.utf8), id) }
        for bad in ["{\"op\":\"put\"}\n", "{\"id\":\"\",\"op\":\"put\"}\n", "{\"id\":\"a\\\"b\",\"op\":\"put\"}\n", "{\"id\":\"unterminated\n"] {
            var g = JournalIdFilter(generation: 1, inode: 1, changesStart: 0)
            let text = Array(bad.utf8)
            XCTAssertFalse(text.withUnsafeBufferPointer { g.insertLines($0, from: 0, to: $0.count) }, bad)
        }
    }

    /// Enqueued one by one past the size where the filter is used, then every kind of lookup.
    func testLightLookupsAgreeWithTheJournalWhateverTheFilterHolds() throws {
        let t = TempHome()
        let n = 400  // about 120 KiB of change lines: past JournalIdFilter.usedFrom
        for i in 0..<n {
            try store(t).transaction { tx in
                XCTAssertFalse(try tx.contains("e\(i)"))
                try tx.put(job("e\(i)"))
            }
        }
        func filter() throws -> JournalIdFilter? {
            guard let data = t.bytes("journal.bloom") else { return nil }
            return JournalIdFilter(bytes: [UInt8](data))
        }
        func journalSize() throws -> Int { try XCTUnwrap(t.bytes("journal.jsonl")).count }
        XCTAssertEqual(try filter()?.covered, try journalSize(), "the last enqueue brought the filter to the end")

        func answers(_ label: String, present: [String], absent: [String]) throws {
            try store(t).transaction { tx in
                for id in present { XCTAssertTrue(try tx.contains(id), "\(label): \(id)") }
                for id in absent { XCTAssertFalse(try tx.contains(id), "\(label): \(id)") }
            }
            for id in present { XCTAssertEqual(try store(t).job(id)?.id, id, "\(label): show \(id)") }
            for id in absent { XCTAssertNil(try store(t).job(id), "\(label): show \(id)") }
        }
        let early = ["e0", "e1", "e5", "e199", "e399"]
        let never = (0..<50).map { "x\($0)" }
        try answers("covered", present: early, absent: never)

        // A full transaction (as a worker's) writes without the filter; a light one then moves
        // the filter past that line, which must take its id along.
        try store(t).transaction { tx in
            _ = try tx.state
            try tx.put(job("full1"))
        }
        XCTAssertLessThan(try filter()?.covered ?? 0, try journalSize())
        try answers("after a full write", present: early + ["full1"], absent: never)
        try store(t).transaction { tx in try tx.put(job("light1")) }
        XCTAssertEqual(try filter()?.covered, try journalSize())
        try answers("filter moved past it", present: early + ["full1", "light1"], absent: never)

        // A deleted job is gone, although its id stays in the filter.
        try store(t).transaction { tx in try tx.delete("e5") }
        try answers("deleted", present: ["e0", "full1"], absent: ["e5"] + never)

        // A damaged filter is ignored, and the next light write replaces it.
        var damaged = [UInt8](try XCTUnwrap(t.bytes("journal.bloom")))
        damaged[100] ^= 0xFF
        try Data(damaged).write(to: URL(fileURLWithPath: t.home.journalIdFilter))
        XCTAssertNil(try filter())
        try answers("damaged filter", present: early.filter { $0 != "e5" } + ["full1"], absent: never)
        try store(t).transaction { tx in try tx.put(job("light2")) }
        XCTAssertEqual(try filter()?.covered, try journalSize())

        // A compaction starts a new generation: the old filter no longer describes the journal.
        try store(t).compactNow()
        try answers("after compaction", present: ["e0", "e399", "full1", "light2"], absent: ["e5"] + never)
    }

    /// A journal that starts over under the same generation (here emptied by hand) takes the
    /// filter with it: its old offsets would otherwise rule out the new lines' ids.
    func testAJournalThatStartsOverDropsTheFilter() throws {
        let t = TempHome()
        for i in 0..<300 { try store(t).transaction { tx in try tx.put(job("e\(i)")) } }
        XCTAssertNotNil(t.bytes("journal.bloom"))
        try Data().write(to: URL(fileURLWithPath: t.home.journal))
        try store(t).transaction { tx in  // a worker's kind of write: it does not keep the filter
            _ = try tx.state
            for i in 0..<400 { try tx.put(job("y\(i)")) }
        }
        try store(t).transaction { tx in
            for id in ["y0", "y1", "y200", "y399"] { XCTAssertTrue(try tx.contains(id), id) }
        }
        XCTAssertEqual(try store(t).job("y1")?.id, "y1")
    }

    /// The filter really spares the lines it covers: an id it says is absent is not looked for
    /// there (here a filter that lies, to see it), and "maybe" reads every line.
    func testAnIdTheFilterRulesOutIsNotLookedForInTheLinesItCovers() throws {
        let t = TempHome()
        for i in 0..<300 { try store(t).transaction { tx in try tx.put(job("e\(i)")) } }
        let s = store(t)
        try s.transaction { tx in
            let view = tx.view
            var lying = JournalIdFilter(generation: view.generation, inode: view.journalIno, changesStart: view.changesStart)
            lying.covered = view.journalValidEnd
            XCTAssertNil(s.lastChange(of: "e7", in: view, filter: lying), "covered lines are not read")
            lying.insert(Array("e7".utf8))
            XCTAssertEqual(s.lastChange(of: "e7", in: view, filter: lying)?.0, .put, "maybe: read")
            XCTAssertEqual(s.lastChange(of: "e7", in: view, filter: nil)?.0, .put)
            var half = JournalIdFilter(generation: view.generation, inode: view.journalIno, changesStart: view.changesStart)
            half.covered = view.changesStart
            XCTAssertEqual(s.lastChange(of: "e299", in: view, filter: half)?.0, .put, "lines after covered are read")
        }
    }
}
