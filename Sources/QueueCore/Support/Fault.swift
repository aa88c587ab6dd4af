import Glibc

/// Faults injected into a process by its environment, so tests can drive the real binary through
/// the failures a disk or a signal causes, deterministically (ARCHITECTURE.md, "Crashes").
///
/// `QUEUECTL_FAULT=op:ERRNO[,op:ERRNO…]` makes every call of that operation fail with that
/// error; `EINTR` makes only the first try of each call fail, so the retry is what is tested.
/// Operations: `write` (every positional write), `sync` (the journal's fdatasync), `rename`.
/// Errors: ENOSPC, EIO, EDQUOT, EROFS, EINTR. Never set outside tests.
enum Fault {
    static let injected: [String: Int32] = {
        guard let raw = getenv("QUEUECTL_FAULT") else { return [:] }
        let names: [String: Int32] = ["ENOSPC": ENOSPC, "EIO": EIO, "EDQUOT": EDQUOT, "EROFS": EROFS, "EINTR": EINTR]
        var out: [String: Int32] = [:]
        for item in String(cString: raw).split(separator: ",") {
            let parts = item.split(separator: ":")
            if parts.count == 2, let e = names[String(parts[1])] { out[String(parts[0])] = e }
        }
        return out
    }()

    /// The errno `op` must fail with on this try (`attempt` 0 is a call's first try), if any.
    static func errno(for op: String, attempt: Int = 0) -> Int32? {
        guard let e = injected[op] else { return nil }
        return e == EINTR && attempt > 0 ? nil : e
    }
}

/// Named points where a test can make this process die (`QUEUECTL_FAILPOINT=<name>`), to prove
/// that a crash there loses nothing. Costs one environment lookup per point passed.
enum Failpoint {
    static func hit(_ name: String) {
        if let f = getenv("QUEUECTL_FAILPOINT"), String(cString: f) == name { _exit(70) }
    }
}
