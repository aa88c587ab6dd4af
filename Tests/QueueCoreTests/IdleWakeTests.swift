import Foundation
import XCTest
@testable import QueueCore

/// How an idle worker decides whether a change in the home calls for a claim (JournalPeek.swift)
/// and whose turn it is to watch (IdleTurn.swift). The flow `idle_wake` checks the two together
/// against real workers, with a poll interval long enough that a missed wake-up fails it.
final class IdleWakeTests: XCTestCase {
    func lines(_ changes: [(String, JobState?, JobState?)]) -> [UInt8] {
        var out: [UInt8] = []
        for (id, from, to) in changes {
            if let to {
                var j = Job(id: id, command: "true", maxRetries: 1, createdAt: 1, cwd: "/")
                j.state = to
                out += JournalFile.line(put: j, from: from)
            } else {
                out += JournalFile.line(delete: id, from: from ?? .completed)
            }
        }
        return out
    }

    func verdict(_ changes: [(String, JobState?, JobState?)]) -> Bool? {
        lines(changes).withUnsafeBufferPointer { JournalPeek.mayOfferWork($0, path: "j") }
    }

    func testOnlyAJobLeftPendingOrFailedOffersWork() {
        XCTAssertEqual(verdict([("a", nil, .pending)]), true, "a new job")
        XCTAssertEqual(verdict([("a", .processing, .failed)]), true, "a retry")
        XCTAssertEqual(verdict([("a", .pending, .pending)]), true, "an edit, a resume or a move")
        XCTAssertEqual(verdict([("a", .pending, .processing)]), false, "another worker's claim")
        XCTAssertEqual(verdict([("a", .processing, .completed)]), false, "a result")
        XCTAssertEqual(verdict([("a", .processing, .dead), ("b", .pending, .cancelled)]), false)
        XCTAssertEqual(verdict([("a", .completed, nil)]), false, "a purge")
        XCTAssertEqual(verdict([("a", nil, .pending), ("a", .pending, .processing)]), false, "enqueued and already claimed")
        XCTAssertEqual(verdict([("a", nil, .pending), ("b", nil, .pending), ("a", .pending, .processing)]), true, "one of two claimed")
        XCTAssertEqual(verdict([("a", .pending, .processing), ("a", .processing, .failed)]), true, "claimed, then failed")
        XCTAssertEqual(verdict([]), false)
    }

    func testALineItCannotReadMeansLookUnderTheLock() {
        let garbage = Array("{\"id\":\"a\",\"op\":\"put\",\"from\":null,\"to\":\"sideways\"}\n".utf8)
        XCTAssertNil(garbage.withUnsafeBufferPointer { JournalPeek.mayOfferWork($0, path: "j") })
        let many: [(String, JobState?, JobState?)] = (0..<600).map { ("j\($0)", .pending, .processing) }
        XCTAssertNil(verdict(many), "too many lines to judge cheaply")
    }

    func testAnIdleWorkersLookFollowsTheJournalWithoutTheLock() throws {
        let dir = Harness.makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let home = Home(path: dir + "/home")
        let other = JSONStore(home: home)
        func put(_ id: String, _ state: JobState) throws {
            try other.transaction { tx in
                var j = try tx.job(id) ?? Job(id: id, command: "true", maxRetries: 1, createdAt: Clock.nowMillis(), cwd: "/")
                j.state = state
                try tx.put(j)
            }
        }
        try put("first", .completed)
        let worker = JSONStore(home: home)
        worker.keepsFinished = false
        XCTAssertTrue(worker.appendedLinesMayOfferWork(), "no state loaded yet: look under the lock")
        try worker.transaction { _ = try $0.state }  // a worker's claim loads every live job, and keeps them
        XCTAssertFalse(worker.appendedLinesMayOfferWork(), "nothing appended")

        try put("a", .pending)
        XCTAssertTrue(worker.appendedLinesMayOfferWork(), "a new job")
        try put("a", .processing)
        XCTAssertFalse(worker.appendedLinesMayOfferWork(), "the new job was claimed meanwhile")
        try put("a", .completed)
        XCTAssertFalse(worker.appendedLinesMayOfferWork(), "its result")
        try put("a", .failed)
        XCTAssertTrue(worker.appendedLinesMayOfferWork(), "failed: a retry is due")
        try worker.transaction { _ = try $0.state }
        XCTAssertFalse(worker.appendedLinesMayOfferWork(), "seen under the lock")

        // A line still being written (no newline yet): look under the lock.
        let fd = open(home.journal, O_WRONLY | O_APPEND)
        XCTAssertGreaterThanOrEqual(fd, 0)
        _ = "{\"id\":\"b\",\"op\":\"put\"".withCString { write(fd, $0, strlen($0)) }
        close(fd)
        XCTAssertTrue(worker.appendedLinesMayOfferWork())
        try worker.transaction { _ = try $0.state }

        // Another generation (a compaction): look under the lock.
        try put("c", .processing)
        try other.compactNow()
        XCTAssertTrue(worker.appendedLinesMayOfferWork())
    }

    /// Two workers' handles on one home's turn; the home is removed after the test.
    func twoTurns() throws -> (IdleTurn, IdleTurn) {
        let dir = Harness.makeTempDir()
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        let home = Home(path: dir + "/home")
        try home.create()
        return (try XCTUnwrap(IdleTurn(home: home)), try XCTUnwrap(IdleTurn(home: home)))
    }

    func testOneIdleWorkerAtATimeHasTheTurn() throws {
        let (a, b) = try twoTurns()
        XCTAssertTrue(a.take())
        XCTAssertTrue(a.take(), "taking it again keeps it")
        XCTAssertFalse(b.take(), "held by another worker")
        a.giveUp()
        XCTAssertTrue(b.take())
        XCTAssertFalse(a.take())
        b.giveUp()
        XCTAssertTrue(a.take())
    }

    /// A worker without the turn sleeps on `wakeFd`; giving the turn up must wake it, and a
    /// failed or successful take forgets the hand-overs before it.
    func testGivingTheTurnUpWakesTheWorkersWaitingForIt() throws {
        let (a, b) = try twoTurns()
        func woken(_ t: IdleTurn) -> Bool {
            var fds = [pollfd(fd: t.wakeFd.rawValue, events: Int16(POLLIN), revents: 0)]
            return poll(&fds, 1, 0) == 1
        }
        XCTAssertTrue(a.take())
        XCTAssertFalse(b.take())
        XCTAssertFalse(woken(b), "nothing handed over yet")
        a.giveUp()
        XCTAssertTrue(woken(b), "the hand-over wakes the waiting worker")
        XCTAssertTrue(b.take())
        XCTAssertFalse(woken(b), "taking the turn forgets the hand-over")
        XCTAssertFalse(a.take())
        XCTAssertFalse(woken(a), "a failed take forgets its own hand-over too")
        b.giveUp()
        XCTAssertTrue(woken(a))
        a.giveUp()  // not held: no hand-over
        XCTAssertTrue(a.take())
        XCTAssertFalse(woken(a))
        a.giveUp()
        XCTAssertTrue(woken(b), "every hand-over wakes every worker waiting for the turn")
    }
}
