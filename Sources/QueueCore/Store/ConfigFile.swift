import Glibc

/// `config.json`: the settings, read leniently and written under the queue's lock (temp + rename).
extension JSONStore {
    /// The settings. config.json may have been edited by hand: a bad value is reported once (a
    /// warning on stderr, which is workers.log for workers) and its default used, never fatal.
    public func config() throws -> Config {
        var st = stat()
        guard stat(home.config, &st) == 0 else {
            if errno == ENOENT { return Config() }
            throw SystemError(operation: "read", path: home.config, code: errno)
        }
        let key = [Int(st.st_ino), Int(st.st_size), Int(st.st_mtim.tv_sec), Int(st.st_mtim.tv_nsec)]
        if let c = configCache, c.key == key { return c.config }
        guard let bytes = try Posix.readFile(home.config) else { return Config() }
        var c = Config()
        if let json = try? JSONParser.parse(bytes: bytes) {
            c = Config(json: json, path: home.config)
        } else {
            c.problems = ["\(home.config) is not valid JSON; using the defaults (fix it, or 'queuectl config set' rewrites it)"]
        }
        if c.problems != reportedConfigProblems {
            for p in c.problems where !reportedConfigProblems.contains(p) { fputs("queuectl: warning: \(p)\n", stderr) }
            reportedConfigProblems = c.problems
        }
        configCache = (key, c)
        return c
    }

    public func updateConfig(_ body: (inout Config) throws -> Void) throws {
        try lock(LOCK_EX)
        defer { unlock() }
        var c = try config()
        try body(&c)
        try Posix.atomicWrite(path: home.config, text: c.json.pretty() + "\n")
    }
}
