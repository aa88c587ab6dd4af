import Glibc

/// An operating-system failure with the call and path that failed, phrased for a user.
public struct SystemError: Error, CustomStringConvertible {
    public let operation: String
    public let path: String
    public let code: Int32
    public var description: String { "cannot \(operation) \(path): \(Posix.describe(code))" }
}

/// Thin, EINTR-safe wrappers over the Glibc calls the queue uses.
public enum Posix {
    public static func describe(_ code: Int32) -> String {
        guard let s = strerror(code) else { return "error \(code)" }
        return String(cString: s)
    }

    /// Calls `body` again while it fails with EINTR (a signal arrived): the one place that loop
    /// is written. Returns the first other result; `errno` is then the call's own.
    @discardableResult
    public static func retryingEINTR<T: BinaryInteger>(_ body: () -> T) -> T {
        while true {
            let r = body()
            if r >= 0 || errno != EINTR { return r }
        }
    }

    /// `flock` that retries on EINTR; a failure is reported with the path.
    public static func lock(_ fd: FileDescriptor, _ op: Int32, path: String) throws {
        guard retryingEINTR({ systemFlockRaw(fd.rawValue, op) }) == 0 else { throw SystemError(operation: "lock", path: path, code: errno) }
    }

    /// open(2), close-on-exec, retried on EINTR; a failure is reported with the path.
    public static func open(_ path: String, _ flags: Int32, _ mode: mode_t = 0o600) throws -> FileDescriptor {
        let fd = retryingEINTR { Glibc.open(path, flags | O_CLOEXEC, mode) }
        guard let d = FileDescriptor(returned: fd) else { throw SystemError(operation: "open", path: path, code: errno) }
        return d
    }

    /// `open`, but nil when the file does not exist.
    public static func openIfExists(_ path: String, _ flags: Int32 = O_RDONLY) throws -> FileDescriptor? {
        let fd = retryingEINTR { Glibc.open(path, flags | O_CLOEXEC, 0o600) }
        if let d = FileDescriptor(returned: fd) { return d }
        if errno == ENOENT { return nil }
        throw SystemError(operation: "open", path: path, code: errno)
    }

    /// `open` where any failure only means "not there to use" (a best-effort read of a sidecar).
    public static func openQuietly(_ path: String, _ flags: Int32 = O_RDONLY) -> FileDescriptor? {
        FileDescriptor(returned: retryingEINTR { Glibc.open(path, flags | O_CLOEXEC, 0o600) })
    }

    /// Reads a whole file; nil when it does not exist.
    public static func readFile(_ path: String) throws -> [UInt8]? {
        guard let fd = try openIfExists(path) else { return nil }
        defer { fd.close() }
        return try readAll(fd: fd, from: 0, path: path)
    }

    /// Maps a whole file read-only and passes its bytes to `body`; nil bytes when it does not exist.
    public static func withMappedFile<T>(_ path: String, _ body: (UnsafeBufferPointer<UInt8>?) throws -> T) throws -> T {
        guard let fd = try openIfExists(path) else { return try body(nil) }
        defer { fd.close() }
        return try withMapped(fd: fd, path: path) { try body($0) }
    }

    /// A read-only mapping of a whole file, unmapped when the last reference goes.
    public final class MappedFile {
        public let buffer: UnsafeBufferPointer<UInt8>
        init(_ buffer: UnsafeBufferPointer<UInt8>) { self.buffer = buffer }
        deinit { if let b = buffer.baseAddress, buffer.count > 0 { munmap(UnsafeMutableRawPointer(mutating: b), buffer.count) } }
    }

    /// Maps the file open on `fd` as it is now; nil where it cannot be mapped (read it instead).
    public static func mapFile(fd: FileDescriptor, path: String) throws -> MappedFile? {
        var st = stat()
        guard fstat(fd.rawValue, &st) == 0 else { throw SystemError(operation: "stat", path: path, code: errno) }
        let size = Int(st.st_size)
        if size == 0 { return MappedFile(UnsafeBufferPointer(start: nil, count: 0)) }
        guard let p = mmap(nil, size, PROT_READ, MAP_SHARED, fd.rawValue, 0), p != MAP_FAILED else { return nil }
        return MappedFile(UnsafeBufferPointer(start: p.assumingMemoryBound(to: UInt8.self), count: size))
    }

