import Foundation
import Glibc
import XCTest
@testable import QueueCore

/// Several hosts, one home (ARCHITECTURE.md, "Several machines, one home"): the lease arithmetic,
/// when a claim of another host counts as lost, the fencing check a worker makes before it lets
/// an attempt go on or records its result, and the request file between machines.
final class LeaseAndFencingTests: XCTestCase {
    typealias TempHome = StoreTests.TempHome

    func testALeaseAgeIsTheDifferenceOfTwoServerTimesAndNeverNegative() {
        let cases: [(renewed: Double, now: Double, age: Double)] = [
            (100, 100, 0), (100, 103.5, 3.5), (100, 99.99, 0),  // two writes within the server's granularity
            (.nan, 100, .infinity), (100, .infinity, .infinity), (-.infinity, 100, .infinity),
        ]
        for c in cases {
            XCTAssertEqual(Lease.age(renewed: c.renewed, now: c.now), c.age, "renewed \(c.renewed), now \(c.now)")
        }
    }

    func testWhenAClaimOfAnotherHostIsLost() {
        let claim = "B:1234abcd"
        func reading(_ id: String, _ age: Double) -> Lease.Reading { Lease.Reading(hostId: id, age: age) }
        let cases: [(Lease.Reading?, workersFree: Bool, lost: Bool, why: String)] = [
            (reading(claim, 0.5), false, false, "fresh lease"),
            (reading(claim, 3.0), false, false, "exactly the timeout: not yet"),
            (reading(claim, 3.01), false, true, "older than the timeout"),
            (reading(claim, 3.01), true, true, "older than the timeout, lock free"),
            (reading(claim, 0.1), true, false, "fresh lease, lock free (a dead client's lock expired first)"),
            (reading("B:99999999", 0.1), false, true, "a later boot of host B renews it"),
            (nil, true, true, "no lease (stopped cleanly, or an older version) and no worker holds the host's lock"),
            (nil, false, false, "no lease but a worker of B holds the lock"),
        ]
        for c in cases {
            XCTAssertEqual(Lease.isExpired(c.0, claimHostId: claim, timeout: 3, workersFree: { c.workersFree }), c.lost, c.why)
        }
    }

    /// Through real files: a renewed lease reads fresh; set 10 s back (by the file's own time),
    /// a claim of that host is lost with the reason a user will read in `show`.
    func testRecoveryJudgesAnotherHostByItsLeaseFile() throws {
        let t = TempHome()
        try t.home.create()
        try Lease.renew(t.home)
        let mine = try XCTUnwrap(try Lease.read(t.home, host: Host.current.name))
        XCTAssertEqual(mine.hostId, Host.current.id)
        XCTAssertLessThan(mine.age, 5, "a lease renewed just now")

        // Host "far" renewed its lease 10 s ago (its file written by hand, its time set back).
        let far = "far:0000beef"
        let path = t.home.lease(host: "far")
        try (far + "\n").write(toFile: path, atomically: false, encoding: .utf8)
        func setAge(_ seconds: Double) throws {
            let now = try Lease.serverNow(t.home)
            var times = [timespec(tv_sec: Int(now - seconds), tv_nsec: 0), timespec(tv_sec: Int(now - seconds), tv_nsec: 0)]
            XCTAssertEqual(utimensat(AT_FDCWD, path, &times, 0), 0)
        }
        try setAge(10)
        var job = Job(id: "j", command: "true", maxRetries: 1, createdAt: Clock.nowMillis(), cwd: "/")
        Lifecycle.claim(&job, now: Clock.nowMillis(), workerPid: 4242, workerStart: 1)
        job.workerHost = far
        Recovery.leaseFreshUntil = [:]
        XCTAssertEqual(Recovery.lostBecause(job, home: t.home, leaseTimeout: 30), nil, "10 s old, timeout 30 s")
        Recovery.leaseFreshUntil = [:]
        XCTAssertEqual(Recovery.lostBecause(job, home: t.home, leaseTimeout: 3), "host far stopped renewing its lease")

        // Seen fresh once, it is not read again until it could have expired.
        try setAge(1)
        Recovery.leaseFreshUntil = [:]
        XCTAssertNil(Recovery.lostBecause(job, home: t.home, leaseTimeout: 3))
        try setAge(10)
        XCTAssertNil(Recovery.lostBecause(job, home: t.home, leaseTimeout: 3), "within the 2 s it had left: not looked at")
        Recovery.leaseFreshUntil = [:]

        // A later boot of the same machine holds the lease: the claiming boot is over.
        try "far:11111111\n".write(toFile: path, atomically: false, encoding: .utf8)
        XCTAssertEqual(Recovery.lostBecause(job, home: t.home, leaseTimeout: 30), "host far restarted since it claimed the job")

        // No lease file, and nobody holds far's workers lock.
        unlink(path)
        XCTAssertEqual(Recovery.lostBecause(job, home: t.home, leaseTimeout: 30), "no worker of host far is alive")
        // No lease file, but a worker of far holds its lock (a version without leases): it stands.
        let lock = try Posix.open(t.home.workersLock(hostName: "far"), O_RDWR | O_CREAT)
        defer { lock.close() }
        try lock.lock(LOCK_SH, path: "lock")
        XCTAssertNil(Recovery.lostBecause(job, home: t.home, leaseTimeout: 30))
        Recovery.leaseFreshUntil = [:]
    }

