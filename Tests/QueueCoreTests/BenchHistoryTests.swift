import Foundation
import XCTest
@testable import QueueCore

/// `Tests/bench/history.awk` writes a long finished history in the store's own format, so the
/// scale benchmark can measure a home of a million finished jobs without running them. Here its
/// output must be byte for byte what the store's own writer makes of the same jobs.
final class BenchHistoryTests: XCTestCase {
    func testTheHistoryGeneratorWritesWhatTheStoreWrites() throws {
        let dir = Harness.makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let home = Home(path: dir + "/home")
        try home.create()
        let script = Harness.repoRoot.appendingPathComponent("Tests/bench/history.awk").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["awk", "-v", "n=50", "-v", "home=\(home.path)", "-f", script]
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "history.awk failed")
        guard p.terminationStatus == 0 else { return }

        let generated = try XCTUnwrap(FileManager.default.contents(atPath: home.snapshot))
        let (state, meta) = try SnapshotFile.decode(bytes: [UInt8](generated), path: home.snapshot)
        XCTAssertTrue(state.count == 50 && state.count(.completed) == 50 && meta.generation == 1)
        XCTAssertEqual(state["h0000050"]?.history.count, 1)

        // The real writer, given the decoded jobs, writes the same bytes and the same index.
        let out = dir + "/written.json"
        let fd = try Posix.open(out, O_WRONLY | O_CREAT | O_TRUNC)
        let locations = try SnapshotFile.write(state: state, generation: 1, to: fd, path: out)
        fd.close()
        XCTAssertEqual(FileManager.default.contents(atPath: out), generated)
        let ids = IdIndexFile.encode(locations: locations, generation: 1).flatMap { $0 }
        XCTAssertEqual(FileManager.default.contents(atPath: home.idIndex), Data(ids))
        XCTAssertEqual(FileManager.default.contents(atPath: home.dueIndex), Data(DueIndexFile.encode(state: state, generation: 1).flatMap { $0 }))

        // And the store takes it as a home: a light read, a lookup, an enqueue beside it.
        let store = JSONStore(home: home)
        XCTAssertEqual(try store.counts()[.completed], 50)
        XCTAssertEqual(try store.job("h0000007")?.state, .completed)
        try store.transaction { tx in try tx.put(Job(id: "new", command: "true", maxRetries: 0, createdAt: Clock.nowMillis(), cwd: "/")) }
        XCTAssertEqual(try JSONStore(home: home).read { $0.count }, 51)
    }
}
