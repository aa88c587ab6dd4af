import Foundation
import XCTest
@testable import QueueCore

/// The store's crash and concurrency properties on a real distributed file system: one JuiceFS
/// volume with two client mounts, `a` and `b`, standing in for two machines. Each client has its
/// own attribute and directory-entry caches, so what one writes reaches the other only through
/// the store's locking and close-to-open discipline. Skipped where JuiceFS or FUSE is missing.
final class SharedFSStoreTests: XCTestCase {
    static var volume: String?
    static var skipReason = "not set up"

    override class func setUp() {
        super.setUp()
        let dir = Harness.makeTempDir()
        let r = shell(["up", dir, "a", "b"])
        if r.code == 0 { volume = dir } else { skipReason = r.out.isEmpty ? "juicefs volume did not come up" : r.out; try? FileManager.default.removeItem(atPath: dir) }
    }

    override class func tearDown() {
        if let dir = volume {
            _ = shell(["down", dir, "a", "b"])
            try? FileManager.default.removeItem(atPath: dir)
        }
        super.tearDown()
    }

    /// Runs sharedfs_volume.sh through system(3): Foundation's Process was seen never to notice
    /// the script's exit once it had started the JuiceFS daemons.
    static func shell(_ args: [String]) -> (code: Int32, out: String) {
        let script = Harness.repoRoot.appendingPathComponent("Tests/flows/sharedfs_volume.sh").path
        let log = Harness.makeTempDir() + "/out"
        defer { try? FileManager.default.removeItem(atPath: (log as NSString).deletingLastPathComponent) }
        func quote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        let status = system((["bash", script] + args).map(quote).joined(separator: " ") + " >" + quote(log) + " 2>&1 </dev/null")
        let code: Int32 = status == -1 ? -1 : (status >> 8) & 0xff
        let out = String(decoding: FileManager.default.contents(atPath: log) ?? Data(), as: UTF8.self)
        return (code, out.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// The same home seen through client `a` and through client `b`.
    var homeA = "", homeB = ""

    override func setUpWithError() throws {
        guard let dir = SharedFSStoreTests.volume else { throw XCTSkip("JuiceFS: \(SharedFSStoreTests.skipReason)") }
        let name = "h-" + UUID().uuidString
        homeA = dir + "/a/" + name
        homeB = dir + "/b/" + name
    }

    func job(_ id: String) -> Job { Job(id: id, command: "echo \(id)", maxRetries: 3, createdAt: Clock.nowMillis(), cwd: "/") }

    func add(_ store: JSONStore, _ ids: [String]) throws {
        try store.transaction { tx in for id in ids { try tx.put(job(id)) } }
    }

    func testAReaderOnAnotherClientFollowsEveryCompaction() throws {
        let writer = JSONStore(home: Home(path: homeA)), reader = JSONStore(home: Home(path: homeB))
        writer.compactThreshold = 1500
        for i in 0..<60 {
            try add(writer, ["j\(i)"])
            // The reader keeps its cached state and journal offset across the writer's compactions.
            let seen = try reader.read { ($0.count, $0["j\(i)"] != nil) }
            XCTAssertEqual(seen.0, i + 1)
            XCTAssertTrue(seen.1, "client b misses j\(i)")
        }
        let gen = String(decoding: FileManager.default.contents(atPath: homeB + "/jobs.json")?.prefix(200) ?? Data(), as: UTF8.self)
        XCTAssertFalse(gen.contains("\"generation\":1,"), "the writer should have compacted: \(gen)")
        XCTAssertEqual(try reader.counts()[.pending], 60)
    }

    func testAlternatingWritersOnTwoClientsLoseNoUpdate() throws {
        let a = JSONStore(home: Home(path: homeA)), b = JSONStore(home: Home(path: homeB))
        a.compactThreshold = 3000
        b.compactThreshold = 3000
        try add(a, ["x"])
        for i in 0..<40 {
            let s = i % 2 == 0 ? b : a
            try s.transaction { tx in
                var j = try XCTUnwrap(try tx.job("x"))
                j.attempts += 1
                try tx.put(j)
                try tx.put(job("y\(i)"))
            }
        }
        for s in [a, b, JSONStore(home: Home(path: homeA))] {
            let state = try s.read { $0 }
            XCTAssertEqual(state["x"]?.attempts, 40)
            XCTAssertEqual(state.count, 41)
        }
    }

    func testATornTailWrittenThroughOneClientIsCutByTheOther() throws {
        try add(JSONStore(home: Home(path: homeA)), ["a", "b"])
        let h = try XCTUnwrap(FileHandle(forWritingAtPath: homeA + "/journal.jsonl"))
        h.seekToEndOfFile()
        h.write(Data(#"{"id":"c","op":"put","from":null,"to":"pend"#.utf8))  // died mid-append
        h.closeFile()
        XCTAssertEqual(try JSONStore(home: Home(path: homeB)).read { $0.count }, 2)
        try add(JSONStore(home: Home(path: homeB)), ["d"])
        XCTAssertEqual(try JSONStore(home: Home(path: homeA)).read { Set($0.ids) }, ["a", "b", "d"])
        let text = String(decoding: FileManager.default.contents(atPath: homeA + "/journal.jsonl") ?? Data(), as: UTF8.self)
        XCTAssertFalse(text.contains("\"pend{") || text.contains("\"pend\n"))
    }

    func testAStaleJournalAfterACrashedCompactionIsNotAppliedTwice() throws {
        let s = JSONStore(home: Home(path: homeA))
        try add(s, ["a"])
        try s.transaction { tx in var j = try XCTUnwrap(try tx.job("a")); j.attempts = 1; try tx.put(j) }
        let oldJournal = try XCTUnwrap(FileManager.default.contents(atPath: homeA + "/journal.jsonl"))
        try s.compactNow()
        try oldJournal.write(to: URL(fileURLWithPath: homeA + "/journal.jsonl"))  // died before the journal reset
        let state = try JSONStore(home: Home(path: homeB)).read { $0 }
        XCTAssertEqual(state.count, 1)
        XCTAssertEqual(state["a"]?.attempts, 1)
        try add(JSONStore(home: Home(path: homeB)), ["b"])
        XCTAssertEqual(try JSONStore(home: Home(path: homeA)).counts()[.pending], 2)
    }

    func testAFailedTransactionOnOneClientWritesNothing() throws {
        try add(JSONStore(home: Home(path: homeA)), ["a"])
        let before = Harness.files(homeA)
        struct Boom: Error {}
        XCTAssertThrowsError(try JSONStore(home: Home(path: homeB)).transaction { tx in try tx.put(job("b")); throw Boom() })
        XCTAssertEqual(Harness.files(homeA), before)
    }

    func testEnqueuersOnTwoClientsAtOnceLoseNothing() throws {
        var procs: [Process] = []
        for p in 0..<4 {
            let proc = Process()
            proc.executableURL = URL(fileURLWithPath: "/bin/sh")
            let home = p % 2 == 0 ? homeA : homeB
            proc.arguments = ["-c", "for i in $(seq 150); do \"$0\" --home \"$1\" enqueue \"{\\\"id\\\":\\\"p\(p)-$i\\\",\\\"command\\\":\\\"true\\\"}\" >/dev/null || exit 1; done", Harness.binary, home]
            try proc.run()
            procs.append(proc)
        }
        for p in procs { p.waitUntilExit(); XCTAssertEqual(p.terminationStatus, 0) }
        for home in [homeA, homeB] {
            let state = try JSONStore(home: Home(path: home)).read { $0 }
            XCTAssertEqual(state.count, 600)
            XCTAssertEqual(Set(state.ids).count, 600)
        }
    }
}