    /// The fencing check: a claim stands only while the record still names this worker's host,
    /// pid and start time and this attempt's number (the token: a later claim always has a
    /// higher one).
    func testAClaimStandsOnlyWhileTheRecordNamesThisAttempt() {
        let t = TempHome()
        let worker = Worker(store: t.store(), slot: 1, supervisorFd: nil, log: { _ in })
        var claimed = Job(id: "j", command: "true", maxRetries: 3, createdAt: 1_700_000_000_000, cwd: "/")
        Lifecycle.claim(&claimed, now: 1_700_000_000_000, workerPid: worker.pid, workerStart: worker.startTime)

        func variant(_ change: (inout Job) -> Void) -> Job {
            var j = claimed
            change(&j)
            return j
        }
        var retaken = claimed
        _ = Lifecycle.finish(&retaken, outcome: { var o = Outcome(); o.error = "worker lost"; return o }(), now: 1_700_000_005_000,
                         config: Config())
        Lifecycle.claim(&retaken, now: 1_700_000_006_000, workerPid: worker.pid, workerStart: worker.startTime)
        retaken.workerHost = "other:00000000"
        var retakenHere = retaken
        retakenHere.workerHost = Host.current.id  // same host, pid and start: only the attempt number differs

        let cases: [(Job?, String?, String)] = [
            (claimed, nil, "the record as claimed"),
            (variant { $0.jobPgid = 99; $0.jobStart = 5 }, nil, "its process group recorded"),
            (nil, "purged", "purged meanwhile"),
            (variant { Lifecycle.cancel(&$0, now: 1_700_000_001_000, reason: "cancelled by the user") }, "cancelled", "cancelled from anywhere"),
            (variant { $0.workerHost = "other:00000000" }, "superseded", "the same pid on another host"),
            (variant { $0.workerStart = (worker.startTime ?? 0) + 1 }, "superseded", "another process with this pid"),
            (retaken, "superseded", "recovered and claimed again by another host"),
            (retakenHere, "superseded", "a later attempt, even with this host, pid and start time"),
            (variant { $0.state = .pending }, "superseded", "recovered and waiting for its retry"),
            (variant { $0.state = .completed }, "superseded", "recorded by someone else"),
        ]
        for (current, want, why) in cases {
            let got = worker.supersededBy(current, claimed: claimed)
            if let w = want {
                XCTAssertTrue(got?.hasPrefix(w) == true, "\(why): \(got ?? "nil")")
            } else {
                XCTAssertNil(got, why)
            }
        }
    }

    /// Self-fencing: while the worker renews the lease, the watchdog leaves the attempt alone;
    /// once it has not renewed for the lease's time (its thread stuck in a hung file system),
    /// the watchdog kills the attempt's process group by itself.
    func testTheWatchdogKillsTheAttemptOnlyWhenTheLeaseWasNotRenewed() throws {
        let dir = Harness.makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func start() throws -> JobRunner.Started {
            let job = Job(id: "w", command: "sleep 30", maxRetries: 0, createdAt: 0, cwd: dir)
            let req = RunRequest(job: job, attempt: 1, logPath: dir + "/log", timeout: 0, killGrace: 0.1, logMaxBytes: 1000)
            guard case .running(let s) = JobRunner().start(req) else { throw XCTSkip("could not start sleep") }
            return s
        }
        func exited(_ pid: pid_t) -> Bool {
            var info = siginfo_t()
            return waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info._sifields._sigchld.si_pid == pid
        }
        func reap(_ pid: pid_t) { var st: Int32 = 0; kill(-pid, SIGKILL); waitpid(pid, &st, 0) }

        let watchdog = LeaseWatchdog(timeout: 1.0)
        let renewed = try start()
        watchdog.running(renewed.pid)
        let until = Date().addingTimeInterval(1.5)
        while Date() < until {
            watchdog.renewed(timeout: 1.0)
            XCTAssertFalse(exited(renewed.pid), "killed although the lease was renewed")
            usleep(50_000)
        }
        XCTAssertFalse(watchdog.finished(), "did not fire while renewed")
        reap(renewed.pid)

        let stale = try start()
        watchdog.running(stale.pid)
        let deadline = Date().addingTimeInterval(10)
        while !exited(stale.pid) && Date() < deadline { usleep(20_000) }
        XCTAssertTrue(exited(stale.pid), "the attempt runs on though the lease was not renewed")
        XCTAssertTrue(watchdog.finished(), "the watchdog says it fired")
        reap(stale.pid)
    }

    /// Requests between machines: the latest is read once; a forced stop is never weakened.
    func testStopRequestsAreTakenOnceAndNeverWeakened() throws {
        let t = TempHome()
        try t.home.create()
        let me = Host.current.name
        XCTAssertNil(try HostControl.take(home: t.home))
        try HostControl.send(.stop, to: me, home: t.home)
        XCTAssertEqual(try HostControl.take(home: t.home), .stop)
        XCTAssertNil(try HostControl.take(home: t.home), "taken once")
        try HostControl.send(.forceStop, to: me, home: t.home)
        try HostControl.send(.stop, to: me, home: t.home)
        XCTAssertEqual(try HostControl.take(home: t.home), .forceStop)
        try HostControl.send(.stop, to: "elsewhere", home: t.home)
        XCTAssertNil(try HostControl.take(home: t.home), "a request for another host is not this host's")
    }
}
