import Glibc

/// A parsed HTTP/1.1 request (only what the dashboard needs).
public struct HTTPRequest {
    public var method: String
    public var path: String                  // without the query
    public var query: [String: String]
    public var headers: [String: String]     // lower-cased names
    public var body: [UInt8]

    public var form: [String: String] { HTTPRequest.parseQuery(String(decoding: body, as: UTF8.self)) }

    static func parseQuery(_ q: String) -> [String: String] {
        var out: [String: String] = [:]
        for part in q.split(separator: "&") {
            let kv = part.split(separator: "=", maxSplits: 1)
            guard let k = kv.first.map(String.init).flatMap(percentDecode) else { continue }
            out[k] = kv.count > 1 ? percentDecode(String(kv[1])) ?? "" : ""
        }
        return out
    }

    static func percentDecode(_ s: String) -> String? {
        var bytes: [UInt8] = []
        var it = Array(s.utf8).makeIterator()
        while let c = it.next() {
            if c == UInt8(ascii: "+") { bytes.append(0x20); continue }
            guard c == UInt8(ascii: "%") else { bytes.append(c); continue }
            guard let h = it.next(), let l = it.next(), let v = UInt8(String(decoding: [h, l], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(v)
        }
        return String(validating: bytes, as: UTF8.self)
    }
}

public struct HTTPResponse {
    public var status: Int
    public var contentType: String
    public var body: [UInt8]
    public var headers: [(String, String)] = []

    public init(status: Int, contentType: String = "text/plain; charset=utf-8", body: String, headers: [(String, String)] = []) {
        self.status = status
        self.contentType = contentType
        self.body = Array(body.utf8)
        self.headers = headers
    }

    static func reason(_ s: Int) -> String {
        switch s {
        case 200: return "OK"
        case 303: return "See Other"
        case 400: return "Bad Request"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 413: return "Payload Too Large"
        case 431: return "Request Header Fields Too Large"
        default: return s < 400 ? "OK" : "Error"
        }
    }

    func serialized() -> [UInt8] {
        var head = "HTTP/1.1 \(status) \(HTTPResponse.reason(status))\r\n"
        head += "Content-Type: \(contentType)\r\nContent-Length: \(body.count)\r\nConnection: close\r\n"
        head += "X-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\nReferrer-Policy: no-referrer\r\n"
        head += "Content-Security-Policy: default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'\r\n"
        head += "Cache-Control: no-store\r\n"
        for (k, v) in headers { head += "\(k): \(v)\r\n" }
        head += "\r\n"
        return Array(head.utf8) + body
    }
}

/// A small single-threaded HTTP/1.1 server on Glibc sockets: one `poll` loop over the listening
/// socket and every connection, so slow clients never block others. Requests are bounded in
/// size, header count and time; each connection serves one request (Connection: close).
public final class HTTPServer {
    public static let maxHeaderBytes = 16 * 1024
    public static let maxHeaders = 64
    public static let maxBodyBytes = 64 * 1024
    public static let readTimeout = 10.0

    let listenFd: FileDescriptor
    public let port: Int
    let handler: (HTTPRequest) -> HTTPResponse

    final class Connection {
        let fd: FileDescriptor
        var input: [UInt8] = []
        var output: [UInt8] = []
        var written = 0
        let deadline: Double
        var responding = false
        init(fd: FileDescriptor) {
            self.fd = fd
            deadline = Clock.monotonic() + HTTPServer.readTimeout
        }
    }

    /// Binds `host:port` (port 0 = any free port).
    public init(host: String, port: Int, handler: @escaping (HTTPRequest) -> HTTPResponse) throws {
        self.handler = handler
        guard let fd = FileDescriptor(returned: socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)) else { throw QueueError.system("cannot create a socket: \(Posix.describe(errno))") }
        var yes: Int32 = 1
        setsockopt(fd.rawValue, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host, &addr.sin_addr) == 1 else {
            fd.close()
            throw QueueError.usage("invalid --host '\(host)': give an IPv4 address such as 127.0.0.1")
        }
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd.rawValue, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd.rawValue, 128) == 0 else {
            let e = errno
            fd.close()
            throw QueueError.failed("cannot listen on \(host):\(port): \(Posix.describe(e))")
        }
        var actual = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd.rawValue, $0, &len) }
        }
        fd.configure(nonBlocking: true)
        listenFd = fd
        self.port = Int(UInt16(bigEndian: actual.sin_port))
    }

    deinit { listenFd.close() }

    /// Serves until SIGINT/SIGTERM.
    public func run() {
        SignalPipe.install()
        var conns: [FileDescriptor: Connection] = [:]
        while true {
            var fds = [pollfd(readable: SignalPipe.readFd),
                       pollfd(readable: listenFd)]
            for c in conns.values {
                fds.append(pollfd(fd: c.fd.rawValue, events: Int16(c.responding ? POLLOUT : POLLIN), revents: 0))
            }
            Posix.poll(&fds, timeoutMs: 500)
            let sigs = SignalPipe.take()
            if sigs.contains(SIGINT) || sigs.contains(SIGTERM) || sigs.contains(SIGHUP) { break }
            if fds[1].revents != 0 {
                while true {
                    guard let cfd = FileDescriptor(returned: accept(listenFd.rawValue, nil, nil)) else { break }
                    cfd.configure(nonBlocking: true)
                    if conns.count >= 256 { cfd.close(); continue }
                    conns[cfd] = Connection(fd: cfd)
                }
            }
            for p in fds.dropFirst(2) where p.revents != 0 {
                guard let c = conns[FileDescriptor(rawValue: p.fd)] else { continue }
                if c.responding { flush(c, &conns) } else { readFrom(c, &conns) }
            }
            let now = Clock.monotonic()
            for c in conns.values where now > c.deadline {
                if c.responding { drop(c, &conns) } else { respond(c, HTTPResponse(status: 408, body: "request took too long\n"), &conns) }
            }
        }
        for c in conns.values { c.fd.close() }
    }

    func drop(_ c: Connection, _ conns: inout [FileDescriptor: Connection]) {
        c.fd.close()
        conns[c.fd] = nil
    }

    func respond(_ c: Connection, _ r: HTTPResponse, _ conns: inout [FileDescriptor: Connection]) {
        c.output = r.serialized()
        c.responding = true
        flush(c, &conns)
    }

    func flush(_ c: Connection, _ conns: inout [FileDescriptor: Connection]) {
        while c.written < c.output.count {
            let n = c.output.withUnsafeBytes { send(c.fd.rawValue, $0.baseAddress! + c.written, $0.count - c.written, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EAGAIN || errno == EINTR { return }
                break
            }
            c.written += n
        }
        drop(c, &conns)
    }

    func readFrom(_ c: Connection, _ conns: inout [FileDescriptor: Connection]) {
        var buf = [UInt8](repeating: 0, count: 8192)
        let n = buf.withUnsafeMutableBytes { recv(c.fd.rawValue, $0.baseAddress!, $0.count, 0) }
        if n < 0 && (errno == EAGAIN || errno == EINTR) { return }
        if n <= 0 { drop(c, &conns); return }
        c.input.append(contentsOf: buf[0..<n])
        switch parse(c.input) {
        case .incomplete: return
        case .error(let status, let why): respond(c, HTTPResponse(status: status, body: why + "\n"), &conns)
        case .request(let r): respond(c, handler(r), &conns)
        }
    }

    enum ParseResult { case incomplete, error(Int, String), request(HTTPRequest) }

    func parse(_ data: [UInt8]) -> ParseResult {
        let sep: [UInt8] = [13, 10, 13, 10]
        var end = -1
        if data.count >= 4 {
            for i in 0...(data.count - 4) where data[i] == 13 && Array(data[i..<(i + 4)]) == sep { end = i; break }
        }
        if end < 0 {
            return data.count > HTTPServer.maxHeaderBytes ? .error(431, "request headers too large") : .incomplete
        }
        if end > HTTPServer.maxHeaderBytes { return .error(431, "request headers too large") }
        let head = String(decoding: data[0..<end], as: UTF8.self)
        var lines = head.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        let requestLine = lines.removeFirst().split(separator: " ").map(String.init)
        guard requestLine.count == 3, requestLine[2].hasPrefix("HTTP/1.") else { return .error(400, "malformed request line") }
        if lines.count > HTTPServer.maxHeaders { return .error(431, "too many headers") }
        var headers: [String: String] = [:]
        for l in lines {
            guard let colon = l.firstIndex(of: ":") else { return .error(400, "malformed header") }
            headers[l[..<colon].lowercased()] = String(l[l.index(after: colon)...]).trimmingSpaces()
        }
        let length = Int(headers["content-length"] ?? "0") ?? -1
        if length < 0 { return .error(400, "bad Content-Length") }
        if length > HTTPServer.maxBodyBytes { return .error(413, "request body too large") }
        if headers["transfer-encoding"] != nil { return .error(400, "chunked requests are not supported") }
        let bodyStart = end + 4
        if data.count - bodyStart < length { return .incomplete }
        let target = requestLine[1]
        let parts = target.split(separator: "?", maxSplits: 1)
        guard let path = parts.first.map(String.init).flatMap(HTTPRequest.percentDecode), path.hasPrefix("/") else {
            return .error(400, "bad request target")
        }
        let query = parts.count > 1 ? HTTPRequest.parseQuery(String(parts[1])) : [:]
        return .request(HTTPRequest(method: requestLine[0], path: path, query: query, headers: headers,
                                    body: Array(data[bodyStart..<(bodyStart + length)])))
    }
}
