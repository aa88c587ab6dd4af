import Foundation
import XCTest

/// The real binary under injected system-call failures (QUEUECTL_FAULT, Support/Fault.swift):
/// a full disk, an I/O error on sync or rename, a signal interrupting a write. A failed command
/// says why on one line, exits 1, and leaves the home as it was; an interrupted write is retried.
final class FaultInjectionTests: HomeTestCase {
    func faulty(_ fault: String, _ args: String...) -> Harness.Result {
        Harness.run(args, home: home, env: ["QUEUECTL_FAULT": fault])
    }

    func assertFailedCleanly(_ r: Harness.Result, _ message: String, unchanged before: [String: Data], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.code, 1, "exit code; stderr: \(r.stderr)", file: file, line: line)
        XCTAssertEqual(r.stdout, "", file: file, line: line)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "one line: \(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stderr.hasPrefix("queuectl: error: ") && r.stderr.contains(message), r.stderr, file: file, line: line)
        XCTAssertEqual(Harness.files(home), before, "the home changed", file: file, line: line)
    }

    func testAFullDiskOrAFailedSyncRefusesTheEnqueueAndChangesNothing() {
        XCTAssertEqual(q("enqueue", "--id", "first", "--", "true").code, 0)
        let before = Harness.files(home)
        assertFailedCleanly(faulty("write:ENOSPC", "enqueue", "--id", "x", "--", "true"), "No space left on device", unchanged: before)
        assertFailedCleanly(faulty("write:EDQUOT", "enqueue", "--id", "x", "--", "true"), "quota", unchanged: before)
        // The lines were written, but not known to be on disk: they are taken back.
        assertFailedCleanly(faulty("sync:EIO", "enqueue", "--id", "x", "--", "true"), "Input/output error", unchanged: before)
        assertFailedCleanly(faulty("sync:EIO", "enqueue", #"[{"id":"b1","command":"true"},{"id":"b2","command":"true"}]"#), "Input/output error", unchanged: before)
        XCTAssertEqual(q("list", "--json").stdout.components(separatedBy: "\"id\"").count - 1, 1, "only the first job")
    }

    func testAnInterruptedWriteIsRetried() {
        let r = faulty("write:EINTR", "enqueue", "--id", "x", "--", "true")
        XCTAssertEqual(r.code, 0, r.stderr)
        XCTAssertEqual(jobJSON("x")["state"] as? String, "pending")
    }

    func testACompactionThatCannotRenameLeavesEveryJobReadable() {
        for i in 1...5 { XCTAssertEqual(q("enqueue", "--id", "j\(i)", "--", "true").code, 0) }
        let r = faulty("rename:EIO", "compact")
        XCTAssertEqual(r.code, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("cannot rename") && r.stderr.contains("Input/output error"), r.stderr)
        let ids = (Harness.json(q("list", "--json").stdout) as? [[String: Any]])?.compactMap { $0["id"] as? String } ?? []
        XCTAssertEqual(Set(ids), ["j1", "j2", "j3", "j4", "j5"], "every job still reads after the failed compaction")
        XCTAssertEqual(q("compact").code, 0, "a later compaction succeeds")
        XCTAssertEqual(q("enqueue", "--id", "after", "--", "true").code, 0)
        XCTAssertEqual(q("status", "--json").code, 0)
        XCTAssertEqual((Harness.json(q("list", "--json").stdout) as? [Any])?.count, 6)
    }
}
