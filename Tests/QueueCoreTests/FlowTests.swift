import Foundation
import XCTest

/// Runs the shell scenarios in Tests/flows against the built binary. Each flow uses its own
/// temporary home and stops every process it started (see Tests/flows/lib.sh).
final class FlowTests: XCTestCase {
    /// Runs one flow. Exit 77 means the flow cannot run on this machine (no Chromium, no FUSE):
    /// it is reported as skipped, with the flow's reason, never as passed.
    func runFlow(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let script = Harness.repoRoot.appendingPathComponent("Tests/flows/\(name).sh").path
        XCTAssertTrue(FileManager.default.fileExists(atPath: script), "missing flow \(script)", file: file, line: line)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [script]
        var env = ProcessInfo.processInfo.environment
        env["QUEUECTL"] = Harness.binary
        env["NO_COLOR"] = "1"
        env.removeValue(forKey: "QUEUECTL_HOME")
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        p.standardInput = FileHandle.nullDevice
        do { try p.run() } catch { XCTFail("cannot run \(script): \(error)", file: file, line: line); return }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        if p.terminationStatus == 77 {
            let why = text.split(separator: "\n").first { $0.hasPrefix("SKIP: ") }.map { String($0.dropFirst(6)) } ?? "cannot run here"
            throw XCTSkip("flow \(name): \(why)")
        }
        XCTAssertEqual(p.terminationStatus, 0, "flow \(name) failed:\n\(text)", file: file, line: line)
    }

    func testBasic() throws { try runFlow("basic") }
    func testRetryBackoff() throws { try runFlow("retry_backoff") }
    func testNoOverlap() throws { try runFlow("no_overlap") }
    func testInvalidCommand() throws { try runFlow("invalid_command") }
    func testRestartSurvival() throws { try runFlow("restart_survival") }
    func testKillWorker() throws { try runFlow("kill_worker") }
    func testKillSupervisor() throws { try runFlow("kill_supervisor") }
    func testGracefulStop() throws { try runFlow("graceful_stop") }
    func testForceStop() throws { try runFlow("force_stop") }
    func testTimeoutTree() throws { try runFlow("timeout_tree") }
    func testConcurrentEnqueue() throws { try runFlow("concurrent_enqueue") }
    func testSecondSupervisor() throws { try runFlow("second_supervisor") }
    func testWakeup() throws { try runFlow("wakeup") }

    // Scheduling and operations.
    func testPriorityOrder() throws { try runFlow("priority_order") }
    func testDelayed() throws { try runFlow("delayed") }
    func testDependencies() throws { try runFlow("dependencies") }
    func testCancel() throws { try runFlow("cancel") }
    func testWaitCodes() throws { try runFlow("wait_codes") }
    func testPurge() throws { try runFlow("purge") }
    func testMetrics() throws { try runFlow("metrics") }
    func testRetention() throws { try runFlow("retention") }
    func testPlainCommandDrain() throws { try runFlow("plain_command_drain") }
    func testBatchDefaults() throws { try runFlow("batch_defaults") }
    func testRestartAndLabels() throws { try runFlow("restart_labels") }
    func testEdit() throws { try runFlow("edit") }
    func testEditEditor() throws { try runFlow("edit_editor") }
    func testHooks() throws { try runFlow("hooks") }
    /// Idle workers take turns and skip the lock for changes that offer nothing, with no pickup missed.
    func testIdleWake() throws { try runFlow("idle_wake") }

    // Hostile input: a hand-edited config.json, QUEUECTL_* impersonation, start/stop under compaction.
    func testHostileConfig() throws { try runFlow("hostile_config") }
    func testEnvImpersonation() throws { try runFlow("env_impersonation") }
    func testStartStopCompaction() throws { try runFlow("start_stop_compaction") }
    func testWorkerCrash() throws { try runFlow("worker_crash") }

    // A disk that fills up (a small tmpfs; skipped where it cannot be mounted).
    func testDiskFull() throws { try runFlow("disk_full") }

    // A home on a network file system: one JuiceFS volume, a client mount per simulated machine
    // (skipped where JuiceFS or FUSE cannot be had).
    func testSharedFSEnqueueFromOtherMachines() throws { try runFlow("sharedfs_enqueue") }
    func testSharedFSCompactionUnderLoad() throws { try runFlow("sharedfs_compaction") }
    func testSharedFSControlFromAnotherMachine() throws { try runFlow("sharedfs_control") }
    func testSharedFSCrashAndRestart() throws { try runFlow("sharedfs_crash") }
    func testSharedFSSecondMachineRefused() throws { try runFlow("sharedfs_second_host") }

    // Dashboard in a real browser (skipped, with a message, where Chromium is not installed).
    func testDashboardBrowser() throws { try runFlow("dashboard_browser") }

    // Several hosts, one queue: simulated machines (pid + uts + mount namespaces, each with its own
    // JuiceFS client of one volume; the local variants share a local directory) running workers
    // on the same home (skipped where namespaces, JuiceFS or FUSE cannot be had).
    func testHostsDrain() throws { try runFlow("hosts_drain") }
    func testHostsKill() throws { try runFlow("hosts_kill") }
    func testHostsPause() throws { try runFlow("hosts_pause") }
    func testHostsPartition() throws { try runFlow("hosts_partition") }
    func testHostsCancel() throws { try runFlow("hosts_cancel") }
    func testHostsStopAll() throws { try runFlow("hosts_stop_all") }
    func testHostsSecondStart() throws { try runFlow("hosts_second_start") }
    func testHostsLocalDrain() throws { try runFlow("hosts_local_drain") }
    func testHostsLocalKill() throws { try runFlow("hosts_local_kill") }

    // Named queues: parallel limits and slots, pause/resume (a stopped job's timeout), move, queues
    // served per host (simulated hosts sharing a local home), the dashboard's queue controls.
    func testQueuesLimits() throws { try runFlow("queues_limits") }
    func testPauseResume() throws { try runFlow("pause_resume") }
    func testMove() throws { try runFlow("move") }
    func testQueuesHosts() throws { try runFlow("queues_hosts") }
    func testQueuesDashboard() throws { try runFlow("queues_dashboard") }
}
