import Foundation
import XCTest
@testable import QueueCore

/// The job record's format is a contract (Model/JobSchema.swift): between the writers, the byte
/// scanners, and every home already on disk.
final class JobSchemaTests: XCTestCase {
    /// A job with every optional field set.
    static var full: Job {
        var j = Job(id: "full", command: #"echo "a,\"state\":\"dead\"" b"#, maxRetries: 2, createdAt: 1_700_000_000_000, cwd: "/tmp")
        j.state = .processing
        j.attempts = 1
        j.priority = 3
        j.batchIndex = 4
        j.runAt = 1_700_000_100_000
        j.nextRunAt = 1_700_000_100_000
        j.timeout = 30
        j.exitCode = 2
        j.lastError = "exit code 2"
        j.env = [("A", "1")]
        j.dependsOn = ["other"]
        j.label = "nightly"
        j.queue = "gpu"
        j.slots = 2
        j.paused = true
        j.stopsRunning = true
        j.order = -1_700_000_000_000
        j.workerPid = 42
        j.workerStart = 4242
        j.workerHost = "host"
        j.jobPgid = 43
        j.jobStart = 4343
        j.startedAt = 1_700_000_200_000
        j.finishedAt = 1_700_000_300_000
        j.firstStartedAt = 1_700_000_150_000
        var a = Attempt(number: 1, startedAt: 1_700_000_200_000, workerPid: 42, workerHost: "host")
        a.finishedAt = 1_700_000_300_000
        a.exitCode = 2
        a.outputBytes = 10
        j.history = [a]
        return j
    }

    func testTheListOfStateNamesIsEveryStateInOrder() {
        XCTAssertEqual(JobState.names, JobState.allCases.map(\.rawValue).joined(separator: ", "))
        XCTAssertEqual(JobState.allCases.sorted(), JobState.allCases, "declaration order is the order")
        for v: Int64 in [0, 1, 35, 36, 1_700_000_000_000, Int64.max] {
            XCTAssertEqual(JobInput.base36(v), String(v, radix: 36))
        }
    }

    static func keys(_ v: JSON) -> [String] {
        guard case .object(let pairs) = v else { return [] }
        return pairs.map(\.0)
    }

    func testBothWritersUseTheDeclaredKeysInTheDeclaredOrder() throws {
        let j = JobSchemaTests.full
        var w = ByteWriter(capacity: 1024)
        j.writeCompact(to: &w)
        let stored = try JSONParser.parse(bytes: w.bytes)
        XCTAssertEqual(JobSchemaTests.keys(stored), JobSchema.keys, "writeCompact")
        XCTAssertEqual(JobSchemaTests.keys(j.json), JobSchema.keys, "json")
        XCTAssertEqual(JobSchemaTests.keys(stored["history"]?.arrayValue?.first ?? .null), JobSchema.attemptKeys, "an attempt")
        XCTAssertEqual(Job(json: stored), j, "a stored record reads back as the same job")
    }

    func testEmptyOptionalKeysAreLeftOutAndTheRestKeepTheirOrder() throws {
        let j = Job(id: "bare", command: "true", maxRetries: 0, createdAt: 1_700_000_000_000, cwd: "/")
        var w = ByteWriter(capacity: 512)
        j.writeCompact(to: &w)
        let want = JobSchema.keys.filter { !JobSchema.optionalKeys.contains($0) }
        XCTAssertEqual(JobSchemaTests.keys(try JSONParser.parse(bytes: w.bytes)), want)
        XCTAssertEqual(JobSchemaTests.keys(j.json), want)
    }

    /// The scanners read records without decoding them; they must agree with the decoder.
    func testTheScannersReadWhatTheDecoderReads() throws {
        var j = JobSchemaTests.full
        j.state = .completed
        var w = ByteWriter(capacity: 1024)
        j.writeCompact(to: &w)
        w.bytes.withUnsafeBufferPointer { b in
            XCTAssertEqual(ScheduleScan.finishedState(b), .completed)
            XCTAssertEqual(ScheduleScan.finishedAt(b), j.finishedAt)
            XCTAssertEqual(SnapshotFile.recordId(b), "full")
            XCTAssertEqual(ScheduleScan.creationKey(in: b, start: 0, end: b.count), ScheduleScan.CreationKey(j))
        }
    }

    /// A home written by the format of 2026-11-24 (Tests/fixtures/home-v1, never regenerated):
    /// every later version must read it, through every path — a whole load, the light counts,
    /// one job through jobs.ids, the newest jobs from the end of the file, and a worker's state.
    func testTheCommittedHomeOfFormatV1StillReads() throws {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("fixtures/home-v1")
        let t = StoreTests.TempHome()
        try FileManager.default.createDirectory(atPath: t.home.path, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: fixture.path) where name != "README.md" {
            try FileManager.default.copyItem(atPath: fixture.appendingPathComponent(name).path, toPath: t.home.path + "/" + name)
        }
        let want: [String: JobState] = ["done": .completed, "dead": .dead, "later": .pending, "gone": .cancelled,
                                        "afterCompact": .pending, "retried": .pending]
        let all = try t.store().read { $0 }
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: all.all.map { ($0.id, $0.state) }), want)
        let counts = try t.store().counts()
        XCTAssertTrue(counts[.pending] == 3 && counts[.completed] == 1 && counts[.dead] == 1 && counts[.cancelled] == 1, "\(counts)")
        let later = try XCTUnwrap(try t.store().job("later"))
        XCTAssertTrue(later.priority == 5 && later.env.map(\.0) == ["A"] && later.dependsOn == ["done"] && later.runAt != nil)
        XCTAssertEqual(try t.store().job("dead")?.history.count, 2)
        XCTAssertEqual(try t.store().job("afterCompact")?.command, #"echo "quoted \"x\"""#)
        let recent = try XCTUnwrap(try t.store().recent(limit: 2, state: nil))
        XCTAssertTrue(recent.jobs.map(\.id) == ["afterCompact", "retried"] && recent.total == 6)
        let worker = t.store()
        worker.keepsFinished = false
        XCTAssertEqual(try worker.transaction { try $0.nextRunnable()?.id }, "afterCompact")
        XCTAssertEqual(try worker.job("done")?.state, .completed, "a finished job the worker left on disk")
        XCTAssertEqual(try t.store().config().backoffBase, 1)
    }
}
