import Foundation
import Glibc
import XCTest

/// HTTP-level tests of `queuectl dashboard` on a free loopback port.
final class DashboardTests: HomeTestCase {
    var server: Process?
    var port = 0

    override func tearDown() {
        if let s = server, s.isRunning { s.interrupt(); s.waitUntilExit() }
        super.tearDown()
    }

    /// A home with a completed job, a dead job whose command and output are hostile HTML, and a dead one to retry.
    func startDashboard() throws {
        q("config", "set", "backoff_base", "1")
        q("enqueue", "--id", "good", "--", "echo fine")
        q("enqueue", #"{"id":"evil","command":"echo \"<script>alert('x')</script>\"; exit 1","max_retries":0}"#)
        q("enqueue", "--id", "retryme", "--max-retries", "0", "--", "exit 2")
        XCTAssertEqual(q("worker", "start", "--detach").code, 0)
        q("wait", "--timeout", "30")
        q("worker", "stop")

        let p = Process()
        p.executableURL = URL(fileURLWithPath: Harness.binary)
        p.arguments = ["--home", home, "dashboard", "--port", "0"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        server = p
        // The first line names the URL, with the port the kernel chose.
        var line = Data()
        while !line.contains(0x0A) {
            let d = out.fileHandleForReading.availableData
            if d.isEmpty { break }
            line.append(d)
        }
        let text = String(decoding: line, as: UTF8.self)
        let m = try XCTUnwrap(text.range(of: #"127\.0\.0\.1:(\d+)/"#, options: .regularExpression), text)
        port = Int(text[m].dropFirst("127.0.0.1:".count).dropLast()) ?? 0
        XCTAssertGreaterThan(port, 0)
    }

    struct Reply { var status: Int; var headers: String; var body: String }

    /// A raw HTTP exchange, so tests can send any Host header or an oversized request.
    func http(_ method: String, _ path: String, host: String? = nil, headers: [String] = [], body: String = "") -> Reply {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
        let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard ok == 0 else { return Reply(status: -1, headers: "", body: "connect failed") }
        var req = "\(method) \(path) HTTP/1.1\r\nHost: \(host ?? "127.0.0.1:\(port)")\r\n"
        for h in headers { req += h + "\r\n" }
        if !body.isEmpty { req += "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: \(body.utf8.count)\r\n" }
        req += "\r\n" + body
        _ = req.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        var data = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buf, buf.count, 0)
            if n <= 0 { break }
            data.append(contentsOf: buf[0..<n])
        }
        let text = String(decoding: data, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { return Reply(status: -1, headers: text, body: "") }
        let head = String(text[..<split.lowerBound])
        let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? -1
        return Reply(status: status, headers: head, body: String(text[split.upperBound...]))
    }

    func testPagesAndAPI() throws {
        try startDashboard()
        for path in ["/", "/jobs", "/jobs?state=dead", "/jobs?page=2", "/jobs/good", "/dlq", "/workers", "/config",
                     "/static/style.css", "/static/app.js", "/metrics", "/api/status", "/api/jobs",
                     "/api/jobs?state=dead&limit=1&offset=1", "/api/jobs/good", "/api/jobs/good/logs", "/api/metrics"] {
            XCTAssertEqual(http("GET", path).status, 200, path)
        }
        let status = try XCTUnwrap(Harness.json(http("GET", "/api/status").body) as? [String: Any])
        XCTAssertEqual((status["counts"] as? [String: Int])?["dead"], 2)
        let page = try XCTUnwrap(Harness.json(http("GET", "/api/jobs?state=dead&limit=1&offset=1").body) as? [String: Any])
        XCTAssertEqual(page["total"] as? Int, 2)
        XCTAssertEqual((page["jobs"] as? [Any])?.count, 1)
        let logs = http("GET", "/api/jobs/good/logs").body
        XCTAssertTrue(logs.contains("fine"), logs)
        XCTAssertTrue(http("GET", "/metrics").body.contains(#"queuectl_jobs{state="completed"} 1"#))
        XCTAssertTrue(http("GET", "/").body.contains(#"data-state="dead">2<"#))
        XCTAssertEqual(http("GET", "/nope").status, 404)
        XCTAssertEqual(http("GET", "/jobs/ghost").status, 404)
        XCTAssertEqual(http("GET", "/api/jobs/..%2F..%2Fetc%2Fpasswd/logs").status, 404)
        XCTAssertEqual(http("DELETE", "/").status, 405)
        XCTAssertEqual(http("GET", "/jobs?state=bogus").status, 400)
    }

    func testJobDataIsEscaped() throws {
        try startDashboard()
        for path in ["/", "/jobs", "/jobs/evil", "/dlq"] {
            let body = http("GET", path).body
            XCTAssertFalse(body.contains("<script>alert"), "\(path) has raw job HTML")
            XCTAssertTrue(body.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"), "\(path) lacks the escaped command")
        }
        XCTAssertTrue(http("GET", "/jobs/evil").body.contains("&quot;"), "quotes escaped")
    }

    func testSecurityChecks() throws {
        try startDashboard()
        XCTAssertEqual(http("GET", "/", host: "evil.example:\(port)").status, 403, "DNS rebinding")
        XCTAssertEqual(http("GET", "/", host: "localhost:\(port)").status, 200)
        XCTAssertEqual(http("POST", "/api/jobs/retryme/retry").status, 403, "no token")
        XCTAssertEqual(http("POST", "/api/jobs/retryme/retry", headers: ["X-Queuectl-Token: wrong"]).status, 403)
        XCTAssertEqual(http("POST", "/dlq/retry", body: "id=retryme&token=wrong").status, 403)
        XCTAssertEqual(http("GET", "/", headers: ["X-Big: " + String(repeating: "a", count: 20000)]).status, 431)
        XCTAssertEqual(http("POST", "/dlq/retry", headers: ["Content-Length: 10000000"]).status, 413)
        XCTAssertEqual(jobJSON("retryme")["state"] as? String, "dead", "refused requests changed nothing")
        XCTAssertTrue(http("GET", "/").headers.contains("Content-Security-Policy"))
    }

    func testSlowClientsAndConcurrentRequestsDoNotBlockAndCtrlCStops() throws {
        try startDashboard()
        // A client that sends half a request and then stalls.
        let slow = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(slow) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
        let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(slow, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        XCTAssertEqual(ok, 0)
        _ = "GET / HTTP/1.1\r\nHost: 127.0.0.1".withCString { send(slow, $0, strlen($0), 0) }
        // Meanwhile 40 requests from 8 threads all get answers.
        let group = DispatchGroup()
        final class Results: @unchecked Sendable {  // guarded by its lock
            let lock = NSLock()
            var statuses: [Int] = []
            func add(_ s: Int) { lock.lock(); statuses.append(s); lock.unlock() }
        }
        let results = Results()
        for _ in 0..<8 {
            group.enter()
            DispatchQueue.global().async {
                for _ in 0..<5 {
                    let st = self.http("GET", "/api/status").status
                    results.add(st)
                }
                group.leave()
            }
        }
        XCTAssertEqual(group.wait(timeout: .now() + 30), .success, "requests blocked behind a slow client")
        XCTAssertEqual(results.statuses.count, 40)
        XCTAssertTrue(results.statuses.allSatisfy { $0 == 200 }, "\(results.statuses)")
        // Ctrl+C: the server stops and exits 0.
        let server = try XCTUnwrap(self.server)
        server.interrupt()
        server.waitUntilExit()
        XCTAssertEqual(server.terminationStatus, 0)
    }

    func testRetryThroughTheAPIAndTheForm() throws {
        try startDashboard()
        let token = try XCTUnwrap(String(contentsOfFile: home + "/dashboard.token", encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertTrue(http("GET", "/dlq").body.contains("value=\"\(token)\""), "the page embeds the token")
        let r = http("POST", "/api/jobs/retryme/retry", headers: ["X-Queuectl-Token: \(token)"])
        XCTAssertEqual(r.status, 200, r.body)
        XCTAssertEqual(jobJSON("retryme")["state"] as? String, "pending")
        XCTAssertEqual(jobJSON("retryme")["attempts"] as? Int, 0)
        XCTAssertEqual(http("POST", "/api/jobs/good/retry", headers: ["X-Queuectl-Token: \(token)"]).status, 409, "not dead")
        let form = http("POST", "/dlq/retry", body: "all=1&token=\(token)")
        XCTAssertEqual(form.status, 303)
        XCTAssertEqual(jobJSON("evil")["state"] as? String, "pending")
    }

    /// The queue controls: the overview and /queues show queues; pause and resume of a queue and
    /// of a job go through the API and the forms, need the token, and change what the CLI sees.
    func testQueuesPauseAndResume() throws {
        try startDashboard()
        q("queue", "set", "gpu", "--parallel", "2")
        q("enqueue", "--id", "g1", "--queue", "gpu", "--delay", "1h", "--", "true")
        let token = try XCTUnwrap(String(contentsOfFile: home + "/dashboard.token", encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)
        for path in ["/queues", "/api/queues"] { XCTAssertEqual(http("GET", path).status, 200, path) }
        XCTAssertTrue(http("GET", "/").body.contains("<td>gpu</td>"), "the overview lists the queues")
        let queues = try XCTUnwrap(Harness.json(http("GET", "/api/queues").body) as? [[String: Any]])
        let gpu = try XCTUnwrap(queues.first { $0["name"] as? String == "gpu" })
        XCTAssertEqual(gpu["parallel"] as? Int, 2)
        XCTAssertEqual((gpu["counts"] as? [String: Int])?["pending"], 1)

        XCTAssertEqual(http("POST", "/api/queues/gpu/pause?jobs=1").status, 403, "no token")
        XCTAssertEqual(http("POST", "/api/queues/gpu/pause?jobs=1", headers: ["X-Queuectl-Token: \(token)"]).status, 200)
        XCTAssertTrue(q("queue", "list").stdout.contains("paused (jobs stopped)"), q("queue", "list").stdout)
        XCTAssertEqual(http("POST", "/queues/resume", body: "name=gpu&token=\(token)").status, 303)
        XCTAssertFalse(q("queue", "list").stdout.contains("paused"), q("queue", "list").stdout)
        XCTAssertEqual(http("POST", "/api/queues/.x/pause", headers: ["X-Queuectl-Token: \(token)"]).status, 400, "a bad queue name")

        XCTAssertEqual(http("POST", "/api/jobs/g1/pause", headers: ["X-Queuectl-Token: \(token)"]).status, 200)
        XCTAssertEqual(jobJSON("g1")["paused"] as? Bool, true)
        XCTAssertTrue(http("GET", "/jobs/g1").body.contains("Resume"), "a paused job's page offers Resume")
        XCTAssertEqual(http("POST", "/jobs/resume", body: "id=g1&token=\(token)").status, 303)
        XCTAssertNil(jobJSON("g1")["paused"], "resumed: the key is gone")
        XCTAssertEqual(http("POST", "/api/jobs/good/pause", headers: ["X-Queuectl-Token: \(token)"]).status, 409, "a finished job")
    }
}