    /// Maps the file open on `fd` (the caller keeps the descriptor).
    public static func withMapped<T>(fd: FileDescriptor, path: String, _ body: (UnsafeBufferPointer<UInt8>) throws -> T) throws -> T {
        var st = stat()
        guard fstat(fd.rawValue, &st) == 0 else { throw SystemError(operation: "stat", path: path, code: errno) }
        let size = Int(st.st_size)
        if size == 0 { return try body(UnsafeBufferPointer(start: nil, count: 0)) }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd.rawValue, 0), p != MAP_FAILED else {
            // Fall back to reading (e.g. a filesystem without mmap).
            let bytes = try readAll(fd: fd, from: 0, path: path)
            return try bytes.withUnsafeBufferPointer { try body($0) }
        }
        defer { munmap(p, size) }
        return try body(UnsafeBufferPointer(start: p.assumingMemoryBound(to: UInt8.self), count: size))
    }

    /// Tells the kernel the first `upTo` bytes of a mapped file are no longer needed, so they
    /// stop counting against the process while the rest is decoded.
    public static func releaseMapped(_ buf: UnsafeBufferPointer<UInt8>, upTo: Int) {
        guard let base = buf.baseAddress else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = Int(bitPattern: base)
        guard start % page == 0 else { return }
        let len = (upTo / page) * page
        if len > 0 { madvise(UnsafeMutableRawPointer(mutating: base), len, MADV_DONTNEED) }
    }

    /// Reads from `offset` to end of file.
    public static func readAll(fd: FileDescriptor, from offset: Int, path: String) throws -> [UInt8] {
        var st = stat()
        guard fstat(fd.rawValue, &st) == 0 else { throw SystemError(operation: "stat", path: path, code: errno) }
        let size = Int(st.st_size)  // 0 for /proc files: the loop below reads them to EOF
        var out = [UInt8](unsafeUninitializedCapacity: max(0, size - offset)) { _, n in n = max(0, size - offset) }
        var got = 0
        try out.withUnsafeMutableBytes { raw in
            while got < raw.count {
                let n = pread(fd.rawValue, raw.baseAddress! + got, raw.count - got, off_t(offset + got))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw SystemError(operation: "read", path: path, code: errno)
                }
                if n == 0 { break }
                got += n
            }
        }
        if got < out.count { out.removeSubrange(got...) }
        // The file may have grown while we read; pick up the rest.
        var chunkSize = 4096
        while true {
            var chunk = [UInt8](unsafeUninitializedCapacity: chunkSize) { _, n in n = chunkSize }
            let n = chunk.withUnsafeMutableBytes { pread(fd.rawValue, $0.baseAddress!, $0.count, off_t(offset + out.count)) }
            if n < 0 { if errno == EINTR { continue }; throw SystemError(operation: "read", path: path, code: errno) }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
            chunkSize = min(chunkSize * 4, 1 << 20)
        }
        return out
    }

    public static func writeAll(fd: FileDescriptor, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var done = 0
        while done < bytes.count {
            let n = write(fd.rawValue, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError(operation: "write", path: path, code: errno)
            }
            done += n
        }
    }

    /// Writes every byte at an explicit offset (never O_APPEND: network file systems emulate it
    /// in the client, and appends from two machines then overwrite each other).
    public static func pwriteAll(fd: FileDescriptor, _ bytes: [UInt8], at offset: Int, path: String) throws {
        try bytes.withUnsafeBytes { try pwriteAll(fd: fd, $0, at: offset, path: path) }
    }

    public static func pwriteAll(fd: FileDescriptor, _ raw: UnsafeRawBufferPointer, at offset: Int, path: String) throws {
        var done = 0
        var tries = 0
        while done < raw.count {
            var n: Int
            if let e = Fault.errno(for: "write", attempt: tries) {
                errno = e
                n = -1
            } else {
                n = pwrite(fd.rawValue, raw.baseAddress! + done, raw.count - done, off_t(offset + done))
            }
            tries += 1
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError(operation: "write", path: path, code: errno)
            }
            done += n
        }
    }

    public static func writeAll(fd: FileDescriptor, _ text: String, path: String) throws {
        var t = text
        try t.withUTF8 { try writeAll(fd: fd, UnsafeRawBufferPointer($0), path: path) }
    }

    public static func writeAll(fd: FileDescriptor, _ bytes: [UInt8], path: String) throws {
        try bytes.withUnsafeBytes { try writeAll(fd: fd, $0, path: path) }
    }

    /// Replaces `path` atomically and durably: temp file in the same directory, fsync, rename,
    /// fsync of the directory. A crash leaves either the old or the new file, never a mix.
    public static func atomicWrite(path: String, chunks: [String]) throws {
        try atomicWrite(path: path, byteChunks: chunks.map { Array($0.utf8) })
    }

    /// `linkAs`: also give the new file that second name (hard link, made before the rename).
    public static func atomicWrite(path: String, byteChunks chunks: [[UInt8]], linkAs: String? = nil) throws {
        try atomicWrite(path: path, linkAs: linkAs, writing: { fd, tmp in
            for c in chunks { try writeAll(fd: fd, c, path: tmp) }
        })
    }

    /// `atomicWrite` for a file written piece by piece: `body` writes the temporary file, then
    /// it is synced, linked (`linkAs`), renamed over `path`, and the directory synced; when
    /// `body` throws, the temporary file is removed and `path` is untouched.
    public static func atomicWrite(path: String, linkAs: String? = nil, writing body: (_ fd: FileDescriptor, _ tmp: String) throws -> Void) throws {
        let tmp = temporaryName(for: path)
        let fd = try open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        try fillNewFile(fd, path: tmp) {
            try body(fd, tmp)
            try fsyncFile(fd, path: tmp)
        }
        if let second = linkAs {
            unlink(second)
            guard link(tmp, second) == 0 else {
                let e = errno
                unlink(tmp)
                throw SystemError(operation: "link", path: second, code: e)
            }
        }
        guard Glibc.rename(tmp, path) == 0 else {
            let e = errno
            unlink(tmp)
            throw SystemError(operation: "rename", path: tmp, code: e)
        }
        try fsyncDirectory(dirname(of: path))
    }

    /// Runs `body` to write a file just created at `path`, then closes `fd`; on any failure,
    /// the close's included (NFS reports write errors there), the file is removed.
    public static func fillNewFile(_ fd: FileDescriptor, path: String, _ body: () throws -> Void) throws {
        do {
            try body()
        } catch {
            fd.close()
            unlink(path)
            throw error
        }
        guard fd.close() else {
            let e = errno
            unlink(path)
            throw SystemError(operation: "write", path: path, code: e)
        }
    }

    public static func fsyncFile(_ fd: FileDescriptor, path: String) throws {
        guard Glibc.fsync(fd.rawValue) == 0 else { throw SystemError(operation: "fsync", path: path, code: errno) }
    }

    /// Writes a new file and fsyncs it (no rename: the caller puts it in place later).
    public static func writeSynced(path: String, chunks: [[UInt8]]) throws {
        let fd = try open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        defer { fd.close() }
        for c in chunks { try writeAll(fd: fd, c, path: path) }
        try fsyncFile(fd, path: path)
    }

    public static func rename(_ from: String, _ to: String) throws {
        if let e = Fault.errno(for: "rename") { throw SystemError(operation: "rename", path: from, code: e) }
        guard Glibc.rename(from, to) == 0 else { throw SystemError(operation: "rename", path: from, code: errno) }
    }

    /// The running binary: `/proc/self/exe` resolved, so a process started from it is named
    /// `queuectl` in `ps`, not `exe`; `/proc/self/exe` itself when it cannot be resolved.
    public static func executablePath() -> String {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        guard n > 0 else { return "/proc/self/exe" }
        let path = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return path.hasSuffix(" (deleted)") ? "/proc/self/exe" : path
    }

    /// Deletes a file nobody holds a `flock` on (a leftover of a process that died).
    public static func removeIfUnlocked(_ path: String) {
        guard let fd = openQuietly(path) else { return }
        defer { fd.close() }
        if fd.tryLock(LOCK_EX) { unlink(path) }
    }

    /// This process's environment as `NAME=value` strings.
    public static func environment() -> [String] {
        var out: [String] = []
        var p = environ
        while let entry = p.pointee {
            out.append(String(cString: entry))
            p += 1
        }
        return out
    }

    public static func atomicWrite(path: String, text: String) throws {
        try atomicWrite(path: path, chunks: [text])
    }

    /// `<path>.tmp-<host>-<pid>`: unique across the machines that share a home, so two hosts
    /// whose processes have the same pid never write the same temporary file.
    public static func temporaryName(for path: String) -> String {
        path + ".tmp-" + Host.current.fileSafeName + "-" + String(getpid())
    }

    public static func fsyncDirectory(_ dir: String) throws {
        let dfd = try open(dir, O_RDONLY | O_DIRECTORY)
        defer { dfd.close() }
        try fsyncFile(dfd, path: dir)
    }

    public static func dirname(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// mkdir -p with a mode for the directories it creates.
    public static func makeDirectories(_ path: String, mode: mode_t = 0o700) throws {
        var st = stat()
        if stat(path, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFDIR else {
                throw SystemError(operation: "use", path: path, code: ENOTDIR)
            }
            return
        }
        let parent = dirname(of: path)
        if parent != path && parent != "." && parent != "/" { try makeDirectories(parent, mode: mode) }
        if mkdir(path, mode) != 0 && errno != EEXIST {
            throw SystemError(operation: "create directory", path: path, code: errno)
        }
        chmod(path, mode)  // not subject to umask
    }

    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    public static func fileSize(_ path: String) -> Int? {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : nil
    }

    public static func env(_ name: String) -> String? {
        guard let v = getenv(name) else { return nil }
        let s = String(cString: v)
        return s.isEmpty ? nil : s
    }

    public static func currentDirectory() -> String {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buf, buf.count) != nil else { return env("PWD") ?? "/" }
        return String(cString: buf)
    }

    /// Removes a file tree (used for a job's log directory).
    public static func removeTree(_ path: String) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            if let d = opendir(path) {
                var names: [String] = []
                while let e = readdir(d) {
                    let name = withUnsafeBytes(of: e.pointee.d_name) { raw in
                        String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
                    }
                    if name != "." && name != ".." { names.append(name) }
                }
                closedir(d)
                for n in names { removeTree(path + "/" + n) }
            }
            rmdir(path)
        } else {
            unlink(path)
        }
    }

    public static func listDirectory(_ path: String) -> [String] {
        guard let d = opendir(path) else { return [] }
        defer { closedir(d) }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// A close-on-exec pipe (pipe2 is not visible to Swift).
    public static func makePipe(nonBlocking: Bool = false) throws -> (read: FileDescriptor, write: FileDescriptor) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw SystemError(operation: "create", path: "a pipe", code: errno) }
        let (r, w) = (FileDescriptor(rawValue: fds[0]), FileDescriptor(rawValue: fds[1]))
        r.configure(nonBlocking: nonBlocking)
        w.configure(nonBlocking: nonBlocking)
        return (r, w)
    }

    /// poll(2) that retries on EINTR; returns the number of ready descriptors (0 on timeout).
    /// Waits at most `seconds` (clamped to 0…1 hour: any value, even NaN, is a valid timeout).
    @discardableResult
    public static func poll(_ fds: inout [pollfd], seconds: Double) -> Int32 {
        let s = seconds.isFinite ? min(max(seconds, 0), 3600) : 0
        return poll(&fds, timeoutMs: Int32((s * 1000).rounded(.up)))  // checked: 0…3600 s
    }

    @discardableResult
    public static func poll(_ fds: inout [pollfd], timeoutMs: Int32) -> Int32 {
        while true {
            let n = Glibc.poll(&fds, nfds_t(fds.count), timeoutMs)
            if n >= 0 || errno != EINTR { return n }
            return 0  // a signal arrived: let the caller look at its signal pipe
        }
    }

    /// The start time of a process in clock ticks since boot (/proc/PID/stat field 22), so a
    /// recycled pid is not mistaken for the process we knew.
    /// Read straight from the bytes (a worker asks once per job: no String, no split).
    public static func processStartTime(_ pid: Int) -> Int64? {
        guard let fd = openQuietly("/proc/\(pid)/stat") else { return nil }
        defer { fd.close() }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 1024) { buf -> Int64? in
            let n = retryingEINTR { read(fd.rawValue, buf.baseAddress!, buf.count) }
            guard n > 0 else { return nil }
            let line = UnsafeBufferPointer(rebasing: buf[0..<n])
            // The command name (field 2) is in parentheses and may hold anything: count from
            // the last ')'. Then field 3 (the state) follows a space; field 22 is 19 fields on.
            guard let close = line.lastIndex(of: UInt8(ascii: ")")) else { return nil }
            var i = close + 1, field = 2
            while i < line.count && field < 22 {
                if line[i] == 0x20 { field += 1 }
                i += 1
            }
            var value: Int64 = 0, digits = 0
            while i < line.count, line[i] >= 0x30, line[i] <= 0x39, digits < 18 {
                value = value * 10 + Int64(line[i] - 0x30)  // checked: at most 18 digits
                digits += 1
                i += 1
            }
            return field == 22 && digits > 0 ? value : nil
        }
    }

    /// Whether pid is alive and is the same process that had `startTime`.
    public static func isAlive(pid: Int, startTime: Int64?) -> Bool {
        guard pid > 0 else { return false }
        if kill(pid_t(pid), 0) != 0 && errno == ESRCH { return false }
        // A zombie has finished: it only waits for its parent to collect it.
        if let st = try? readFile("/proc/\(pid)/stat"), let close = st.lastIndex(of: UInt8(ascii: ")")),
           close + 2 < st.count, st[close + 2] == UInt8(ascii: "Z") { return false }
        guard let want = startTime else { return true }
        guard let got = processStartTime(pid) else { return false }
        return got == want
    }

    public static func sleep(seconds: Double) {
        let s = seconds.isFinite ? min(max(seconds, 0), 1e9) : 0
        var ts = timespec(tv_sec: Int(s), tv_nsec: Int((s - s.rounded(.down)) * 1e9))
        var rem = timespec()
        while nanosleep(&ts, &rem) != 0 && errno == EINTR { ts = rem }
    }
}

