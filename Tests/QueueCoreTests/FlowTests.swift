import Foundation
import XCTest

/// Runs the shell scenarios in Tests/flows against the built binary. Each flow uses its own
/// temporary home and stops every process it started (see Tests/flows/lib.sh).
final class FlowTests: XCTestCase {
    func runFlow(_ name: String, file: StaticString = #filePath, line: UInt = #line) {
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
        XCTAssertEqual(p.terminationStatus, 0, "flow \(name) failed:\n\(text)", file: file, line: line)
    }

    func testBasic() { runFlow("basic") }
    func testRetryBackoff() { runFlow("retry_backoff") }
    func testNoOverlap() { runFlow("no_overlap") }
    func testInvalidCommand() { runFlow("invalid_command") }
    func testRestartSurvival() { runFlow("restart_survival") }
    func testKillWorker() { runFlow("kill_worker") }
    func testKillSupervisor() { runFlow("kill_supervisor") }
    func testGracefulStop() { runFlow("graceful_stop") }
    func testForceStop() { runFlow("force_stop") }
    func testTimeoutTree() { runFlow("timeout_tree") }
    func testConcurrentEnqueue() { runFlow("concurrent_enqueue") }
    func testSecondSupervisor() { runFlow("second_supervisor") }
    func testWakeup() { runFlow("wakeup") }

    // Scheduling and operations.
    func testPriorityOrder() { runFlow("priority_order") }
    func testDelayed() { runFlow("delayed") }
    func testDependencies() { runFlow("dependencies") }
    func testCancel() { runFlow("cancel") }
    func testWaitCodes() { runFlow("wait_codes") }
    func testPurge() { runFlow("purge") }
    func testMetrics() { runFlow("metrics") }
    func testRetention() { runFlow("retention") }

    // Dashboard in a real browser (skipped, with a message, where Chromium is not installed).
    func testDashboardBrowser() { runFlow("dashboard_browser") }
}
