import Foundation
import Testing
@testable import QueueCore

/// The job record's format is a contract (Model/JobSchema.swift): between the writers, the byte
/// scanners, and every home already on disk.
@Suite struct JobSchemaTests {
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
        j.workerPid = 42
        j.workerStart = 4242
        j.workerHost = "host"
        j.jobPgid = 43
        j.jobStart = 4343
        j.startedAt = 1_700_000_200_000
        j.finishedAt = 1_700_000_300_000
        j.firstStartedAt = 1_700_000_150_000
        var a = Attempt(number: 1, startedAt: 1_700_000_200_000, workerPid: 42)
        a.finishedAt = 1_700_000_300_000
        a.exitCode = 2
        a.outputBytes = 10
        j.history = [a]
        return j
    }

    static func keys(_ v: JSON) -> [String] {
        guard case .object(let pairs) = v else { return [] }
        return pairs.map(\.0)
    }

    @Test func bothWritersUseTheDeclaredKeysInTheDeclaredOrder() throws {
        let j = JobSchemaTests.full
        var w = ByteWriter(capacity: 1024)
        j.writeCompact(to: &w)
        let stored = try JSONParser.parse(bytes: w.bytes)
        #expect(JobSchemaTests.keys(stored) == JobSchema.keys, "writeCompact")
        #expect(JobSchemaTests.keys(j.json) == JobSchema.keys, "json")
        #expect(JobSchemaTests.keys(stored["history"]?.arrayValue?.first ?? .null) == JobSchema.attemptKeys, "an attempt")
        #expect(Job(json: stored) == j, "a stored record reads back as the same job")
    }

    @Test func emptyOptionalKeysAreLeftOutAndTheRestKeepTheirOrder() throws {
        let j = Job(id: "bare", command: "true", maxRetries: 0, createdAt: 1_700_000_000_000, cwd: "/")
        var w = ByteWriter(capacity: 512)
        j.writeCompact(to: &w)
        let want = JobSchema.keys.filter { !JobSchema.optionalKeys.contains($0) }
        #expect(JobSchemaTests.keys(try JSONParser.parse(bytes: w.bytes)) == want)
        #expect(JobSchemaTests.keys(j.json) == want)
    }

    /// The scanners read records without decoding them; they must agree with the decoder.
    @Test func theScannersReadWhatTheDecoderReads() throws {
        var j = JobSchemaTests.full
        j.state = .completed
        var w = ByteWriter(capacity: 1024)
        j.writeCompact(to: &w)
        w.bytes.withUnsafeBufferPointer { b in
            #expect(ScheduleScan.finishedState(b) == .completed)
            #expect(ScheduleScan.finishedAt(b) == j.finishedAt)
            #expect(SnapshotFile.recordId(b) == "full")
            #expect(ScheduleScan.creationKey(in: b, start: 0, end: b.count) == ScheduleScan.CreationKey(j))
        }
    }

    /// A home written by the format of 2026-11-24 (Tests/fixtures/home-v1, never regenerated):
    /// every later version must read it, through every path — a whole load, the light counts,
    /// one job through jobs.ids, the newest jobs from the end of the file, and a worker's state.
    @Test func theCommittedHomeOfFormatV1StillReads() throws {
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
        #expect(Dictionary(uniqueKeysWithValues: all.all.map { ($0.id, $0.state) }) == want)
        let counts = try t.store().counts()
        #expect(counts[.pending] == 3 && counts[.completed] == 1 && counts[.dead] == 1 && counts[.cancelled] == 1)
        let later = try #require(try t.store().job("later"))
        #expect(later.priority == 5 && later.env.map(\.0) == ["A"] && later.dependsOn == ["done"] && later.runAt != nil)
        #expect(try t.store().job("dead")?.history.count == 2)
        #expect(try t.store().job("afterCompact")?.command == #"echo "quoted \"x\"""#)
        let recent = try #require(try t.store().recent(limit: 2, state: nil))
        #expect(recent.jobs.map(\.id) == ["afterCompact", "retried"] && recent.total == 6)
        let worker = t.store()
        worker.keepsFinished = false
        #expect(try worker.transaction { try $0.nextRunnable()?.id } == "afterCompact")
        #expect(try worker.job("done")?.state == .completed, "a finished job the worker left on disk")
        #expect(try t.store().config().backoffBase == 1)
    }
}
