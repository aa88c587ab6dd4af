import Foundation
import XCTest
@testable import QueueCore

/// Shared helpers: a temporary home per test, and running the built `queuectl` binary.
enum Harness {
    /// The `queuectl` built beside the test bundle (same products directory).
    static var binary: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // On Linux the test runner is <products>/queuectlPackageTests.xctest.
        if dir.lastPathComponent.hasSuffix(".xctest") { dir = dir.deletingLastPathComponent() }
        return dir.appendingPathComponent("queuectl").path
    }

    static var repoRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    static func makeTempDir() -> String {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("queuectl-test-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        return base.path
    }

    struct Result {
        var code: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs the binary to completion, with `--home home` first when given. Never waits forever:
    /// after `seconds` the home's workers are stopped, the process is killed, and the code is
    /// -999 (a wrongly accepted `dashboard` or `wait` must fail its case, not hang the suite).
    /// Crash reports are off, so a death by a signal is reported as itself, quickly.
    @discardableResult
    static func run(_ args: [String], home: String?, stdin: String? = nil, env: [String: String] = [:], cwd: String? = nil,
                    seconds: Double = 600) -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = (home.map { ["--home", $0] } ?? []) + args
        var e = ProcessInfo.processInfo.environment
        e["NO_COLOR"] = "1"
        e["SWIFT_BACKTRACE"] = "enable=no"
        e.removeValue(forKey: "QUEUECTL_HOME")
        for (k, v) in env { e[k] = v }
        p.environment = e
        if let c = cwd { p.currentDirectoryURL = URL(fileURLWithPath: c) }
        // Output goes to files, so a chatty child can never block on a full pipe.
        let tmp = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        _ = FileManager.default.createFile(atPath: tmp + "/out", contents: nil)
        _ = FileManager.default.createFile(atPath: tmp + "/err", contents: nil)
        _ = FileManager.default.createFile(atPath: tmp + "/in", contents: Data((stdin ?? "").utf8))
        guard let out = FileHandle(forWritingAtPath: tmp + "/out"), let err = FileHandle(forWritingAtPath: tmp + "/err"),
              let inp = FileHandle(forReadingAtPath: tmp + "/in") else {
            return Result(code: -1, stdout: "", stderr: "cannot create output files")
        }
        p.standardOutput = out
        p.standardError = err
        p.standardInput = stdin == nil ? FileHandle.nullDevice : inp
        do { try p.run() } catch { return Result(code: -1, stdout: "", stderr: "cannot run \(binary): \(error)") }
        let deadline = Date().addingTimeInterval(seconds)
        var timedOut = false
        while p.isRunning {
            if Date() > deadline {
                timedOut = true
                if let h = home { run(["worker", "stop", "--force", "--timeout", "5"], home: h, seconds: 30) }
                kill(p.processIdentifier, SIGKILL)
                break
            }
            usleep(5_000)
        }
        p.waitUntilExit()
        try? out.close()
        try? err.close()
        try? inp.close()
        let o = String(decoding: FileManager.default.contents(atPath: tmp + "/out") ?? Data(), as: UTF8.self)
        let r = String(decoding: FileManager.default.contents(atPath: tmp + "/err") ?? Data(), as: UTF8.self)
        if timedOut { return Result(code: -999, stdout: o, stderr: "did not exit within \(Int(seconds))s (killed); stderr: " + r) }
        return Result(code: p.terminationStatus, stdout: o, stderr: r)
    }

    /// `run` with a 30-second bound: for cases whose wrong answer would be to keep running.
    @discardableResult
    static func runBounded(_ args: [String], home: String, stdin: String? = nil, cwd: String? = nil,
                           env: [String: String] = [:], seconds: Double = 30) -> Result {
        run(args, home: home, stdin: stdin, env: env, cwd: cwd, seconds: seconds)
    }

    /// Every regular file under `dir` with its bytes: for "nothing was written" assertions.
    static func files(_ dir: String) -> [String: Data] {
        var out: [String: Data] = [:]
        guard let en = FileManager.default.enumerator(atPath: dir) else { return out }
        while let rel = en.nextObject() as? String {
            var isDir: ObjCBool = false
            let path = dir + "/" + rel
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue {
                out[rel] = FileManager.default.contents(atPath: path) ?? Data()
            }
        }
        return out
    }

    static func json(_ text: String) -> Any? {
        try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
    }
}

/// Base class: a fresh home per test, removed afterwards along with any workers left running.
extension Harness {
    /// A transaction past the journal's bound starts a detached compactor; it holds
    /// `compact.lock` until it is done. Waiting for the lock means no compactor is left running.
    static func waitForCompaction(home: String) {
        let fd = open(home + "/compact.lock", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return }
        while flock(fd, LOCK_EX) != 0 && errno == EINTR {}
        close(fd)
    }
}

class HomeTestCase: XCTestCase {
    var dir = ""
    var home = ""

    override func setUp() {
        super.setUp()
        dir = Harness.makeTempDir()
        home = dir + "/home"
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: Harness.binary), "queuectl binary not found at \(Harness.binary); run 'swift build' first")
    }

    override func tearDown() {
        if FileManager.default.fileExists(atPath: Home(path: home).pidFile()) {
            Harness.run(["worker", "stop", "--force"], home: home)
        }
        Harness.waitForCompaction(home: home)
        try? FileManager.default.removeItem(atPath: dir)
        super.tearDown()
    }

    @discardableResult
    func q(_ args: String..., stdin: String? = nil, cwd: String? = nil) -> Harness.Result {
        Harness.run(args, home: home, stdin: stdin, cwd: cwd)
    }

    func jobJSON(_ id: String) -> [String: Any] {
        let r = q("show", id, "--json")
        XCTAssertEqual(r.code, 0, r.stderr)
        return (Harness.json(r.stdout) as? [String: Any]) ?? [:]
    }
}

/// Deterministic pseudo-random numbers (SplitMix64): the same sequence for a seed on every run
/// and machine, so a failing random test can be replayed.
struct SeededRNG: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}
